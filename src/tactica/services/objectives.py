"""Objectives: the year's goals per team, person and period, and plan against actual.

A quantitative objective names a KPI (see :mod:`tactica.domain.kpis`) or writes its
own definition, sets a target for a period (``2026``, ``2026-Q3``, ``2026-11``...)
and a scope; its actual is computed from the records whenever it is read, so it is
never out of date. A qualitative one (done on time, at quality) is scored by its
reviewer on a scale. Objectives break down: a quarter's goal names the year's as its
parent and lies within its period.

:func:`plan_vs_actual` is the annual-plan view: for each objective the target, the
actual, what was expected by today (pro rata for sums, whole for rates), the
variance, the projection to the period's end and a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.kpis import KPIS, SHIFTS, Value, check_definition, evaluate
from tactica.domain.periods import Period, parse_period
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import audit, kpi_actuals
from tactica.store.models import MarketSize, Objective, Plan, Team, User

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
KINDS = ("quantitative", "qualitative")
#: A projection within this share of the target is "at risk" rather than "behind".
AT_RISK = 0.9
MAX_TARGET = Decimal("1e14")


@dataclass(frozen=True)
class ObjectiveInput:
    """An objective as written. ``kpi`` names a KPI of the catalog, or ``custom`` with
    a ``definition``; a qualitative objective's ``target`` is the score aimed for."""

    name: str
    period: str
    target: Decimal | int | float | str
    kind: str = "quantitative"
    kpi: str = "custom"
    definition: str = ""
    title: str = ""
    higher_is_better: bool | None = None
    scope: dict[str, str] = field(default_factory=dict)
    owner_team: str | None = None
    owner: str | None = None
    parent: str | None = None
    weight: Decimal | int | float | str = 1
    reviewer: str | None = None
    scale_max: int = 5


def _decimal(value: Any, where: str, *, low: Decimal, high: Decimal) -> Decimal:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{value!r} is not a number", where) from None
    if not d.is_finite() or not low <= d <= high:
        raise InvalidInput(f"{value} is outside {low}–{high}", where)
    return d


def _resolve(data: ObjectiveInput) -> tuple[str, str, bool]:
    """(kpi, definition, higher_is_better) after the catalog fills what it names."""
    if data.kind == "qualitative":
        return "qualitative", "", True if data.higher_is_better is None else data.higher_is_better
    if data.kpi != "custom":
        kpi = KPIS.get(data.kpi)
        if kpi is None:
            raise InvalidInput(
                f"unknown KPI {data.kpi!r}; KPIs: {', '.join(KPIS)} (or custom with a definition)",
                "kpi",
            )
        if data.definition and data.definition.strip() != kpi.definition:
            raise InvalidInput(
                f"KPI {kpi.name!r} is defined as {kpi.definition!r}: use kpi 'custom' to write "
                "another definition",
                "definition",
            )
        better = kpi.higher_is_better if data.higher_is_better is None else data.higher_is_better
        return kpi.name, kpi.definition, better
    if not data.definition.strip():
        raise InvalidInput("a custom KPI needs a definition, e.g. 'responses / delivered'", "kpi")
    return (
        "custom",
        data.definition.strip(),
        (True if data.higher_is_better is None else data.higher_is_better),
    )


