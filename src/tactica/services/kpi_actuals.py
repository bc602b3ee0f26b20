"""The measures KPIs are defined over, computed for a period and a scope from the records.

Contacts, replies, leads, orders, revenue and cost come from the dashboard's rollup
(``daily_figures``: a few rows per campaign and day, whatever the size of the
history); new customers and buyers from the booked orders; activities from the sales
activities; the market size from what people entered. Every measure is one
set-based query per period, never a row at a time.

A scope narrows the figures to a ``program``, ``campaign``, ``channel``, ``offer``,
``product`` (the offers of that product) or ``rep`` (the leads a rep holds, their
orders and activities). What a scope cannot attribute is not shown as zero: contacts
are not made by a rep, so ``sent`` for a rep has no value and says why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.kpis import MEASURE_NAMES
from tactica.domain.periods import Period
from tactica.errors import InvalidInput
from tactica.store.models import (
    Activity,
    Contact,
    DailyFigures,
    Lead,
    MarketSize,
    Offer,
    Order,
    daily_figures_delta,
)

_S = TypeVar("_S", bound="sa.Select[*tuple[Any, ...]]")

SCOPE_KEYS = ("program", "campaign", "channel", "offer", "product", "rep")
#: Measures summed from the rollup.
ROLLUP = ("planned", "sent", "delivered", "failed", "held_out", "responses", "leads", "orders")
ROLLUP_MONEY = ("revenue", "cost")
#: Measures a rep's scope can attribute (through the leads they hold).
BY_REP = frozenset(
    {"leads", "orders", "revenue", "new_customers", "buyers", "activities", "activity_cost"}
)


@dataclass
class Measures:
    """Measure values for one period and scope; ``why_not`` says why a measure has none."""

    values: dict[str, Any] = field(default_factory=dict)
    why_not: dict[str, str] = field(default_factory=dict)


def check_scope(scope: Mapping[str, Any], where: str = "scope") -> dict[str, str]:
    """The scope with its keys checked (known keys, non-empty text values)."""
    out: dict[str, str] = {}
    for key, value in scope.items():
        if key not in SCOPE_KEYS:
            raise InvalidInput(f"unknown key {key!r}; a scope takes {', '.join(SCOPE_KEYS)}", where)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidInput("a name of 1 to 200 characters", f"{where}.{key}")
        out[key] = value.strip()
    return out


@dataclass(frozen=True)
class Span:
    """The days ``[start, end)`` of a period that the figures cover (to date, or whole)."""

    period: Period
    start: date
    end: date

    @classmethod
    def of(cls, period: Period, until: date | None = None) -> Span:
        """``period`` up to the end of ``until`` (its whole length when None or later)."""
        end = period.end if until is None else min(period.end, until + timedelta(days=1))
        return cls(period, period.start, max(end, period.start))

    @property
    def share(self) -> float:
        """The part of the period covered."""
        return (self.end - self.start).days / self.period.days


def _bounds(span: Span) -> tuple[datetime, datetime]:
    start = datetime(span.start.year, span.start.month, span.start.day, tzinfo=UTC)
    end = datetime(span.end.year, span.end.month, span.end.day, tzinfo=UTC)
    return start, end


def _offers_of(session: Session, product: str) -> list[str]:
    return list(session.scalars(sa.select(Offer.code).where(Offer.product == product)))


def _rollup(session: Session, span: Span, scope: Mapping[str, str]) -> dict[str, Any]:
    cols = ["day", "program", "campaign", "channel", "offer", *ROLLUP, *ROLLUP_MONEY]
    rolled = sa.union_all(
        sa.select(*[getattr(DailyFigures, c) for c in cols]),
        sa.select(*[daily_figures_delta.c[c] for c in cols]),
    ).subquery("figures")
    stmt = sa.select(*[sa.func.coalesce(sa.func.sum(rolled.c[m]), 0) for m in cols[5:]]).where(
        rolled.c.day >= span.start.isoformat(),
        rolled.c.day < span.end.isoformat(),
    )
    for key in ("program", "campaign", "channel", "offer"):
        if key in scope:
            stmt = stmt.where(rolled.c[key] == scope[key])
    if "product" in scope:
        stmt = stmt.where(rolled.c.offer.in_(_offers_of(session, scope["product"])))
    row = session.execute(stmt).one()
    out: dict[str, Any] = {m: int(v) for m, v in zip(ROLLUP, row, strict=False)}
    for m, v in zip(ROLLUP_MONEY, row[len(ROLLUP) :], strict=True):
        out[m] = Decimal(str(v)).quantize(Decimal("0.01"))
    return out


def _order_filters(session: Session, stmt: _S, scope: Mapping[str, str]) -> _S:
    """``stmt`` over orders narrowed to the scope (channel: the contact's; rep: the lead's)."""
    for key in ("program", "campaign", "offer"):
        if key in scope:
            stmt = stmt.where(getattr(Order, key) == scope[key])
    if "product" in scope:
        stmt = stmt.where(Order.offer.in_(_offers_of(session, scope["product"])))
    if "channel" in scope:
        stmt = stmt.where(
            Order.contact_id.in_(sa.select(Contact.id).where(Contact.channel == scope["channel"]))
        )
    if "rep" in scope:
        stmt = stmt.where(Order.lead_id.in_(sa.select(Lead.id).where(Lead.rep == scope["rep"])))
    return stmt


def _orders_by_rep(session: Session, span: Span, scope: Mapping[str, str]) -> dict[str, Any]:
    start, end = _bounds(span)
    stmt = _order_filters(
        session,
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Order.amount), 0)).where(
            Order.status == "booked", Order.created_at >= start, Order.created_at < end
        ),
        scope,
    )
    orders, revenue = session.execute(stmt).one()
    leads = (
        sa.select(sa.func.count())
        .select_from(Lead)
        .where(Lead.rep == scope["rep"], Lead.created_at >= start, Lead.created_at < end)
    )
    for key in ("program", "campaign", "offer"):
        if key in scope:
            leads = leads.where(getattr(Lead, key) == scope[key])
    if "product" in scope:
        leads = leads.where(Lead.offer.in_(_offers_of(session, scope["product"])))
    return {
        "orders": int(orders),
        "revenue": Decimal(str(revenue)).quantize(Decimal("0.01")),
        "leads": int(session.scalar(leads) or 0),
    }


def _customers(session: Session, span: Span, scope: Mapping[str, str]) -> dict[str, int]:
    """Buyers in the period, and new customers: those whose first booked order ever is in
    the period and in the scope."""
    start, end = _bounds(span)
    booked = Order.status == "booked"
    buyers = _order_filters(
        session,
        sa.select(sa.func.count(sa.distinct(Order.customer_id))).where(
            booked, Order.created_at >= start, Order.created_at < end
        ),
        scope,
    )
    first = (
        sa.select(Order.customer_id, sa.func.min(Order.created_at).label("first_at"))
        .where(booked)
        .group_by(Order.customer_id)
        .subquery("first_orders")
    )
    new = _order_filters(
        session,
        sa.select(sa.func.count(sa.distinct(Order.customer_id)))
        .join(
            first,
            sa.and_(first.c.customer_id == Order.customer_id, first.c.first_at == Order.created_at),
        )
        .where(booked, Order.created_at >= start, Order.created_at < end),
        scope,
    )
    return {
        "buyers": int(session.scalar(buyers) or 0),
        "new_customers": int(session.scalar(new) or 0),
    }


def _activities(session: Session, span: Span, scope: Mapping[str, str]) -> dict[str, Any]:
    start, end = _bounds(span)
    stmt = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Activity.cost), 0)).where(
        Activity.at >= start, Activity.at < end
    )
    if "rep" in scope:
        stmt = stmt.where(Activity.rep == scope["rep"])
    leads = sa.select(Lead.id)
    narrowed = False
    for key in ("program", "campaign", "offer"):
        if key in scope:
            leads, narrowed = leads.where(getattr(Lead, key) == scope[key]), True
    if "product" in scope:
        leads = leads.where(Lead.offer.in_(_offers_of(session, scope["product"])))
        narrowed = True
    if "channel" in scope:
        leads = leads.where(
            Lead.contact_id.in_(sa.select(Contact.id).where(Contact.channel == scope["channel"]))
        )
        narrowed = True
    if narrowed:
        stmt = stmt.where(Activity.lead_id.in_(leads))
    count, cost = session.execute(stmt).one()
    return {
        "activities": int(count),
        "activity_cost": Decimal(str(cost)).quantize(Decimal("0.01")),
    }


def market_size(session: Session, period: Period, scope: Mapping[str, str]) -> Decimal | None:
    """The market size entered for the period (of the scope's product, else the whole
    market); None when nobody entered it."""
    market = scope.get("product", "")
    size = session.scalar(
        sa.select(MarketSize.size).where(
            MarketSize.period == period.label, MarketSize.market == market
        )
    )
    return None if size is None else Decimal(size)


#: Figures already read in one reading of the plan: (source, span, scope) → values.
Cache = dict[tuple[str, "Span", frozenset[tuple[str, str]]], dict[str, Any]]


def measures(
    session: Session,
    span: Span,
    scope: Mapping[str, str],
    names: Collection[str],
    cache: Cache | None = None,
) -> Measures:
    """The ``names`` measures over ``span`` within ``scope`` (only those asked are computed).

    The market size is the one entered for the span's period, pro rata to the part of
    the period the span covers (a market share to date compares like with like).
    ``cache``, shared by the goals of one plan, reads each source once per span and scope.
    """
    period = span.period
    memo: Cache = {} if cache is None else cache
    key = frozenset(scope.items())

    def read(source: str, compute: Any) -> dict[str, Any]:
        if (source, span, key) not in memo:
            memo[(source, span, key)] = compute(session, span, scope)
        return memo[(source, span, key)]

    wanted = set(names)
    unknown = wanted - set(MEASURE_NAMES)
    if unknown:
        raise InvalidInput(f"unknown measures {sorted(unknown)}", "measures")
    out = Measures()
    by_rep = "rep" in scope
    if by_rep:
        for name in sorted(wanted - BY_REP):
            out.why_not[name] = (
                f"{name} is not attributed to a rep (only {', '.join(sorted(BY_REP))})"
            )
    rollup = set(ROLLUP) | set(ROLLUP_MONEY)
    if wanted & rollup:
        if by_rep:
            if wanted & {"leads", "orders", "revenue"}:
                out.values.update(read("orders_by_rep", _orders_by_rep))
        else:
            out.values.update(read("rollup", _rollup))
    if wanted & {"new_customers", "buyers"}:
        out.values.update(read("customers", _customers))
    if wanted & {"activities", "activity_cost"}:
        out.values.update(read("activities", _activities))
    if "market_size" in wanted:
        size = market_size(session, period, scope)
        if size is None:
            market = f"product {scope['product']!r}" if "product" in scope else "the whole market"
            out.why_not["market_size"] = f"no market size entered for {period.label} ({market})"
        else:
            out.values["market_size"] = size * Decimal(str(span.share))
    out.values = {k: v for k, v in out.values.items() if k in wanted and k not in out.why_not}
    return out
