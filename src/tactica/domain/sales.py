"""The sales side's rules: a lead's life, who gets a new lead, when a lead is late.

Pure logic: the services read reps and leads from the store and ask here what is
legal and who is next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from tactica.errors import Conflict, InvalidInput


class LeadStatus(StrEnum):
    """Where a lead is in its life."""

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    WON = "won"
    LOST = "lost"


#: The moves a lead may make. Lost is possible from anywhere open; won only once
#: qualified or contacted (a rep has spoken to the customer).
_MOVES: dict[LeadStatus, tuple[LeadStatus, ...]] = {
    LeadStatus.NEW: (LeadStatus.CONTACTED, LeadStatus.LOST),
    LeadStatus.CONTACTED: (LeadStatus.QUALIFIED, LeadStatus.WON, LeadStatus.LOST),
    LeadStatus.QUALIFIED: (LeadStatus.WON, LeadStatus.LOST),
    LeadStatus.WON: (),
    LeadStatus.LOST: (),
}

OPEN_STATUSES: tuple[LeadStatus, ...] = (
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFIED,
)


def legal_moves(current: LeadStatus | str) -> tuple[LeadStatus, ...]:
    """The statuses a lead in ``current`` may move to."""
    return _MOVES[LeadStatus(current)]


def move(current: LeadStatus | str, target: LeadStatus | str) -> LeadStatus:
    """The new status, or :class:`Conflict` naming the legal moves when it is not one."""
    try:
        to = LeadStatus(target)
    except ValueError:
        known = ", ".join(s.value for s in LeadStatus)
        raise InvalidInput(f"unknown lead status {target!r}; statuses are: {known}") from None
    now = LeadStatus(current)
    if to not in _MOVES[now]:
        legal = ", ".join(s.value for s in _MOVES[now]) or "none (the lead is closed)"
        raise Conflict(f"a {now.value} lead cannot become {to.value}; it may become: {legal}")
    return to


class AssignmentStrategy(StrEnum):
    """How a program's new leads find a rep."""

    ROUND_ROBIN = "round_robin"
    TERRITORY = "territory"
    SKILL = "skill"
    LOAD = "load"


class RepRole(StrEnum):
    """What kind of selling a rep does."""

    HUNTER = "hunter"  # new business
    FARMER = "farmer"  # existing accounts


class ActivityKind(StrEnum):
    """What a rep did."""

    CALL = "call"
    VISIT = "visit"
    EMAIL = "email"
    MEETING = "meeting"


#: Activities in which the rep spoke with the customer: the first one on a new lead
#: makes it contacted (an e-mail sent is not an answer from anyone).
SPEAKING: frozenset[ActivityKind] = frozenset(
    {ActivityKind.CALL, ActivityKind.VISIT, ActivityKind.MEETING}
)

_REP_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,100}$")
#: Most open leads one rep may be given; a guard against a typo of 50000 for 50.
MAX_CAPACITY = 10_000
MAX_SKILLS = 50


def _choice(kind: type[StrEnum], value: str, what: str) -> str:
    try:
        return kind(value).value
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise InvalidInput(f"unknown {what} {value!r}; {what}s are: {known}", where=what) from None


def activity_kind(value: str) -> ActivityKind:
    """``value`` as an activity kind, or :class:`InvalidInput` naming the kinds."""
    return ActivityKind(_choice(ActivityKind, value, "kind"))


def rep_role(value: str) -> RepRole:
    """``value`` as a rep role, or :class:`InvalidInput` naming the roles."""
    return RepRole(_choice(RepRole, value, "role"))


def check_rep_name(value: str, where: str = "username") -> str:
    """A rep's (or manager's) username: what a Tactica user name may be."""
    if not _REP_NAME.match(value):
        raise InvalidInput(f"2-100 letters, digits or _ . @ -, got {value!r}", where=where)
    return value