def _check(session: Session, data: ObjectiveInput) -> tuple[Period, dict[str, Any]]:
    """The period and the columns of a valid objective; InvalidInput names the field."""
    if not _NAME.match(data.name):
        raise InvalidInput(f"{data.name!r}: letters, digits, '.', '-' and '_', at most 100", "name")
    if data.kind not in KINDS:
        raise InvalidInput(f"{data.kind!r} is not one of {', '.join(KINDS)}", "kind")
    period = parse_period(data.period)
    kpi, definition, better = _resolve(data)
    if definition:
        try:
            check_definition(definition)
        except InvalidInput as e:
            raise InvalidInput(e.detail, "definition") from e
    scope = kpi_actuals.check_scope(data.scope)
    if data.kind == "qualitative":
        if not 2 <= data.scale_max <= 100:
            raise InvalidInput("a scale of 2 to 100 points", "scale_max")
        target = _decimal(data.target, "target", low=Decimal(1), high=Decimal(data.scale_max))
        if scope:
            raise InvalidInput("a qualitative objective is scored, not computed: no scope", "scope")
    else:
        target = _decimal(data.target, "target", low=-MAX_TARGET, high=MAX_TARGET)
    if not data.owner_team and not data.owner:
        raise InvalidInput("an objective is owned by a team or a person: name one", "owner")
    if (
        data.owner_team
        and session.scalar(sa.select(Team.id).where(Team.name == data.owner_team)) is None
    ):
        raise InvalidInput(f"no team {data.owner_team!r}", "owner_team")
    for where, username in (("owner", data.owner), ("reviewer", data.reviewer)):
        if username and session.scalar(sa.select(User.id).where(User.username == username)) is None:
            raise InvalidInput(f"no user {username!r}", where)
    if data.parent:
        parent = session.scalar(sa.select(Objective).where(Objective.name == data.parent))
        if parent is None:
            raise InvalidInput(f"no objective {data.parent!r}", "parent")
        if parent.name == data.name:
            raise InvalidInput("an objective cannot break down itself", "parent")
        if not (parent.starts_on <= period.start and period.end <= parent.ends_on):
            raise InvalidInput(
                f"{period.label} is not within {parent.name!r}'s period {parent.period}", "period"
            )
    if len(data.title) > 200:
        raise InvalidInput("at most 200 characters", "title")
    weight = _decimal(data.weight, "weight", low=Decimal(0), high=Decimal(1000))
    return period, {
        "title": data.title,
        "kind": data.kind,
        "kpi": kpi,
        "definition": definition,
        "higher_is_better": better,
        "period": period.label,
        "period_kind": period.kind.value,
        "starts_on": period.start,
        "ends_on": period.end,
        "target": target,
        "scope": scope,
        "owner_team": data.owner_team or None,
        "owner": data.owner or None,
        "parent": data.parent or None,
        "weight": weight,
        "reviewer": data.reviewer or None,
        "scale_max": data.scale_max if data.kind == "qualitative" else 5,
    }


def plain(d: Decimal) -> Decimal:
    """``d`` without trailing zeros and never in exponent form (120000, not 1.2E+5)."""
    n = d.normalize()
    return n.quantize(Decimal(1)) if n == n.to_integral_value() else n


def objective_view(o: Objective) -> dict[str, Any]:
    """An objective as written (no actual): what the API returns and ``export`` writes."""
    return {
        "name": o.name,
        "title": o.title,
        "kind": o.kind,
        "kpi": o.kpi,
        "definition": o.definition,
        "higher_is_better": o.higher_is_better,
        "period": o.period,
        "target": plain(o.target) if o.target is not None else None,
        "scope": dict(o.scope or {}),
        "owner_team": o.owner_team,
        "owner": o.owner,
        "parent": o.parent,
        "weight": plain(o.weight),
        "reviewer": o.reviewer,
        "scale_max": o.scale_max,
        "score": o.score,
        "assessment_note": o.assessment_note,
        "assessed_by": o.assessed_by,
        "assessed_at": o.assessed_at.astimezone(UTC).isoformat() if o.assessed_at else None,
    }


def get_objective(session: Session, name: str) -> Objective:
    """The objective called ``name``, or NotFound."""
    o = session.scalar(sa.select(Objective).where(Objective.name == name))
    if o is None:
        raise NotFound(f"no objective {name!r}")
    return o


def create_objective(session: Session, data: ObjectiveInput, *, actor: str) -> Objective:
    """Set a new objective; Conflict when the name is taken."""
    _, cols = _check(session, data)
    if session.scalar(sa.select(Objective.id).where(Objective.name == data.name)) is not None:
        raise Conflict(f"objective {data.name!r} exists already")
    o = Objective(name=data.name, created_by=actor, assessment_note="", **cols)
    session.add(o)
    session.flush()
    audit.record(session, actor, "objective.create", "objective", o.name, after=objective_view(o))
    return o


def update_objective(session: Session, data: ObjectiveInput, *, actor: str) -> Objective:
    """Change an objective (its name stays); a qualitative one keeps its assessment."""
    o = get_objective(session, data.name)
    _, cols = _check(session, data)
    if cols["kind"] != o.kind and o.score is not None:
        raise Conflict(f"objective {o.name!r} has been assessed: its kind cannot change")
    before = objective_view(o)
    for k, v in cols.items():
        setattr(o, k, v)
    session.flush()
    audit.record(session, actor, "objective.update", "objective", o.name, before, objective_view(o))
    return o


