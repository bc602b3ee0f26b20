"""The live triggered campaigns, compiled once and kept while nothing they depend on changes.

Deciding an event needs, for each event type, the triggered campaigns of running
programs that listen to it, with their rules compiled to Python predicates, their
offers, channels and contact policy. Building that takes milliseconds; an event must
be decided in a few. So the catalog is built once and reused for as long as its
*signature* holds: a counter that triggers in the database move on any change to
what it is built from (programs and their campaigns, contact policies, offers,
segments, event types, customer fields; see migration 0010), whoever makes it. The
next batch of events after a change rebuilds the catalog: a program paused, an
offer's value changed or a segment edited takes effect from the next event on, in
every process.

The date is part of it too: rules read ``today()``, and programs start and end on
dates.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tactica.domain.events import EventType
from tactica.domain.policy import ContactPolicy, history_horizon
from tactica.domain.programs import ProgramStatus, event_fields_of
from tactica.domain.rules import PyContext, compile_rule
from tactica.domain.schema import CustomerSchema, FieldType
from tactica.errors import InvalidInput
from tactica.services.policies import parse_policy, policy_data
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.models import (
    Campaign,
    ChangeStamp,
    ContactPolicyRow,
    EventTypeRow,
    Offer,
    Program,
    Segment,
)

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
Evaluator = Callable[[Row], Any]

#: Keys of the row a rule is evaluated on that no customer field can take.
SEGMENTS_KEY = "_segments"
LISTS_KEY = "_lists"


@dataclass(frozen=True)
class LiveOffer:
    """An offer a triggered campaign makes: its value (for arbitration) and eligibility."""

    code: str
    value: Decimal
    rule: Predicate | None


@dataclass(frozen=True)
class LiveCampaign:
    """A triggered campaign of a running program, ready to decide events with."""

    program: str
    name: str
    position: int
    events: frozenset[str]
    rule: Predicate | None
    score: Evaluator | None
    offers: tuple[LiveOffer, ...]
    channels: tuple[str, ...]
    priority: int
    #: contacts a day from this campaign (None: no limit)
    capacity: int | None
    control_share: float
    cost_per_contact: Decimal
    policy_name: str
    policy: ContactPolicy
    #: the campaign's and its program's budgets, spent by runs and events alike
    budget: Decimal | None = None
    program_budget: Decimal | None = None
    #: events older than this when they reach the campaign are left alone
    max_event_age: timedelta | None = None


@dataclass(frozen=True)
class Catalog:
    """Everything an event decision reads that is not about the customer."""

    signature: tuple[Any, ...]
    as_of: date
    types: Mapping[str, EventType]
    by_type: Mapping[str, tuple[LiveCampaign, ...]]
    schema: CustomerSchema
    #: the customer table as the schema declares it (one Table object per catalog, so
    #: SQLAlchemy compiles the profile reads once, not once a batch)
    customers: sa.Table
    #: channel → the customer field holding its address / its consent
    points: Mapping[str, str]
    consents: Mapping[str, str]
    #: static segments whose membership some live rule reads
    static_segments: frozenset[str]
    #: how far back the live policies look into the contact history
    horizon: timedelta
    programs: frozenset[str] = field(default_factory=frozenset)

    def campaigns_for(self, event_type: str) -> tuple[LiveCampaign, ...]:
        """The live campaigns listening to ``event_type``, in program and written order."""
        return self.by_type.get(event_type, ())


def signature(session: Session) -> tuple[Any, ...]:
    """The catalog stamp: moved by the database on any change the catalog depends on."""
    version = session.connection().scalar(_CATALOG_STAMP)
    return (version,)


_stamps = cast(sa.Table, ChangeStamp.__table__)
_CATALOG_STAMP = sa.select(_stamps.c.version).where(_stamps.c.name == "catalog")


def _is_live(p: Program, today: date) -> bool:
    return (
        p.status == ProgramStatus.RUNNING.value
        and (p.start_date is None or p.start_date <= today)
        and (p.end_date is None or today <= p.end_date)
    )


def _policy(row: ContactPolicyRow) -> ContactPolicy:
    return parse_policy(policy_data(row), f"policy {row.name!r}")[2]


class _Compiler:
    """Compiles rules to predicates whose ``in_segment`` / ``on_list`` read the row."""

    def __init__(self, schema: CustomerSchema, segment_rules: Mapping[str, str], as_of: date):
        self.fields = schema.types()
        self.segment_rules = segment_rules
        self.static: set[str] = set()
        self._segments: dict[str, Predicate] = {}
        self._stack: list[str] = []
        self.ctx = PyContext(as_of=as_of, in_segment=self._in_segment, on_list=self._on_list)

    def _in_segment(self, name: str, row: Row) -> bool | None:
        pred = self._segments.get(name)
        if pred is not None:
            return pred(row)
        return name in row.get(SEGMENTS_KEY, ())

    @staticmethod
    def _on_list(name: str, row: Row) -> bool | None:
        return name in row.get(LISTS_KEY, ())

    def note_segments(self, names: frozenset[str]) -> None:
        """Compile the dynamic segments among ``names`` (and theirs); note the static ones."""
        for name in names:
            if name in self._segments or name in self.static:
                continue
            rule = self.segment_rules.get(name)
            if rule is None:
                self.static.add(name)
                continue
            if name in self._stack:
                chain = " → ".join([*self._stack, name])
                raise InvalidInput(f"segments refer to each other in a loop: {chain}", "in_segment")
            self._stack.append(name)
            try:
                checked = compile_rule(rule, self.fields)
                self.note_segments(checked.segments)
                self._segments[name] = checked.predicate(self.ctx)
            finally:
                self._stack.pop()

    def predicate(
        self, source: str | None, event_fields: Mapping[str, FieldType] | None
    ) -> Predicate | None:
        if not source:
            return None
        checked = compile_rule(source, self.fields, event_fields=event_fields)
        self.note_segments(checked.segments)
        return checked.predicate(self.ctx)

    def evaluator(
        self, source: str | None, event_fields: Mapping[str, FieldType] | None
    ) -> Evaluator | None:
        if not source:
            return None
        checked = compile_rule(source, self.fields, event_fields=event_fields, expect=None)
        self.note_segments(checked.segments)
        return checked.evaluator(self.ctx)


def build(session: Session, now: datetime, sig: tuple[Any, ...] | None = None) -> Catalog:
    """Compile the live triggered campaigns as the store holds them at ``now``."""
    today = now.astimezone(UTC).date()
    schema = load_schema(session)
    types = {
        r.name: EventType(
            r.name,
            {k: FieldType(v) for k, v in r.fields.items()},
            frozenset(r.required),
            r.description,
        )
        for r in session.scalars(sa.select(EventTypeRow))
    }
    type_fields = {name: dict(t.fields) for name, t in types.items()}
    segment_rules = {
        s.name: s.rule
        for s in session.scalars(sa.select(Segment))
        if s.kind == "dynamic" and s.rule
    }
    compiler = _Compiler(schema, segment_rules, today)
    programs = [p for p in session.scalars(sa.select(Program)) if _is_live(p, today)]
    policies = {
        r.name: (r, _policy(r))
        for r in session.scalars(
            sa.select(ContactPolicyRow).where(
                ContactPolicyRow.name.in_({p.policy for p in programs})
            )
        )
    }
    offers = {o.code: o for o in session.scalars(sa.select(Offer))}
    offer_rules: dict[str, Predicate | None] = {}
    by_type: dict[str, list[LiveCampaign]] = {}
    horizon = timedelta(days=1)
    points, consents = {}, {}
    for p in sorted(programs, key=lambda p: p.name):
        if p.policy not in policies:
            continue  # a running program always has its policy; a deleted one decides nothing
        policy = policies[p.policy][1]
        camps = session.scalars(
            sa.select(Campaign)
            .where(Campaign.program_id == p.id, Campaign.kind == "triggered")
            .order_by(Campaign.position)
        )
        for c in camps:
            listened = [e for e in c.events or [] if e in types]
            if not listened:
                continue
            event_fields = event_fields_of(listened, type_fields)
            rule_parts = []
            if c.segment:
                rule_parts.append(f"in_segment('{c.segment.replace(chr(39), chr(39) * 2)}')")
            if c.eligibility:
                rule_parts.append(f"({c.eligibility})")
            live_offers = []
            for code in c.offers:
                o = offers.get(code)
                if o is None:
                    continue
                if code not in offer_rules:
                    offer_rules[code] = compiler.predicate(o.eligibility, None)
                live_offers.append(LiveOffer(code, o.value, offer_rules[code]))
            for ch in c.channels:
                point, consent = schema.contact_point(ch), schema.consent(ch)
                if point is not None:
                    points[ch] = point.name
                if consent is not None:
                    consents[ch] = consent.name
            camp = LiveCampaign(
                program=p.name,
                name=c.name,
                position=c.position,
                events=frozenset(listened),
                rule=compiler.predicate(" and ".join(rule_parts), event_fields),
                score=compiler.evaluator(c.score, event_fields),
                offers=tuple(live_offers),
                channels=tuple(c.channels),
                priority=c.priority,
                capacity=c.capacity,
                control_share=float(c.control_share),
                cost_per_contact=c.cost_per_contact,
                policy_name=p.policy,
                policy=policy,
                budget=c.budget,
                program_budget=p.budget,
                max_event_age=(
                    timedelta(minutes=c.max_event_age_minutes) if c.max_event_age_minutes else None
                ),
            )
            horizon = max(horizon, history_horizon(policy))
            for e in listened:
                by_type.setdefault(e, []).append(camp)
    return Catalog(
        signature=sig if sig is not None else signature(session),
        as_of=today,
        types=types,
        by_type={k: tuple(v) for k, v in by_type.items()},
        schema=schema,
        customers=customer_table(schema),
        points=points,
        consents=consents,
        static_segments=frozenset(compiler.static),
        horizon=horizon,
        programs=frozenset(p.name for p in programs),
    )


_cache: weakref.WeakKeyDictionary[Engine, Catalog] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def cached(engine: Engine, now: datetime) -> Catalog | None:
    """The catalog this process last built for ``engine``, if built for ``now``'s date
    (whether the store changed since is the caller's to check, by its signature)."""
    catalog = _cache.get(engine)
    if catalog is None or catalog.as_of != now.astimezone(UTC).date():
        return None
    return catalog


def current(session: Session, now: datetime) -> Catalog:
    """The catalog for the store ``session`` is bound to: the cached one while its
    signature and date hold, else a fresh one (built in this session)."""
    engine = session.get_bind().engine
    sig = signature(session)
    today = now.astimezone(UTC).date()
    cached = _cache.get(engine)
    if cached is not None and cached.signature == sig and cached.as_of == today:
        return cached
    fresh = build(session, now, sig)
    with _cache_lock:
        _cache[engine] = fresh
    return fresh
