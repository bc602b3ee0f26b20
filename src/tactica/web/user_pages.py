"""Admin: the users and their roles."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tactica.domain.access import Permission, Role
from tactica.errors import Conflict, InvalidInput
from tactica.services import users
from tactica.services.users import Principal
from tactica.web import session as web_session
from tactica.web.render import Section, denied, let_in, message, render

router = APIRouter(include_in_schema=False)
#: The admin pages' one link: for every role that may open one of them (see admin_pages).
SECTION = Section(
    90,
    "/ui/admin",
    "Admin",
    (Permission.USERS_ADMIN, Permission.PROGRAMS_READ, Permission.AUDIT_READ),
)


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
    return render(
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
    who = await let_in(request, Permission.USERS_ADMIN, "manage users")
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
    who = await let_in(request, Permission.USERS_ADMIN, "manage users")
    if isinstance(who, Response):
        return who
    form = await request.form()
    if not web_session.csrf_ok(request, str(form.get("csrf", ""))):
        return denied(request, who, "add a user without this page's form")
    typed = {
        k: str(form.get(k, "")).strip() if k != "password" else str(form.get(k, ""))
        for k in ("username", "password", "role", "email", "full_name")
    }
    errors: dict[str, str] = {}
    try:
        await run_in_threadpool(_create_user, request, typed, f"user:{who.username}")
    except InvalidInput as e:
        field = (e.where or "username").split()[0]
        errors[field if field in typed else "username"] = message(e)
    except Conflict as e:
        errors["username"] = e.detail
    rows = await run_in_threadpool(_users, request)
    if errors:
        typed["password"] = ""  # never sent back to the browser
        return _users_page(request, who, typed=typed, errors=errors, status=422, rows=rows)
    return _users_page(request, who, created=typed["username"], rows=rows)
