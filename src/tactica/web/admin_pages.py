"""Admin: API tokens, configured channels and the audit log.

The users page (``user_pages``) holds the navigation bar's "Admin" link; every admin
page shares a tab bar (``_admin_tabs.html``) that shows a role only the tabs it may
open. The rules are the API's: tokens through ``tactica.services.users`` as
``/auth`` and ``/users`` do, channels through the very model ``PUT /channels`` reads
and ``tactica.services.channel_configs``, the log through ``tactica.services.audit``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from tactica.api.deps import token_memory
from tactica.api.routes.channels import ChannelIn
from tactica.domain.access import Permission, allows
from tactica.domain.channel_config import (
    KINDS,
    MASK,
    SECRET_SETTINGS,
    ChannelSpec,
    kind_settings,
    settings_of,
)
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit, channel_configs, dispatch, users
from tactica.services.users import Principal
from tactica.web.render import (
    actor,
    denied,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
    templates,
)

router = APIRouter(include_in_schema=False)

#: Rows on a page of tokens or of the audit log.
PAGE = 50
#: The deepest page a list shows (filters find what lies further).
MAX_PAGE = 10_000

#: The admin pages' tabs: where, what they are called, the permission that opens them.
#: Channels are part of running programs: the API lets whoever reads programs see them.
TABS = (
    ("/ui/admin/users", "Users", Permission.USERS_ADMIN),
    ("/ui/admin/tokens", "Tokens", Permission.USERS_ADMIN),
    ("/ui/admin/channels", "Channels", Permission.PROGRAMS_READ),
    ("/ui/admin/audit", "Audit log", Permission.AUDIT_READ),
)


def admin_tabs(who: Principal | None) -> list[tuple[str, str]]:
    """The admin tabs ``who``'s role may open, as (path, label)."""
    if who is None:
        return []
    return [(path, label) for path, label, need in TABS if allows(who.role, need)]


# Every admin page's template (the users page's too) draws its tabs with this.
templates.env.globals["admin_tabs"] = admin_tabs


def _page_number(raw: str | None) -> int:
    """The page asked for, 1 when it is not a page number."""
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def _query(values: dict[str, Any]) -> str:
    """A query string of the values that are set."""
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


# ------------------------------------------------------------------ tokens

TOKENS_WHAT = "manage API tokens"
#: The longest validity a token may be given, in days (the API's bound).
MAX_DAYS = 3650
#: The longest token name (the store's column).
MAX_TOKEN_NAME = 100


def _token_filters(request: Request) -> dict[str, str]:
    q = request.query_params
    state = q.get("state", "all")
    return {
        "user": q.get("user", "").strip()[:100],
        "state": state if state in users.TOKEN_STATES else "all",
    }


def _tokens_data(session: Session, filters: dict[str, str], page: int) -> dict[str, Any]:
    """A page of tokens (one row more tells whether there is a next page) and the users."""
    rows = users.all_tokens(
        session,
        username=filters["user"] or None,
        state=filters["state"],
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    return {
        "rows": rows[:PAGE],
        "more": len(rows) > PAGE,
        "people": [users.user_view(u) for u in users.list_users(session)],
    }


async def _tokens_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    filters = _token_filters(request)
    page = _page_number(request.query_params.get("page"))
    data = await in_session(request, _tokens_data, filters, page)
    context.setdefault("typed", {"days": "30"})
    context.setdefault("errors", {})
    context.setdefault("issued", None)
    response = render(
        request,
        "admin_tokens.html",
        who,
        status_code=status,
        filters=filters,
        page=page,
        states=users.TOKEN_STATES,
        max_days=MAX_DAYS,
        page_link=lambda n: "/ui/admin/tokens?" + _query({**filters, "page": n}),
        **data,
        **context,
    )
    # A page that may carry a new token's secret is never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/ui/admin")
async def admin_home(request: Request) -> Response:
    """The first admin page the signed-in role may open."""
    who = await let_in(request)
    if isinstance(who, Response):
        return who
    tabs = admin_tabs(who)
    if not tabs:
        return denied(request, who, "open the admin pages")
    return RedirectResponse(tabs[0][0], status_code=303)


@router.get("/ui/admin/tokens")
async def tokens_page(request: Request) -> Response:
    """Every user's API tokens, newest first, 50 a page; issue one; revoke one."""
    who = await let_in(request, Permission.USERS_ADMIN, TOKENS_WHAT)
    if isinstance(who, Response):
        return who
    revoked = request.query_params.get("revoked", "")
    return await _tokens_page(request, who, revoked=revoked if revoked.isdigit() else "")


def _days(raw: str) -> int:
    """The days a token stays valid; ValueError says what is wrong."""
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"a whole number of days, from 1 to {MAX_DAYS:,}") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"from 1 to {MAX_DAYS:,} days, got {days:,}")
    return days