def delete_objective(session: Session, name: str, *, actor: str) -> None:
    """Remove an objective; refused while others break it down."""
    o = get_objective(session, name)
    children = session.scalars(sa.select(Objective.name).where(Objective.parent == name)).all()
    if children:
        raise Conflict(f"objective {name!r} is broken down into {', '.join(sorted(children))}")
    served = session.scalars(sa.select(Plan.name).where(Plan.objective == name)).all()
    if served:
        raise Conflict(f"objective {name!r} is served by plans {', '.join(sorted(served))}")
    before = objective_view(o)
    session.delete(o)
    session.flush()
    audit.record(session, actor, "objective.delete", "objective", name, before=before)


def assess(
    session: Session,
    name: str,
    score: Decimal | int | float | str,
    note: str,
    *,
    username: str,
    may_override: bool,
    actor: str,
    now: datetime | None = None,
) -> Objective:
    """Score a qualitative objective on its scale.

    Its reviewer scores it; when it names none, or for someone who may override (an
    admin), anyone allowed to write plans.
    """
    o = get_objective(session, name)
    if o.kind != "qualitative":
        raise Conflict(f"objective {name!r} is computed from the records, not scored")
    if o.reviewer and o.reviewer != username and not may_override:
        raise PermissionDenied(f"objective {name!r} is scored by its reviewer, {o.reviewer}")
    value = _decimal(score, "score", low=Decimal(1), high=Decimal(o.scale_max))
    if len(note) > 10_000:
        raise InvalidInput("at most 10,000 characters", "note")
    before = objective_view(o)
    o.score, o.assessment_note = value, note
    o.assessed_by, o.assessed_at = username, now or datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "objective.assess", "objective", name, before, objective_view(o))
    return o


def list_objectives(
    session: Session,
    *,
    period: str | None = None,
    owner_team: str | None = None,
    owner: str | None = None,
) -> list[Objective]:
    """Objectives, optionally those of periods overlapping ``period`` and of an owner."""
    stmt = sa.select(Objective).order_by(
        Objective.starts_on, Objective.ends_on.desc(), Objective.name
    )
    if period:
        p = parse_period(period)
        stmt = stmt.where(Objective.starts_on < p.end, Objective.ends_on > p.start)
    if owner_team:
        stmt = stmt.where(Objective.owner_team == owner_team)
    if owner:
        stmt = stmt.where(Objective.owner == owner)
    return list(session.scalars(stmt))


# ------------------------------------------------------------------ market sizes


def put_market_size(
    session: Session,
    period: str,
    size: Decimal | int | float | str,
    *,
    market: str = "",
    source: str = "",
    actor: str,
) -> MarketSize:
    """Enter (or correct) a market's size for a period; ``market`` a product or '' for all."""
    p = parse_period(period)
    value = _decimal(size, "size", low=Decimal("0.01"), high=MAX_TARGET)
    if len(market) > 200:
        raise InvalidInput("at most 200 characters", "market")
    row = session.scalar(
        sa.select(MarketSize).where(MarketSize.period == p.label, MarketSize.market == market)
    )
    before = None if row is None else {"size": row.size, "source": row.source}
    if row is None:
        row = MarketSize(period=p.label, market=market)
        session.add(row)
    row.size, row.source, row.entered_by = value, source, actor
    row.entered_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor,
        "market_size.put",
        "market_size",
        f"{p.label}/{market}",
        before,
        {"size": value, "source": source},
    )
    return row


def list_market_sizes(session: Session) -> list[MarketSize]:
    """Every market size entered, by period and market."""
    return list(
        session.scalars(sa.select(MarketSize).order_by(MarketSize.period, MarketSize.market))
    )


# ------------------------------------------------------------------ plan against actual


@dataclass(frozen=True)
class Progress:
    """Where one objective stands on a day.

    ``expected`` is what the target asks by that day (pro rata for sums, whole for
    rates and scores); ``projected`` the actual carried on at its pace to the period's
    end; ``status`` one of: not started, on track, at risk, behind, achieved, missed,
    awaiting assessment, no figure.
    """

    objective: Objective
    actual: float | None
    why_not: str | None
    elapsed: float
    expected: float | None
    projected: float | None
    status: str
    measures: dict[str, Any]

    @property
    def attainment(self) -> float | None:
        """Actual against target (1.0 = met); for a lower-is-better KPI, target / actual."""
        target = float(self.objective.target)
        if self.actual is None or target == 0:
            return None
        if self.objective.higher_is_better:
            return self.actual / target
        return target / self.actual if self.actual else None

    @property
    def variance(self) -> float | None:
        """Actual less what was expected by now (signed: negative is short of plan
        for a higher-is-better KPI)."""
        if self.actual is None or self.expected is None:
            return None
        return self.actual - self.expected


