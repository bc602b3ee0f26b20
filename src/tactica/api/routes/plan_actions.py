"""Plans and their actions over HTTP, and the tracking views.

Reading needs ``plans:read``; writing plans and actions ``plans:write``. An action's
owner reports its progress (``POST …/progress``) even without ``plans:write``; its
evaluator (named on it, else the owner's manager) evaluates it once done.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of
from tactica.api.routes.plans import (
    _GOAL,
    _PERIOD,
    _TEAM,
    _USER,
    PeriodText,
    Reader,
    Writer,
)
from tactica.domain.access import Permission, Role, allows
from tactica.services import organisation, plans

router = APIRouter(tags=["plans"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_WINDOW = r"^\d{4}(-(H[12]|Q[1-4]|W\d{2}|\d{2}|\d{2}-\d{2}))?$"
PlanName = Annotated[str, Path(pattern=_NAME, description="The plan's name")]
ActionName = Annotated[str, Path(pattern=_NAME, description="The action's name within its plan")]
PlanKind = Literal["annual", "half-yearly", "quarterly", "monthly", "weekly", "promotion", "brand"]
Today = Annotated[date | None, Query(description="Read the plan as of this day")]


class PlanIn(BaseModel):
    """A plan for a period; annual to weekly plans cover that period, within their parent."""

    name: str = Field(pattern=_NAME, examples=["plan-2026"])
    title: str = Field(default="", max_length=200)
    kind: PlanKind = "annual"
    period: PeriodText
    parent: str | None = Field(default=None, pattern=_NAME, description="The plan it breaks down")
    owner_team: str | None = Field(default=None, pattern=_TEAM)
    owner: str | None = Field(default=None, pattern=_USER)
    objective: str | None = Field(default=None, pattern=_GOAL, description="The goal it serves")
    strategy: str = Field(default="", max_length=20_000, description="The plan in words")


class PlanOut(BaseModel):
    """A plan as written."""

    name: str
    title: str
    kind: str
    period: str
    parent: str | None
    owner_team: str | None
    owner: str | None
    objective: str | None
    strategy: str


class ActionIn(BaseModel):
    """An action: committed ones need an owner, a due day and evaluation criteria."""

    name: str = Field(pattern=_NAME, examples=["brief-agency"])
    subject: str = Field(min_length=1, max_length=300, examples=["Brief the SMS copy"])
    owner: str | None = Field(default=None, pattern=_USER)
    starts_on: date | None = None
    due_on: date | None = None
    criteria: str = Field(
        default="", max_length=10_000, examples=["copy approved by compliance, under 160 chars"]
    )
    status: Literal["draft", "committed"] = "committed"
    program: str | None = Field(
        default=None, max_length=100, description="The program that carries it out"
    )
    evaluator: str | None = Field(
        default=None, pattern=_USER, description="Default: the owner's manager"
    )


class FiguresOut(BaseModel):
    """The program's figures over the action's days."""

    model_config = {"populate_by_name": True}

    from_: str = Field(alias="from")
    to: str | None
    sent: int | None
    delivered: int | None
    responses: int | None
    leads: int | None
    orders: int | None
    revenue: Decimal | None
    cost: Decimal | None


class ActionOut(BaseModel):
    """An action as written and as it stands on the day read."""

    plan: str
    name: str
    subject: str
    owner: str | None
    starts_on: str | None
    due_on: str | None
    criteria: str
    status: str
    program: str | None
    evaluator: str | None
    started_on: str | None
    done_on: str | None
    result: str | None
    quality: int | None
    evaluation_note: str
    evaluated_by: str | None
    evaluated_at: str | None
    tracking: str = Field(
        description="slogan, draft, on track, at risk, late, done on time, done late, cancelled"
    )
    missing: list[str] = Field(description="What a draft lacks to be committed")
    evaluates: str | None = Field(description="Who evaluates it once done")
    figures: FiguresOut | None


class PlanDetailOut(PlanOut):
    """A plan with its actions and a count of them per tracking status."""

    slogan: str | None = Field(description="Why it is not yet a plan (no committed action)")
    actions: list[ActionOut]
    tracking: dict[str, int]


class ProgressIn(BaseModel):
    """Progress on an action: started, done, cancelled, back to draft or reopened."""

    status: Literal["draft", "committed", "in_progress", "done", "cancelled"]
    on: date | None = Field(default=None, description="The day it happened (default today)")


class EvaluationIn(BaseModel):
    """The evaluation of a done action against its criteria."""

    result: Literal["met", "partly", "not_met"]
    quality: int = Field(ge=1, le=plans.QUALITY_MAX)
    note: str = Field(default="", max_length=10_000)


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def _tracked(session: SessionDep, plan: str, name: str, today: date | None) -> dict[str, Any]:
    a = plans.get_action(session, plan, name)
    return plans.tracked_view(session, a, plans.get_plan(session, plan), _today(today))


@router.get("/plans", response_model=list[PlanOut], summary="Plans")
def list_plans(
    _p: Reader,
    session: SessionDep,
    period: Annotated[str | None, Query(pattern=_PERIOD)] = None,
    owner_team: Annotated[str | None, Query(pattern=_TEAM)] = None,
) -> Any:
    """Plans by period (the year's before its quarters'), optionally overlapping ``period``."""
    return [
        plans.plan_view(p) for p in plans.list_plans(session, period=period, owner_team=owner_team)
    ]


@router.post("/plans", response_model=PlanOut, status_code=201, summary="Make a plan")
def create_plan(body: PlanIn, p: Writer, session: SessionDep) -> Any:
    """A new plan; its period must fit its kind and lie within its parent's."""
    made = plans.create_plan(session, plans.PlanInput(**body.model_dump()), actor=actor_of(p))
    session.commit()
    return plans.plan_view(made)


