"""Programs and their campaigns: status life, schedules, and validation before saving.

A *program* is the only thing Tactica executes. It has an owner, an optional budget and
dates, a :class:`Schedule` and one or more outbound campaigns (:class:`CampaignSpec`).
This module is pure: it checks definitions and computes times, it never stores or runs.

Status life (:func:`transition` enforces it; anything not listed is refused)::

    from        legal targets
    ---------   ----------------------------------
    draft       scheduled, running, cancelled
    scheduled   running, paused, draft, cancelled
    running     paused, completed, cancelled
    paused      running, completed, cancelled
    completed   (none: final)
    cancelled   (none: final)

``draft -> running`` is a manual run; ``scheduled -> draft`` takes a program back for
editing; ``scheduled -> paused`` skips the next ticks without losing the schedule.

Schedules are ``manual`` (run only on demand), ``once`` (at one timezone-aware instant)
or ``cron`` (five fields, evaluated in UTC at minute resolution; see :func:`parse_cron`).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from tactica.domain.rules import compile_rule
from tactica.domain.sales import AssignmentStrategy
from tactica.domain.schema import CHANNELS, FieldType
from tactica.errors import Conflict, InvalidInput, RuleError

__all__ = [
    "CAMPAIGN_KINDS",
    "TRANSITIONS",
    "CampaignSpec",
    "CronExpr",
    "ProgramSpec",
    "ProgramStatus",
    "Schedule",
    "ScheduleKind",
    "legal_targets",
    "parse_cron",
    "program_problems",
    "transition",
    "validate_program",
]


# --------------------------------------------------------------------------- status


class ProgramStatus(StrEnum):
    """Where a program is in its life; see the module docstring for the transitions."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


_S = ProgramStatus

#: Legal status changes: current status -> the statuses it may become.
TRANSITIONS: Mapping[ProgramStatus, frozenset[ProgramStatus]] = {
    _S.DRAFT: frozenset({_S.SCHEDULED, _S.RUNNING, _S.CANCELLED}),
    _S.SCHEDULED: frozenset({_S.RUNNING, _S.PAUSED, _S.DRAFT, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.COMPLETED, _S.CANCELLED}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.COMPLETED, _S.CANCELLED}),
    _S.COMPLETED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def _status(value: ProgramStatus | str, where: str) -> ProgramStatus:
    try:
        return ProgramStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in ProgramStatus)
        raise InvalidInput(f"unknown status {value!r}; statuses are: {known}", where) from None


def legal_targets(current: ProgramStatus | str) -> tuple[ProgramStatus, ...]:
    """The statuses ``current`` may become, in declaration order (empty when final)."""
    cur = _status(current, "status")
    return tuple(s for s in ProgramStatus if s in TRANSITIONS[cur])


def transition(current: ProgramStatus | str, target: ProgramStatus | str) -> ProgramStatus:
    """Return ``target`` if a program in ``current`` may become it, else raise.

    Raises :class:`Conflict` naming both states and the legal targets, e.g.
    ``a completed program cannot become running; from completed: none``. Staying in the
    same status is not a transition and is refused too. An unknown status name raises
    :class:`InvalidInput`.
    """
    cur = _status(current, "status")
    tgt = _status(target, "target status")
    if tgt in TRANSITIONS[cur]:
        return tgt
    legal = ", ".join(s.value for s in legal_targets(cur)) or "none"
    raise Conflict(f"a {cur.value} program cannot become {tgt.value}; from {cur.value}: {legal}")


# --------------------------------------------------------------------------- cron


@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int


_CRON_FIELDS = (
    _CronField("minute", 0, 59),
    _CronField("hour", 0, 23),
    _CronField("day-of-month", 1, 31),
    _CronField("month", 1, 12),
    # 0 and 7 both mean Sunday, as in Vixie cron.
    _CronField("day-of-week", 0, 7),
)

_NUMBER = re.compile(r"^[0-9]+$")


class _CronSyntax(ValueError):
    """Internal: one problem in a cron field; turned into InvalidInput by the callers."""


