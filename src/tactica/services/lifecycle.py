"""Lifecycle events: the day's birthdays, anniversaries, quiet spells and contract ends.

For each event type with a ``lifecycle`` block (see :mod:`tactica.domain.lifecycle`),
:func:`generate` asks the customer table which customers have the moment on a day —
one query per type, a WHERE on the date column, so the database does the finding
however many customers there are — and takes their events like any other
(:func:`tactica.services.events.take_events`, source ``lifecycle``), in batches of
:data:`~tactica.services.events.MAX_BATCH`.

Each event's id is ``lifecycle:<type>:<customer_id>:<YYYY-MM-DD>``, so the same day
generated again (a second scheduler, a retry after a crash, ``tactica events
lifecycle`` by hand) only finds duplicates: nobody is decided or contacted twice.
Its time is the day at 00:00 UTC — when the moment began, the same on every run — and
the decision is made now.

The scheduler calls :func:`run_daily` every tick: it generates the current UTC day
unless a ``lifecycle:<YYYY-MM-DD>`` row in ``change_stamps`` says that day was
finished. The row is written only after the whole day was generated, so a crash
half-way is finished by the next tick. A day no scheduler ran is not caught up
(a missed quiet spell's exact day is gone); ``tactica events lifecycle --date``
generates it by hand.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tactica.domain.events import MAX_ID_LENGTH, EventType
from tactica.domain.lifecycle import Annual, LifecycleSpec, OnDate
from tactica.domain.schema import FieldType
from tactica.errors import InvalidInput
from tactica.services.event_types import event_types_by_name
from tactica.services.events import MAX_BATCH, EventsTaken, take_events
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import ChangeStamp

log = logging.getLogger(__name__)

SOURCE = "lifecycle"
#: How long the ``lifecycle:<day>`` marks are kept (older ones are removed as days finish).
KEEP_MARKS = timedelta(days=31)
_STAMPS = cast(sa.Table, ChangeStamp.__table__)


@dataclass
class TypeResult:
    """What one lifecycle event type did on a day."""

    event_type: str
    kind: str
    fired: int = 0
    decided: int = 0
    duplicates: int = 0
    contacts: int = 0
    rejected: int = 0
    problem: str | None = None


@dataclass
class LifecycleResult:
    """What a day's lifecycle generation did, per event type (by name)."""

    day: date
    types: list[TypeResult] = field(default_factory=list)

    @property
    def fired(self) -> int:
        """Events generated, over every type."""
        return sum(t.fired for t in self.types)

    @property
    def decided(self) -> int:
        """Events stored and decided by this generation (not taken before)."""
        return sum(t.decided for t in self.types)

    @property
    def duplicates(self) -> int:
        """Events an earlier generation of the same day had taken already."""
        return sum(t.duplicates for t in self.types)

    @property
    def contacts(self) -> int:
        """Contacts the events made."""
        return sum(t.contacts for t in self.types)

    @property
    def problems(self) -> list[str]:
        """Why a type generated nothing or not everything (a field gone, events refused)."""
        return [f"{t.event_type}: {t.problem}" for t in self.types if t.problem]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def event_id(type_name: str, customer_id: str, day: date) -> str:
    """The generated event's id: the same for a type, a customer and a day, every run.

    A customer id too long to fit the event id (at most
    :data:`~tactica.domain.events.MAX_ID_LENGTH`) is replaced by ``#`` and a digest of it.
    """
    eid = f"lifecycle:{type_name}:{customer_id}:{day.isoformat()}"
    if len(eid) <= MAX_ID_LENGTH:
        return eid
    digest = hashlib.blake2b(customer_id.encode(), digest_size=16).hexdigest()
    return f"lifecycle:{type_name}:#{digest}:{day.isoformat()}"


def _where(spec: LifecycleSpec, column: sa.ColumnElement[Any], ftype: FieldType, day: date) -> Any:
    """The condition on the customer's date column for the moment on ``day``."""
    m = spec.moment(day)
    if m is None:
        return sa.false()
    if isinstance(m, Annual):
        # EXTRACT is EXTRACT on PostgreSQL and strftime on SQLite: one expression, both
        # stores. Only dates before the day: the first birthday is a year after birth.
        return sa.and_(
            column < m.before,
            sa.or_(
                *(
                    sa.and_(sa.extract("month", column) == mo, sa.extract("day", column) == d)
                    for mo, d in m.month_days
                )
            ),
        )
    assert isinstance(m, OnDate)
    if ftype is FieldType.TIMESTAMP:
        # A range, not a cast to date, so an index on the column can serve it; the
        # customer table keeps timestamps in UTC, without offset.
        start = datetime.combine(m.on, time())
        return sa.and_(column >= start, column < start + timedelta(days=1))
    return column == m.on