def _token_errors(typed: dict[str, str]) -> dict[str, str]:
    """What is wrong with a typed token request, by field."""
    errors: dict[str, str] = {}
    if not typed["user"]:
        errors["user"] = "choose the user the token acts as"
    if not typed["name"]:
        errors["name"] = "say what the token is for (e.g. billing system)"
    elif len(typed["name"]) > MAX_TOKEN_NAME:
        errors["name"] = f"at most {MAX_TOKEN_NAME} characters"
    try:
        _days(typed["days"])
    except ValueError as e:
        errors["days"] = str(e)
    return errors


def _issue(session: Session, typed: dict[str, str], who: Principal) -> dict[str, Any]:
    user = users.get_user(session, typed["user"])
    secret, tok = users.create_token(
        session, user, name=typed["name"], ttl_days=_days(typed["days"]), actor=actor(who)
    )
    session.commit()
    return {"secret": secret, "id": tok.id, "user": user.username, "name": tok.name}


@router.post("/ui/admin/tokens")
async def issue_token(request: Request) -> Response:
    """Issue a token for a user; its secret is on this answer only, never shown again."""
    who = await let_in(request, Permission.USERS_ADMIN, TOKENS_WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "issue a token")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("user", "name", "days")}
    errors = _token_errors(typed)
    if not errors:
        try:
            issued = await in_session(request, _issue, typed, who)
        except NotFound as e:
            errors["user"] = e.detail
    if errors:
        return await _tokens_page(request, who, status=422, typed=typed, errors=errors)
    return await _tokens_page(request, who, issued=issued)


def _revoke(session: Session, token_id: int, who: Principal) -> None:
    users.revoke_token(session, token_id, actor=actor(who))
    session.commit()


@router.post("/ui/admin/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int) -> Response:
    """Revoke a token: from now on it opens nothing (the API, or a browser's session)."""
    who = await let_in(request, Permission.USERS_ADMIN, TOKENS_WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "revoke a token")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _revoke, token_id, who)
    except NotFound:
        return not_found(request, who, f"API token {token_id}")
    # This process remembers checked tokens for a few seconds: forget them, so the
    # revoked one is refused at once.
    token_memory(request).forget()
    back = {k: form.get(k, "") for k in ("user", "state", "page")}
    return RedirectResponse(
        "/ui/admin/tokens?" + _query({**back, "revoked": token_id}), status_code=303
    )


# ------------------------------------------------------------------ channels

CHANNELS_WHAT = "see channels"
CHANGE_WHAT = "change channels"
#: The channel form's fields, in the order of the API's model.
CHANNEL_FIELDS = (
    "name",
    "kind",
    "settings",
    "enabled",
    "rate_per_second",
    "quiet_start",
    "quiet_end",
    "timezone",
    "max_attempts",
    "retry_base_seconds",
    "retry_cap_seconds",
    "cost_per_message",
    "daily_capacity",
)
#: What a new channel's form starts with (the API's defaults).
NEW_CHANNEL = {
    "kind": "sms_http",
    "enabled": "on",
    "timezone": "UTC",
    "max_attempts": "5",
    "retry_base_seconds": "30",
    "retry_cap_seconds": "3600",
}
#: What the API's model says of a text that does not match its pattern, said plainly.
_PATTERNS = {
    "name": "letters, digits, '_', '.' or '-', starting with a letter or digit",
    "quiet_start": "a time of day like 21:00 (HH:MM, 00:00-23:59)",
    "quiet_end": "a time of day like 08:00 (HH:MM, 00:00-23:59)",
}


def _text(value: Any) -> str:
    """A stored value as a form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _typed_from(view: dict[str, Any]) -> dict[str, str]:
    """A channel's form filled from its view (secrets masked)."""
    typed = {k: _text(view.get(k)) for k in CHANNEL_FIELDS if k not in ("settings", "enabled")}
    typed["settings"] = "\n".join(f"{k}={_text(v)}" for k, v in view["settings"].items())
    typed["enabled"] = "on" if view["enabled"] else ""
    return typed