@dataclass(frozen=True)
class CronExpr:
    """A parsed five-field cron expression: the allowed values of every field.

    ``day_of_week`` uses 0 = Sunday ... 6 = Saturday (a 7 in the text is folded to 0).
    ``dom_star`` / ``dow_star`` record whether the field text began with ``*``: like
    Vixie cron, day-of-month and day-of-week combine with OR only when *neither* starts
    with ``*``; otherwise both must match (a ``*`` field matches every day anyway).
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_star: bool
    dow_star: bool

    def day_matches(self, day: date) -> bool:
        """True if the month, day-of-month and day-of-week fields allow ``day``."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days_of_month
        dow = (day.weekday() + 1) % 7 in self.days_of_week  # Python's Monday is 0
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def matches(self, t: datetime) -> bool:
        """True if the minute of ``t`` (converted to UTC; seconds ignored) is a firing."""
        u = _as_utc(t, "t")
        return u.minute in self.minutes and u.hour in self.hours and self.day_matches(u.date())

    def next_after(self, t: datetime) -> datetime | None:
        """The first firing strictly after ``t``, in UTC, or None past year 9999.

        ``t`` must be timezone-aware. Walks month by month and only inspects allowed
        months and days, so even a yearly or leap-day expression is a few hundred steps.
        """
        u = _as_utc(t, "t")
        start = u.replace(second=0, microsecond=0) + timedelta(minutes=1)
        year, month = start.year, start.month
        # 400 years is a full Gregorian cycle: if nothing fires in it, nothing ever will.
        # parse_cron already rejects day/month pairs that never exist, so in practice
        # the loop ends within a few years (8 at most for 29 February).
        for _ in range(400 * 12 + 1):
            if month in self.months:
                found = self._first_in_month(year, month, start)
                if found is not None:
                    return found
            month += 1
            if month > 12:
                month, year = 1, year + 1
                if year > 9999:
                    return None
        return None

    def _first_in_month(self, year: int, month: int, start: datetime) -> datetime | None:
        in_start_month = (year, month) == (start.year, start.month)
        first_day = start.day if in_start_month else 1
        for d in range(first_day, calendar.monthrange(year, month)[1] + 1):
            if not self.day_matches(date(year, month, d)):
                continue
            same_day = in_start_month and d == start.day
            for h in self.hours:
                if same_day and h < start.hour:
                    continue
                for m in self.minutes:
                    if same_day and h == start.hour and m < start.minute:
                        continue
                    return datetime(year, month, d, h, m, tzinfo=UTC)
        return None


def _number(raw: str, spec: _CronField) -> int:
    if not _NUMBER.match(raw):
        raise _CronSyntax(f"{raw!r} is not a number")
    value = int(raw)
    if not spec.low <= value <= spec.high:
        raise _CronSyntax(f"{value} is out of range")
    return value


def _parse_item(item: str, spec: _CronField) -> set[int]:
    if not item:
        raise _CronSyntax("empty list item")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _NUMBER.match(step_text) or int(step_text) < 1:
            raise _CronSyntax(f"step {step_text!r} must be a whole number of 1 or more")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        a, _, b = base.partition("-")
        low, high = _number(a, spec), _number(b, spec)
        if low > high:
            raise _CronSyntax(f"range {low}-{high} goes backwards")
    else:
        low = _number(base, spec)
        # "a/n" means "from a to the end, every n" (as cronie reads it); a bare "a" is one value.
        high = spec.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(text: str, spec: _CronField) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        try:
            values |= _parse_item(item, spec)
        except _CronSyntax as exc:
            raise _CronSyntax(
                f"{spec.name} field {text!r}: {exc}; {spec.name} allows {spec.low}-{spec.high}"
            ) from None
    return values


def _month_length_max(month: int) -> int:
    # 2000 is a leap year, so February counts its 29th.
    return calendar.monthrange(2000, month)[1]


def _parse_cron(text: str) -> CronExpr:
    parts = text.split()
    if len(parts) != 5:
        names = " ".join(f.name for f in _CRON_FIELDS)
        raise _CronSyntax(f"needs 5 fields ({names}), got {len(parts)}")
    minute, hour, dom, month, dow = (
        _parse_field(p, f) for p, f in zip(parts, _CRON_FIELDS, strict=True)
    )
    dow = {d % 7 for d in dow}
    expr = CronExpr(
        text=" ".join(parts),
        minutes=tuple(sorted(minute)),
        hours=tuple(sorted(hour)),
        days_of_month=frozenset(dom),
        months=frozenset(month),
        days_of_week=frozenset(dow),
        dom_star=parts[2].startswith("*"),
        dow_star=parts[4].startswith("*"),
    )
    # When day-of-week does not widen the choice (it starts with "*", so it is ANDed),
    # a day-of-month that no chosen month has (e.g. "30 2") would never fire: say so now
    # rather than scheduling a program that silently never runs.
    if expr.dow_star and not any(
        d <= _month_length_max(m) for d in expr.days_of_month for m in expr.months
    ):
        days = ",".join(str(d) for d in sorted(expr.days_of_month))
        months = ",".join(str(m) for m in sorted(expr.months))
        raise _CronSyntax(f"day-of-month {days} never occurs in month {months}; it would never run")
    return expr


