"""Taking events: check, store once, decide, contact — in one transaction per batch.

A batch of events (from ``POST /events``, the Redis Streams consumer or the daily
lifecycle triggers) is taken like this:

1. each event is checked against its declared type; a bad one is reported by its
   index and the rest go on;
2. the customers' decisions are serialised: on PostgreSQL a transaction-scoped
   advisory lock per customer (and per campaign, program or channel whose capacity
   or budget is counted), taken in one order so takers never deadlock; on SQLite the
   database's write lock, taken first;
3. an event id stored before is a duplicate: acknowledged and not decided again;
4. the profiles are read (at most three queries for the batch), each event decided
   (:func:`tactica.realtime.decide.decide_event`), and the events (once, with what
   they led to), the contacts, their outbox entries and the day's figures written —
   all before one commit. The events are a plain insert on the unique event id: two
   takers racing on one id cannot both store it, and the one that loses takes its
   batch again, finding the id taken. A contact made here is in the ledger the
   moment it commits: the next event and the next batch run count it.

An event for a customer the store does not know is kept as ``unattributed`` and
reported; it never fails the batch.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from tactica.domain.capacity import money
from tactica.domain.events import Event, payload_json, read_event
from tactica.domain.policy import ContactStatus
from tactica.errors import InvalidInput, NotFound
from tactica.realtime import metrics
from tactica.realtime.decide import CampaignOutcome, decide_event
from tactica.realtime.profile import read_profiles
from tactica.services.live_campaigns import Catalog, LiveCampaign, cached, current, signature
from tactica.services.run_inputs import program_spent
from tactica.store.db import Store
from tactica.store.models import (
    Campaign,
    Contact,
    EventFigure,
    EventRow,
    OutboxEntry,
    Program,
)
from tactica.store.writers import one_writer, raced, take_write_lock

log = logging.getLogger(__name__)

#: How many times a batch is tried when it races another taker.
ATTEMPTS = 3
#: Most events one batch may hold.
MAX_BATCH = 1000
SOURCES = ("http", "stream", "lifecycle", "cli")

_EVENTS = cast(sa.Table, EventRow.__table__)
_CONTACTS = cast(sa.Table, Contact.__table__)
_OUTBOX = cast(sa.Table, OutboxEntry.__table__)
_FIGURES = cast(sa.Table, EventFigure.__table__)
_NOT_COUNTED = [s.value for s in ContactStatus if not s.counts]


@functools.cache
def _writes(dialect: str) -> _Writes:
    return _Writes(dialect)


class _Writes:
    """The statements every batch writes with, built once per dialect: a batch binds
    its rows to them (building a statement costs more than SQLite running it)."""

    def __init__(self, dialect: str) -> None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # An event is written once, decided: a plain insert, so an id another taker
        # stored meanwhile fails it on the unique key and the batch is taken again.
        self.store = sa.insert(_EVENTS).returning(_EVENTS.c.event_id, _EVENTS.c.id)
        self.contacts = sa.insert(_CONTACTS).returning(_CONTACTS.c.id, sort_by_parameter_order=True)
        self.outbox = sa.insert(_OUTBOX)
        if dialect == "postgresql":
            # The advisory locks, taken in key order (no deadlock between takers), the
            # ids already stored and the catalog stamp, in one round trip.
            self.lock_and_check: sa.TextClause | None = sa.text(
                "SELECT (SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS ordered), "
                "ARRAY(SELECT event_id FROM events "
                "WHERE event_id = ANY(CAST(:ids AS varchar[]))), "
                "(SELECT version FROM change_stamps WHERE name = 'catalog')"
            )
            self.check: sa.Select[tuple[str]] | None = None
        else:
            # SQLite: the write lock, taken first, already serialises takers.
            self.lock_and_check = None
            self.check = sa.select(_EVENTS.c.event_id).where(
                _EVENTS.c.event_id.in_(sa.bindparam("ids", expanding=True))
            )
        figures = insert(_FIGURES)
        self.figures = figures.on_conflict_do_update(
            index_elements=["program", "campaign", "day", "outcome", "reason"],
            set_={
                "count": _FIGURES.c.count + figures.excluded.count,
                "cost": _FIGURES.c.cost + figures.excluded.cost,
            },
        )


@dataclass(frozen=True)
class Rejected:
    """An event of the batch that could not be taken: its index, its id if any, why."""

    index: int
    event_id: str | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Decided:
    """One new event and what it led to."""

    index: int
    event_id: str
    customer_id: str
    status: str
    outcomes: tuple[CampaignOutcome, ...] = ()
    contact_ids: tuple[int, ...] = ()


@dataclass
class EventsTaken:
    """What a batch of events did."""

    decided: list[Decided] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """Events stored by this batch (decided, unattributed or matching nothing)."""
        return len(self.decided)

    @property
    def contacts(self) -> int:
        """Contacts the batch made."""
        return sum(len(d.contact_ids) for d in self.decided)

    @property
    def unattributed(self) -> list[str]:
        """Ids of the events whose customer the store does not know."""
        return [d.event_id for d in self.decided if d.status == "unattributed"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def take_events(
    store: Store,
    raw: Sequence[Any],
    *,
    source: str = "http",
    now: datetime | None = None,
    started: float | None = None,
    observe: bool = True,
) -> EventsTaken:
    """Check, store and decide a batch of raw events (mappings as they came in).

    Bad events are reported in ``rejected`` by index; the others are taken. Retried
    (from the start, up to :data:`ATTEMPTS` times) when it races another taker.
    ``started`` is the ``time.perf_counter()`` of the batch's receipt (default: now):
    the decision latency in ``/metrics`` counts from it to the commit (``observe``
    False: the caller records it, as :mod:`tactica.services.event_intake` does).
    """
    received = now or _utcnow()
    began = time.perf_counter() if started is None else started
    trust_cache = True
    attempt = 0
    while True:
        attempt += 1
        try:
            with one_writer(store), store.session() as s:
                take_write_lock(s, _EVENTS)
                taken = take_in(s, raw, source=source, now=received, trust_cache=trust_cache)
                s.commit()
            if observe:
                statuses = Counter(d.status for d in taken.decided)
                statuses["duplicate"] += len(taken.duplicates)
                statuses["rejected"] += len(taken.rejected)
                metrics.observe(
                    [time.perf_counter() - began] * taken.accepted,
                    source=source,
                    statuses=statuses,
                )
            return taken
        except _StaleCatalog:
            # The programs changed since the catalog was cached: rolled back, and taken
            # again on the new catalog (not counted as a race).
            trust_cache, attempt = False, attempt - 1
        except (IntegrityError, OperationalError) as e:
            if attempt >= ATTEMPTS or not raced(e):
                raise
            log.info("events raced another taker (%s); taking them again", e)


class _StaleCatalog(Exception):
    """The catalog a batch was checked against is not the store's any more."""


