"""The decision for one event: which listening campaign contacts the customer, and why not.

For each program with campaigns listening to the event's type, as a run of that
program would decide for this one customer, in this order:

1. **eligibility**: the campaign's segment and rule on the profile and the event
   (``event.amount >= 50 and tenure_months > 12``); offers whose own rule holds;
2. **exclusions** per channel, as the batch engine writes them: an excluding special
   list first (``opted out (list 'opt_out')``), then a missing contact point, then no
   consent;
3. **control group**: the same hash of customer and campaign as the batch engine;
4. **contact policy and arbitration**: :func:`tactica.domain.policy.decide` over the
   customer's ledger (contacts queued by runs count, and so do the ones earlier events
   made), best first, at most ``per_run`` contacts per event and program;
5. **capacity**: a campaign's contacts a day and a channel's daily capacity, asked of
   the caller (who counts them in the store).

Nothing here reads or writes the store: the caller hands in the profile and records
what comes out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any, Protocol

from tactica.domain.control import is_held_out
from tactica.domain.events import Event
from tactica.domain.lists import ALL_CHANNELS, ListKind, exclusion_reason
from tactica.domain.policy import Candidate, ContactPolicy, LedgerEntry, decide

#: What happened to an event in one campaign listening to it.
OUTCOMES = (
    "not_eligible",
    "excluded",
    "held_out",
    "policy",
    "arbitration",
    "capacity",
    "contacted",
)
KIND = "triggered"


class OfferLike(Protocol):
    """An offer as a live campaign holds it."""

    @property
    def code(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def rule(self) -> Callable[[Mapping[str, Any]], bool] | None: ...


class CampaignLike(Protocol):
    """A live triggered campaign (see ``services.live_campaigns.LiveCampaign``)."""

    @property
    def program(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def rule(self) -> Callable[[Mapping[str, Any]], bool] | None: ...
    @property
    def score(self) -> Callable[[Mapping[str, Any]], Any] | None: ...
    @property
    def offers(self) -> Sequence[OfferLike]: ...
    @property
    def channels(self) -> Sequence[str]: ...
    @property
    def priority(self) -> int: ...
    @property
    def control_share(self) -> float: ...
    @property
    def cost_per_contact(self) -> Decimal: ...
    @property
    def policy(self) -> ContactPolicy: ...
    @property
    def max_event_age(self) -> timedelta | None: ...


@dataclass(frozen=True)
class ListMark:
    """The customer on a special list (unexpired), for one channel or all."""

    name: str
    kind: str
    channel: str


@dataclass
class Profile:
    """What a decision knows of the customer: fields, lists, static segments, ledger."""

    row: dict[str, Any]
    lists: list[ListMark] = field(default_factory=list)
    segments: set[str] = field(default_factory=set)
    ledger: list[LedgerEntry] = field(default_factory=list)

    @property
    def vip(self) -> bool:
        """True when the customer is on a VIP whitelist."""
        return any(m.kind == ListKind.VIP.value for m in self.lists)


@dataclass(frozen=True)
class CampaignOutcome:
    """One listening campaign's answer to the event."""

    program: str
    campaign: str
    outcome: str
    reason: str = ""
    #: the reason in few words, for figures counted by reason (a rule's name, a list's)
    key: str = ""
    offer: str | None = None
    channel: str | None = None
    score: float = 0.0
    cost: Decimal = Decimal(0)

    def line(self) -> str:
        """One line a marketer reads, as ``tactica explain`` prints it."""
        where = f"{self.program}/{self.campaign}"
        if self.outcome == "contacted":
            return f"{where}: contacted with {self.offer} on {self.channel}"
        return f"{where}: {self.outcome.replace('_', ' ')}: {self.reason}"


#: Asked before a contact is made: why there is no room for it, in full and in few
#: words (None: there is room, and the caller counts the contact).
Room = Callable[[CampaignLike, str], tuple[str, str] | None]


def reach_reason(
    channel: str,
    lists: Iterable[ListMark],
    row: Mapping[str, Any],
    points: Mapping[str, str],
    consents: Mapping[str, str],
) -> str | None:
    """Why the customer cannot be contacted on ``channel`` (None: they can).

    The same order and words as the batch engine: an excluding list, then the contact
    point, then consent.
    """
    listed = sorted(
        exclusion_reason(m.kind, m.name)
        for m in lists
        if m.kind != ListKind.VIP.value and m.channel in (channel, ALL_CHANNELS)
    )
    if listed:
        return "; ".join(dict.fromkeys(listed))
    point, consent = points.get(channel), consents.get(channel)
    if point is None or consent is None:
        return f"no contact point or consent field for {channel}"
    value = row.get(point)
    if value is None or str(value).strip() == "":
        return f"no {point}"
    if row.get(consent) is not True:
        return f"no consent for {channel}"
    return None


