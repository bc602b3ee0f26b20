"""The plan: teams, objectives per period, market sizes, and plan against actual.

Reading needs ``plans:read`` (everyone but machines); setting teams, goals and
market sizes ``plans:write`` (admins and marketers). A qualitative goal is scored by
its reviewer (an admin may score any; a goal naming no reviewer, anyone who writes
plans).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission, Role, allows
from tactica.domain.kpis import KPIS, MEASURES, SHIFTS
from tactica.errors import PermissionDenied
from tactica.services import objectives, organisation
from tactica.services.users import Principal

router = APIRouter(tags=["plans"])
Reader = Annotated[Principal, Depends(require(Permission.PLANS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PLANS_WRITE))]

_USER = r"^[A-Za-z0-9_.@-]{2,100}$"
_TEAM = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_GOAL = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_PERIOD = r"^\d{4}(-(H[12]|Q[1-4]|W\d{2}|\d{2}))?$"
TeamName = Annotated[str, Path(pattern=_TEAM, description="The team's short name")]
GoalName = Annotated[str, Path(pattern=_GOAL, description="The objective's name")]
Username = Annotated[str, Path(pattern=_USER, description="A Tactica username")]
PeriodText = Annotated[
    str, Field(pattern=_PERIOD, examples=["2026", "2026-Q3", "2026-11", "2026-W47"])
]
Number = Annotated[Decimal, Field(ge=Decimal("-1e14"), le=Decimal("1e14"), allow_inf_nan=False)]
Function = Literal["marketing", "sales", "product", "service", "logistics", "finance", "other"]
ScopeKey = Literal["program", "campaign", "channel", "offer", "product", "rep"]


# ------------------------------------------------------------------ teams


class TeamIn(BaseModel):
    """A team: its short name, what it does, the team above it and its lead."""

    name: str = Field(pattern=_TEAM, examples=["field-sales"])
    title: str = Field(default="", max_length=200)
    function: Function = "marketing"
    parent: str | None = Field(default=None, pattern=_TEAM)
    lead: str | None = Field(
        default=None, pattern=_USER, description="Approvals go to them when nobody else is named"
    )
    description: str = Field(default="", max_length=10_000)


class MemberIn(BaseModel):
    """A person's place in a team."""

    title: str = Field(default="", max_length=200)
    responsibilities: str = Field(default="", max_length=10_000)
    reports_to: str | None = Field(default=None, pattern=_USER)


class MemberOut(BaseModel):
    """A member of a team."""

    team: str
    username: str
    title: str
    responsibilities: str
    reports_to: str | None


class TeamOut(BaseModel):
    """A team with its members; ``depth`` is how far below the top it sits."""

    name: str
    title: str
    function: str
    parent: str | None
    lead: str | None
    description: str
    members: list[MemberOut]
    depth: int = 0


def _team(session: SessionDep, name: str) -> dict[str, Any]:
    for t in organisation.list_teams(session):
        if t["name"] == name:
            return t
    team = organisation.get_team(session, name)  # below a missing parent: not in the tree
    return {**organisation.team_view(team, organisation.members(session, name)), "depth": 0}


@router.get("/teams", response_model=list[TeamOut], summary="The organisation")
def list_teams(_p: Reader, session: SessionDep) -> Any:
    """Every team with its members, parents before children."""
    return organisation.list_teams(session)


@router.post("/teams", response_model=TeamOut, status_code=201, summary="Add a team")
def add_team(body: TeamIn, p: Writer, session: SessionDep) -> Any:
    """A new team; its parent and lead must exist."""
    organisation.add_team(session, organisation.TeamInput(**body.model_dump()), actor=actor_of(p))
    session.commit()
    return _team(session, body.name)


@router.get("/teams/{name}", response_model=TeamOut, summary="One team")
def get_team(name: TeamName, _p: Reader, session: SessionDep) -> Any:
    """A team with its members."""
    return _team(session, name)


@router.put("/teams/{name}", response_model=TeamOut, summary="Change a team")
def update_team(name: TeamName, body: TeamIn, p: Writer, session: SessionDep) -> Any:
    """Change a team's title, function, parent, lead or description (not its name)."""
    data = organisation.TeamInput(**{**body.model_dump(), "name": name})
    organisation.update_team(session, data, actor=actor_of(p))
    session.commit()
    return _team(session, name)


