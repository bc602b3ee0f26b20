"""Log in for a token; who am I; users (admin only); the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from tactica.api.deps import CurrentPrincipal, SessionDep, actor_of, require, token_memory
from tactica.domain.access import Permission, Role
from tactica.services import audit, users
from tactica.services.users import Principal

router = APIRouter(tags=["access"])


class TokenRequest(BaseModel):
    """Credentials exchanged for an API token."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field(default="", max_length=100, description="A label for the token")
    ttl_days: int = Field(default=30, ge=1, le=3650)


class TokenOut(BaseModel):
    """A new token: shown once, keep it."""

    token: str
    token_type: str = "bearer"
    expires_at: datetime | None
    username: str
    role: Role


class UserOut(BaseModel):
    """A user (never the password hash)."""

    id: int
    username: str
    email: str
    full_name: str
    role: Role
    active: bool


class UserCreate(BaseModel):
    """A new user."""

    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=1000)
    role: Role
    email: str = Field(default="", max_length=200)
    full_name: str = Field(default="", max_length=200)


class UserPatch(BaseModel):
    """Changes to a user."""

    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)


class AuditOut(BaseModel):
    """One audit entry."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


Admin = Annotated[Principal, Depends(require(Permission.USERS_ADMIN))]
AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a password for a token")
def login(body: TokenRequest, session: SessionDep) -> TokenOut:
    """Check the password and issue an API token for the user."""
    user = users.authenticate(session, body.username, body.password)
    secret, tok = users.create_token(
        session,
        user,
        name=body.name or "api login",
        ttl_days=body.ttl_days,
        actor=f"user:{user.username}",
    )
    session.commit()
    return TokenOut(
        token=secret, expires_at=tok.expires_at, username=user.username, role=Role(user.role)
    )


@router.get("/me", response_model=UserOut, summary="The caller")
def me(principal: CurrentPrincipal, session: SessionDep) -> Any:
    """Who the token belongs to."""
    return users.user_view(users.get_user(session, principal.username))


@router.get("/users", response_model=list[UserOut], summary="List users")
def list_users(_p: Admin, session: SessionDep) -> Any:
    """Every user (admin only)."""
    return [users.user_view(u) for u in users.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: UserCreate, p: Admin, session: SessionDep) -> Any:
    """Create a user with a role (admin only)."""
    u = users.create_user(
        session,
        body.username,
        body.password,
        body.role.value,
        email=body.email,
        full_name=body.full_name,
        actor=actor_of(p),
    )
    session.commit()
    return users.user_view(u)


@router.get("/users/{username}", response_model=UserOut, summary="Show a user")
def get_user(username: str, _p: Admin, session: SessionDep) -> Any:
    """One user (admin only)."""
    return users.user_view(users.get_user(session, username))


@router.patch("/users/{username}", response_model=UserOut, summary="Change a user")
def patch_user(
    username: str, body: UserPatch, p: Admin, session: SessionDep, request: Request
) -> Any:
    """Change role, activity or password (admin only)."""
    u = users.update_user(
        session,
        username,
        role=body.role.value if body.role else None,
        active=body.active,
        password=body.password,
        actor=actor_of(p),
    )
    session.commit()
    token_memory(request).forget()  # the change holds in this process at once
    return users.user_view(u)


@router.get("/audit", response_model=list[AuditOut], summary="The audit log")
def audit_log(
    _p: AuditReader,
    session: SessionDep,
    entity_type: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Any:
    """Who changed what, newest first (admin and analyst)."""
    return audit.list_entries(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        limit=limit,
        offset=offset,
    )