def _meets(o: Objective, value: float, target: float) -> bool:
    return value >= target if o.higher_is_better else value <= target


def _value(
    session: Session, o: Objective, period: Period, today: date, cache: kpi_actuals.Cache
) -> tuple[Value, dict[str, Any]]:
    definition = check_definition(o.definition)
    seen: dict[str, Any] = {}
    why: list[str] = []
    # To date, and the periods compared with over as many days (year to date against
    # the same days a year before).
    days = kpi_actuals.Span.of(period, today).end - period.start
    shifted = {"": period, "previous_": period.previous(), "last_year_": period.last_year()}
    for prefix, names in definition.needs.items():
        other = shifted[prefix]
        span = kpi_actuals.Span(other, other.start, min(other.end, other.start + days))
        got = kpi_actuals.measures(session, span, o.scope or {}, names, cache)
        for name in names:
            if name in got.why_not:
                label = f"{prefix}{name}"
                note = got.why_not[name]
                why.append(note if not prefix else f"{label}: {note} ({SHIFTS[prefix]})")
            else:
                seen[prefix + name] = got.values[name]
    if why:
        return Value(None, "; ".join(why)), seen
    return evaluate(definition, seen, today), seen


def progress(
    session: Session, o: Objective, today: date, cache: kpi_actuals.Cache | None = None
) -> Progress:
    """Where objective ``o`` stands at the end of ``today`` (``cache``: figures already
    read for other goals of the same plan)."""
    period = parse_period(o.period)
    elapsed = period.elapsed(today)
    target = float(o.target)
    if o.kind == "qualitative":
        actual = None if o.score is None else float(o.score)
        if actual is not None:
            status = "achieved" if _meets(o, actual, target) else "missed"
        else:
            status = (
                "awaiting assessment"
                if elapsed >= 1
                else ("not started" if elapsed == 0 else "in progress")
            )
        why = None if actual is not None else "not scored yet"
        return Progress(o, actual, why, elapsed, target, actual, status, {})
    value, seen = _value(session, o, period, today, {} if cache is None else cache)
    additive = check_definition(o.definition).additive
    expected = target * elapsed if additive else target
    if value.value is None:
        return Progress(o, None, value.why_not, elapsed, expected, None, "no figure", seen)
    actual = value.value
    if elapsed == 0:
        return Progress(o, actual, None, elapsed, expected, None, "not started", seen)
    projected = actual / elapsed if additive else actual
    if elapsed >= 1:
        status = "achieved" if _meets(o, actual, target) else "missed"
    elif _meets(o, projected, target):
        status = "on track"
    elif _meets(o, projected, target * AT_RISK if o.higher_is_better else target / AT_RISK):
        status = "at risk"
    else:
        status = "behind"
    return Progress(o, actual, None, elapsed, expected, projected, status, seen)


def plan_vs_actual(
    session: Session,
    period: str,
    *,
    today: date | None = None,
    owner_team: str | None = None,
    owner: str | None = None,
) -> list[Progress]:
    """Every objective whose period overlaps ``period``, with where it stands ``today``."""
    day = today or datetime.now(UTC).date()
    cache: kpi_actuals.Cache = {}
    return [
        progress(session, o, day, cache)
        for o in list_objectives(session, period=period, owner_team=owner_team, owner=owner)
    ]


def figure(value: float | Decimal | None) -> str:
    """A KPI's value as people read it: rates to four significant digits (0.0157),
    counts whole (1,200), amounts to the cent (1,038.42); ``—`` for none."""
    if value is None:
        return "—"
    x = float(value)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) < 10:
        return f"{x:.4g}"
    return f"{x:,.2f}"


def progress_view(p: Progress) -> dict[str, Any]:
    """A progress line as the API, CLI and pages show it."""

    def num(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        **objective_view(p.objective),
        "actual": num(p.actual),
        "why_not": p.why_not,
        "elapsed": round(p.elapsed, 4),
        "expected": num(p.expected),
        "variance": num(p.variance),
        "attainment": num(p.attainment),
        "projected": num(p.projected),
        "status": p.status,
        "measures": {k: (float(v) if isinstance(v, Decimal) else v) for k, v in p.measures.items()},
    }