def take_in(
    s: Session, raw: Sequence[Any], *, source: str, now: datetime, trust_cache: bool = False
) -> EventsTaken:
    """:func:`take_events` inside the caller's transaction (the caller commits).

    With ``trust_cache`` on PostgreSQL, the catalog cached by this process is used
    without first reading the store's catalog stamp: the stamp comes back with the
    locks (one round trip less), and if it moved, :class:`_StaleCatalog` is raised
    before anything is written, for the caller to roll back and take the batch again.
    """
    conn = s.connection()
    writes = _writes(conn.dialect.name)
    optimistic = trust_cache and writes.lock_and_check is not None
    catalog = cached(conn.engine, now) if optimistic else None
    if catalog is None:
        catalog, optimistic = current(s, now), False
    out = EventsTaken()
    good: list[tuple[int, Event]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        event, problems = read_event(item, catalog.types)
        if event is None:
            eid = item.get("id") if isinstance(item, Mapping) else None
            out.rejected.append(Rejected(i, str(eid) if eid is not None else None, tuple(problems)))
        elif event.event_id in seen:
            out.duplicates.append(event.event_id)
        else:
            seen.add(event.event_id)
            good.append((i, event))
    if not good:
        if optimistic and signature(s) != catalog.signature:
            raise _StaleCatalog  # refused by types that may have changed
        return out
    taken, stamp = _lock_and_check(conn, writes, catalog, [e for _, e in good])
    if optimistic and (stamp,) != catalog.signature:
        raise _StaleCatalog
    fresh = [(i, e) for i, e in good if e.event_id not in taken]
    out.duplicates += [e.event_id for _, e in good if e.event_id in taken]
    if not fresh:
        return out
    profiles = read_profiles(
        s,
        catalog.customers,
        {e.customer_id for _, e in fresh},
        now=now,
        horizon=catalog.horizon,
        static_segments=catalog.static_segments,
    )
    rooms = _Rooms(s, now)
    figures: Counter[tuple[str, str, date, str, str]] = Counter()
    costs: defaultdict[tuple[str, str, date, str, str], Decimal] = defaultdict(Decimal)
    contacts: list[tuple[Event, LiveCampaign, CampaignOutcome]] = []
    owners: list[int] = []  # the index in ``results`` of each contact's event
    results: list[tuple[int, Event, str, tuple[CampaignOutcome, ...]]] = []
    for i, event in sorted(fresh, key=lambda p: (p[1].at, p[0])):
        profile = profiles.get(event.customer_id)
        campaigns = catalog.campaigns_for(event.type)
        if profile is None:
            results.append((i, event, "unattributed", ()))
            continue
        if not campaigns:
            results.append((i, event, "no_match", ()))
            continue
        outcomes = tuple(
            decide_event(
                event,
                profile,
                campaigns,
                now,
                points=catalog.points,
                consents=catalog.consents,
                room=rooms.ask,
            )
        )
        by_name = {(c.program, c.name): c for c in campaigns}
        for o in outcomes:
            camp = by_name[(o.program, o.campaign)]
            day = _day(now, camp.policy.timezone)
            figures[(o.program, o.campaign, day, "matched", "")] += 1
            figures[(o.program, o.campaign, day, o.outcome, o.key[:200])] += 1
            if o.outcome == "contacted":
                costs[(o.program, o.campaign, day, o.outcome, "")] += o.cost
                contacts.append((event, camp, o))
                owners.append(len(results))
        made = any(o.outcome == "contacted" for o in outcomes)
        results.append((i, event, "contacted" if made else "no_contact", outcomes))
    # The decision's own clock, not the batch's "now" (which a caller may fix): the
    # event records how long after its arrival it was decided.
    decided_at = max(now, _utcnow())
    ids = _store(conn, writes, results, source, now, decided_at)
    contact_ids = _insert_contacts(
        conn,
        writes,
        [_contact_row(e, camp, o, ids[e.event_id], now) for e, camp, o in contacts],
        now,
    )
    per_event: dict[int, list[int]] = {}
    for owner, cid in zip(owners, contact_ids, strict=True):
        per_event.setdefault(owner, []).append(cid)
    for k, (i, event, status, outcomes) in enumerate(results):
        made_ids = per_event.get(k, [])
        out.decided.append(
            Decided(i, event.event_id, event.customer_id, status, outcomes, tuple(made_ids))
        )
    _add_figures(conn, writes, figures, costs)
    out.decided.sort(key=lambda d: d.index)
    return out


def _store(
    conn: sa.Connection,
    writes: _Writes,
    results: Sequence[tuple[int, Event, str, tuple[CampaignOutcome, ...]]],
    source: str,
    now: datetime,
    decided_at: datetime,
) -> dict[str, int]:
    """Write the batch's events with what they led to; their row ids, by event id.

    In event-id order, so two takers inserting overlapping batches wait for each other
    in the same order (never in a circle); the one that loses fails on the unique key.
    """
    rows = [
        {
            "event_id": e.event_id,
            "type": e.type,
            "customer_id": e.customer_id,
            "occurred_at": e.at,
            "received_at": now,
            "decided_at": decided_at,
            "source": source,
            "payload": payload_json(e.payload),
            "status": status,
            "contacts": sum(o.outcome == "contacted" for o in outcomes),
            "decisions": [_decision_data(o) for o in outcomes],
        }
        for _, e, status, outcomes in sorted(results, key=lambda r: r[1].event_id)
    ]
    return {eid: rid for eid, rid in conn.execute(writes.store, rows)}


def _lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for ``parts``."""
    digest = hashlib.blake2b("\x1f".join(("tactica-event", *parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _lock_and_check(
    conn: sa.Connection, writes: _Writes, catalog: Catalog, events: Sequence[Event]
) -> tuple[set[str], Any]:
    """Serialise the decisions and say which of ``events`` were stored before; and, on
    PostgreSQL, the catalog stamp (None on SQLite).

    On PostgreSQL, a transaction-scoped advisory lock per customer and per counted
    capacity, in one statement with the check: an id a taker commits while this one
    waits for its locks is not seen here, and the unique key refuses it when the
    events are written (the batch is then taken again, and sees it). On SQLite the
    write lock taken first already serialises takers, and the check is exact.
    """
    ids = sorted({e.event_id for e in events})
    if writes.check is not None:
        return set(conn.scalars(writes.check, {"ids": ids})), None
    assert writes.lock_and_check is not None
    keys = {_lock_key("customer", e.customer_id) for e in events}
    for e in events:
        for camp in catalog.campaigns_for(e.type):
            if camp.capacity is not None:
                keys.add(_lock_key("campaign", camp.program, camp.name))
            if camp.budget is not None or camp.program_budget is not None:
                keys.add(_lock_key("program", camp.program))
            for cap in camp.policy.daily_capacity:
                if cap.channel in camp.channels:
                    keys.add(_lock_key("channel", cap.channel))
    row = conn.execute(writes.lock_and_check, {"keys": sorted(keys), "ids": ids}).one()
    return set(row[1] or ()), row[2]


def _day(now: datetime, timezone: str) -> date:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _day_start(now: datetime, timezone: str) -> datetime:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    return datetime.combine(local.date(), day_time(), zone).astimezone(UTC)


class _Rooms:
    """Capacity left today, counted in the store when first asked and kept for the batch."""

    def __init__(self, s: Session, now: datetime) -> None:
        self.s, self.now = s, now
        self.used: dict[tuple[str, ...], int] = {}
        self.spent: dict[str, tuple[Decimal, dict[str, Decimal]]] = {}

    def _count(self, key: tuple[str, ...], since: datetime, *where: Any) -> int:
        if key not in self.used:
            self.used[key] = int(
                self.s.scalar(
                    sa.select(sa.func.count())
                    .select_from(Contact)
                    .where(
                        Contact.decided_at >= since,
                        Contact.status.not_in(_NOT_COUNTED),
                        *where,
                    )
                )
                or 0
            )
        return self.used[key]

    def _spent(self, program: str) -> tuple[Decimal, dict[str, Decimal]]:
        if program not in self.spent:
            total, per = program_spent(self.s, program)
            self.spent[program] = (total, dict(per))
        return self.spent[program]

    def _budget(self, camp: LiveCampaign) -> tuple[str, str] | None:
        """Why the campaign's or the program's budget has no room for one more contact."""
        if camp.budget is None and camp.program_budget is None:
            return None
        total, per = self._spent(camp.program)
        cost = camp.cost_per_contact
        mine = per.get(camp.name, Decimal(0))
        if camp.budget is not None and mine + cost > camp.budget:
            return (
                f"campaign budget {money(camp.budget)} reached ({money(mine)} spent, "
                f"{money(cost)} a contact)",
                "campaign budget",
            )
        if camp.program_budget is not None and total + cost > camp.program_budget:
            return (
                f"program budget {money(camp.program_budget)} reached ({money(total)} spent, "
                f"{money(cost)} a contact)",
                "program budget",
            )
        return None

    def ask(self, camp: Any, channel: str) -> tuple[str, str] | None:
        """Why ``camp`` may not contact on ``channel`` now (None: it may, and it is counted)."""
        assert isinstance(camp, LiveCampaign)
        since = _day_start(self.now, camp.policy.timezone)
        counted: list[tuple[str, ...]] = []
        key: tuple[str, ...]
        if camp.capacity is not None:
            key = ("campaign", camp.program, camp.name)
            used = self._count(
                key, since, Contact.program == camp.program, Contact.campaign == camp.name
            )
            if used >= camp.capacity:
                return (
                    f"campaign capacity reached: {used} contacts today, capacity {camp.capacity}",
                    "campaign capacity",
                )
            counted.append(key)
        for cap in camp.policy.daily_capacity:
            if cap.channel != channel:
                continue
            key = ("channel", channel, camp.policy.timezone)
            used = self._count(key, since, Contact.channel == channel)
            if used >= cap.per_day:
                return (
                    f"daily capacity of {channel} reached: {used} contacts today, "
                    f"capacity {cap.per_day}",
                    f"{channel} daily capacity",
                )
            counted.append(key)
        no_money = self._budget(camp)
        if no_money is not None:
            return no_money
        for key in counted:
            self.used[key] += 1
        if camp.budget is not None or camp.program_budget is not None:
            total, per = self.spent[camp.program]
            per[camp.name] = per.get(camp.name, Decimal(0)) + camp.cost_per_contact
            self.spent[camp.program] = (total + camp.cost_per_contact, per)
        return None


def _contact_row(
    event: Event, camp: LiveCampaign, o: CampaignOutcome, event_row: int, now: datetime
) -> dict[str, Any]:
    return {
        "run_id": None,
        "program": camp.program,
        "campaign": camp.name,
        "campaign_kind": "triggered",
        "customer_id": event.customer_id,
        "offer": o.offer,
        "channel": o.channel,
        "score": o.score,
        "cost": camp.cost_per_contact,
        "rank": 1,
        "status": ContactStatus.QUEUED.value,
        "decided_at": now,
        "event_id": event_row,
    }


def _insert_contacts(
    conn: sa.Connection, writes: _Writes, rows: list[dict[str, Any]], now: datetime
) -> list[int]:
    """Insert the contacts and put them in the outbox; their ids, in the order given."""
    if not rows:
        return []
    ids = [r.id for r in conn.execute(writes.contacts, rows)]
    conn.execute(
        writes.outbox,
        [
            {"channel": r["channel"], "due_at": now, "contact_id": cid, "attempts": 0}
            for r, cid in zip(rows, ids, strict=True)
        ],
    )
    return ids


def _decision_data(o: CampaignOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"program": o.program, "campaign": o.campaign, "outcome": o.outcome}
    if o.reason:
        out["reason"] = o.reason
    if o.offer:
        out["offer"], out["channel"] = o.offer, o.channel
    if o.outcome == "contacted":
        out["score"] = o.score
        out["cost"] = format(o.cost, "f") if isinstance(o.cost, Decimal) else str(o.cost)
    return out


def _add_figures(
    conn: sa.Connection,
    writes: _Writes,
    figures: Counter[tuple[str, str, date, str, str]],
    costs: Mapping[tuple[str, str, date, str, str], Decimal],
) -> None:
    """Add the batch's counts (and the contacts' planned cost) to the day's figures, in
    key order (no deadlock between takers)."""
    if not figures:
        return
    rows = [
        {
            "program": p,
            "campaign": c,
            "day": d,
            "outcome": o,
            "reason": r,
            "count": n,
            "cost": costs.get((p, c, d, o, r), Decimal(0)),
        }
        for (p, c, d, o, r), n in sorted(figures.items())
    ]
    conn.execute(writes.figures, rows)


# ------------------------------------------------------------------ reading back

STATUSES = ("contacted", "no_contact", "no_match", "unattributed")


def list_events(
    session: Session,
    *,
    customer_id: str | None = None,
    status: str | None = None,
    event_type: str | None = None,
    limit: int = 50,
) -> list[EventRow]:
    """Events taken, newest first, optionally only one customer's, status or type."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)}, got {status!r}")
    q = sa.select(EventRow).order_by(EventRow.received_at.desc(), EventRow.id.desc())
    if customer_id is not None:
        q = q.where(EventRow.customer_id == customer_id)
    if status is not None:
        q = q.where(EventRow.status == status)
    if event_type is not None:
        q = q.where(EventRow.type == event_type)
    return list(session.scalars(q.limit(limit)))


