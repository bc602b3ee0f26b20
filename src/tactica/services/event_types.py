"""Event types: declared, listed, changed and removed; the shapes events are checked against.

A declaration as a document (``tactica apply -f``, or ``PUT /event-types/{name}``)::

    kind: EventType
    name: top_up
    description: the customer topped up their prepaid balance
    fields: {amount: float, channel: category, at_shop: bool}
    required: [amount]

An event type the scheduler generates once a day from a customer's dates (see
:mod:`tactica.domain.lifecycle`) carries a ``lifecycle`` block::

    kind: EventType
    name: birthday
    fields: {age: int}
    lifecycle: {kind: birthday, field: birth_date}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.events import EventType
from tactica.domain.lifecycle import from_data, parse_lifecycle
from tactica.domain.schema import FieldType
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.store.customer_table import load_schema
from tactica.store.models import Campaign, EventTypeRow, Program

_KEYS = {"name", "description", "fields", "required", "lifecycle"}
_TYPES = ", ".join(t.value for t in FieldType)


def parse_event_type(raw: Mapping[str, Any], where: str = "event type") -> EventType:
    """The event type a document declares; InvalidInput lists every problem with its place."""
    problems: list[str] = []
    unknown = set(raw) - _KEYS - {"kind"}
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"an event type takes {', '.join(sorted(_KEYS))}"
        )
    fields_raw = raw.get("fields") or {}
    fields: dict[str, FieldType] = {}
    if not isinstance(fields_raw, Mapping):
        problems.append("fields: a mapping of field name to type, e.g. {amount: float}")
        fields_raw = {}
    for name, ty in fields_raw.items():
        try:
            fields[str(name)] = FieldType(str(ty))
        except ValueError:
            problems.append(f"fields.{name}: unknown type {ty!r}; types are: {_TYPES}")
    required_raw = raw.get("required") or []
    if isinstance(required_raw, str):
        required_raw = [required_raw]
    if not isinstance(required_raw, list) or not all(isinstance(x, str) for x in required_raw):
        problems.append(f"required: a list of field names, got {required_raw!r}")
        required_raw = []
    description = raw.get("description") or ""
    if not isinstance(description, str):
        problems.append(f"description: text, got {description!r}")
        description = ""
    lifecycle, more = parse_lifecycle(raw.get("lifecycle"))
    problems += more
    ty = EventType(
        str(raw.get("name", "")), fields, frozenset(required_raw), description, lifecycle
    )
    problems += ty.problems()
    if lifecycle is not None:
        problems += lifecycle.event_problems(ty.name, fields)
    if problems:
        raise InvalidInput(f"{where} {ty.name!r} has problems:\n- " + "\n- ".join(problems))
    return ty


def event_type_data(row: EventTypeRow) -> dict[str, Any]:
    """An event type as its document (what ``tactica export`` writes)."""
    out: dict[str, Any] = {"name": row.name}
    if row.description:
        out["description"] = row.description
    out["fields"] = dict(row.fields)
    if row.required:
        out["required"] = list(row.required)
    if row.lifecycle:
        out["lifecycle"] = dict(row.lifecycle)
    return out


def to_domain(row: EventTypeRow) -> EventType:
    """The domain view of a stored event type."""
    return EventType(
        row.name,
        {k: FieldType(v) for k, v in row.fields.items()},
        frozenset(row.required),
        row.description,
        from_data(row.lifecycle),
    )


def list_event_types(session: Session) -> list[EventTypeRow]:
    """Every declared event type, by name."""
    return list(session.scalars(sa.select(EventTypeRow).order_by(EventTypeRow.name)))


def event_types_by_name(session: Session) -> dict[str, EventType]:
    """Every declared event type, keyed by name."""
    return {r.name: to_domain(r) for r in list_event_types(session)}


def fields_by_type(session: Session) -> dict[str, dict[str, FieldType]]:
    """Each event type's payload fields and their types: what triggered rules may read."""
    return {name: dict(t.fields) for name, t in event_types_by_name(session).items()}


def get_event_type(session: Session, name: str) -> EventTypeRow:
    """The event type called ``name``; NotFound names the declared ones."""
    row = session.scalar(sa.select(EventTypeRow).where(EventTypeRow.name == name))
    if row is None:
        known = ", ".join(r.name for r in list_event_types(session)) or "(none)"
        raise NotFound(f"no event type {name!r}; event types are: {known}")
    return row


def _listeners(session: Session, name: str) -> list[str]:
    rows = session.execute(
        sa.select(Program.name, Campaign.name, Campaign.events)
        .join(Program, Program.id == Campaign.program_id)
        .where(Campaign.kind == "triggered")
    )
    return [f"{p}/{c}" for p, c, events in rows if name in (events or [])]


def save_event_type(session: Session, ty: EventType, *, actor: str) -> str:
    """Create or update an event type; returns created, updated or unchanged.

    A field that a listening campaign's rule may read cannot change type or go away
    silently: the change is refused while campaigns listen, naming them, unless it only
    adds fields or makes them optional.

    A lifecycle block must read a customer field of the right type (a date; a date or
    a timestamp for inactivity) that exists now; the payload field it fills in must be
    declared as an int.
    """
    problems = ty.problems()
    if ty.lifecycle is not None:
        problems += ty.lifecycle.problems()
        problems += ty.lifecycle.event_problems(ty.name, ty.fields)
        problems += ty.lifecycle.schema_problems(load_schema(session).types())
    if problems:
        raise InvalidInput(f"event type {ty.name!r} has problems:\n- " + "\n- ".join(problems))
    data: dict[str, Any] = {
        "description": ty.description,
        "fields": {k: v.value for k, v in ty.fields.items()},
        "required": sorted(ty.required),
        "lifecycle": ty.lifecycle.as_data() if ty.lifecycle is not None else None,
    }
    row = session.scalar(sa.select(EventTypeRow).where(EventTypeRow.name == ty.name))
    if row is None:
        session.add(EventTypeRow(name=ty.name, **data))
        audit.record(session, actor, "create", "event_type", ty.name, None, data)
        session.flush()
        return "created"
    before = {
        "description": row.description,
        "fields": row.fields,
        "required": row.required,
        "lifecycle": row.lifecycle,
    }
    if before == data:
        return "unchanged"
    changed = {
        k for k, v in row.fields.items() if k not in data["fields"] or data["fields"][k] != v
    }
    listeners = _listeners(session, ty.name)
    if changed and listeners:
        raise Conflict(
            f"event type {ty.name!r}: field(s) {', '.join(sorted(changed))} would change or go "
            f"while campaigns listen to it: {', '.join(listeners)}"
        )
    row.description, row.fields, row.required, row.lifecycle = (
        data["description"],
        data["fields"],
        data["required"],
        data["lifecycle"],
    )
    audit.record(session, actor, "update", "event_type", ty.name, before, data)
    session.flush()
    return "updated"


def delete_event_type(session: Session, name: str, *, actor: str) -> None:
    """Remove an event type no campaign listens to (events already taken stay)."""
    row = get_event_type(session, name)
    listeners = _listeners(session, name)
    if listeners:
        raise Conflict(
            f"event type {name!r} is listened to by: {', '.join(listeners)}; "
            "change those campaigns first"
        )
    audit.record(session, actor, "delete", "event_type", name, event_type_data(row), None)
    session.delete(row)
    session.flush()
