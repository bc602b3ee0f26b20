"""The web pages: sign in and out, the monitoring dashboard and its CSV exports, users.

Server-rendered with Jinja2; HTMX makes links and forms swap the page body instead
of reloading it. Every page checks the signed-in user's role against the same table
the API uses (``tactica.domain.access``); every form that changes something checks
its CSRF token and, on bad input, shows the error next to the field with what the
user typed, writing nothing.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tactica.api.deps import token_memory
from tactica.domain.access import Permission, Role, allows
from tactica.errors import AuthenticationFailed, Conflict, InvalidInput
from tactica.services import users
from tactica.services.dashboard import MEASURES, Dashboard, Figures, check_range, dashboard
from tactica.services.users import Principal
from tactica.web import session as web_session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _money(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


templates.env.filters.update(n=_n, money=_money, pct=_pct)

#: Labels of the dashboard's measures, as the page and the CSV files name them.
LABELS = {
    "planned": "Planned",
    "sent": "Executed",
    "delivered": "Delivered",
    "failed": "Failed",
    "held_out": "Held out",
    "responses": "Responses",
    "orders": "Orders",
    "revenue": "Revenue",
    "leads": "Leads",
    "cost": "Cost",
}
#: The quick ranges above the dashboard: label → days back from today (None: this year).
PRESETS = {
    "today": ("Today", 0),
    "7d": ("7 days", 6),
    "30d": ("30 days", 29),
    "year": ("Year", None),
}


def _today() -> date:
    return datetime.now(UTC).date()


def _render(
    request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.update(
        who=who,
        csrf=web_session.csrf_token(request),
        can_admin=who is not None and allows(who.role, Permission.USERS_ADMIN),
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _message(e: InvalidInput) -> str:
    """The error without its place: the page shows it next to the field already."""
    prefix = f"{e.where}: " if e.where else ""
    return e.detail[len(prefix) :] if prefix and e.detail.startswith(prefix) else e.detail


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def _denied(request: Request, who: Principal, what: str) -> HTMLResponse:
    return _render(request, "denied.html", who, status_code=403, what=what)


async def _let_in(
    request: Request, permission: Permission | None = None, what: str = ""
) -> Principal | Response:
    """The signed-in user when their role may ``what`` (``permission``), else the answer:
    the sign-in page (no session) or "Not allowed" (the role may not)."""
    who = await web_session.signed_in(request)
    if who is None:
        return _to_login(request)
    if permission is not None and not allows(who.role, permission):
        return _denied(request, who, what)
    return who


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of this application."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/dashboard"


# --------------------------------------------------------------------- sign in, out


@router.get("/")
async def root() -> RedirectResponse:
    """The address people open: the web application."""
    return RedirectResponse("/ui/", status_code=303)


@router.get("/ui/")
async def home(request: Request) -> Response:
    """The dashboard when signed in, else the sign-in page."""
    who = await web_session.signed_in(request)
    return RedirectResponse("/ui/dashboard" if who else "/ui/login", status_code=303)


def _login_page(
    request: Request, *, username: str = "", error: str = "", next_: str = "", status: int = 200
) -> HTMLResponse:
    value = web_session.new_login_csrf()
    response = _render(
        request,
        "login.html",
        None,
        status_code=status,
        username=username,
        error=error,
        next=_safe_next(next_),
        login_csrf=value,
    )
    web_session.set_login_csrf(response, request, value)
    return response


@router.get("/ui/login")
async def login_form(request: Request, next: str = "") -> Response:
    """The sign-in form."""
    if await web_session.signed_in(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_=next)


def _sign_in(request: Request, username: str, password: str) -> str:
    with request.app.state.store.session() as s:
        user = users.authenticate(s, username, password)
        token, _ = users.create_token(
            s,
            user,
            name="web session",
            ttl_days=web_session.SESSION_DAYS,
            actor=f"user:{user.username}",
        )
        s.commit()
        return token


@router.post("/ui/login")
async def login(request: Request) -> Response:
    """Check the credentials; on success start a session and go where the user was going."""
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_ = str(form.get("next", ""))
    if not web_session.login_csrf_ok(request, str(form.get("csrf", ""))):
        return _login_page(
            request,
            username=username,
            next_=next_,
            error="The form had expired: please sign in again.",
            status=400,
        )
    if not username or not password:
        return _login_page(
            request,
            username=username,
            next_=next_,
            error="Enter your username and password.",
            status=400,
        )
    try:
        token = await run_in_threadpool(_sign_in, request, username, password)
    except AuthenticationFailed:
        return _login_page(
            request,
            username=username,
            next_=next_,
            error="Wrong username or password.",
            status=401,
        )
    response = RedirectResponse(_safe_next(next_), status_code=303)
    web_session.start_session(response, request, token)
    return response


def _sign_out(request: Request, token: str, who: Principal) -> None:
    with request.app.state.store.session() as s:
        users.revoke_secret(s, token, actor=f"user:{who.username}")
        s.commit()


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    """Revoke the session's token and take its cookie back."""
    who = await web_session.signed_in(request)
    form = await request.form()
    response = RedirectResponse("/ui/login", status_code=303)
    if who is None:
        web_session.end_session(response)
        return response
    if not web_session.csrf_ok(request, str(form.get("csrf", ""))):
        return _denied(request, who, "sign out without this page's form")
    await run_in_threadpool(
        _sign_out, request, request.cookies.get(web_session.SESSION_COOKIE, ""), who
    )
    token_memory(request).forget()
    web_session.end_session(response)
    return response


