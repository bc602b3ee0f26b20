"""Events: the latest events taken and what each led to; the event types they are
checked against, declared, changed and removed.

The rules are the API's (``/events``, ``/event-types``): everyone who reads events sees
them, whoever reads programs sees the types, whoever changes programs declares them.
A type that campaigns listen to keeps its fields' types while they listen, and is not
removed; a type the scheduler generates from customers' dates (a lifecycle block,
declared with ``tactica apply``) keeps that block when its fields change here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.domain.schema import FieldType
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import event_types, events
from tactica.services.users import Principal
from tactica.web.render import (
    Section,
    actor,
    denied,
    in_session,
    let_in,
    not_found,
    posted,
    render,
)

router = APIRouter(include_in_schema=False)
SECTION = Section(35, "/ui/events", "Events", Permission.EVENTS_READ)

WHAT = "see events"
#: Events shown at once (the API's default page).
SHOWN = 50
#: The longest filter values the API takes.
MAX_CUSTOMER = 128
MAX_TYPE = 64
TYPE_FIELDS = ("name", "description", "fields", "required")
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: A problem line of a refused declaration: the field it is about leads it.
_PROBLEM = re.compile(r"^- (fields|required|description|lifecycle|name)\b")


def _filters(request: Request) -> tuple[dict[str, str], dict[str, str]]:
    """The filters typed (type, status, customer) and what is wrong with them."""
    q = request.query_params
    typed = {
        "type": q.get("type", "").strip()[:MAX_TYPE],
        "status": q.get("status", "").strip(),
        "customer": q.get("customer", "").strip()[:MAX_CUSTOMER],
    }
    errors: dict[str, str] = {}
    if typed["status"] and typed["status"] not in events.STATUSES:
        errors["status"] = f"one of {', '.join(events.STATUSES)}"
    return typed, errors


def _page_data(session: Session, typed: dict[str, str], types_too: bool) -> dict[str, Any]:
    rows = events.list_events(
        session,
        customer_id=typed["customer"] or None,
        status=typed["status"] or None,
        event_type=typed["type"] or None,
        limit=SHOWN,
    )
    shown = [
        {
            "event_id": r.event_id,
            "type": r.type,
            "customer_id": r.customer_id,
            "occurred_at": r.occurred_at,
            "received_at": r.received_at,
            "status": r.status,
            "source": r.source,
            "contacts": r.contacts,
            "payload": r.payload,
            "decisions": events.decision_lines(r),
        }
        for r in rows
    ]
    types = []
    if types_too:
        listening = events.listeners_by_type(session)
        for row in event_types.list_event_types(session):
            data = event_types.event_type_data(row)
            data["listeners"] = listening.get(row.name, [])
            types.append(data)
    return {"events": shown, "types": types}


async def _events_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    typed, errors = _filters(request)
    shown = {k: ("" if k in errors else v) for k, v in typed.items()}
    types_too = allows(who.role, Permission.PROGRAMS_READ)
    data = await in_session(request, _page_data, shown, types_too)
    context.setdefault("declare", {})
    context.setdefault("declare_errors", {})
    q = request.query_params
    return render(
        request,
        "events.html",
        who,
        status_code=status if not errors else 422,
        filters=typed,
        filter_errors=errors,
        statuses=events.STATUSES,
        field_types=[t.value for t in FieldType],
        shown_limit=SHOWN,
        can_read_types=types_too,
        can_write_types=allows(who.role, Permission.PROGRAMS_WRITE),
        saved=q.get("saved", "")[:MAX_TYPE],
        deleted=q.get("deleted", "")[:MAX_TYPE],
        **data,
        **context,
    )


@router.get("/ui/events")
async def events_page(request: Request) -> Response:
    """The latest events, newest first, filtered by type, status or customer, each with
    what the campaigns listening to it did; the event types below."""
    who = await let_in(request, Permission.EVENTS_READ, WHAT)
    if isinstance(who, Response):
        return who
    return await _events_page(request, who)


# ------------------------------------------------------------------ event types


def _document(typed: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The declaration the form describes, as ``PUT /event-types`` takes it, and the
    lines of the fields box that cannot be read."""
    errors: dict[str, str] = {}
    fields: dict[str, str] = {}
    for n, line in enumerate(typed["fields"].splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, kind = line.partition(":")
        if not sep or not name.strip() or not kind.strip():
            errors["fields"] = f"line {n}: 'name: type', e.g. 'amount: float', got {line!r}"
            break
        fields[name.strip()] = kind.strip()
    required = [x.strip() for x in typed["required"].split(",") if x.strip()]
    doc: dict[str, Any] = {
        "name": typed["name"],
        "description": typed["description"],
        "fields": fields,
        "required": required,
    }
    return doc, errors


def _declare(session: Session, doc: dict[str, Any], who: Principal) -> str:
    try:
        # A lifecycle block is declared as code; changing fields here keeps it.
        kept = event_types.get_event_type(session, doc["name"]).lifecycle
    except NotFound:
        kept = None
    if kept:
        doc = {**doc, "lifecycle": dict(kept)}
    ty = event_types.parse_event_type(doc)
    result = event_types.save_event_type(session, ty, actor=actor(who))
    session.commit()
    return result


def _problems_by_field(detail: str) -> dict[str, str]:
    """A refused declaration's problems by the form field each is about."""
    out: dict[str, list[str]] = {}
    for line in detail.splitlines()[1:]:
        found = _PROBLEM.match(line)
        field = found.group(1) if found else "name"
        text = line[2:]
        # Shown next to its field already: "required: 'x' is not..." reads "'x' is not...".
        text = text.removeprefix(f"{field}: ")
        out.setdefault("fields" if field == "lifecycle" else field, []).append(text)
    if not out:
        out["name"] = [detail]
    return {k: "; ".join(v) for k, v in out.items()}


@router.post("/ui/events/types")
async def declare_type(request: Request) -> Response:
    """Declare an event type or change one; every problem is named by its field and
    nothing is saved."""
    who = await let_in(request, Permission.EVENTS_READ, WHAT)
    if isinstance(who, Response):
        return who
    if not allows(who.role, Permission.PROGRAMS_WRITE):
        return denied(request, who, "declare event types")
    form = await posted(request, who, "declare an event type")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in TYPE_FIELDS}
    typed["name"] = typed["name"].strip()
    doc, errors = _document(typed)
    status = 422
    if not _TYPE_NAME.match(typed["name"]):
        errors["name"] = "lower-case letters, digits and '_', starting with a letter"
    if len(typed["description"]) > 2000:
        errors["description"] = "at most 2,000 characters"
    if not errors:
        try:
            await in_session(request, _declare, doc, who)
        except InvalidInput as e:
            errors = _problems_by_field(e.detail)
        except Conflict as e:  # fields changing under listening campaigns
            errors["fields"], status = e.detail, 409
    if errors:
        return await _events_page(request, who, status=status, declare=typed, declare_errors=errors)
    target = f"/ui/events?{urlencode({'saved': typed['name']})}#types"
    return RedirectResponse(target, status_code=303)


def _delete(session: Session, name: str, who: Principal) -> None:
    event_types.delete_event_type(session, name, actor=actor(who))
    session.commit()


@router.post("/ui/events/types/{name}/delete")
async def delete_type(request: Request, name: str) -> Response:
    """Remove an event type no campaign listens to (the events taken stay)."""
    who = await let_in(request, Permission.EVENTS_READ, WHAT)
    if isinstance(who, Response):
        return who
    if not allows(who.role, Permission.PROGRAMS_WRITE):
        return denied(request, who, "remove event types")
    form = await posted(request, who, "remove an event type")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _delete, name, who)
    except NotFound:
        return not_found(request, who, f"event type {name!r}")
    except Conflict as e:
        return await _events_page(request, who, status=409, refused=e.detail)
    target = f"/ui/events?{urlencode({'deleted': name})}#types"
    return RedirectResponse(target, status_code=303)
