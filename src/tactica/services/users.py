"""Users, passwords and API tokens.

Passwords are stored as argon2id hashes; API tokens are random strings shown once
and stored as their SHA-256, so a stolen database yields no usable token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from tactica.domain.access import Role
from tactica.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.store.models import ApiToken, User

_hasher = PasswordHasher()


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (tests use cheap ones; production keeps the defaults)."""
    global _hasher
    _hasher = hasher


_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,100}$")
TOKEN_PREFIX = "tct_"
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and their role."""

    user_id: int
    username: str
    role: Role


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def user_view(user: User) -> dict[str, object]:
    """A user as shown to people (never the hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
    }


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    email: str = "",
    full_name: str = "",
    actor: str,
) -> User:
    """Create a user with a hashed password; the username must be new."""
    if not _USERNAME.match(username):
        raise InvalidInput("2-100 letters, digits or _ . @ -", where=f"username {username!r}")
    try:
        role_ = Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; roles are {', '.join(r.value for r in Role)}", where="role"
        ) from None
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"must have at least {MIN_PASSWORD} characters", where="password")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} exists already")
    user = User(
        username=username,
        email=email,
        full_name=full_name,
        role=role_.value,
        password_hash=_hasher.hash(password),
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", "user", user.username, None, user_view(user))
    return user


def get_user(session: Session, username: str) -> User:
    """The user called ``username``; NotFound otherwise."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(sa.select(User).order_by(User.username)))


def update_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    actor: str,
) -> User:
    """Change a user's role, activity or password."""
    user = get_user(session, username)
    before = user_view(user)
    if role is not None:
        try:
            user.role = Role(role).value
        except ValueError:
            raise InvalidInput(f"unknown role {role!r}", where="role") from None
    if active is not None:
        user.active = active
    if password is not None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"must have at least {MIN_PASSWORD} characters", where="password")
        user.password_hash = _hasher.hash(password)
    session.flush()
    audit.record(session, actor, "update", "user", username, before, user_view(user))
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with this password; else AuthenticationFailed, same message either way."""
    user = session.scalar(sa.select(User).where(User.username == username))
    bad = AuthenticationFailed("wrong username or password")
    if user is None or not user.active:
        # Spend the same time as a real check so user names cannot be probed by timing.
        _hasher.hash(password)
        raise bad
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise bad from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, *, name: str = "", ttl_days: int | None = 365, actor: str
) -> tuple[str, ApiToken]:
    """A new API token for ``user``: returns the secret (shown once) and its stored record."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = _utcnow() + timedelta(days=ttl_days) if ttl_days else None
    tok = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        expires_at=expires,
    )
    session.add(tok)
    session.flush()
    audit.record(
        session, actor, "create", "api_token", tok.id, None, {"user": user.username, "name": name}
    )
    return secret, tok


def check_token(session: Session, token: str) -> tuple[Principal, datetime | None]:
    """Who a bearer token stands for, and until when (None: no end); AuthenticationFailed
    if it is unknown, revoked or expired, or its user inactive."""
    bad = AuthenticationFailed("invalid or expired token")
    if not token.startswith(TOKEN_PREFIX):
        raise bad
    # Columns, not entities: every API request asks this, and it is read-only.
    row = session.execute(
        sa.select(
            ApiToken.revoked_at, ApiToken.expires_at, User.id, User.username, User.role, User.active
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(token))
    ).first()
    if row is None:
        raise bad
    revoked_at, expires_at, user_id, username, role, active = row
    if revoked_at is not None or not active:
        raise bad
    ends = _as_utc(expires_at) if expires_at is not None else None
    if ends is not None and ends <= _utcnow():
        raise bad
    return Principal(user_id, username, Role(role)), ends


def resolve_token(session: Session, token: str) -> Principal:
    """Who a bearer token stands for; AuthenticationFailed if unknown, revoked or expired."""
    return check_token(session, token)[0]


def revoke_token(session: Session, token_id: int, *, actor: str) -> None:
    """Revoke a token by id."""
    tok = session.get(ApiToken, token_id)
    if tok is None:
        raise NotFound(f"no API token {token_id}")
    tok.revoked_at = _utcnow()
    audit.record(session, actor, "revoke", "api_token", token_id)


def revoke_secret(session: Session, token: str, *, actor: str) -> bool:
    """Revoke the token whose secret is ``token`` (a signed-in browser's, say).

    False when no live token has that secret: signing out twice is no error.
    """
    tok = session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if tok is None:
        return False
    tok.revoked_at = _utcnow()
    audit.record(session, actor, "revoke", "api_token", tok.id)
    return True


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens (their prefixes, never the secrets)."""
    return list(session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)))


#: What a list of every user's tokens can be narrowed to: every token, those that still
#: open the API, those that no longer do (revoked or expired).
TOKEN_STATES = ("all", "live", "ended")


def token_view(tok: ApiToken, username: str, now: datetime | None = None) -> dict[str, object]:
    """A token as shown to people (never its secret or hash), with its state now:
    live, revoked or expired."""
    now = now or _utcnow()
    if tok.revoked_at is not None:
        state = "revoked"
    elif tok.expires_at is not None and _as_utc(tok.expires_at) <= now:
        state = "expired"
    else:
        state = "live"
    return {
        "id": tok.id,
        "prefix": tok.prefix,
        "name": tok.name,
        "user": username,
        "created_at": tok.created_at,
        "expires_at": tok.expires_at,
        "last_used_at": tok.last_used_at,
        "revoked_at": tok.revoked_at,
        "state": state,
    }


def all_tokens(
    session: Session,
    *,
    username: str | None = None,
    state: str = "all",
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, object]]:
    """Every user's tokens (or ``username``'s), newest first, a page at a time, as
    :func:`token_view` shows them; ``state`` is one of :data:`TOKEN_STATES`."""
    if state not in TOKEN_STATES:
        raise InvalidInput(f"one of {', '.join(TOKEN_STATES)}, got {state!r}", where="state")
    now = _utcnow()
    live = sa.and_(
        ApiToken.revoked_at.is_(None),
        sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
    )
    q = (
        sa.select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    if username:
        q = q.where(User.username == username)
    if state == "live":
        q = q.where(live)
    elif state == "ended":
        q = q.where(sa.not_(live))
    rows = session.execute(q.limit(limit).offset(offset)).all()
    return [token_view(tok, name, now) for tok, name in rows]
