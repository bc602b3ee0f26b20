"""Capacity: how many of a run's chosen contacts it may make, filled best first.

After policy and arbitration, a run has chosen contacts; three kinds of limit then
decide how many of them go out:

``campaign``  at most N contacts of one campaign in one run (its ``capacity``), and no
              more than what is left of the campaign's budget pays for, counting what
              its earlier runs spent.
``channel``   at most N contacts a day on one channel (the contact policy's
              ``daily_capacity``), counting every contact already decided that day by any
              program. This is how the people downstream are respected: a call centre's
              calls per day is the daily capacity of the ``phone`` channel.
``budget``    the program's contacts cost at most its budget, counting what its earlier
              runs spent.

The limits are applied in that order, each best first, and each to the contacts the
limits before it kept: a contact cut by a later limit does not give its place back to
one an earlier limit cut. "Best first" is one order for the whole run: priority, then
score × offer value, then campaign, offer, channel and customer id, so ties always
break the same way. The budget keeps the best contacts until the money runs out: the
first contact whose cost takes the running total past the budget stops the run there.

This module says, once, what those limits mean; the batch engine computes the same in
SQL, and tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal


def money(amount: Decimal) -> str:
    """An amount as people write it: 0.25, 100, 12.5 (no trailing zeros, no exponent)."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class Chosen:
    """A contact that policy and arbitration chose, before capacity."""

    customer_id: str
    campaign: str
    offer: str
    channel: str
    priority: int = 0
    #: score × offer value, as arbitration ranked it
    strength: float = 0.0
    cost: Decimal = Decimal("0")


def best_first(c: Chosen) -> tuple[int, float, str, str, str, str]:
    """Sort key of the run-wide order in which capacity is filled, best first."""
    return (-c.priority, -c.strength, c.campaign, c.offer, c.channel, c.customer_id)


@dataclass(frozen=True)
class CampaignRoom:
    """How many contacts one campaign may make in this run, and why that many."""

    limit: int | None
    reason: str = ""


def campaign_room(
    capacity: int | None,
    budget: Decimal | None,
    spent: Decimal,
    cost_per_contact: Decimal,
) -> CampaignRoom:
    """A campaign's room: its per-run capacity, and what is left of its budget pays for."""
    room = CampaignRoom(capacity, f"campaign capacity {capacity} per run")
    if budget is None or cost_per_contact <= 0:
        return room if capacity is not None else CampaignRoom(None)
    left = max(budget - spent, Decimal("0"))
    affordable = int(left // cost_per_contact)
    if capacity is not None and capacity <= affordable:
        return room
    return CampaignRoom(
        affordable,
        f"campaign budget {money(budget)} ({money(spent)} spent before this run, "
        f"room for {affordable} at {money(cost_per_contact)} each)",
    )


@dataclass(frozen=True)
class ChannelRoom:
    """How many more contacts a channel takes today, and why."""

    channel: str
    per_day: int
    used: int

    @property
    def left(self) -> int:
        """Contacts the channel still takes today."""
        return max(self.per_day - self.used, 0)

    @property
    def reason(self) -> str:
        """Words for a contact this limit cut."""
        return (
            f"channel {self.channel} daily capacity {self.per_day} "
            f"({self.used} already decided today)"
        )


@dataclass(frozen=True)
class BudgetRoom:
    """What is left of the program's budget."""

    budget: Decimal
    spent: Decimal

    @property
    def left(self) -> Decimal:
        """Money the program may still spend."""
        return self.budget - self.spent

    @property
    def reason(self) -> str:
        """Words for a contact this limit cut."""
        return f"program budget {money(self.budget)} ({money(self.spent)} spent before this run)"


@dataclass(frozen=True)
class Limits:
    """Every capacity limit of one run; a campaign or channel not named is unlimited."""

    campaigns: Mapping[str, CampaignRoom]
    channels: Mapping[str, ChannelRoom]
    budget: BudgetRoom | None = None


def allocate(chosen: Sequence[Chosen], limits: Limits) -> list[tuple[Chosen, str | None]]:
    """Apply the limits best first: every chosen contact with None (kept) or the cut reason.

    The result is in the run-wide best-first order and does not depend on the order the
    contacts came in.
    """
    ordered = sorted(chosen, key=best_first)
    cut: dict[int, str] = {}
    taken: dict[str, int] = {}
    for i, c in enumerate(ordered):
        room = limits.campaigns.get(c.campaign)
        if room is None or room.limit is None:
            continue
        taken[c.campaign] = taken.get(c.campaign, 0) + 1
        if taken[c.campaign] > room.limit:
            cut[i] = room.reason
    used: dict[str, int] = {}
    for i, c in enumerate(ordered):
        ch = limits.channels.get(c.channel)
        if i in cut or ch is None:
            continue
        used[c.channel] = used.get(c.channel, 0) + 1
        if used[c.channel] > ch.left:
            cut[i] = ch.reason
    if limits.budget is not None:
        total = Decimal("0")
        for i, c in enumerate(ordered):
            if i in cut:
                continue
            total += c.cost
            if total > limits.budget.left:
                cut[i] = limits.budget.reason
    return [(c, cut.get(i)) for i, c in enumerate(ordered)]