def _said(err: ErrorDetails) -> str:
    """An error of the API's model in the words of the form."""
    field = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "string_pattern_mismatch" and field in _PATTERNS:
        return _PATTERNS[field]
    return f"{err['msg'][0].lower()}{err['msg'][1:]}"


def _spec_from(typed: dict[str, str]) -> tuple[ChannelSpec | None, dict[str, str]]:
    """The spec a channel form describes, read by the API's own model, or the errors
    by field."""
    errors: dict[str, str] = {}
    settings, problems = settings_of([x for x in typed["settings"].splitlines() if x.strip()])
    if problems:
        errors["settings"] = "; ".join(p.removeprefix("settings: ") for p in problems)
    body: dict[str, Any] = {
        "name": typed["name"],
        "kind": typed["kind"],
        "settings": settings,
        "enabled": typed["enabled"] == "on",
    }
    # A field left empty is the API's default: no limit, no quiet hours, UTC...
    body.update({k: v for k, v in typed.items() if k not in body and k in CHANNEL_FIELDS and v})
    try:
        data = ChannelIn.model_validate(body).model_dump()
    except ValidationError as e:
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "name"
            errors.setdefault(field if field in CHANNEL_FIELDS else "name", _said(err))
        return None, errors
    if errors:
        return None, errors
    # As PUT /channels builds it: the channel is the one the kind serves.
    del data["channel"]
    spec = ChannelSpec.for_kind(data.pop("name"), data.pop("kind"), data.pop("settings"), **data)
    return spec, {}


def _problem_errors(e: InvalidInput) -> dict[str, str]:
    """A refused spec's problems ("settings.port: ...", one a line) by form field."""
    errors: dict[str, str] = {}
    for line in e.detail.splitlines():
        if not line.startswith("- "):
            continue
        place, _, text = line[2:].partition(": ")
        field = place.split(",")[0].split(".")[0].strip()
        field = "kind" if field == "channel" else field
        if place.startswith("settings."):
            text = f"{place.removeprefix('settings.')}: {text}"  # which setting
        key = field if field in CHANNEL_FIELDS else "name"
        errors[key] = f"{errors[key]}; {text}" if key in errors else text
    return errors or {"name": message(e)}


def _remask(typed: dict[str, str]) -> list[str]:
    """Put the mask back over the secrets typed in a refused form, which goes back to the
    browser; returns the settings masked (they must be typed again)."""
    lines, masked = [], []
    for line in typed["settings"].splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in SECRET_SETTINGS and value.strip() not in ("", MASK):
            masked.append(key.strip())
            line = f"{key.strip()}={MASK}"
        lines.append(line)
    typed["settings"] = "\n".join(lines)
    return masked


def _channels_page(
    request: Request, who: Principal, rows: list[dict[str, Any]], status: int = 200, **context: Any
) -> Response:
    context.setdefault("typed", dict(NEW_CHANNEL))
    context.setdefault("errors", {})
    context.setdefault("masked", [])
    context.setdefault("queues", None)
    context.setdefault("failed", [])
    return render(
        request,
        "admin_channels.html",
        who,
        status_code=status,
        rows=rows,
        can_write=allows(who.role, Permission.PROGRAMS_WRITE),
        kinds=KINDS,
        kind_settings=kind_settings(),
        **context,
    )


#: Dead letters shown under the channels (the API's /outbox/failed has them all).
SHOWN_FAILED = 20


def _channel_rows(session: Session) -> list[dict[str, Any]]:
    return [channel_configs.channel_view(c) for c in channel_configs.list_channels(session)]


def _outbox(session: Session) -> dict[str, Any]:
    """What waits to be sent per contact channel, and the latest dead letters."""
    return {
        "queues": dispatch.outbox_status(session),
        "failed": dispatch.dead_letters(session, limit=SHOWN_FAILED),
    }


@router.get("/ui/admin/channels")
async def channels_page(request: Request) -> Response:
    """Every configured channel, secrets masked; a form to add one (for those who may)."""
    who = await let_in(request, Permission.PROGRAMS_READ, CHANNELS_WHAT)
    if isinstance(who, Response):
        return who
    rows = await in_session(request, _channel_rows)
    outbox = await in_session(request, _outbox)
    q = request.query_params
    return _channels_page(
        request,
        who,
        rows,
        saved=q.get("saved", "")[:100],
        deleted=q.get("deleted", "")[:100],
        **outbox,
    )