@router.delete("/teams/{name}", status_code=204, summary="Remove a team")
def delete_team(name: TeamName, p: Writer, session: SessionDep) -> Response:
    """Remove a team and its memberships (kept while teams sit under it or it owns goals)."""
    organisation.delete_team(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.put("/teams/{name}/members/{username}", response_model=MemberOut, summary="Put a member")
def put_member(
    name: TeamName, username: Username, body: MemberIn, p: Writer, session: SessionDep
) -> Any:
    """Put a user in the team, or change their title, responsibilities or line."""
    data = organisation.MemberInput(username=username, **body.model_dump())
    row = organisation.put_member(session, name, data, actor=actor_of(p))
    session.commit()
    return organisation.member_view(row)


@router.delete("/teams/{name}/members/{username}", status_code=204, summary="Remove a member")
def remove_member(name: TeamName, username: Username, p: Writer, session: SessionDep) -> Response:
    """Take a user out of the team."""
    organisation.remove_member(session, name, username, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


# ------------------------------------------------------------------ KPIs and objectives


class KpiOut(BaseModel):
    """A KPI of the catalog."""

    name: str
    definition: str
    means: str
    higher_is_better: bool


class MeasureOut(BaseModel):
    """A measure KPI definitions are written over."""

    name: str
    means: str
    money: bool


class CatalogOut(BaseModel):
    """What a KPI definition may use: the measures, their shifts, and the named KPIs."""

    measures: list[MeasureOut]
    shifts: dict[str, str]
    kpis: list[KpiOut]


@router.get("/kpis", response_model=CatalogOut, summary="KPIs and measures")
def kpi_catalog(_p: Reader) -> Any:
    """The KPIs objectives can name, and the measures a custom definition may use."""
    return {
        "measures": [m.__dict__ for m in MEASURES],
        "shifts": {f"{prefix}<measure>": means for prefix, means in SHIFTS.items()},
        "kpis": [k.__dict__ for k in KPIS.values()],
    }


class ObjectiveIn(BaseModel):
    """A goal for a period, owned by a team or a person (at least one)."""

    name: str = Field(pattern=_GOAL, examples=["revenue-2026"])
    title: str = Field(default="", max_length=200)
    kind: Literal["quantitative", "qualitative"] = "quantitative"
    kpi: str = Field(
        default="custom",
        max_length=64,
        description="A KPI of GET /kpis, or custom with a definition",
        examples=["revenue"],
    )
    definition: str = Field(
        default="",
        max_length=2000,
        description="For kpi custom: an expression over measures",
        examples=["responses / delivered"],
    )
    higher_is_better: bool | None = Field(default=None, description="Default: the KPI's")
    period: PeriodText
    target: Number = Field(
        description="The KPI's value aimed for; for a qualitative goal, the score"
    )
    scope: dict[ScopeKey, Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=dict, examples=[{"channel": "sms"}]
    )
    owner_team: str | None = Field(default=None, pattern=_TEAM)
    owner: str | None = Field(default=None, pattern=_USER)
    parent: str | None = Field(
        default=None, pattern=_GOAL, description="The goal this one breaks down (within its period)"
    )
    weight: Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False)] = Decimal(1)
    reviewer: str | None = Field(default=None, pattern=_USER)
    scale_max: int = Field(default=5, ge=2, le=100)


class ObjectiveOut(BaseModel):
    """A goal as set."""

    name: str
    title: str
    kind: str
    kpi: str
    definition: str
    higher_is_better: bool
    period: str
    target: Decimal | None
    scope: dict[str, str]
    owner_team: str | None
    owner: str | None
    parent: str | None
    weight: Decimal
    reviewer: str | None
    scale_max: int
    score: Decimal | None
    assessment_note: str
    assessed_by: str | None
    assessed_at: str | None


class ProgressOut(ObjectiveOut):
    """A goal with where it stands: actual, expected by the day, variance, projection."""

    actual: float | None
    why_not: str | None = Field(description="Why there is no actual, when there is none")
    elapsed: float = Field(description="Share of the period gone by")
    expected: float | None
    variance: float | None
    attainment: float | None
    projected: float | None = Field(description="The actual at its pace to the period's end")
    status: str
    measures: dict[str, float | int]


class AssessmentIn(BaseModel):
    """A reviewer's score of a qualitative goal, on its scale."""

    score: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
    note: str = Field(default="", max_length=10_000)


def _input(body: ObjectiveIn, name: str | None = None) -> objectives.ObjectiveInput:
    data = body.model_dump()
    if name is not None:
        data["name"] = name
    data["scope"] = dict(data["scope"])
    return objectives.ObjectiveInput(**data)


@router.get("/objectives", response_model=list[ObjectiveOut], summary="Objectives")
def list_objectives(
    _p: Reader,
    session: SessionDep,
    period: Annotated[str | None, Query(pattern=_PERIOD)] = None,
    owner_team: Annotated[str | None, Query(pattern=_TEAM)] = None,
    owner: Annotated[str | None, Query(pattern=_USER)] = None,
) -> Any:
    """Goals, optionally of periods overlapping ``period`` and of one owner."""
    return [
        objectives.objective_view(o)
        for o in objectives.list_objectives(
            session, period=period, owner_team=owner_team, owner=owner
        )
    ]