@router.get("/plans/{name}", response_model=PlanDetailOut, summary="A plan and its actions")
def get_plan(name: PlanName, _p: Reader, session: SessionDep, today: Today = None) -> Any:
    """A plan, its actions as they stand on ``today``, and whether it is still a slogan."""
    return plans.plan_detail(session, name, _today(today))


@router.put("/plans/{name}", response_model=PlanOut, summary="Change a plan")
def update_plan(name: PlanName, body: PlanIn, p: Writer, session: SessionDep) -> Any:
    """Change a plan (not its name); its actions must stay within its period."""
    data = plans.PlanInput(**{**body.model_dump(), "name": name})
    done = plans.update_plan(session, data, actor=actor_of(p))
    session.commit()
    return plans.plan_view(done)


@router.delete("/plans/{name}", status_code=204, summary="Remove a plan")
def delete_plan(name: PlanName, p: Writer, session: SessionDep) -> Response:
    """Remove a plan and its planned actions (kept while work on it is recorded)."""
    plans.delete_plan(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.post(
    "/plans/{name}/actions", response_model=ActionOut, status_code=201, summary="Add an action"
)
def add_action(name: PlanName, body: ActionIn, p: Writer, session: SessionDep) -> Any:
    """A new action of the plan, committed (owner, due day, criteria) or a draft."""
    a = plans.add_action(session, name, plans.ActionInput(**body.model_dump()), actor=actor_of(p))
    session.commit()
    return _tracked(session, name, a.name, None)


@router.get("/plans/{name}/actions/{action}", response_model=ActionOut, summary="An action")
def get_action(
    name: PlanName, action: ActionName, _p: Reader, session: SessionDep, today: Today = None
) -> Any:
    """An action as it stands on ``today``."""
    return _tracked(session, name, action, today)


@router.put("/plans/{name}/actions/{action}", response_model=ActionOut, summary="Change an action")
def update_action(
    name: PlanName, action: ActionName, body: ActionIn, p: Writer, session: SessionDep
) -> Any:
    """Change what an action is; its progress is recorded with ``POST …/progress``."""
    data = plans.ActionInput(**{**body.model_dump(), "name": action})
    plans.update_action(session, name, data, actor=actor_of(p))
    session.commit()
    return _tracked(session, name, action, None)


@router.delete("/plans/{name}/actions/{action}", status_code=204, summary="Remove an action")
def remove_action(name: PlanName, action: ActionName, p: Writer, session: SessionDep) -> Response:
    """Remove an action not yet under way (one under way is cancelled instead)."""
    plans.remove_action(session, name, action, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.post(
    "/plans/{name}/actions/{action}/progress", response_model=ActionOut, summary="Report progress"
)
def report_progress(
    name: PlanName, action: ActionName, body: ProgressIn, p: Reader, session: SessionDep
) -> Any:
    """The owner (or a planner) records that the action started, was done, or was cancelled."""
    plans.move(
        session,
        name,
        action,
        body.status,
        username=p.username,
        may_write=allows(p.role, Permission.PLANS_WRITE),
        actor=actor_of(p),
        on=body.on,
    )
    session.commit()
    return _tracked(session, name, action, None)


@router.post(
    "/plans/{name}/actions/{action}/evaluation",
    response_model=ActionOut,
    summary="Evaluate a done action",
)
def evaluate_action(
    name: PlanName, action: ActionName, body: EvaluationIn, p: Reader, session: SessionDep
) -> Any:
    """Its evaluator records whether the criteria were met, and at what quality."""
    plans.evaluate(
        session,
        name,
        action,
        body.result,
        body.quality,
        body.note,
        username=p.username,
        may_override=p.role is Role.ADMIN,
        actor=actor_of(p),
    )
    session.commit()
    return _tracked(session, name, action, None)


@router.get("/actions", response_model=list[ActionOut], summary="Track actions")
def track_actions(
    p: Reader,
    session: SessionDep,
    period: Annotated[
        str,
        Query(
            pattern=_WINDOW,
            description="A day's, week's or month's view: 2026-11-23, 2026-W48, 2026-11",
            examples=["2026-W47"],
        ),
    ],
    owner: Annotated[
        str | None, Query(pattern=_USER, description="One person's; 'me' for yours")
    ] = None,
    team: Annotated[
        str | None, Query(pattern=_TEAM, description="The team's and the teams' below it")
    ] = None,
    plan: Annotated[str | None, Query(pattern=_NAME)] = None,
    today: Today = None,
) -> Any:
    """Actions due within ``period``, and open ones that fell due before it, with where
    each stands: on track, at risk, late, done on time or late."""
    who = p.username if owner == "me" else owner
    owners = None
    if team is not None:
        organisation.get_team(session, team)
        owners = organisation.people_of(session, team)
    return plans.track(
        session, plans.window(period), _today(today), owner=who, owners=owners, plan=plan
    )