def _save(session: Session, spec: ChannelSpec, who: Principal, adding: bool) -> str:
    if adding:
        try:
            channel_configs.get_channel(session, spec.name)
        except NotFound:
            pass
        else:
            # The add form never replaces a channel (its secrets with it) by accident.
            raise Conflict(f"a channel {spec.name!r} exists already: change it on its page")
    result = channel_configs.save_channel(session, spec, actor=actor(who))
    session.commit()
    return result


async def _submit(
    request: Request, who: Principal, typed: dict[str, str], adding: bool
) -> tuple[dict[str, str], list[str]]:
    """Save the channel a form describes; the errors by field (none: saved) and the
    secrets masked again in ``typed``."""
    spec, errors = _spec_from(typed)
    if spec is not None:
        try:
            await in_session(request, _save, spec, who, adding)
        except InvalidInput as e:
            errors = _problem_errors(e)
        except Conflict as e:
            errors = {"name": e.detail}
    return errors, (_remask(typed) if errors else [])


def _typed_channel(form: dict[str, str], name: str | None = None) -> dict[str, str]:
    typed = {k: form.get(k, "") for k in CHANNEL_FIELDS}
    if name is not None:
        typed["name"] = name  # a channel's page changes that channel, whatever is posted
    return typed


def _saved(name: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/admin/channels?{urlencode({'saved': name})}", status_code=303)


@router.post("/ui/admin/channels")
async def add_channel(request: Request) -> Response:
    """Add a channel; every problem is shown next to its field and nothing is saved."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, CHANGE_WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "add a channel")
    if isinstance(form, Response):
        return form
    typed = _typed_channel(form)
    errors, masked = await _submit(request, who, typed, adding=True)
    if errors:
        rows = await in_session(request, _channel_rows)
        return _channels_page(
            request, who, rows, status=422, typed=typed, errors=errors, masked=masked
        )
    return _saved(typed["name"])


def _one_channel(session: Session, name: str) -> dict[str, Any]:
    return channel_configs.channel_view(channel_configs.get_channel(session, name))


def _channel_page(
    request: Request, who: Principal, name: str, status: int = 200, **context: Any
) -> Response:
    context.setdefault("errors", {})
    context.setdefault("masked", [])
    return render(
        request,
        "admin_channel.html",
        who,
        status_code=status,
        channel=name,
        action=f"/ui/admin/channels/{quote(name)}",
        kinds=KINDS,
        kind_settings=kind_settings(),
        **context,
    )


@router.get("/ui/admin/channels/{name}")
async def channel_page(request: Request, name: str) -> Response:
    """A channel's form, filled with what is saved (secrets masked: left so, they stay)."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, CHANGE_WHAT)
    if isinstance(who, Response):
        return who
    try:
        view = await in_session(request, _one_channel, name)
    except NotFound:
        return not_found(request, who, f"channel {name!r}")
    return _channel_page(request, who, name, typed=_typed_from(view))


@router.post("/ui/admin/channels/{name}")
async def change_channel(request: Request, name: str) -> Response:
    """Save a channel's changes; a refused form keeps what was typed and saves nothing."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, CHANGE_WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change a channel")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _one_channel, name)
    except NotFound:
        return not_found(request, who, f"channel {name!r}")
    typed = _typed_channel(form, name)
    errors, masked = await _submit(request, who, typed, adding=False)
    if errors:
        return _channel_page(
            request, who, name, status=422, typed=typed, errors=errors, masked=masked
        )
    return _saved(name)


def _delete_channel(session: Session, name: str, who: Principal) -> None:
    channel_configs.delete_channel(session, name, actor=actor(who))
    session.commit()


@router.post("/ui/admin/channels/{name}/delete")
async def delete_channel(request: Request, name: str) -> Response:
    """Remove a channel; messages queued for its type wait for another channel of it."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, CHANGE_WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "delete a channel")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _delete_channel, name, who)
    except NotFound:
        return not_found(request, who, f"channel {name!r}")
    return RedirectResponse(f"/ui/admin/channels?{urlencode({'deleted': name})}", status_code=303)


# ------------------------------------------------------------------ the audit log

AUDIT_WHAT = "read the audit log"
#: The longest actor and subject type the log holds (its columns).
MAX_ACTOR = 100
MAX_TYPE = 32
#: Changes of one entry shown in its row (the CSV export has them all).
SHOWN_CHANGES = 6
#: Longest value shown in a change.
SHOWN_VALUE = 60


def _day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = f"{raw!r} is not a date (YYYY-MM-DD)"
        return None


def _audit_filters(request: Request) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """What the log is filtered by: as typed, as the service takes it, and the errors."""
    q = request.query_params
    typed = {k: q.get(k, "").strip() for k in ("actor", "type", "from", "to")}
    errors: dict[str, str] = {}
    if len(typed["actor"]) > MAX_ACTOR:
        errors["actor"] = f"at most {MAX_ACTOR} characters"
    if len(typed["type"]) > MAX_TYPE:
        errors["type"] = f"at most {MAX_TYPE} characters"
    start = _day(typed["from"], "from", errors)
    end = _day(typed["to"], "to", errors)
    if start and end and end < start:
        errors["to"] = "the range ends before it starts"
    # Days are UTC days, the last one whole.
    since = datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1) if end else None
    wanted = {
        "actor": typed["actor"] or None,
        "entity_type": typed["type"] or None,
        "since": since,
        "until": until,
    }
    return typed, wanted, errors


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[tuple[str, str, str]]:
    """What an entry changed, as (field, before, after) texts, for the fields that differ."""
    before, after = before or {}, after or {}
    out = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if old != new:
            out.append(
                (
                    key,
                    "" if key not in before else _short(old),
                    "" if key not in after else _short(new),
                )
            )
    return out


