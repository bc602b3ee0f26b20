"""Signing in and out of the web application."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tactica.api.deps import token_memory
from tactica.errors import AuthenticationFailed
from tactica.services import users
from tactica.services.users import Principal
from tactica.web import session as web_session
from tactica.web.render import denied, render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a page of this application."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/dashboard"


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
    response = render(
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
        return denied(request, who, "sign out without this page's form")
    await run_in_threadpool(
        _sign_out, request, request.cookies.get(web_session.SESSION_COOKIE, ""), who
    )
    token_memory(request).forget()
    web_session.end_session(response)
    return response
