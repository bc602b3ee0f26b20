"""Contact policy: the anti-disturbance rules, and the reference semantics of applying them.

This module says, once, what the rules mean. The batch engine compiles them to
SQL and the real-time path evaluates them per event; both are held to the
functions here, which work on one customer's candidates and contact ledger.

The ledger
    Every contact that counts: queued, scheduled, sent and delivered ones alike,
    so two runs on the same day can never add up past a cap. Failed sends and
    held-out (control group) contacts do not count: the customer was not reached.

Rules (each named, so a decision can say which one it broke)
    ``FrequencyCap``  at most N contacts in a window, for a scope (all contacts,
                      one channel, or one campaign kind). A window is rolling
                      (the last D days before the decision) or a calendar unit
                      (the same day, ISO week or month, in the customer's timezone).
    ``MinGap``        at least H hours since the last contact, for a scope.
    ``NoRepeatOffer`` not the same offer again within D days (any channel).

VIP customers bypass the frequency rules (caps and gaps) but not ``NoRepeatOffer``,
and never an exclusion such as an opt-out (exclusions are decided before the policy).

Within one run a customer's candidates are taken best first (see :func:`rank_key`);
each one accepted joins the ledger before the next is checked, so a run can never
push a customer past a cap either. At most ``per_run`` contacts per customer per run,
and at most one per campaign.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo


class ContactStatus(StrEnum):
    """Where a contact is in its life."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def counts(self) -> bool:
        """True when the contact counts against the policy (the customer is or will be reached)."""
        return self is not ContactStatus.FAILED


@dataclass(frozen=True)
class LedgerEntry:
    """One earlier (or already decided) contact of a customer."""

    at: datetime
    channel: str
    campaign: str
    campaign_kind: str
    offer: str
    status: ContactStatus = ContactStatus.QUEUED


@dataclass(frozen=True)
class Scope:
    """Which contacts a rule counts: all, one channel, or one campaign kind."""

    channel: str | None = None
    campaign_kind: str | None = None

    def covers(self, channel: str, campaign_kind: str) -> bool:
        """True when a contact on ``channel`` from a ``campaign_kind`` campaign is counted."""
        return (self.channel is None or self.channel == channel) and (
            self.campaign_kind is None or self.campaign_kind == campaign_kind
        )

    def describe(self) -> str:
        """Words for messages: 'on sms', 'from outbound campaigns', or ''."""
        parts = []
        if self.channel:
            parts.append(f"on {self.channel}")
        if self.campaign_kind:
            parts.append(f"from {self.campaign_kind} campaigns")
        return " ".join(parts)


class Calendar(StrEnum):
    """Calendar windows, counted in the customer's own timezone."""

    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday
    MONTH = "month"


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_contacts`` in a rolling ``days`` window or a ``calendar`` unit."""

    name: str
    max_contacts: int
    days: int | None = None
    calendar: Calendar | None = None
    scope: Scope = field(default_factory=Scope)

    def __post_init__(self) -> None:
        if (self.days is None) == (self.calendar is None):
            raise ValueError(f"policy rule {self.name!r}: give either days or calendar")
        if self.max_contacts < 0 or (self.days is not None and self.days <= 0):
            raise ValueError(f"policy rule {self.name!r}: limits must be positive")

    def window_text(self) -> str:
        """'in the last 30 days', 'today', 'this week', 'this month'."""
        if self.days is not None:
            return f"in the last {self.days} day{'s' if self.days != 1 else ''}"
        return {Calendar.DAY: "today", Calendar.WEEK: "this week", Calendar.MONTH: "this month"}[
            self.calendar or Calendar.DAY
        ]


@dataclass(frozen=True)
class MinGap:
    """At least ``hours`` between two contacts in scope."""

    name: str
    hours: float
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True)
class NoRepeatOffer:
    """The same offer not again within ``days``."""

    name: str
    days: int


Rule = FrequencyCap | MinGap | NoRepeatOffer


@dataclass(frozen=True)
class DailyCapacity:
    """At most ``per_day`` contacts a day on ``channel``, all programs together.

    Not a rule about one customer: it caps a whole day's work on a channel (a call
    centre's calls, an SMS gateway's quota) and is applied with the other capacity
    limits, best first (see :mod:`tactica.domain.capacity`).
    """

    channel: str
    per_day: int

    def __post_init__(self) -> None:
        if self.per_day < 0:
            raise ValueError(f"daily capacity of {self.channel!r} must not be negative")


@dataclass(frozen=True)
class ContactPolicy:
    """The rules in force, how many contacts one customer may get from one run, and the
    channels' daily capacities (days counted in ``timezone``)."""

    rules: tuple[Rule, ...] = ()
    per_run: int = 1
    daily_capacity: tuple[DailyCapacity, ...] = ()
    timezone: str = "UTC"