def _rows(
    store: Store, table: sa.Table, spec: LifecycleSpec, ftype: FieldType, day: date
) -> Iterator[Sequence[Any]]:
    """The (id, value) of the customers the moment fires for, in pages of MAX_BATCH.

    Streamed from one read: the pages are taken (written) by other connections while
    this one reads, which neither PostgreSQL nor SQLite in WAL mode makes wait.
    """
    column = table.c[spec.field]
    query = (
        sa.select(table.c.id, column).where(_where(spec, column, ftype, day)).order_by(table.c.id)
    )
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=MAX_BATCH).execute(query)
        yield from result.partitions(MAX_BATCH)


def _event(ty: EventType, spec: LifecycleSpec, row: Any, day: date) -> dict[str, Any]:
    customer_id, value = row
    return {
        "id": event_id(ty.name, customer_id, day),
        "type": ty.name,
        "customer_id": customer_id,
        "time": datetime.combine(day, time(), UTC).isoformat(),
        "payload": spec.payload(value, day),
    }


def _count(out: TypeResult, taken: EventsTaken) -> None:
    out.decided += taken.accepted
    out.duplicates += len(taken.duplicates)
    out.contacts += taken.contacts
    out.rejected += len(taken.rejected)
    if taken.rejected and out.problem is None:
        first = taken.rejected[0]
        out.problem = f"events refused: {'; '.join(first.problems)}"


def generate(store: Store, day: date, *, now: datetime | None = None) -> LifecycleResult:
    """Generate and take the lifecycle events of ``day`` (a UTC day), for every type.

    Safe to run again for the same day: the events already taken come back as
    duplicates. A day after today is refused (its moments have not come yet). A type
    whose customer field has gone or changed type since it was declared reports the
    problem and generates nothing; the others go on.
    """
    now = now or _utcnow()
    today = now.astimezone(UTC).date()
    if day > today:
        raise InvalidInput(
            f"{day.isoformat()} is after today ({today.isoformat()}, UTC); "
            "a day's lifecycle events are generated on that day or later",
            where="date",
        )
    with store.session() as s:
        types = [t for t in event_types_by_name(s).values() if t.lifecycle is not None]
        schema = load_schema(s)
    table = customer_table(schema)
    field_types = schema.types()
    out = LifecycleResult(day)
    for ty in types:
        spec = ty.lifecycle
        assert spec is not None
        res = TypeResult(ty.name, spec.kind.value)
        out.types.append(res)
        broken = spec.schema_problems(field_types) + spec.event_problems(ty.name, ty.fields)
        if broken:
            res.problem = "; ".join(broken)
            log.warning("lifecycle event type %s generates nothing: %s", ty.name, res.problem)
            continue
        ftype = field_types[spec.field]
        for page in _rows(store, table, spec, ftype, day):
            events = [_event(ty, spec, row, day) for row in page]
            res.fired += len(events)
            _count(res, take_events(store, events, source=SOURCE, now=now))
    return out


def mark(day: date) -> str:
    """The ``change_stamps`` name saying the lifecycle events of ``day`` were all generated."""
    return f"lifecycle:{day.isoformat()}"


def is_done(store: Store, day: date) -> bool:
    """True when a scheduler finished generating ``day``."""
    with store.session() as s:
        return s.get(ChangeStamp, mark(day)) is not None


def mark_done(store: Store, day: date) -> None:
    """Record that ``day`` was generated (a second scheduler's mark is no error), and
    forget the marks older than :data:`KEEP_MARKS`."""
    with store.session() as s:
        insert = (pg_insert if store.dialect == "postgresql" else sqlite_insert)(_STAMPS)
        s.execute(insert.values(name=mark(day), version=1).on_conflict_do_nothing())
        # ISO dates sort as text, so the old marks are a range of names.
        s.execute(
            sa.delete(_STAMPS).where(
                _STAMPS.c.name.like("lifecycle:%"), _STAMPS.c.name < mark(day - KEEP_MARKS)
            )
        )
        s.commit()


def run_daily(store: Store, now: datetime | None = None) -> LifecycleResult | None:
    """The scheduler's once a day: generate today (UTC) unless it was finished; None if it was.

    Two schedulers at once both generate; the events' ids make the second one's
    duplicates. The day is marked done only after it was generated to the end.
    """
    now = now or _utcnow()
    day = now.astimezone(UTC).date()
    if is_done(store, day):
        return None
    result = generate(store, day, now=now)
    mark_done(store, day)
    return result
