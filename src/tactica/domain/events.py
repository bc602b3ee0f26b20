"""Events: what a customer did or what happened to them, and the declared shape of each type.

An event type is declared before events of it are taken: its payload fields, each
typed like a customer field (``int``, ``float``, ``text``, ``category``, ``bool``,
``date``, ``timestamp``), and which of them are required. :func:`read_event` checks
one event as it arrives (id, type, customer id, time, payload) against the declared
types and says, field by field, what is wrong with it; a payload field nobody
declared is refused too, so a producer's typo does not pass silently as a null.

Triggered campaigns read the payload in their rules as ``event.<field>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tactica.domain.lifecycle import LifecycleSpec
from tactica.domain.schema import FieldType

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

#: Longest event id kept (ids are the producer's, deduplicated on).
MAX_ID_LENGTH = 200
#: Longest customer id (as the customer table keeps it).
MAX_CUSTOMER_ID_LENGTH = 128


@dataclass(frozen=True)
class EventType:
    """A declared kind of event: the payload fields it carries, typed, and the required ones."""

    name: str
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    description: str = ""
    #: For a key moment the daily scheduler generates (a birthday...); None: sent by producers.
    lifecycle: LifecycleSpec | None = None

    def problems(self) -> list[str]:
        """Every reason the declaration cannot be used, each naming its place."""
        out: list[str] = []
        if not _TYPE_NAME.match(self.name):
            out.append(
                f"name: {self.name!r} must start with a lower-case letter and hold only "
                "lower-case letters, digits and '_' (at most 63 characters)"
            )
        for name, ty in self.fields.items():
            if not _FIELD_NAME.match(name):
                out.append(
                    f"fields.{name}: a field name starts with a lower-case letter and holds "
                    "only lower-case letters, digits and '_'"
                )
            if not isinstance(ty, FieldType):
                out.append(f"fields.{name}: unknown type {ty!r}")
        for name in sorted(self.required - set(self.fields)):
            out.append(f"required: {name!r} is not one of the fields")
        return out


@dataclass(frozen=True)
class Event:
    """One event as taken: the producer's id, its type, whose it is, when, and its payload."""

    event_id: str
    type: str
    customer_id: str
    at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


def parse_time(raw: Any) -> datetime | None:
    """An ISO 8601 time with its offset (``Z`` allowed), in UTC; None when it is not one."""
    if not isinstance(raw, str):
        return None
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if t.tzinfo is None:
        return None
    return t.astimezone(UTC)


def _value(raw: Any, ty: FieldType) -> tuple[Any, str | None]:
    """The payload value as its declared type, or why it is not one."""
    if raw is None:
        return None, None
    if ty is FieldType.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            return None, f"must be a whole number, got {raw!r}"
        return raw, None
    if ty is FieldType.FLOAT:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None, f"must be a number, got {raw!r}"
        if not math.isfinite(raw):
            return None, f"must be a finite number, got {raw!r}"
        return float(raw), None
    if ty is FieldType.BOOL:
        if not isinstance(raw, bool):
            return None, f"must be true or false, got {raw!r}"
        return raw, None
    if ty in (FieldType.TEXT, FieldType.CATEGORY):
        if not isinstance(raw, str):
            return None, f"must be text, got {raw!r}"
        return raw, None
    if ty is FieldType.DATE:
        try:
            return date.fromisoformat(raw), None
        except (TypeError, ValueError):
            return None, f"must be a date such as 2026-11-24, got {raw!r}"
    t = parse_time(raw)
    if t is None:
        return None, f"must be a time with its offset such as 2026-11-24T09:30:00Z, got {raw!r}"
    return t, None


def read_payload(raw: Any, ty: EventType) -> tuple[dict[str, Any], list[str]]:
    """The payload typed as ``ty`` declares it, and every problem (``payload.<field>: ...``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, [f"payload: must be an object, got {type(raw).__name__}"]
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key in sorted(set(raw) - set(ty.fields), key=str):
        declared = ", ".join(sorted(ty.fields)) or "(none)"
        problems.append(
            f"payload.{key}: not a field of event type {ty.name!r}; its fields are: {declared}"
        )
    for name, fty in ty.fields.items():
        value, why = _value(raw.get(name), fty)
        if why:
            problems.append(f"payload.{name}: {why}")
        elif value is None and name in ty.required:
            problems.append(f"payload.{name}: is required by event type {ty.name!r}")
        else:
            out[name] = value
    return out, problems


def _text(raw: Mapping[str, Any], key: str, longest: int, problems: list[str]) -> str:
    value = raw.get(key)
    if value is None:
        problems.append(f"{key}: is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{key}: must be text, got {value!r}")
        return ""
    text = str(value).strip()
    if not text:
        problems.append(f"{key}: is empty")
    elif len(text) > longest:
        problems.append(f"{key}: longer than {longest} characters")
    return text


def read_event(raw: Any, types: Mapping[str, EventType]) -> tuple[Event | None, list[str]]:
    """Check one incoming event against the declared ``types``.

    Returns the event (None when anything is wrong) and every problem found, each
    naming its field: ``id``, ``type``, ``customer_id``, ``time`` (ISO 8601 with an
    offset) and ``payload.<field>``. Ids may be text or whole numbers (read as text).
    """
    if not isinstance(raw, Mapping):
        shape = "an event is an object with id, type, customer_id, time and payload"
        return None, [f"{shape}; got {type(raw).__name__}"]
    problems: list[str] = []
    unknown = sorted(set(raw) - {"id", "type", "customer_id", "time", "payload"}, key=str)
    if unknown:
        problems.append(
            f"{', '.join(map(str, unknown))}: not an event key; "
            "an event has id, type, customer_id, time and payload"
        )
    event_id = _text(raw, "id", MAX_ID_LENGTH, problems)
    customer = _text(raw, "customer_id", MAX_CUSTOMER_ID_LENGTH, problems)
    at = None
    if raw.get("time") is None:
        problems.append("time: is required")
    else:
        at = parse_time(raw["time"])
        if at is None:
            problems.append(
                f"time: must be a time with its offset such as 2026-11-24T09:30:00Z, "
                f"got {raw['time']!r}"
            )
    type_name = raw.get("type")
    ty = types.get(type_name) if isinstance(type_name, str) else None
    payload: dict[str, Any] = {}
    if type_name is None:
        problems.append("type: is required")
    elif ty is None:
        declared = ", ".join(sorted(types)) or "(none declared)"
        problems.append(f"type: unknown event type {type_name!r}; types are: {declared}")
    else:
        payload, more = read_payload(raw.get("payload"), ty)
        problems += more
    if problems or ty is None or at is None:
        return None, problems
    return Event(event_id, ty.name, customer, at, payload), []


def payload_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as JSON-able values (dates and times as ISO text), for storing."""
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in payload.items()}