# ------------------------------------------------------------------------ dashboard


def _parse_day(text: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = f"{text!r} is not a date (YYYY-MM-DD)"
        return None


def _range(
    request: Request,
) -> tuple[date, date, dict[str, str], str]:
    """The range asked for (``from``, ``to`` or ``preset``), errors by field, the preset."""
    q = request.query_params
    today = _today()
    errors: dict[str, str] = {}
    preset = q.get("preset", "")
    if preset in PRESETS:
        back = PRESETS[preset][1]
        start = date(today.year, 1, 1) if back is None else today - timedelta(days=back)
        return start, today, errors, preset
    start = _parse_day(q.get("from"), "from", errors) or today
    end = _parse_day(q.get("to"), "to", errors) or (start if q.get("from") else today)
    if not errors:
        try:
            check_range(start, end)
        except InvalidInput as e:
            errors[e.where or "to"] = _message(e)
    if errors:
        return today, today, errors, ""
    return start, end, errors, "" if q.get("from") or q.get("to") else "today"


def _figures_json(board: Dashboard) -> str:
    """What the charts draw, as JSON for the page's data block."""

    def num(value: Any) -> float:
        return float(value)

    return json.dumps(
        {
            "days": [d.isoformat() for d in board.days],
            "trend": {
                m: [num(getattr(f, m)) for f in board.days.values()]
                for m in ("planned", "sent", "responses", "orders")
            },
            "funnel": {
                LABELS[m]: num(getattr(board.total, m))
                for m in ("planned", "sent", "delivered", "responses", "orders")
            },
            "channels": {
                ch: {m: num(getattr(f, m)) for m in ("planned", "sent", "responses")}
                for ch, f in board.channels.items()
            },
        }
    )


def _board(request: Request, start: date, end: date) -> Dashboard:
    with request.app.state.store.session() as s:
        return dashboard(s, start, end)


@router.get("/ui/dashboard")
async def dashboard_page(request: Request) -> Response:
    """Monitoring: every campaign, channel and offer for a range of days, with charts."""
    who = await _let_in(request)
    if isinstance(who, Response):
        return who
    start, end, errors, preset = _range(request)
    board = await run_in_threadpool(_board, request, start, end)
    return _render(
        request,
        "dashboard.html",
        who,
        status_code=422 if errors else 200,
        board=board,
        errors=errors,
        typed={
            "from": request.query_params.get("from", ""),
            "to": request.query_params.get("to", ""),
        },
        preset=preset,
        presets=PRESETS,
        labels=LABELS,
        measures=MEASURES,
        chart_data=_figures_json(board),
        query=f"from={start.isoformat()}&to={end.isoformat()}",
    )


def _csv_rows(board: Dashboard, table: str) -> tuple[list[str], list[list[Any]]]:
    measures = [LABELS[m] for m in MEASURES]
    if table == "campaigns":
        head = ["Program", "Campaign", "Status", "Budget", *measures]
        rows = [
            [r.program, r.campaign, r.status, r.budget or "", *_values(r.figures)]
            for r in board.campaigns
        ]
    elif table in ("channels", "offers"):
        groups: dict[str, Figures] = getattr(board, table)
        head = [table[:-1].capitalize(), *measures]
        rows = [[k, *_values(f)] for k, f in groups.items()]
    else:
        head = ["Day", *measures]
        rows = [[d.isoformat(), *_values(f)] for d, f in board.days.items()]
    return head, rows


def _values(f: Figures) -> list[Any]:
    return [getattr(f, m) for m in MEASURES]


@router.get("/ui/dashboard.csv")
async def dashboard_csv(request: Request, table: str = "campaigns") -> Response:
    """One of the dashboard's tables as a CSV file (campaigns, channels, offers or days)."""
    who = await _let_in(request)
    if isinstance(who, Response):
        return who
    if table not in ("campaigns", "channels", "offers", "days"):
        return Response(
            f"no table {table!r}: campaigns, channels, offers or days\n",
            status_code=404,
            media_type="text/plain",
        )
    start, end, errors, _ = _range(request)
    if errors:
        text = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return Response(text + "\n", status_code=422, media_type="text/plain")
    board = await run_in_threadpool(_board, request, start, end)
    head, rows = _csv_rows(board, table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    writer.writerows(rows)
    name = f"tactica-{table}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---------------------------------------------------------------------------- users


def _users(request: Request) -> list[dict[str, object]]:
    with request.app.state.store.session() as s:
        return [users.user_view(u) for u in users.list_users(s)]


def _users_page(
    request: Request,
    who: Principal,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: str = "",
    status: int = 200,
    rows: list[dict[str, object]],
) -> HTMLResponse:
    return _render(
        request,
        "users.html",
        who,
        status_code=status,
        rows=rows,
        roles=[r.value for r in Role],
        typed=typed or {"role": Role.MARKETER.value},
        errors=errors or {},
        created=created,
    )


@router.get("/ui/admin/users")
async def users_page(request: Request) -> Response:
    """Admin: every user and their role, and a form to add one."""
    who = await _let_in(request, Permission.USERS_ADMIN, "manage users")
    if isinstance(who, Response):
        return who
    rows = await run_in_threadpool(_users, request)
    return _users_page(request, who, rows=rows)


def _create_user(request: Request, typed: dict[str, str], actor: str) -> None:
    with request.app.state.store.session() as s:
        users.create_user(
            s,
            typed["username"],
            typed["password"],
            typed["role"],
            email=typed["email"],
            full_name=typed["full_name"],
            actor=actor,
        )
        s.commit()


@router.post("/ui/admin/users")
async def create_user(request: Request) -> Response:
    """Admin: add a user; errors are shown next to their field and nothing is written."""
    who = await _let_in(request, Permission.USERS_ADMIN, "manage users")
    if isinstance(who, Response):
        return who
    form = await request.form()
    if not web_session.csrf_ok(request, str(form.get("csrf", ""))):
        return _denied(request, who, "add a user without this page's form")
    typed = {
        k: str(form.get(k, "")).strip() if k != "password" else str(form.get(k, ""))
        for k in ("username", "password", "role", "email", "full_name")
    }
    errors: dict[str, str] = {}
    try:
        await run_in_threadpool(_create_user, request, typed, f"user:{who.username}")
    except InvalidInput as e:
        field = (e.where or "username").split()[0]
        errors[field if field in typed else "username"] = _message(e)
    except Conflict as e:
        errors["username"] = e.detail
    rows = await run_in_threadpool(_users, request)
    if errors:
        typed["password"] = ""  # never sent back to the browser
        return _users_page(request, who, typed=typed, errors=errors, status=422, rows=rows)
    return _users_page(request, who, created=typed["username"], rows=rows)
