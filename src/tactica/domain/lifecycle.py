"""Lifecycle triggers: key moments no producer announces, read from a customer's dates.

An event type may carry a ``lifecycle`` block; the scheduler then generates its
events once a day for the customers whose date field says the moment is that day:

* ``birthday`` (``field``: a date): on the day's month and day, from the first
  birthday on; payload ``age``, the years since birth. Born on 29 February: on
  28 February in the years without a 29th;
* ``anniversary`` (``field``: a date, such as when the customer joined): likewise, from
  the first anniversary on; payload ``years``;
* ``inactivity`` (``field``: a date or a timestamp, the last activity; ``days``): on
  the day exactly ``days`` after the last activity, so once per quiet spell (the
  customer's next activity moves the date, and the count starts again); payload
  ``days``;
* ``contract_end`` (``field``: a date, the contract's end; ``days``): ``days`` before
  the end; payload ``days_left``.

Days are UTC calendar days; a timestamp counts on its UTC date (the customer table
keeps timestamps in UTC). :meth:`LifecycleSpec.moment` says which values fire on a
day in a shape both Python (:meth:`LifecycleSpec.fires`) and SQL can ask, so the two
never disagree.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from tactica.domain.schema import FieldType

#: Fewest and most days an inactivity or contract-end trigger may count.
MIN_DAYS, MAX_DAYS = 1, 3650


class LifecycleKind(StrEnum):
    """Which key moment an event type stands for."""

    BIRTHDAY = "birthday"
    ANNIVERSARY = "anniversary"
    INACTIVITY = "inactivity"
    CONTRACT_END = "contract_end"

    @property
    def payload_field(self) -> str:
        """The payload field the generated events carry (an int)."""
        return _PAYLOAD_FIELDS[self]

    @property
    def field_types(self) -> tuple[FieldType, ...]:
        """The customer field types the kind can read its date from."""
        if self is LifecycleKind.INACTIVITY:
            return (FieldType.DATE, FieldType.TIMESTAMP)
        return (FieldType.DATE,)

    @property
    def takes_days(self) -> bool:
        """True for the kinds counted in days from the date (inactivity, contract end)."""
        return self in (LifecycleKind.INACTIVITY, LifecycleKind.CONTRACT_END)


_PAYLOAD_FIELDS = {
    LifecycleKind.BIRTHDAY: "age",
    LifecycleKind.ANNIVERSARY: "years",
    LifecycleKind.INACTIVITY: "days",
    LifecycleKind.CONTRACT_END: "days_left",
}
_KINDS = ", ".join(k.value for k in LifecycleKind)
_KEYS = ("kind", "field", "days")


@dataclass(frozen=True)
class Annual:
    """Fires for the dates before ``before`` whose (month, day) is one of ``month_days``."""

    month_days: tuple[tuple[int, int], ...]
    before: date


@dataclass(frozen=True)
class OnDate:
    """Fires for the values whose (UTC) date is ``on``."""

    on: date


@dataclass(frozen=True)
class LifecycleSpec:
    """An event type's lifecycle block: the kind of moment, the customer date field, days."""

    kind: LifecycleKind
    field: str
    days: int | None = None

    @property
    def payload_field(self) -> str:
        """The payload field the generated events carry."""
        return self.kind.payload_field

    def problems(self) -> list[str]:
        """Every reason the block cannot be used on its own, each naming its key."""
        out: list[str] = []
        if not isinstance(self.kind, LifecycleKind):
            out.append(f"lifecycle.kind: unknown kind {self.kind!r}; kinds are: {_KINDS}")
            return out
        if not self.field:
            out.append("lifecycle.field: is required (the customer field holding the date)")
        if self.kind.takes_days:
            if self.days is None:
                out.append(
                    f"lifecycle.days: is required for {self.kind.value} "
                    f"(from {MIN_DAYS} to {MAX_DAYS})"
                )
            elif not MIN_DAYS <= self.days <= MAX_DAYS:
                out.append(
                    f"lifecycle.days: must be from {MIN_DAYS} to {MAX_DAYS}, got {self.days}"
                )
        elif self.days is not None:
            out.append(
                f"lifecycle.days: {self.kind.value} takes no days "
                "(only inactivity and contract_end count days)"
            )
        return out

    def event_problems(self, type_name: str, fields: Mapping[str, FieldType]) -> list[str]:
        """Why the event type's own fields cannot carry the generated events.

        The payload field must be declared as an int; any other field would always be
        empty (nobody fills it in), so it is refused rather than left to surprise a rule.
        """
        if not isinstance(self.kind, LifecycleKind):
            return []
        out: list[str] = []
        name = self.payload_field
        declared = fields.get(name)
        if declared is None:
            out.append(
                f"fields.{name}: the {self.kind.value} lifecycle fills in {name!r}; "
                f"declare it as an int, e.g. fields: {{{name}: int}}"
            )
        elif declared is not FieldType.INT:
            out.append(
                f"fields.{name}: the {self.kind.value} lifecycle fills in {name!r} "
                f"as an int, not {declared}"
            )
        for other in sorted(set(fields) - {name}):
            out.append(
                f"fields.{other}: event type {type_name!r} is generated by its lifecycle "
                f"({self.kind.value}), which fills in only {name!r}; remove {other!r}"
            )
        return out

    def schema_problems(self, types: Mapping[str, FieldType]) -> list[str]:
        """Why the customer schema (field name → type) cannot feed this block."""
        if not isinstance(self.kind, LifecycleKind) or not self.field:
            return []
        allowed = " or ".join(t.value for t in self.kind.field_types)
        ty = types.get(self.field)
        if ty is None:
            dated = sorted(n for n, t in types.items() if t in self.kind.field_types)
            known = ", ".join(dated) or "(none)"
            return [
                f"lifecycle.field: no customer field {self.field!r}; "
                f"the customer fields of type {allowed} are: {known}"
            ]
        if ty not in self.kind.field_types:
            return [
                f"lifecycle.field: customer field {self.field!r} is {ty}; "
                f"{self.kind.value} reads a {allowed}"
            ]
        return []

    def moment(self, day: date) -> Annual | OnDate | None:
        """Which field values fire on ``day`` (None: none, the day is at the calendar's edge)."""
        if self.kind in (LifecycleKind.BIRTHDAY, LifecycleKind.ANNIVERSARY):
            pairs = [(day.month, day.day)]
            if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
                pairs.append((2, 29))  # born on a 29th of February: the last day of February
            return Annual(tuple(pairs), day)
        try:
            if self.kind is LifecycleKind.INACTIVITY:
                return OnDate(day - timedelta(days=self.days or 0))
            return OnDate(day + timedelta(days=self.days or 0))
        except OverflowError:
            return None

    def fires(self, value: date | datetime | None, day: date) -> bool:
        """True when a customer whose field holds ``value`` has this moment on ``day``."""
        if value is None:
            return False
        at = utc_date(value)
        m = self.moment(day)
        if isinstance(m, Annual):
            return at < m.before and (at.month, at.day) in m.month_days
        return m is not None and at == m.on

    def payload(self, value: date | datetime, day: date) -> dict[str, int]:
        """The payload of the event for ``value`` on ``day`` (a day it fires on)."""
        at = utc_date(value)
        if self.kind in (LifecycleKind.BIRTHDAY, LifecycleKind.ANNIVERSARY):
            n = day.year - at.year
        elif self.kind is LifecycleKind.INACTIVITY:
            n = (day - at).days
        else:
            n = (at - day).days
        return {self.payload_field: n}

    def as_data(self) -> dict[str, Any]:
        """The block as its document (and as stored)."""
        out: dict[str, Any] = {"kind": str(self.kind), "field": self.field}
        if self.days is not None:
            out["days"] = self.days
        return out