def check_capacity(value: int) -> int:
    """How many open leads a rep may hold: 0 (takes no new leads) to :data:`MAX_CAPACITY`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
        raise InvalidInput(f"a whole number from 0 to {MAX_CAPACITY}, got {value!r}", "capacity")
    return value


def clean_skills(values: Iterable[str]) -> list[str]:
    """Skills as stored: trimmed, blanks dropped, each once (first spelling kept)."""
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        s = v.strip()
        if not s or s.casefold() in seen:
            continue
        if len(s) > 100:
            raise InvalidInput(f"at most 100 characters each, got {s[:20]!r}...", "skills")
        seen.add(s.casefold())
        out.append(s)
    if len(out) > MAX_SKILLS:
        raise InvalidInput(f"at most {MAX_SKILLS} skills, got {len(out)}", "skills")
    return out


def check_move(
    target: LeadStatus, *, reason: str | None, discount: object | None, offer: str | None
) -> str | None:
    """The lost reason for a move to ``target`` (stripped), refusing options that do not fit.

    A lost lead needs a reason; a discount and an offer only go with ``won`` (they
    are the order's).
    """
    if target is LeadStatus.LOST:
        if reason is None or not reason.strip():
            raise InvalidInput("a lost lead needs a reason (why the customer said no)", "reason")
        return reason.strip()
    if reason is not None and reason.strip():
        raise InvalidInput(f"only a lost lead takes a reason, not a {target.value} one", "reason")
    if target is not LeadStatus.WON:
        for name, value in (("discount", discount), ("offer", offer)):
            if value is not None:
                raise InvalidInput(f"only a won lead books an order with a {name}", name)
    return None


def per(amount: Decimal | int, count: int) -> Decimal | None:
    """``amount / count`` to four places, or None when ``count`` is 0 (no calls, no ratio)."""
    if not count:
        return None
    return (Decimal(amount) / Decimal(count)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class RepLoad:
    """A rep as assignment sees them: who, where, what they know, how busy."""

    username: str
    territory: str | None = None
    skills: frozenset[str] = field(default_factory=frozenset)
    capacity: int = 50
    open_leads: int = 0
    last_assigned_at: datetime | None = None
    role: str = RepRole.HUNTER.value

    @property
    def free(self) -> int:
        """How many more open leads the rep can take."""
        return max(self.capacity - self.open_leads, 0)


_NEVER = datetime.min


def _rr_key(r: RepLoad) -> tuple[datetime, str]:
    # Longest since their last lead first; ties (never assigned) by name, for stability.
    last = r.last_assigned_at.replace(tzinfo=None) if r.last_assigned_at else _NEVER
    return (last, r.username)


def choose_rep(
    reps: Sequence[RepLoad],
    strategy: AssignmentStrategy | str,
    *,
    territory: str | None = None,
    skill: str | None = None,
    role: str | None = None,
) -> RepLoad | None:
    """The rep a new lead goes to, or None when nobody has room.

    Only reps with free capacity are considered. ``territory`` and ``skill`` narrow
    the choice for those strategies and fall back to every rep with room when nobody
    matches (a lead is never left unassigned because a territory has no rep); ``role``
    (hunter or farmer) narrows the same way. Among the candidates: ``round_robin`` and
    ``territory`` / ``skill`` take the rep who has waited longest for a lead; ``load``
    the one with the fewest open leads relative to capacity.
    """
    how = AssignmentStrategy(strategy)
    pool = [r for r in reps if r.free > 0]
    if not pool:
        return None

    def narrowed(keep: list[RepLoad]) -> list[RepLoad]:
        return keep or pool

    if role:
        pool = narrowed([r for r in pool if r.role == role])
    if how is AssignmentStrategy.TERRITORY and territory:
        pool = narrowed([r for r in pool if r.territory == territory])
    if how is AssignmentStrategy.SKILL and skill:
        pool = narrowed([r for r in pool if skill in r.skills])
    if how is AssignmentStrategy.LOAD:
        return min(pool, key=lambda r: (r.open_leads / max(r.capacity, 1), *_rr_key(r)))
    return min(pool, key=_rr_key)


def assignment_stamp(reps: Iterable[RepLoad], now: datetime) -> datetime:
    """The ``last_assigned_at`` to record for an assignment made at ``now``.

    Round robin takes the rep who waited longest, so two assignments must never get
    the same stamp: with a batch of replies taken at one ``now``, ties would always
    go to the same name. The stamp is ``now``, or just after the latest one given.
    """
    latest = max((r.last_assigned_at for r in reps if r.last_assigned_at), default=None)
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)
    return now


def sla_due(created: datetime, hours: int) -> datetime:
    """When a lead made at ``created`` must have been contacted."""
    return created + timedelta(hours=hours)


def is_overdue(status: LeadStatus | str, due_at: datetime | None, now: datetime) -> bool:
    """True when a lead is still new (nobody contacted the customer) past its SLA."""
    return LeadStatus(status) is LeadStatus.NEW and due_at is not None and now >= due_at