def get_event(session: Session, event_id: str) -> EventRow:
    """The event the producer sent as ``event_id``; NotFound says so."""
    row = session.scalar(sa.select(EventRow).where(EventRow.event_id == event_id))
    if row is None:
        raise NotFound(f"no event {event_id!r}")
    return row


def event_contacts(session: Session, row: EventRow) -> list[Contact]:
    """The contacts an event made."""
    return list(
        session.scalars(sa.select(Contact).where(Contact.event_id == row.id).order_by(Contact.id))
    )


def decision_lines(row: EventRow) -> list[str]:
    """What each listening campaign did with the event, one line each, for people."""
    if row.status == "unattributed":
        return [f"no customer {row.customer_id!r} in the store: kept, not decided"]
    if row.status == "no_match":
        return [f"no running program has a triggered campaign listening to {row.type!r}"]
    out = []
    for d in row.decisions:
        where = f"{d['program']}/{d['campaign']}"
        if d["outcome"] == "contacted":
            out.append(f"{where}: contacted with {d.get('offer')} on {d.get('channel')}")
        else:
            out.append(f"{where}: {d['outcome'].replace('_', ' ')}: {d.get('reason', '')}")
    return out


@dataclass(frozen=True)
class CampaignFigures:
    """How one triggered campaign's events went over some days."""

    program: str
    campaign: str
    matched: int
    contacted: int
    #: outcome → count (not_eligible, excluded, held_out, policy, arbitration, capacity)
    suppressed: dict[str, int]
    #: (outcome, reason) → count, most frequent first
    reasons: list[tuple[str, str, int]]