def parse_cron(text: str) -> CronExpr:
    """Parse a five-field cron expression: ``minute hour day-of-month month day-of-week``.

    Each field is ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``
    (``a`` to the end), or a comma list of those. Ranges: minute 0-59, hour 0-23,
    day-of-month 1-31, month 1-12, day-of-week 0-7 (0 and 7 are Sunday). Names such as
    ``mon`` or ``jan`` and ``@daily`` aliases are not supported.

    Raises :class:`InvalidInput` (``where="cron"``) naming the field and its range, e.g.
    ``cron: '61 * * * *': minute field '61': 61 is out of range; minute allows 0-59``.
    """
    try:
        return _parse_cron(text)
    except _CronSyntax as exc:
        raise InvalidInput(f"{text!r}: {exc}", "cron") from None


def _as_utc(t: datetime, where: str) -> datetime:
    if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
        raise InvalidInput("must be timezone-aware (naive datetimes are ambiguous)", where)
    return t.astimezone(UTC)


# --------------------------------------------------------------------------- schedule


class ScheduleKind(StrEnum):
    """How a program is started: on demand, once at an instant, or by a cron expression."""

    MANUAL = "manual"
    ONCE = "once"
    CRON = "cron"


@dataclass(frozen=True)
class Schedule:
    """When a program runs. Build with :meth:`manual`, :meth:`once` or :meth:`cron`.

    Checked on construction (a bad schedule cannot exist): ``once`` needs a
    timezone-aware ``at`` and no expression; ``cron`` needs a valid ``expression``
    (see :func:`parse_cron`) and no ``at``; ``manual`` has neither. Raises
    :class:`InvalidInput` with ``where`` ``schedule.at`` / ``schedule.cron`` /
    ``schedule``.
    """

    kind: ScheduleKind = ScheduleKind.MANUAL
    at: datetime | None = None
    expression: str | None = None
    _cron: CronExpr | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            kind = ScheduleKind(self.kind)
        except ValueError:
            known = ", ".join(k.value for k in ScheduleKind)
            why = f"unknown kind {self.kind!r}; kinds are: {known}"
            raise InvalidInput(why, "schedule") from None
        object.__setattr__(self, "kind", kind)
        if kind is not ScheduleKind.ONCE and self.at is not None:
            raise InvalidInput(
                f"only a 'once' schedule has a time, this is {kind.value!r}", "schedule.at"
            )
        if kind is not ScheduleKind.CRON and self.expression is not None:
            raise InvalidInput(
                f"only a 'cron' schedule has an expression, this is {kind.value!r}", "schedule.cron"
            )
        if kind is ScheduleKind.ONCE:
            if self.at is None:
                raise InvalidInput("a 'once' schedule needs a time", "schedule.at")
            _as_utc(self.at, "schedule.at")
        if kind is ScheduleKind.CRON:
            if self.expression is None:
                raise InvalidInput("a 'cron' schedule needs an expression", "schedule.cron")
            try:
                parsed = _parse_cron(self.expression)
            except _CronSyntax as exc:
                raise InvalidInput(f"{self.expression!r}: {exc}", "schedule.cron") from None
            object.__setattr__(self, "_cron", parsed)

    @classmethod
    def manual(cls) -> Schedule:
        """A program that runs only when someone starts it."""
        return cls(ScheduleKind.MANUAL)

    @classmethod
    def once(cls, at: datetime) -> Schedule:
        """A program that runs once, at ``at`` (timezone-aware)."""
        return cls(ScheduleKind.ONCE, at=at)

    @classmethod
    def cron(cls, expression: str) -> Schedule:
        """A program that runs whenever the cron ``expression`` fires (evaluated in UTC)."""
        return cls(ScheduleKind.CRON, expression=expression)

    def next_after(self, t: datetime) -> datetime | None:
        """The first run strictly after ``t`` (timezone-aware), in UTC, or None.

        None for a manual schedule and for a ``once`` schedule whose time is not after
        ``t``.
        """
        u = _as_utc(t, "t")
        if self.kind is ScheduleKind.ONCE:
            assert self.at is not None  # checked in __post_init__
            at = self.at.astimezone(UTC)
            return at if at > u else None
        if self._cron is not None:
            return self._cron.next_after(u)
        return None


