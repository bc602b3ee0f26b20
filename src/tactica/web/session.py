"""Signing in from a browser: a session cookie, and CSRF protection on every form.

Signing in creates an API token for the user (named ``web session``, valid for a
day) and puts it in an HttpOnly, SameSite=Lax cookie: a browser's session is
checked, remembered for a few seconds and revoked exactly like a machine's token,
and signing out revokes it. Every form that changes something carries a CSRF
token derived from the session (an HMAC of it under the deployment's secret key),
so another site cannot post on the user's behalf; the sign-in form, before there
is a session, uses a random value that must match a cookie of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from tactica.api.deps import token_memory
from tactica.errors import AuthenticationFailed
from tactica.services.users import Principal, check_token

#: The cookie that holds a signed-in browser's token.
SESSION_COOKIE = "tactica_session"
#: The cookie that holds the sign-in form's CSRF value.
LOGIN_CSRF_COOKIE = "tactica_login_csrf"
#: How long a browser stays signed in.
SESSION_DAYS = 1


def _check(request: Request, token: str) -> tuple[Principal, object]:
    with request.app.state.store.session() as s:
        return check_token(s, token)


async def signed_in(request: Request) -> Principal | None:
    """Who this browser is signed in as, or None (no cookie, or a revoked or expired one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    memory = token_memory(request)
    known = memory.recall(token)
    if known is not None:
        return known
    try:
        principal, expires_at = await run_in_threadpool(_check, request, token)
    except AuthenticationFailed:
        return None
    memory.remember(token, principal, expires_at)  # type: ignore[arg-type]
    return principal


def csrf_token(request: Request) -> str:
    """The CSRF token forms of this session carry (empty when not signed in)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return ""
    key = request.app.state.settings.secret.encode()
    return hmac.new(key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, sent: str | None) -> bool:
    """True when ``sent`` is this session's CSRF token."""
    want = csrf_token(request)
    return bool(want) and sent is not None and hmac.compare_digest(want, sent)


def new_login_csrf() -> str:
    """A fresh CSRF value for the sign-in form (see :func:`set_login_csrf`)."""
    return secrets.token_urlsafe(24)


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    """Give the browser the sign-in form's CSRF value as its cookie."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui/login",
    )


def login_csrf_ok(request: Request, sent: str | None) -> bool:
    """True when the sign-in form sent back the value of its cookie."""
    want = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(want) and sent is not None and hmac.compare_digest(want, sent)


def start_session(response: Response, request: Request, token: str) -> None:
    """Put a new session's token in the browser's cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86_400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")


def end_session(response: Response) -> None:
    """Take the session's cookie back from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/")