def figures(
    session: Session,
    *,
    program: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[CampaignFigures]:
    """Per triggered campaign: events matched, contacted, suppressed by outcome and reason."""
    q = sa.select(
        EventFigure.program,
        EventFigure.campaign,
        EventFigure.outcome,
        EventFigure.reason,
        sa.func.sum(EventFigure.count),
    ).group_by(EventFigure.program, EventFigure.campaign, EventFigure.outcome, EventFigure.reason)
    if program is not None:
        q = q.where(EventFigure.program == program)
    if since is not None:
        q = q.where(EventFigure.day >= since)
    if until is not None:
        q = q.where(EventFigure.day <= until)
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for prog, camp, outcome, reason, n in session.execute(q):
        f = acc.setdefault((prog, camp), {"matched": 0, "contacted": 0, "sup": {}, "why": []})
        n = int(n or 0)
        if outcome in ("matched", "contacted"):
            f[outcome] += n
        else:
            f["sup"][outcome] = f["sup"].get(outcome, 0) + n
            f["why"].append((outcome, reason, n))
    return [
        CampaignFigures(
            p,
            c,
            f["matched"],
            f["contacted"],
            f["sup"],
            sorted(f["why"], key=lambda t: (-t[2], t[0], t[1])),
        )
        for (p, c), f in sorted(acc.items())
    ]


def listeners_by_type(session: Session) -> dict[str, list[str]]:
    """For each event type, the triggered campaigns (``program/campaign``) listening to it."""
    out: dict[str, list[str]] = {}
    rows = session.execute(
        sa.select(Program.name, Campaign.name, Campaign.events)
        .join(Program, Program.id == Campaign.program_id)
        .where(Campaign.kind == "triggered")
        .order_by(Program.name, Campaign.position)
    )
    for p, c, names in rows:
        for name in names or []:
            out.setdefault(name, []).append(f"{p}/{c}")
    return out