@router.post("/objectives", response_model=ObjectiveOut, status_code=201, summary="Set a goal")
def create_objective(body: ObjectiveIn, p: Writer, session: SessionDep) -> Any:
    """A new goal; its definition is checked (line and column of a problem)."""
    o = objectives.create_objective(session, _input(body), actor=actor_of(p))
    session.commit()
    return objectives.objective_view(o)


@router.get("/objectives/{name}", response_model=ProgressOut, summary="A goal and where it stands")
def get_objective(
    name: GoalName,
    _p: Reader,
    session: SessionDep,
    today: Annotated[date | None, Query(description="Read the plan as of this day")] = None,
) -> Any:
    """A goal with its actual as of ``today`` (default: today)."""
    o = objectives.get_objective(session, name)
    return objectives.progress_view(
        objectives.progress(session, o, today or datetime.now(UTC).date())
    )


@router.put("/objectives/{name}", response_model=ObjectiveOut, summary="Change a goal")
def update_objective(name: GoalName, body: ObjectiveIn, p: Writer, session: SessionDep) -> Any:
    """Change a goal (not its name)."""
    o = objectives.update_objective(session, _input(body, name), actor=actor_of(p))
    session.commit()
    return objectives.objective_view(o)


@router.delete("/objectives/{name}", status_code=204, summary="Remove a goal")
def delete_objective(name: GoalName, p: Writer, session: SessionDep) -> Response:
    """Remove a goal (kept while others break it down)."""
    objectives.delete_objective(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.post("/objectives/{name}/assessment", response_model=ObjectiveOut, summary="Score a goal")
def assess_objective(name: GoalName, body: AssessmentIn, p: Reader, session: SessionDep) -> Any:
    """The reviewer scores a qualitative goal on its scale."""
    o = objectives.get_objective(session, name)
    may_write = allows(p.role, Permission.PLANS_WRITE)
    if not o.reviewer and not may_write:
        raise PermissionDenied("this goal names no reviewer: someone who writes plans scores it")
    done = objectives.assess(
        session,
        name,
        body.score,
        body.note,
        username=p.username,
        may_override=p.role is Role.ADMIN,
        actor=actor_of(p),
    )
    session.commit()
    return objectives.objective_view(done)


@router.get("/plan", response_model=list[ProgressOut], summary="Plan against actual")
def plan(
    _p: Reader,
    session: SessionDep,
    period: Annotated[str, Query(pattern=_PERIOD, examples=["2026"])],
    owner_team: Annotated[str | None, Query(pattern=_TEAM)] = None,
    owner: Annotated[str | None, Query(pattern=_USER)] = None,
    today: Annotated[date | None, Query(description="Read the plan as of this day")] = None,
) -> Any:
    """Every goal of periods overlapping ``period``: target, actual to date, expected by
    now, variance, projection to the period's end and status."""
    return [
        objectives.progress_view(x)
        for x in objectives.plan_vs_actual(
            session, period, today=today, owner_team=owner_team, owner=owner
        )
    ]


# ------------------------------------------------------------------ market sizes


class MarketSizeIn(BaseModel):
    """A market's size for a period (market share needs it)."""

    period: PeriodText
    market: str = Field(default="", max_length=200, description="A product, or '' for all")
    size: Annotated[Decimal, Field(gt=0, le=Decimal("1e14"), allow_inf_nan=False)]
    source: str = Field(default="", max_length=2000, examples=["industry association report"])


class MarketSizeOut(BaseModel):
    """A market size as entered."""

    period: str
    market: str
    size: Decimal
    source: str
    entered_by: str


@router.get("/market-sizes", response_model=list[MarketSizeOut], summary="Market sizes")
def list_market_sizes(_p: Reader, session: SessionDep) -> Any:
    """Every market size entered."""
    return [
        {
            "period": m.period,
            "market": m.market,
            "size": m.size,
            "source": m.source,
            "entered_by": m.entered_by,
        }
        for m in objectives.list_market_sizes(session)
    ]


@router.put("/market-sizes", response_model=MarketSizeOut, summary="Enter a market size")
def put_market_size(body: MarketSizeIn, p: Writer, session: SessionDep) -> Any:
    """Enter or correct a market's size for a period."""
    m = objectives.put_market_size(
        session, body.period, body.size, market=body.market, source=body.source, actor=actor_of(p)
    )
    session.commit()
    return {
        "period": m.period,
        "market": m.market,
        "size": m.size,
        "source": m.source,
        "entered_by": m.entered_by,
    }