def _entry_view(e: Any) -> dict[str, Any]:
    found = changes(e.before, e.after)
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "type": e.entity_type,
        "subject": e.entity_id,
        "changes": found[:SHOWN_CHANGES],
        "more": max(len(found) - SHOWN_CHANGES, 0),
    }


def _audit_data(session: Session, wanted: dict[str, Any], page: int) -> dict[str, Any]:
    """A page of the log (one row more tells whether there is a next page) and what the
    filters offer."""
    rows = audit.list_entries(session, limit=PAGE + 1, offset=(page - 1) * PAGE, **wanted)
    return {
        "rows": [_entry_view(e) for e in rows[:PAGE]],
        "more": len(rows) > PAGE,
        "types": audit.entity_types(session),
        # How the log names people (``render.actor``), offered as the actor filter's choices.
        "actors": [f"user:{u.username}" for u in users.list_users(session)],
    }


@router.get("/ui/admin/audit")
async def audit_page(request: Request) -> Response:
    """Who changed what, newest first, 50 a page, filtered by actor, subject type and
    days; a CSV export of what the filters find."""
    who = await let_in(request, Permission.AUDIT_READ, AUDIT_WHAT)
    if isinstance(who, Response):
        return who
    typed, wanted, errors = _audit_filters(request)
    page = _page_number(request.query_params.get("page"))
    if errors:
        # A refused filter shows nothing rather than rows it was not meant to select.
        wanted = {"actor": None, "entity_type": None, "since": None, "until": None}
    data = await in_session(request, _audit_data, wanted, page)
    if errors:
        data.update(rows=[], more=False)
    return render(
        request,
        "admin_audit.html",
        who,
        status_code=422 if errors else 200,
        typed=typed,
        errors=errors,
        page=page,
        page_link=lambda n: "/ui/admin/audit?" + _query({**typed, "page": n}),
        csv_link="/ui/admin/audit.csv?" + _query(typed),
        **data,
    )


def _export(session: Session, wanted: dict[str, Any], out: IO[str]) -> None:
    audit.write_csv(session, out, **wanted)


def _chunks(spool: IO[str]) -> Iterator[str]:
    spool.seek(0)
    while chunk := spool.read(64 * 1024):
        yield chunk


@router.get("/ui/admin/audit.csv")
async def audit_csv(request: Request) -> Response:
    """The entries the audit log's filters find, every one, as a CSV file."""
    who = await let_in(request, Permission.AUDIT_READ, AUDIT_WHAT)
    if isinstance(who, Response):
        return who
    typed, wanted, errors = _audit_filters(request)
    if errors:
        text = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return Response(text + "\n", status_code=422, media_type="text/plain")
    # Written to a file that spills to disk past a few MB, in the store's session, which
    # is closed before the first byte leaves: a long log never sits in memory.
    # The response closes the file once sent (or the client gone): see ``background``.
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115
    await in_session(request, _export, wanted, spool)
    span = "-".join(x for x in (typed["from"], typed["to"]) if x)
    name = f"tactica-audit{'-' + span if span else ''}.csv"
    return StreamingResponse(
        _chunks(spool),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
        background=BackgroundTask(spool.close),
    )