# --------------------------------------------------------------------------- specs


_PROGRAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
_NAME_RULE = (
    "must start with a lower-case letter and hold only lower-case letters, digits, "
    "'_' and '-' (at most 100 characters)"
)

#: Campaign kinds: ``outbound`` ones are decided by runs, ``triggered`` ones by events.
CAMPAIGN_KINDS = ("outbound", "triggered")
_ASSIGNMENTS = tuple(s.value for s in AssignmentStrategy)


@dataclass(frozen=True)
class CampaignSpec:
    """One proposition inside a program, as written by a marketer (not yet validated).

    ``offers`` and ``channels`` need at least one entry; ``eligibility`` is a bool rule
    and ``score`` a number rule in the rule language; ``priority`` is higher-first;
    ``capacity`` None means unlimited; ``control_share`` is the held-out fraction
    (0 <= x < 1). Nothing is checked on construction: :func:`validate_program` reports
    every problem at once, with its place.
    """

    name: str
    offers: tuple[str, ...]
    channels: tuple[str, ...]
    kind: str = "outbound"
    segment: str | None = None
    eligibility: str | None = None
    template: str | None = None
    score: str | None = None
    priority: int = 0
    capacity: int | None = None
    control_share: float = 0.0
    cost_per_contact: Decimal = Decimal(0)
    budget: Decimal | None = None
    #: Days after a contact during which a reply on its channel counts as its answer.
    response_window_days: int = 14
    #: Event types a triggered campaign listens to; its rules may read ``event.<field>``.
    events: tuple[str, ...] = ()
    #: A triggered campaign leaves alone events older than this when they reach it
    #: (a backlog after an outage is not a key moment any more); None: any age.
    max_event_age_minutes: int | None = None


@dataclass(frozen=True)
class ProgramSpec:
    """A program as written by a marketer (not yet validated; see :func:`validate_program`).

    ``start`` / ``end`` are optional dates (end on or after start); ``budget`` None
    means no program-level cap; campaign names are unique within the program.
    """

    name: str
    owner: str
    schedule: Schedule = field(default_factory=Schedule.manual)
    campaigns: tuple[CampaignSpec, ...] = ()
    description: str = ""
    budget: Decimal | None = None
    start: date | None = None
    end: date | None = None
    #: How leads from this program's replies find a rep (see ``domain.sales``).
    lead_assignment: str = "round_robin"
    #: Hours a new lead may wait for its first contact before it is escalated.
    lead_sla_hours: int = 24


