"""Events in, and what they led to; event types.

``POST /events`` takes a batch of events (at most 1,000) from a machine whose token
has ``events:write`` (role ``integration``, or a marketer): each one is checked
against its declared type, stored once and decided at once. The answer reports every
event: decided (with its contacts), duplicate (an id taken before: accepted, not
decided again), rejected (by index, each problem naming its field) or unattributed
(no such customer: kept). A batch where every event is bad gets 422; otherwise 200.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.domain.access import Permission
from tactica.errors import InvalidInput, MalformedRequest
from tactica.services import event_types, events
from tactica.services.users import Principal
from tactica.store.models import EventRow

router = APIRouter(tags=["events"])
Sender = Annotated[Principal, Depends(require(Permission.EVENTS_WRITE))]
Reader = Annotated[Principal, Depends(require(Permission.EVENTS_READ))]
TypeWriter = Annotated[Principal, Depends(require(Permission.PROGRAMS_WRITE))]
TypeReader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]

_TYPE_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class ContactOut(BaseModel):
    """A contact an event made."""

    contact_id: int
    program: str
    campaign: str
    offer: str | None
    channel: str | None


class DecidedOut(BaseModel):
    """One event of the batch that was stored, and what it led to."""

    index: int
    id: str
    customer_id: str
    status: str = Field(description="contacted, no_contact, no_match or unattributed")
    contacts: list[ContactOut]
    decisions: list[str] = Field(description="What each listening campaign did, and why")


class RejectedOut(BaseModel):
    """An event of the batch that could not be taken."""

    index: int
    id: str | None
    problems: list[str]


class EventsOut(BaseModel):
    """What a batch did."""

    accepted: int
    contacts: int
    duplicates: list[str]
    rejected: list[RejectedOut]
    unattributed: list[str]
    decided: list[DecidedOut]


def _decided_out(d: events.Decided) -> DecidedOut:
    made = [o for o in d.outcomes if o.outcome == "contacted"]
    return DecidedOut(
        index=d.index,
        id=d.event_id,
        customer_id=d.customer_id,
        status=d.status,
        contacts=[
            ContactOut(
                contact_id=cid,
                program=o.program,
                campaign=o.campaign,
                offer=o.offer,
                channel=o.channel,
            )
            for o, cid in zip(made, d.contact_ids, strict=True)
        ],
        decisions=[o.line() for o in d.outcomes],
    )


# The body is read by hand (the decision latency counts from its arrival, and a bad
# event must not fail the others); its shape is documented here for the OpenAPI spec.
_EVENT = {
    "type": "object",
    "required": ["id", "type", "customer_id", "time"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 200},
        "type": {"type": "string", "minLength": 1, "maxLength": 64},
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "time": {"type": "string", "format": "date-time"},
        "payload": {"type": "object"},
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": events.MAX_BATCH,
                            "items": _EVENT,
                        }
                    },
                }
            }
        },
    }
}


@router.post("/events", response_model=EventsOut, openapi_extra=_BODY)
async def take(request: Request, store: StoreDep, who: Sender) -> EventsOut:
    """Take a batch of events: check each, store it once, decide it, contact."""
    started, arrived = time.perf_counter(), datetime.now(UTC)
    body = await request.body()
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise MalformedRequest(f"events: not JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise InvalidInput('a JSON object {"events": [...]}', "events")
    items = doc["events"]
    if not items or len(items) > events.MAX_BATCH:
        raise InvalidInput(
            f"from 1 to {events.MAX_BATCH} events a batch, got {len(items)}", "events"
        )
    del who
    intake = getattr(request.app.state, "event_intake", None)
    if intake is None:
        taken = await run_in_threadpool(
            events.take_events, store, items, source="http", now=arrived, started=started
        )
    else:
        # Requests arriving together are decided together (one transaction, in order).
        taken = await asyncio.wrap_future(intake.submit(items, arrived=arrived, started=started))
    if taken.rejected and not taken.decided and not taken.duplicates:
        lines = [f"events[{r.index}].{p}" for r in taken.rejected for p in r.problems]
        raise InvalidInput("every event was refused:\n- " + "\n- ".join(lines))
    return EventsOut(
        accepted=taken.accepted,
        contacts=taken.contacts,
        duplicates=taken.duplicates,
        rejected=[
            RejectedOut(index=r.index, id=r.event_id, problems=list(r.problems))
            for r in taken.rejected
        ],
        unattributed=taken.unattributed,
        decided=[_decided_out(d) for d in taken.decided],
    )


class EventOut(BaseModel):
    """An event taken, and what it led to."""

    id: str
    type: str
    customer_id: str
    time: datetime
    received_at: datetime
    decided_at: datetime
    source: str
    status: str
    payload: dict[str, Any]
    contacts: int
    decisions: list[str]


def _event_out(row: EventRow) -> EventOut:
    return EventOut(
        id=row.event_id,
        type=row.type,
        customer_id=row.customer_id,
        time=row.occurred_at,
        received_at=row.received_at,
        decided_at=row.decided_at,
        source=row.source,
        status=row.status,
        payload=row.payload,
        contacts=row.contacts,
        decisions=events.decision_lines(row),
    )


@router.get("/events", response_model=list[EventOut])
def list_events(
    session: SessionDep,
    who: Reader,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[EventOut]:
    """Events taken, newest first."""
    del who
    rows = events.list_events(
        session, customer_id=customer_id, status=status, event_type=type, limit=limit
    )
    return [_event_out(r) for r in rows]


class FiguresOut(BaseModel):
    """One triggered campaign's events over the days asked."""

    program: str
    campaign: str
    matched: int
    contacted: int
    suppressed: dict[str, int]
    reasons: list[dict[str, Any]]