@dataclass(frozen=True)
class Candidate:
    """A proposed contact for one customer: campaign, offer, channel, and how good it is."""

    campaign: str
    campaign_kind: str
    offer: str
    channel: str
    priority: int = 0
    score: float = 0.0
    value: Decimal = Decimal("0")


@dataclass(frozen=True)
class Verdict:
    """One rule's answer for one candidate, with the numbers behind it."""

    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one candidate: selected, or the reason it was not."""

    candidate: Candidate
    selected: bool
    reason: str  # "selected", "policy", "arbitration"
    verdicts: tuple[Verdict, ...] = ()

    def explain(self) -> str:
        """One line a marketer reads: why this candidate was or was not chosen."""
        if self.selected:
            c = self.candidate
            return f"selected: {c.campaign} / {c.offer} on {c.channel}"
        failed = [v for v in self.verdicts if not v.passed]
        if failed:
            return "excluded: " + "; ".join(f"{v.detail} (policy '{v.rule}')" for v in failed)
        return f"not chosen: {self.reason}"


def _tz(timezone: str | None) -> ZoneInfo | None:
    if not timezone:
        return None
    try:
        return ZoneInfo(timezone)
    except (KeyError, ValueError):  # unknown zone: count in UTC rather than fail a run
        return None


def _same_calendar_unit(a: datetime, b: datetime, unit: Calendar, tz: ZoneInfo | None) -> bool:
    la, lb = (a.astimezone(tz), b.astimezone(tz)) if tz else (a.astimezone(UTC), b.astimezone(UTC))
    if unit is Calendar.DAY:
        return la.date() == lb.date()
    if unit is Calendar.WEEK:
        return la.isocalendar()[:2] == lb.isocalendar()[:2]
    return (la.year, la.month) == (lb.year, lb.month)


def in_window(entry_at: datetime, now: datetime, cap: FrequencyCap, tz: ZoneInfo | None) -> bool:
    """True when a contact at ``entry_at`` falls in the cap's window as seen at ``now``.

    Rolling windows hold the contacts of the last ``days`` × 24 hours, ``now`` included;
    a contact later than ``now`` (already scheduled) is in every window that covers it.
    """
    if cap.days is not None:
        return entry_at > now - timedelta(days=cap.days)
    assert cap.calendar is not None
    return entry_at >= now or _same_calendar_unit(entry_at, now, cap.calendar, tz)


def history_horizon(policy: ContactPolicy) -> timedelta:
    """How far back the policy looks: older contacts cannot change any decision."""
    days = 0.0
    for rule in policy.rules:
        if isinstance(rule, FrequencyCap):
            if rule.days is not None:
                days = max(days, rule.days)
            else:
                days = max(
                    days,
                    {Calendar.DAY: 2, Calendar.WEEK: 8, Calendar.MONTH: 32}[
                        rule.calendar or Calendar.DAY
                    ],
                )
        elif isinstance(rule, MinGap):
            days = max(days, rule.hours / 24)
        elif isinstance(rule, NoRepeatOffer):
            days = max(days, rule.days)
    return timedelta(days=days + 1)


def check(
    candidate: Candidate,
    ledger: Iterable[LedgerEntry],
    policy: ContactPolicy,
    now: datetime,
    *,
    vip: bool = False,
    timezone: str | None = None,
) -> tuple[Verdict, ...]:
    """Every rule's verdict on contacting the customer with ``candidate`` at ``now``."""
    counted = [e for e in ledger if e.status.counts]
    tz = _tz(timezone)
    out: list[Verdict] = []
    for rule in policy.rules:
        if isinstance(rule, FrequencyCap):
            if vip:
                out.append(Verdict(rule.name, True, "VIP: frequency caps do not apply"))
                continue
            if not rule.scope.covers(candidate.channel, candidate.campaign_kind):
                continue
            n = sum(
                1
                for e in counted
                if rule.scope.covers(e.channel, e.campaign_kind) and in_window(e.at, now, rule, tz)
            )
            scope = f" {rule.scope.describe()}" if rule.scope.describe() else ""
            detail = (
                f"contacted {n} time{'s' if n != 1 else ''}{scope} {rule.window_text()}, "
                f"limit {rule.max_contacts}"
            )
            out.append(Verdict(rule.name, n < rule.max_contacts, detail))
        elif isinstance(rule, MinGap):
            if vip:
                out.append(Verdict(rule.name, True, "VIP: minimum gaps do not apply"))
                continue
            if not rule.scope.covers(candidate.channel, candidate.campaign_kind):
                continue
            near = [
                abs((now - e.at).total_seconds()) / 3600
                for e in counted
                if rule.scope.covers(e.channel, e.campaign_kind)
            ]
            closest = min(near, default=None)
            ok = closest is None or closest >= rule.hours
            detail = (
                "no earlier contact"
                if closest is None
                else f"last contact {closest:.1f} hours away, minimum gap {rule.hours:g} hours"
            )
            out.append(Verdict(rule.name, ok, detail))
        else:
            same = [
                e
                for e in counted
                if e.offer == candidate.offer and abs(now - e.at) < timedelta(days=rule.days)
            ]
            detail = (
                f"offer {candidate.offer} already made {len(same)} time(s) within {rule.days} days"
                if same
                else f"offer {candidate.offer} not made within {rule.days} days"
            )
            out.append(Verdict(rule.name, not same, detail))
    return tuple(out)