def _listing(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "(none)"


def _money_problem(value: object, *, optional: bool) -> str | None:
    if value is None:
        return None if optional else "is required"
    # bool is an int: refuse it explicitly, a True budget is a bug upstream.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return f"must be a decimal amount, got {value!r}"
    amount = Decimal(value)
    if not amount.is_finite():
        return f"must be a finite amount, got {value}"
    if amount < 0:
        return f"must be 0 or more, got {value}"
    return None


def _rule_problems(
    place: str,
    source: str,
    fields: Mapping[str, FieldType],
    segments: Collection[str],
    lists: Collection[str],
    expect: FieldType,
    event_fields: Mapping[str, FieldType] | None = None,
) -> list[str]:
    try:
        compile_rule(
            source,
            fields,
            segments=segments,
            lists=lists,
            expect=expect,
            event_fields=event_fields,
        )
    except RuleError as exc:
        out = []
        for p in exc.problems:
            snippet = "".join(f"\n    {line}" for line in p.snippet.splitlines())
            out.append(f"{place}: line {p.line}, col {p.col}: {p.message}{snippet}")
        return out
    return []


def event_fields_of(
    names: Collection[str], event_types: Mapping[str, Mapping[str, FieldType]]
) -> dict[str, FieldType]:
    """The payload fields a campaign listening to ``names`` may read as ``event.<field>``.

    Every field of every type listened to; a field a given event does not carry reads
    as null. (Types declaring one field name with two types are refused on validation.)
    """
    out: dict[str, FieldType] = {}
    for name in names:
        out.update(event_types.get(name, {}))
    return out


def _event_fields(
    at: str, names: Collection[str], event_types: Mapping[str, Mapping[str, FieldType]]
) -> tuple[dict[str, FieldType], list[str]]:
    out: list[str] = []
    if not names:
        out.append(f"{at}.events: a triggered campaign listens to at least one event type")
    seen: dict[str, tuple[str, FieldType]] = {}
    for i, name in enumerate(names):
        if name not in event_types:
            out.append(
                f"{at}.events[{i}]: unknown event type {name!r}; "
                f"event types are: {_listing(event_types)}"
            )
            continue
        for fname, ty in event_types[name].items():
            first = seen.setdefault(fname, (name, ty))
            if first[1] is not ty:
                out.append(
                    f"{at}.events[{i}]: field {fname!r} is {ty.value} in {name!r} but "
                    f"{first[1].value} in {first[0]!r}; a rule cannot read both"
                )
    return event_fields_of(names, event_types), out


def _campaign_problems(
    index: int,
    c: CampaignSpec,
    *,
    fields: Mapping[str, FieldType],
    segments: Collection[str],
    lists: Collection[str],
    offers: Collection[str],
    event_types: Mapping[str, Mapping[str, FieldType]],
) -> list[str]:
    at = f"campaigns[{index}] {c.name!r}" if c.name else f"campaigns[{index}]"
    out: list[str] = []
    if not _PROGRAM_NAME.match(c.name):
        out.append(f"{at}.name: {c.name!r} {_NAME_RULE}")
    event_fields: dict[str, FieldType] | None = None
    if c.kind not in CAMPAIGN_KINDS:
        out.append(f"{at}.kind: unknown kind {c.kind!r}; kinds are: {', '.join(CAMPAIGN_KINDS)}")
    elif c.kind == "triggered":
        event_fields, more = _event_fields(at, c.events, event_types)
        out += more
    elif c.events:
        out.append(f"{at}.events: only a triggered campaign listens to events (kind: triggered)")
    if c.segment is not None and c.segment not in segments:
        out.append(
            f"{at}.segment: unknown segment {c.segment!r}; segments are: {_listing(segments)}"
        )
    if c.eligibility is not None:
        out += _rule_problems(
            f"{at}.eligibility",
            c.eligibility,
            fields,
            segments,
            lists,
            FieldType.BOOL,
            event_fields,
        )
    if c.score is not None:
        # FLOAT accepts any number (int or float), which is what a score needs.
        out += _rule_problems(
            f"{at}.score", c.score, fields, segments, lists, FieldType.FLOAT, event_fields
        )
    if not c.offers:
        out.append(f"{at}.offers: a campaign needs at least one offer")
    seen: dict[str, int] = {}
    for i, code in enumerate(c.offers):
        if code in seen:
            out.append(
                f"{at}.offers[{i}]: offer {code!r} is listed twice (also offers[{seen[code]}])"
            )
        elif code not in offers:
            out.append(f"{at}.offers[{i}]: unknown offer {code!r}; offers are: {_listing(offers)}")
        seen.setdefault(code, i)
    if not c.channels:
        out.append(f"{at}.channels: a campaign needs at least one channel")
    seen = {}
    for i, ch in enumerate(c.channels):
        if ch in seen:
            out.append(
                f"{at}.channels[{i}]: channel {ch!r} is listed twice (also channels[{seen[ch]}])"
            )
        elif ch not in CHANNELS:
            out.append(
                f"{at}.channels[{i}]: unknown channel {ch!r}; channels are: {', '.join(CHANNELS)}"
            )
        seen.setdefault(ch, i)
    if c.template is not None and not c.template.strip():
        out.append(f"{at}.template: is empty; leave it out (None) for no template")
    if isinstance(c.priority, bool) or not isinstance(c.priority, int):
        out.append(f"{at}.priority: must be a whole number, got {c.priority!r}")
    if c.capacity is not None:
        if isinstance(c.capacity, bool) or not isinstance(c.capacity, int):
            out.append(f"{at}.capacity: must be a whole number or None, got {c.capacity!r}")
        elif c.capacity < 0:
            out.append(f"{at}.capacity: must be 0 or more, got {c.capacity}")
    share = c.control_share
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not math.isfinite(share)
        or not 0 <= share < 1
    ):
        out.append(f"{at}.control_share: must be at least 0 and below 1, got {share!r}")
    why = _money_problem(c.cost_per_contact, optional=False)
    if why:
        out.append(f"{at}.cost_per_contact: {why}")
    why = _money_problem(c.budget, optional=True)
    if why:
        out.append(f"{at}.budget: {why}")
    age = c.max_event_age_minutes
    if age is not None:
        if c.kind != "triggered":
            out.append(f"{at}.max_event_age_minutes: only a triggered campaign answers events")
        elif isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= 525_600:
            out.append(
                f"{at}.max_event_age_minutes: a whole number of minutes from 1 to 525600, "
                f"got {age!r}"
            )
    w = c.response_window_days
    if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 366:
        out.append(f"{at}.response_window_days: a whole number of days from 1 to 366, got {w!r}")
    return out