@router.get("/events/figures", response_model=list[FiguresOut])
def figures(
    session: SessionDep,
    who: Reader,
    program: Annotated[str | None, Query(max_length=100)] = None,
    since: date | None = None,
    until: date | None = None,
) -> list[FiguresOut]:
    """Per triggered campaign: events matched, contacted, and suppressed by reason."""
    del who
    return [
        FiguresOut(
            program=f.program,
            campaign=f.campaign,
            matched=f.matched,
            contacted=f.contacted,
            suppressed=f.suppressed,
            reasons=[{"outcome": o, "reason": r, "events": n} for o, r, n in f.reasons],
        )
        for f in events.figures(session, program=program, since=since, until=until)
    ]


@router.get("/events/{event_id}", response_model=EventOut)
def show(
    session: SessionDep, who: Reader, event_id: Annotated[str, Path(max_length=200)]
) -> EventOut:
    """One event by the producer's id, with what each listening campaign did."""
    del who
    return _event_out(events.get_event(session, event_id))


class EventTypeIn(BaseModel):
    """An event type's declaration."""

    description: str = Field(default="", max_length=2000)
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="field name → int, float, text, category, bool, date, timestamp",
    )
    required: list[str] = Field(default_factory=list)
    lifecycle: dict[str, Any] | None = Field(
        default=None, description="For a key moment the scheduler generates daily"
    )


class EventTypeOut(EventTypeIn):
    """A declared event type."""

    name: str


def _type_out(row: Any) -> EventTypeOut:
    return EventTypeOut(**event_types.event_type_data(row))


@router.get("/event-types", response_model=list[EventTypeOut])
def list_types(session: SessionDep, who: TypeReader) -> list[EventTypeOut]:
    """Every declared event type."""
    del who
    return [_type_out(r) for r in event_types.list_event_types(session)]


@router.put("/event-types/{name}", response_model=EventTypeOut)
def save_type(
    session: SessionDep,
    who: TypeWriter,
    body: EventTypeIn,
    response: Response,
    name: Annotated[str, Path(pattern=_TYPE_NAME)],
) -> EventTypeOut:
    """Declare an event type, or change one (201 when created)."""
    raw = {"name": name, **body.model_dump(exclude_none=True)}
    ty = event_types.parse_event_type(raw)
    result = event_types.save_event_type(session, ty, actor=actor_of(who))
    session.commit()
    if result == "created":
        response.status_code = 201
    return _type_out(event_types.get_event_type(session, name))


@router.delete("/event-types/{name}", status_code=204)
def delete_type(
    session: SessionDep, who: TypeWriter, name: Annotated[str, Path(pattern=_TYPE_NAME)]
) -> None:
    """Remove an event type no campaign listens to."""
    event_types.delete_event_type(session, name, actor=actor_of(who))
    session.commit()