def _score(camp: CampaignLike, row: Mapping[str, Any]) -> float:
    if camp.score is None:
        return 0.0
    value = camp.score(row)
    try:
        out = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return out if math.isfinite(out) else 0.0


def decide_event(
    event: Event,
    profile: Profile,
    campaigns: Sequence[CampaignLike],
    now: datetime,
    *,
    points: Mapping[str, str],
    consents: Mapping[str, str],
    room: Room,
) -> list[CampaignOutcome]:
    """Every listening campaign's outcome for ``event``, in the order given.

    Contacts chosen join ``profile.ledger`` (queued, at ``now``) as they are made, so
    a later program, or a later event of the same customer, sees them.
    """
    row: dict[str, Any] = {
        **profile.row,
        "event": dict(event.payload),
        "_segments": profile.segments,
        "_lists": {m.name for m in profile.lists},
    }
    tz = profile.row.get("timezone")
    out: list[CampaignOutcome] = []
    for _, group in groupby(campaigns, key=lambda c: c.program):
        camps = list(group)
        results: dict[str, CampaignOutcome] = {}
        candidates: list[Candidate] = []
        by_name = {c.name: c for c in camps}
        for camp in camps:
            age = now - event.at
            if camp.max_event_age is not None and age > camp.max_event_age:
                results[camp.name] = CampaignOutcome(
                    camp.program,
                    camp.name,
                    "not_eligible",
                    f"the event is {_minutes(age)} old, the campaign answers events up to "
                    f"{_minutes(camp.max_event_age)} old",
                    "event too old",
                )
                continue
            done = _before_policy(camp, row, profile, points, consents, candidates)
            if done is not None:
                results[camp.name] = done
        policy = camps[0].policy
        outcomes = decide(candidates, profile.ledger, policy, now, vip=profile.vip, timezone=tz)
        for o in outcomes:
            c = o.candidate
            if c.campaign in results and results[c.campaign].outcome != "policy":
                continue  # the campaign's best candidate already answered for it
            camp = by_name[c.campaign]
            if not o.selected:
                if c.campaign not in results:
                    why = o.explain().removeprefix("excluded: ").removeprefix("not chosen: ")
                    if o.reason == "policy":
                        kind = "policy"
                        key = ", ".join(v.rule for v in o.verdicts if not v.passed)
                    else:
                        kind, key = "arbitration", why.removeprefix("arbitration: ")
                    results[c.campaign] = CampaignOutcome(
                        camp.program, camp.name, kind, why, key, c.offer, c.channel, c.score
                    )
                continue
            full = room(camp, c.channel)
            if full is not None:
                results[c.campaign] = CampaignOutcome(
                    camp.program,
                    camp.name,
                    "capacity",
                    full[0],
                    full[1],
                    c.offer,
                    c.channel,
                    c.score,
                )
                continue
            results[c.campaign] = CampaignOutcome(
                camp.program,
                camp.name,
                "contacted",
                "",
                "",
                c.offer,
                c.channel,
                c.score,
                camp.cost_per_contact,
            )
            profile.ledger.append(LedgerEntry(now, c.channel, c.campaign, KIND, c.offer))
        out.extend(results[c.name] for c in camps)
    return out


def _minutes(span: timedelta) -> str:
    """A span as people say it: '42 min', '3 h 05 min'."""
    total = int(span.total_seconds() // 60)
    hours, minutes = divmod(total, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _before_policy(
    camp: CampaignLike,
    row: Mapping[str, Any],
    profile: Profile,
    points: Mapping[str, str],
    consents: Mapping[str, str],
    candidates: list[Candidate],
) -> CampaignOutcome | None:
    """Eligibility, exclusions and control group; adds the campaign's candidates, or says
    why it has none."""

    def stop(outcome: str, reason: str, key: str) -> CampaignOutcome:
        return CampaignOutcome(camp.program, camp.name, outcome, reason, key)

    if camp.rule is not None and not camp.rule(row):
        return stop("not_eligible", "the campaign's rule does not hold", "campaign rule")
    offers = [o for o in camp.offers if o.rule is None or o.rule(row)]
    if not offers:
        return stop("not_eligible", "no offer of the campaign is eligible", "no eligible offer")
    reachable = []
    reasons = []
    for ch in camp.channels:
        why = reach_reason(ch, profile.lists, row, points, consents)
        if why is None:
            reachable.append(ch)
        else:
            reasons.append(why)
    if not reachable:
        why = "; ".join(dict.fromkeys(reasons))
        return stop("excluded", why, why)
    customer = str(profile.row.get("id"))
    if camp.control_share > 0 and is_held_out(customer, camp.name, camp.control_share):
        return stop("held_out", f"in the control group ({camp.control_share:.0%})", "")
    score = _score(camp, row)
    for o in offers:
        for ch in reachable:
            candidates.append(Candidate(camp.name, KIND, o.code, ch, camp.priority, score, o.value))
    return None
