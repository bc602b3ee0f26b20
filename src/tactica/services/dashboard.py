"""The monitoring dashboard's figures: how every campaign and channel is doing.

For a range of days (UTC), per campaign: contacts planned (decided), executed
(sent), delivered, failed, held out, the customers' responses, orders booked and
their revenue, leads opened, the cost spent against the budget, and the program's
status; the same by channel, by offer and per day. Each figure counts what
happened in the range on its own clock: a contact is planned on the day it was
decided and executed on the day it was sent, a response on the day it came in.

Every figure is one set-based query over an indexed time column, grouped in the
database; nothing is read row by row into Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.errors import InvalidInput
from tactica.services.orders import BOOKED
from tactica.store.models import Campaign, Contact, HeldOut, Lead, Order, Program, Response

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


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(
        end + timedelta(days=1), time(), UTC
    )


def _day(session: Session, column: Any) -> Any:
    """The UTC day of a timestamp column, as 'YYYY-MM-DD' text, in the database."""
    if session.get_bind().dialect.name == "sqlite":
        # Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return sa.func.substr(column, 1, 10)
    return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")


def _within(column: Any, low: datetime, high: datetime) -> Any:
    return sa.and_(column >= low, column < high)


def _counts(
    session: Session,
    by: str,
    low: datetime,
    high: datetime,
) -> Iterable[tuple[Any, str, Any]]:
    """(key, measure, value) for every measure, grouped ``by`` campaign, channel, offer or day.

    A campaign's key is (program, campaign); a day's is its 'YYYY-MM-DD' text.
    """

    def key(table: Any, when: Any) -> list[Any]:
        if by == "campaign":
            return [table.program, table.campaign]
        if by == "day":
            return [_day(session, when)]
        return [getattr(table, by)]

    def grouped(measures: dict[str, Any], table: Any, when: Any, *where: Any) -> None:
        cols = key(table, when)
        stmt = (
            sa.select(*cols, *[m.label(n) for n, m in measures.items()])
            .where(_within(when, low, high), *where)
            .group_by(*cols)
        )
        for row in session.execute(stmt):
            k = tuple(row[: len(cols)]) if len(cols) > 1 else row[0]
            for i, name in enumerate(measures):
                out.append((k, name, row[len(cols) + i]))

    out: list[tuple[Any, str, Any]] = []
    count = sa.func.count()
    grouped(
        {
            "planned": count,
            "failed": sa.func.sum(sa.case((Contact.status == "failed", 1), else_=0)),
        },
        Contact,
        Contact.decided_at,
    )
    grouped(
        {"sent": count, "cost": sa.func.sum(sa.func.coalesce(Contact.spent, Contact.cost))},
        Contact,
        Contact.sent_at,
    )
    grouped({"delivered": count}, Contact, Contact.delivered_at)
    grouped({"held_out": count}, HeldOut, HeldOut.decided_at)
    grouped({"responses": count}, Response, Response.received_at)
    if by != "channel":
        grouped(
            {"orders": count, "revenue": sa.func.sum(Order.amount)},
            Order,
            Order.created_at,
            Order.status == BOOKED,
        )
        grouped({"leads": count}, Lead, Lead.created_at)
    else:
        # Orders and leads carry no channel: the contact they answer does.
        through: list[tuple[Any, dict[str, Any], list[Any]]] = [
            (
                Order,
                {"orders": count, "revenue": sa.func.sum(Order.amount)},
                [Order.status == BOOKED],
            ),
            (Lead, {"leads": count}, []),
        ]
        for table, measures, where in through:
            stmt = (
                sa.select(Contact.channel, *[m.label(n) for n, m in measures.items()])
                .select_from(table)
                .join(Contact, Contact.id == table.contact_id)
                .where(_within(table.created_at, low, high), *where)
                .group_by(Contact.channel)
            )
            for row in session.execute(stmt):
                for i, name in enumerate(measures):
                    out.append((row[0], name, row[1 + i]))
    return out


def _fold(rows: Iterable[tuple[Any, str, Any]]) -> dict[Any, Figures]:
    folded: dict[Any, Figures] = {}
    for k, name, value in rows:
        if k is None:
            continue  # a response or an order nobody's campaign: counted in no row
        f = folded.setdefault(k, Figures())
        current = getattr(f, name)
        if isinstance(current, Decimal):
            setattr(f, name, current + Decimal(str(value or 0)))
        else:
            setattr(f, name, current + int(value or 0))
    return folded


def dashboard(session: Session, start: date, end: date) -> Dashboard:
    """The dashboard for the days ``start`` to ``end`` (both included, UTC)."""
    check_range(start, end)
    low, high = _bounds(start, end)
    by_campaign = _fold(_counts(session, "campaign", low, high))
    by_campaign = {k: v for k, v in by_campaign.items() if None not in k}
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
    days = {date.fromisoformat(k): v for k, v in _fold(_counts(session, "day", low, high)).items()}
    every_day = {
        start + timedelta(days=i): days.get(start + timedelta(days=i), Figures())
        for i in range((end - start).days + 1)
    }
    return Dashboard(
        start=start,
        end=end,
        campaigns=campaigns,
        channels=dict(sorted(_fold(_counts(session, "channel", low, high)).items())),
        offers=dict(sorted(_fold(_counts(session, "offer", low, high)).items())),
        days=every_day,
        total=total,
    )