def utc_date(value: date | datetime) -> date:
    """The UTC calendar day of a date or a time (a time without offset is taken as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    return value


def parse_lifecycle(raw: Any) -> tuple[LifecycleSpec | None, list[str]]:
    """The lifecycle block of an event type's document, and every problem with its key.

    Returns (None, []) when there is no block.
    """
    if raw is None:
        return None, []
    if not isinstance(raw, Mapping):
        return None, [
            "lifecycle: a mapping such as {kind: birthday, field: birth_date}, "
            f"got {type(raw).__name__}"
        ]
    problems: list[str] = []
    unknown = sorted(set(map(str, raw)) - set(_KEYS))
    if unknown:
        problems.append(
            f"lifecycle: unknown key(s) {', '.join(unknown)}; "
            f"a lifecycle block takes {', '.join(_KEYS)}"
        )
    kind_raw = raw.get("kind")
    kind: LifecycleKind | None = None
    if kind_raw is None:
        problems.append(f"lifecycle.kind: is required; kinds are: {_KINDS}")
    else:
        try:
            kind = LifecycleKind(str(kind_raw))
        except ValueError:
            problems.append(f"lifecycle.kind: unknown kind {kind_raw!r}; kinds are: {_KINDS}")
    field_raw = raw.get("field")
    field = ""
    if field_raw is not None and not isinstance(field_raw, str):
        problems.append(f"lifecycle.field: the name of a customer field, got {field_raw!r}")
    elif field_raw:
        field = field_raw.strip()
    days_raw = raw.get("days")
    days: int | None = None
    if days_raw is not None:
        if isinstance(days_raw, bool) or not isinstance(days_raw, int):
            problems.append(f"lifecycle.days: a whole number of days, got {days_raw!r}")
        else:
            days = days_raw
    if kind is None:
        return None, problems
    spec = LifecycleSpec(kind, field, days)
    problems += spec.problems()
    return (None if problems else spec), problems


def from_data(data: Mapping[str, Any] | None) -> LifecycleSpec | None:
    """The block as stored (see :meth:`LifecycleSpec.as_data`); None when there is none.

    A stored block that does not read as a valid one (written by hand into the database)
    is None too: the type is then generated by nobody, and the events the catalog
    decides, which read every type, do not fail for it.
    """
    if not data:
        return None
    spec, problems = parse_lifecycle(data)
    return None if problems else spec
