"""Dependencies every route shares: the database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tactica.api.token_memory import TokenMemory
from tactica.domain.access import Permission, allows
from tactica.errors import AuthenticationFailed, PermissionDenied
from tactica.services.users import Principal, check_token
from tactica.store.db import Store

_bearer = HTTPBearer(auto_error=False, description="An API token from POST /auth/token")


async def get_store(request: Request) -> Store:
    """The store the app was created with (async: nothing to wait for, so FastAPI need
    not hand it to a worker thread)."""
    store: Store = request.app.state.store
    return store


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; services commit, anything else is rolled back."""
    store: Store = request.app.state.store
    with store.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]
StoreDep = Annotated[Store, Depends(get_store)]


def _check(store: Store, token: str) -> tuple[Principal, datetime | None]:
    with store.session() as s:
        return check_token(s, token)


def token_memory(request: Request) -> TokenMemory:
    """The tokens this app has checked lately (see ``tactica.api.token_memory``)."""
    memory: TokenMemory | None = getattr(request.app.state, "tokens", None)
    if memory is None:
        memory = request.app.state.tokens = TokenMemory()
    return memory


async def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller proven by a bearer token; 401 otherwise.

    A token checked in the last few seconds is taken as it was then (no read, no
    worker thread). Otherwise it is looked up in a session of its own, closed before
    the route runs: a request holds no pooled connection while it waits (for a
    decision, say), so requests in flight can never take every connection the route
    itself needs.
    """
    if creds is None or creds.scheme.lower() != "bearer":
        raise AuthenticationFailed("send 'Authorization: Bearer <token>' (get one at /auth/token)")
    memory = token_memory(request)
    known = memory.recall(creds.credentials)
    if known is not None:
        return known
    principal, expires_at = await run_in_threadpool(
        _check, request.app.state.store, creds.credentials
    )
    memory.remember(creds.credentials, principal, expires_at)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the call through only if the caller's role has ``permission``."""

    # Async: a lookup in a table, nothing to wait for (no worker thread per request).
    async def check(principal: CurrentPrincipal) -> Principal:
        if not allows(principal.role, permission):
            raise PermissionDenied(
                f"role {principal.role.value!r} may not {permission.value.replace(':', ' ')}"
            )
        return principal

    return check


def actor_of(principal: Principal) -> str:
    """How the audit log names an API caller."""
    return f"user:{principal.username}"
