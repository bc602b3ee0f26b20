"""The monitoring dashboard's figures: how every campaign and channel is doing.

For a range of days (UTC), per campaign: contacts planned (decided), executed
(sent), delivered, failed, held out, the customers' responses, orders booked and
their revenue, leads opened, the cost spent against the budget, and the program's
status; the same by channel, by offer and per day. Each figure counts what
happened in the range on its own clock: a contact is planned on the day it was
decided and executed on the day it was sent, a response on the day it came in.

The figures come from the rollup the database keeps as the records are written
(``daily_figures``: see :mod:`tactica.store.daily_figures`): a range costs a few
grouped reads of a few rows per campaign and day, however long the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.errors import InvalidInput
from tactica.store import daily_figures
from tactica.store.models import Campaign, DailyFigures, Program, daily_figures_delta

#: The longest range a dashboard shows at once, in days.
LONGEST_RANGE_DAYS = 3660

#: The measures of a campaign, a channel, an offer or a day, in the order shown.
MEASURES = (
    "planned",
    "sent",
    "delivered",
    "failed",
    "held_out",
    "responses",
    "orders",
    "revenue",
    "leads",
    "cost",
)


@dataclass
class Figures:
    """The measures of one row of the dashboard (a campaign, a channel, an offer, a day)."""

    planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    held_out: int = 0
    responses: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0")
    leads: int = 0
    cost: Decimal = Decimal("0")

    def add(self, other: Figures) -> None:
        """Add ``other``'s measures to these."""
        for name in MEASURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def response_rate(self) -> float | None:
        """Responses per contact sent in the range (None before anything was sent)."""
        return self.responses / self.sent if self.sent else None


@dataclass
class CampaignRow:
    """A campaign's figures, its program's status and its budget."""

    program: str
    campaign: str
    status: str
    budget: Decimal | None
    figures: Figures = field(default_factory=Figures)

    @property
    def budget_used(self) -> float | None:
        """The share of the budget the range's cost took (None without a budget)."""
        if not self.budget:
            return None
        return float(self.figures.cost / self.budget)


@dataclass
class Dashboard:
    """Everything the dashboard shows for one range of days."""

    start: date
    end: date
    campaigns: list[CampaignRow]
    channels: dict[str, Figures]
    offers: dict[str, Figures]
    days: dict[date, Figures]
    total: Figures


def check_range(start: date, end: date) -> None:
    """Refuse a range that ends before it starts or is longer than we show at once."""
    if end < start:
        raise InvalidInput(f"the range ends ({end}) before it starts ({start})", where="to")
    if (end - start).days + 1 > LONGEST_RANGE_DAYS:
        raise InvalidInput(
            f"a range of at most {LONGEST_RANGE_DAYS} days, not {(end - start).days + 1}",
            where="from",
        )


def _counts(session: Session, by: str, start: date, end: date) -> Iterable[tuple[Any, str, Any]]:
    """(key, measure, value) for every measure, grouped ``by`` campaign, channel, offer or day.

    Sums the rollup (``daily_figures``) over the range's days. A campaign's key is
    (program, campaign); a day's is its 'YYYY-MM-DD' text. A key the records left
    empty (a response nobody's campaign, an order without a contact) is None.
    """
    cols = [*daily_figures.KEYS, *MEASURES]
    rolled = sa.union_all(
        sa.select(*[getattr(DailyFigures, c) for c in cols]),
        sa.select(*[daily_figures_delta.c[c] for c in cols]),
    ).subquery("figures")
    keys = {
        "campaign": [rolled.c.program, rolled.c.campaign],
        "day": [rolled.c.day],
        "channel": [rolled.c.channel],
        "offer": [rolled.c.offer],
    }[by]
    stmt = (
        sa.select(*keys, *[sa.func.sum(rolled.c[m]) for m in MEASURES])
        .where(rolled.c.day >= start.isoformat(), rolled.c.day <= end.isoformat())
        .group_by(*keys)
    )
    out: list[tuple[Any, str, Any]] = []
    for row in session.execute(stmt):
        parts = tuple(k or None for k in row[: len(keys)])
        k = parts if len(parts) > 1 else parts[0]
        if k is None or (isinstance(k, tuple) and None in k):
            continue
        for i, name in enumerate(MEASURES):
            out.append((k, name, row[len(keys) + i]))
    return out


_CENT = Decimal("0.01")
_COST_PLACES = Decimal("0.0001")


def _fold(rows: Iterable[tuple[Any, str, Any]]) -> dict[Any, Figures]:
    folded: dict[Any, Figures] = {}
    for k, name, value in rows:
        if k is None:
            continue  # a response or an order nobody's campaign: counted in no row
        f = folded.setdefault(k, Figures())
        current = getattr(f, name)
        if isinstance(current, Decimal):
            # Revenue in cents, as orders hold it; cost to the hundredth of a cent.
            places = _CENT if name == "revenue" else _COST_PLACES
            setattr(f, name, (current + Decimal(str(value or 0))).quantize(places))
        else:
            setattr(f, name, current + int(value or 0))
    return folded


def dashboard(session: Session, start: date, end: date) -> Dashboard:
    """The dashboard for the days ``start`` to ``end`` (both included, UTC).

    On PostgreSQL it first folds the rollup's pending deltas (and commits that), so
    they do not pile up; it reads the rollup and any deltas still pending alike.
    """
    check_range(start, end)
    if session.get_bind().dialect.name == "postgresql":
        daily_figures.fold(session)
        session.commit()
    by_campaign = _fold(_counts(session, "campaign", start, end))
    known = {
        (p, c): (status, budget)
        for p, c, status, budget in session.execute(
            sa.select(Program.name, Campaign.name, Program.status, Campaign.budget)
            .join(Campaign, Campaign.program_id == Program.id)
            .order_by(Program.name, Campaign.position)
        )
    }
    campaigns: list[CampaignRow] = []
    for (p, c), (status, budget) in known.items():
        campaigns.append(CampaignRow(p, c, status, budget, by_campaign.pop((p, c), Figures())))
    for (p, c), figures in sorted(by_campaign.items()):
        # Contacts of a campaign since deleted or renamed still count.
        campaigns.append(CampaignRow(p, c, "deleted", None, figures))
    total = Figures()
    for row in campaigns:
        total.add(row.figures)
    days = {date.fromisoformat(k): v for k, v in _fold(_counts(session, "day", start, end)).items()}
    every_day = {
        start + timedelta(days=i): days.get(start + timedelta(days=i), Figures())
        for i in range((end - start).days + 1)
    }
    return Dashboard(
        start=start,
        end=end,
        campaigns=campaigns,
        channels=dict(sorted(_fold(_counts(session, "channel", start, end)).items())),
        offers=dict(sorted(_fold(_counts(session, "offer", start, end)).items())),
        days=every_day,
        total=total,
    )
