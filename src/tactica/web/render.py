"""What every web page shares: templates and their filters, the role gate, forms.

Pages are server-rendered with Jinja2; HTMX makes links and forms swap the page
body instead of reloading it. Every page checks the signed-in user's role against
the same table the API uses (``tactica.domain.access``); every form that changes
something checks its CSRF token and, on bad input, shows the error next to the
field with what the user typed, writing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tactica.domain.access import Permission, allows
from tactica.errors import ImportRejected, InvalidInput, RowProblem
from tactica.services.objectives import figure
from tactica.services.users import Principal
from tactica.web import session as web_session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

T = TypeVar("T")


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _money(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


templates.env.filters.update(n=_n, money=_money, pct=_pct, when=_when, figure=figure)


@dataclass(frozen=True)
class Section:
    """A place in the navigation bar: a page module's ``SECTION``."""

    #: Where it stands in the bar (smaller first).
    order: int
    path: str
    label: str
    #: The permission a role needs to see the link (None: everyone signed in; a tuple:
    #: any one of them).
    permission: Permission | tuple[Permission, ...] | None = None

    def shown_to(self, who: Principal | None) -> bool:
        """True when ``who`` sees this section's link."""
        if who is None:
            return False
        if self.permission is None:
            return True
        needs = self.permission if isinstance(self.permission, tuple) else (self.permission,)
        return any(allows(who.role, need) for need in needs)


#: The navigation bar, in order (set once the pages are mounted).
NAV: list[Section] = []


def set_sections(sections: list[Section]) -> None:
    """Make ``sections`` the navigation bar."""
    NAV[:] = sorted(sections, key=lambda x: x.order)


def today() -> date:
    """Today's date, in UTC (the dashboard's and the store's day)."""
    return datetime.now(UTC).date()


def render(
    request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Template ``name`` for ``who``, with the navigation their role sees and a CSRF token."""
    context.update(
        who=who,
        csrf=web_session.csrf_token(request),
        nav=[(x.path, x.label) for x in NAV if x.shown_to(who)],
        can_admin=who is not None and allows(who.role, Permission.USERS_ADMIN),
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def message(e: InvalidInput) -> str:
    """The error without its place: the page shows it next to the field already."""
    prefix = f"{e.where}: " if e.where else ""
    return e.detail[len(prefix) :] if prefix and e.detail.startswith(prefix) else e.detail


def to_login(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def denied(request: Request, who: Principal, what: str) -> HTMLResponse:
    """The 403 page: ``who``'s role may not ``what``."""
    return render(request, "denied.html", who, status_code=403, what=what)


def not_found(request: Request, who: Principal, what: str) -> HTMLResponse:
    """The 404 page: there is no ``what``."""
    return render(request, "not_found.html", who, status_code=404, what=what)


async def let_in(
    request: Request, permission: Permission | None = None, what: str = ""
) -> Principal | Response:
    """The signed-in user when their role may ``what`` (``permission``), else the answer:
    the sign-in page (no session) or "Not allowed" (the role may not)."""
    who = await web_session.signed_in(request)
    if who is None:
        return to_login(request)
    if permission is not None and not allows(who.role, permission):
        return denied(request, who, what)
    return who


async def posted(request: Request, who: Principal, what: str) -> dict[str, str] | Response:
    """The submitted form's fields (text stripped, except passwords) when its CSRF token
    is this session's; else the "Not allowed" page."""
    form = await request.form()
    if not web_session.csrf_ok(request, str(form.get("csrf", ""))):
        return denied(request, who, f"{what} without this application's form")
    return {
        k: (str(v) if "password" in k else str(v).strip())
        for k, v in form.multi_items()
        if k != "csrf" and isinstance(v, str)
    }


async def in_session(request: Request, work: Callable[..., T], *args: Any) -> T:
    """``work(session, *args)`` in a worker thread, in a session of the app's store."""

    def run() -> T:
        with request.app.state.store.session() as s:
            return work(s, *args)

    return await run_in_threadpool(run)


def actor(who: Principal) -> str:
    """How the audit log names ``who`` acting from the web."""
    return f"user:{who.username}"


def field_of(e: InvalidInput, fields: set[str] | dict[str, Any], default: str) -> str:
    """The form field an error's ``where`` names, else ``default``."""
    name = (e.where or default).split()[0].split(".")[0].split("[")[0]
    return name if name in fields else default


#: The bad rows of a refused file a page shows next to its file field (the first ones).
SHOWN_PROBLEMS = 20


def shown_rows(e: ImportRejected) -> tuple[list[RowProblem], int]:
    """The first bad rows of a refused file, and how many more rows are bad besides."""
    problems = e.problems[:SHOWN_PROBLEMS]
    return problems, e.total_bad_rows - len({p.row for p in problems})