def rank_key(c: Candidate) -> tuple[int, float, str, str, str]:
    """Sort key, best first: priority, then score × offer value, then names (for a stable order)."""
    return (-c.priority, -(c.score * float(c.value)), c.campaign, c.offer, c.channel)


def decide(
    candidates: Sequence[Candidate],
    ledger: Sequence[LedgerEntry],
    policy: ContactPolicy,
    now: datetime,
    *,
    vip: bool = False,
    timezone: str | None = None,
) -> tuple[Outcome, ...]:
    """Policy and arbitration for one customer: which candidates become contacts, and why not.

    Candidates are taken best first; each one selected joins the ledger (as queued,
    at ``now``) before the next is checked. At most ``policy.per_run`` are selected
    and at most one per campaign. The result is in rank order and does not depend
    on the order the candidates came in.
    """
    book = list(ledger)
    chosen_campaigns: set[str] = set()
    out: list[Outcome] = []
    for c in sorted(candidates, key=rank_key):
        if len(chosen_campaigns) >= policy.per_run:
            out.append(Outcome(c, False, f"arbitration: {policy.per_run} per run already chosen"))
            continue
        if c.campaign in chosen_campaigns:
            out.append(Outcome(c, False, "arbitration: campaign already chosen a better offer"))
            continue
        verdicts = check(c, book, policy, now, vip=vip, timezone=timezone)
        if not all(v.passed for v in verdicts):
            out.append(Outcome(c, False, "policy", verdicts))
            continue
        out.append(Outcome(c, True, "selected", verdicts))
        chosen_campaigns.add(c.campaign)
        book.append(LedgerEntry(now, c.channel, c.campaign, c.campaign_kind, c.offer))
    return tuple(out)
