"""KPIs: what a quantitative objective measures, defined over the figures Tactica records.

A KPI's *definition* is an expression of the rule language over **measures** — sums
over a period of what the store already holds (contacts sent, replies, orders,
revenue, cost...) — e.g. ``responses / delivered`` for the response rate. Each measure
also exists for the period before (``previous_revenue``) and the same period a year
earlier (``last_year_revenue``), so growth is ``revenue / last_year_revenue - 1``.

The named KPIs below are the ones marketing plans use; an objective may instead carry
its own definition, checked the same way. A definition that cannot be computed for
a period (nothing delivered to divide by, no market size entered) says why instead of
showing a number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from tactica.domain.rules import Binary, CheckedRule, Literal, Name, PyContext, Unary, walk
from tactica.domain.rules.compile import compile_rule
from tactica.domain.schema import FieldType
from tactica.errors import RuleError


@dataclass(frozen=True)
class Measure:
    """A sum Tactica computes for a period and scope: its name and what it counts."""

    name: str
    means: str
    #: Money (shown with two decimals) rather than a count.
    money: bool = False


#: The measures, by where they come from.
MEASURES: tuple[Measure, ...] = (
    Measure("planned", "contacts decided in the period (sent or waiting)"),
    Measure("sent", "contacts sent"),
    Measure("delivered", "contacts confirmed delivered"),
    Measure("failed", "contacts that failed"),
    Measure("held_out", "control-group members held out"),
    Measure("responses", "customer replies received"),
    Measure("leads", "leads opened"),
    Measure("orders", "orders booked"),
    Measure("revenue", "amount of the orders booked", money=True),
    Measure("cost", "cost of the contacts sent", money=True),
    Measure("new_customers", "customers whose first booked order falls in the period"),
    Measure("buyers", "customers with at least one order booked in the period"),
    Measure("activities", "sales activities logged (calls, visits, meetings, e-mails)"),
    Measure("activity_cost", "cost of those activities", money=True),
    Measure("market_size", "the market's size entered for the period (same unit as revenue)"),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)
#: Prefixes that move a measure to another period.
SHIFTS = {"previous_": "the period before", "last_year_": "the same period a year earlier"}


def _all_names() -> dict[str, FieldType]:
    names = {}
    for m in MEASURE_NAMES:
        names[m] = FieldType.FLOAT
        for prefix in SHIFTS:
            names[prefix + m] = FieldType.FLOAT
    return names


#: Every name a definition may use, as the rule checker sees them.
KPI_NAMES: dict[str, FieldType] = _all_names()


@dataclass(frozen=True)
class Kpi:
    """A named KPI: its definition and whether a higher value is the better one."""

    name: str
    definition: str
    means: str
    higher_is_better: bool = True


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("sales", "orders", "orders booked"),
        Kpi("revenue", "revenue", "amount of the orders booked"),
        Kpi("growth_rate", "revenue / last_year_revenue - 1", "revenue against a year before"),
        Kpi("profit", "revenue - cost - activity_cost", "revenue less contact and sales cost"),
        Kpi(
            "profit_rate",
            "(revenue - cost - activity_cost) / revenue",
            "profit per unit of revenue",
        ),
        Kpi(
            "return_rate",
            "(revenue - cost - activity_cost) / (cost + activity_cost)",
            "profit per unit spent on contacts and sales activities",
        ),
        Kpi("new_customers", "new_customers", "customers with their first order"),
        Kpi("market_share", "revenue / market_size", "revenue against the market's size"),
        Kpi("response_rate", "responses / delivered", "replies per contact delivered"),
        Kpi("order_rate", "orders / responses", "orders per reply"),
        Kpi("contacts", "sent", "contacts sent"),
        Kpi("leads", "leads", "leads opened"),
        Kpi("cost", "cost + activity_cost", "contact and sales cost", higher_is_better=False),
        Kpi(
            "cost_per_order",
            "(cost + activity_cost) / orders",
            "what one order cost",
            higher_is_better=False,
        ),
    )
}


@dataclass(frozen=True)
class Definition:
    """A checked KPI definition: the measures it needs, per period shift, and its kind.

    ``additive`` definitions (sums and differences of measures: revenue, orders,
    profit) grow through the period, so their target is expected pro rata; the others
    (rates, shares) are expected whole at any time.
    """

    rule: CheckedRule
    needs: dict[str, frozenset[str]]
    additive: bool

    @property
    def source(self) -> str:
        """The definition as written."""
        return self.rule.source


def check_definition(source: str) -> Definition:
    """Parse and check a KPI definition; :class:`RuleError` says where and what is wrong."""
    try:
        rule = compile_rule(source, KPI_NAMES, segments=(), lists=(), expect=FieldType.FLOAT)
    except RuleError as e:
        # The checker speaks of customer attributes and scores; here they are measures and KPIs.
        raise RuleError(
            [replace(p, message=_in_kpi_words(p.message), snippet=p.snippet) for p in e.problems],
            source,
        ) from None
    needs: dict[str, set[str]] = {"": set(), **{p: set() for p in SHIFTS}}
    for name in rule.fields:
        prefix = next((p for p in SHIFTS if name.startswith(p)), "")
        needs[prefix].add(name.removeprefix(prefix))
    additive = all(
        isinstance(n, Name | Literal | Unary) or (isinstance(n, Binary) and n.op in ("+", "-"))
        for n in walk(rule.ast)
    )
    return Definition(rule, {k: frozenset(v) for k, v in needs.items() if v}, additive)


def _in_kpi_words(message: str) -> str:
    message = message.replace("a score must be a number", "a KPI must be a number")
    message = message.replace("unknown attribute", "unknown measure")
    return (
        message.replace("known attributes:", "known measures:")
        .replace("id, language, ", "")
        .replace(", timezone", "")
    )


@dataclass(frozen=True)
class Value:
    """What a definition gives for one period: a number, or why there is none."""

    value: float | None
    why_not: str | None = None


def evaluate(definition: Definition, measures: dict[str, Any], today: dt.date) -> Value:
    """The definition's value over ``measures`` (name → number, or None when unknown).

    A measure that is unknown (no market size entered) or a division by zero gives no
    value and says which measure is missing or zero.
    """
    missing = sorted(n for n in definition.rule.fields if measures.get(n) is None)
    if missing:
        return Value(None, f"no {', '.join(missing)} for the period")
    row = {n: float(measures[n]) for n in definition.rule.fields}
    value = definition.rule.evaluator(PyContext(as_of=today))(row)
    if value is None:
        below = {
            x.name
            for n in walk(definition.rule.ast)
            if isinstance(n, Binary) and n.op in ("/", "%")
            for x in walk(n.right)
            if isinstance(x, Name)
        }
        zeros = sorted(n for n in below if row[n] == 0)
        why = f"{', '.join(zeros)} {'is' if len(zeros) == 1 else 'are'} 0" if zeros else "undefined"
        return Value(None, f"{why}: nothing to divide by")
    return Value(float(value))