def program_problems(
    spec: ProgramSpec,
    *,
    fields: Mapping[str, FieldType],
    segments: Collection[str],
    lists: Collection[str],
    offers: Collection[str],
    allow_empty: bool = False,
    event_types: Mapping[str, Mapping[str, FieldType]] | None = None,
) -> list[str]:
    """Every problem of ``spec``, each prefixed with its place; empty when it is valid.

    ``fields`` are the customer attributes rules may read; ``segments``, ``lists`` and
    ``offers`` the names that exist; ``event_types`` the declared event types and their
    payload fields (for triggered campaigns). ``allow_empty`` accepts a program without
    campaigns (a draft being written); a program must have one to run.
    """
    out: list[str] = []
    if not _PROGRAM_NAME.match(spec.name):
        out.append(f"name: {spec.name!r} {_NAME_RULE}")
    if not spec.owner.strip():
        out.append("owner: is required")
    why = _money_problem(spec.budget, optional=True)
    if why:
        out.append(f"budget: {why}")
    if spec.start is not None and spec.end is not None and spec.end < spec.start:
        out.append(f"end: {spec.end.isoformat()} is before start {spec.start.isoformat()}")
    if spec.schedule.kind is ScheduleKind.ONCE and spec.schedule.at is not None:
        # Compare on the UTC calendar day: dates carry no timezone, schedules run in UTC.
        day = spec.schedule.at.astimezone(UTC).date()
        if spec.start is not None and day < spec.start:
            out.append(f"schedule.at: {day.isoformat()} is before start {spec.start.isoformat()}")
        if spec.end is not None and day > spec.end:
            out.append(f"schedule.at: {day.isoformat()} is after end {spec.end.isoformat()}")
    if spec.lead_assignment not in _ASSIGNMENTS:
        out.append(
            f"sales.assignment: unknown strategy {spec.lead_assignment!r}; "
            f"strategies are: {', '.join(_ASSIGNMENTS)}"
        )
    hours = spec.lead_sla_hours
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        out.append(f"sales.sla_hours: a whole number of hours, 1 or more, got {hours!r}")
    if not spec.campaigns and not allow_empty:
        out.append("campaigns: a program needs at least one campaign to run")
    first: dict[str, int] = {}
    for i, c in enumerate(spec.campaigns):
        if c.name in first:
            out.append(
                f"campaigns[{i}] {c.name!r}.name: used twice in this program "
                f"(also campaigns[{first[c.name]}])"
            )
        first.setdefault(c.name, i)
        out += _campaign_problems(
            i,
            c,
            fields=fields,
            segments=segments,
            lists=lists,
            offers=offers,
            event_types=event_types or {},
        )
    if spec.budget is not None and _money_problem(spec.budget, optional=True) is None:
        budgets = [c.budget for c in spec.campaigns if c.budget is not None]
        if all(_money_problem(b, optional=True) is None for b in budgets):
            total = sum((Decimal(b) for b in budgets), Decimal(0))
            if total > spec.budget:
                out.append(
                    f"budget: campaign budgets add up to {total}, "
                    f"above the program budget of {spec.budget}"
                )
    return out


def validate_program(
    spec: ProgramSpec,
    *,
    fields: Mapping[str, FieldType],
    segments: Collection[str],
    lists: Collection[str],
    offers: Collection[str],
    allow_empty: bool = False,
    event_types: Mapping[str, Mapping[str, FieldType]] | None = None,
) -> None:
    """Raise :class:`InvalidInput` listing every problem of ``spec`` (see :func:`program_problems`).

    The detail reads ``program 'name' has N problem(s):`` followed by one line per
    problem, e.g. ``campaigns[0] 'x'.capacity: must be 0 or more, got -5``.
    """
    problems = program_problems(
        spec,
        fields=fields,
        segments=segments,
        lists=lists,
        offers=offers,
        allow_empty=allow_empty,
        event_types=event_types,
    )
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        raise InvalidInput(f"program {spec.name!r} has {len(problems)} problem(s):\n{lines}")
