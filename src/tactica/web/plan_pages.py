"""The plan: the year's goals against what was recorded, the teams, and the forms that set
goals, enter market sizes and score qualitative goals.

The rules are the API's (``/plan``, ``/objectives``): everyone who reads plans sees
the page; admins and marketers set goals and market sizes; a qualitative goal is
scored by its reviewer. Every actual is computed when the page is read, from the
rollup and the records, as of the day chosen.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, Role, allows
from tactica.domain.kpis import KPIS, MEASURES
from tactica.domain.periods import PeriodKind, parse_period, period_of
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import kpi_actuals, objectives, organisation, plans, users
from tactica.services.users import Principal
from tactica.web.render import (
    Section,
    actor,
    denied,
    field_of,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
    today,
)

router = APIRouter(include_in_schema=False)
# After the dashboard: where the year is going, before how each campaign is.
SECTION = Section(12, "/ui/plan", "Plan", Permission.PLANS_READ)

READ = "see the plan"
WRITE = "set goals"
GOAL_FIELDS = (
    "name",
    "title",
    "kpi",
    "definition",
    "goal_period",
    "target",
    "owner_team",
    "owner_person",
    "parent",
    "scope_key",
    "scope_value",
    "reviewer",
)
MARKET_FIELDS = ("market_period", "market", "size", "source")
KPI_CHOICES = (*KPIS, "custom", "qualitative")


def _period(raw: str, errors: dict[str, str], key: str = "period") -> str:
    """The period asked for (this year when none), or this year with an error."""
    this_year = period_of(PeriodKind.YEAR, today()).label
    if not raw:
        return this_year
    try:
        return parse_period(raw).label
    except InvalidInput as e:
        errors[key] = message(e)
        return this_year


def _as_of(raw: str, errors: dict[str, str]) -> date:
    if not raw:
        return today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors["as_of"] = "a day such as 2026-11-24"
        return today()


def _page_data(session: Session, period: str, as_of: date, team: str, owner: str) -> dict[str, Any]:
    lines = objectives.plan_vs_actual(
        session, period, today=as_of, owner_team=team or None, owner=owner or None
    )
    people = sorted(
        u.username for u in users.list_users(session) if u.active and u.role != Role.INTEGRATION
    )
    return {
        "lines": [objectives.progress_view(p) for p in lines],
        "teams": organisation.list_teams(session),
        "people": people,
        "goal_names": [o.name for o in objectives.list_objectives(session)],
        "market_sizes": objectives.list_market_sizes(session),
        "plans": [
            {**plans.plan_view(p), "slogan": plans.slogan_reason(session, p)}
            for p in plans.list_plans(session, period=period)
        ],
        "plan_names": [p.name for p in plans.list_plans(session)],
    }


async def _page(
    request: Request,
    who: Principal,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    problem: str = "",
) -> Response:
    q = request.query_params
    errors = dict(errors or {})
    period = _period(q.get("period", "")[:16], errors)
    as_of = _as_of(q.get("as_of", "")[:16], errors)
    team, owner = q.get("team", "")[:64], q.get("owner", "")[:100]
    data = await in_session(request, _page_data, period, as_of, team, owner)
    if errors and status_code == 200:
        status_code = 422
    counts: dict[str, int] = {}
    for line in data["lines"]:
        counts[line["status"]] = counts.get(line["status"], 0) + 1
    return render(
        request,
        "plan.html",
        who,
        status_code=status_code,
        period=period,
        as_of=as_of,
        team=team,
        owner=owner,
        counts=counts,
        errors=errors,
        typed=typed
        or {
            "goal_period": period,
            "market_period": period,
            "plan_period": period,
            "kpi": "revenue",
            "plan_kind": "annual",
        },
        plan_kinds=list(plans.PLAN_KINDS),
        problem=problem,
        done=q.get("done", "")[:200],
        writer=allows(who.role, Permission.PLANS_WRITE),
        kpis=KPIS,
        kpi_choices=KPI_CHOICES,
        measures=MEASURES,
        scope_keys=kpi_actuals.SCOPE_KEYS,
        me=who.username,
        is_admin=who.role is Role.ADMIN,
        **data,
    )


async def plan_form_failed(
    request: Request,
    who: Principal,
    status_code: int,
    errors: dict[str, str],
    typed: dict[str, str],
) -> Response:
    """The plan page again, with the make-a-plan form's problem next to its field."""
    return await _page(request, who, status_code=status_code, errors=errors, typed=typed)


@router.get("/ui/plan")
async def plan_page(request: Request) -> Response:
    """Plan against actual for a period (this year by default), as of a day; the teams."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    return await _page(request, who)


def _goal_input(typed: dict[str, str]) -> objectives.ObjectiveInput:
    kind = "qualitative" if typed["kpi"] == "qualitative" else "quantitative"
    scope = {typed["scope_key"]: typed["scope_value"]} if typed["scope_value"] else {}
    if typed["scope_value"] and typed["scope_key"] not in kpi_actuals.SCOPE_KEYS:
        raise InvalidInput(f"one of {', '.join(kpi_actuals.SCOPE_KEYS)}", "scope_key")
    return objectives.ObjectiveInput(
        name=typed["name"],
        title=typed["title"],
        kind=kind,
        kpi="custom" if kind == "qualitative" else typed["kpi"],
        definition=typed["definition"] if typed["kpi"] == "custom" else "",
        period=typed["goal_period"],
        target=typed["target"],
        scope=scope,
        owner_team=typed["owner_team"] or None,
        owner=typed["owner_person"] or None,
        parent=typed["parent"] or None,
        reviewer=typed["reviewer"] or None,
    )


def _create(session: Session, typed: dict[str, str], who: Principal) -> None:
    objectives.create_objective(session, _goal_input(typed), actor=actor(who))
    session.commit()


@router.post("/ui/plan/goals")
async def add_goal(request: Request) -> Response:
    """Set a new goal; a field's problem is shown next to it, with what was typed."""
    who = await let_in(request, Permission.PLANS_WRITE, WRITE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WRITE)
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "")[:2000] for k in GOAL_FIELDS}
    if not typed["target"]:
        errors = {"target": "a number: the KPI's value aimed for (a score for a qualitative goal)"}
        return await _page(request, who, status_code=422, errors=errors, typed=typed)
    try:
        await in_session(request, _create, typed, who)
    except InvalidInput as e:
        # The form's names for the service's fields (the filters above use period, owner).
        renamed = {
            "scope": "scope_key",
            "kind": "kpi",
            "period": "goal_period",
            "owner": "owner_person",
        }
        where = field_of(e, set(GOAL_FIELDS) | set(renamed), "name")
        where = renamed.get(where, where)
        errors = {where: message(e)}
        return await _page(request, who, status_code=422, errors=errors, typed=typed)
    except Conflict as e:
        return await _page(request, who, status_code=409, errors={"name": e.detail}, typed=typed)
    query = urlencode({"period": typed["goal_period"], "done": f"goal {typed['name']} set"})
    return RedirectResponse(f"/ui/plan?{query}#goals", status_code=303)


def _put_size(session: Session, typed: dict[str, str], who: Principal) -> None:
    objectives.put_market_size(
        session,
        typed["market_period"],
        typed["size"],
        market=typed["market"],
        source=typed["source"],
        actor=actor(who),
    )
    session.commit()


@router.post("/ui/plan/market-sizes")
async def put_market_size(request: Request) -> Response:
    """Enter or correct a market's size for a period (market share needs it)."""
    who = await let_in(request, Permission.PLANS_WRITE, WRITE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WRITE)
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "")[:2000] for k in MARKET_FIELDS}
    try:
        await in_session(request, _put_size, typed, who)
    except InvalidInput as e:
        where = field_of(e, {"period", "size", "market"}, "size")
        errors = {"market_period" if where == "period" else where: message(e)}
        return await _page(request, who, status_code=422, errors=errors, typed=typed)
    query = urlencode({"done": f"market size for {typed['market_period']} entered"})
    return RedirectResponse(f"/ui/plan?{query}#markets", status_code=303)


def _assess(session: Session, name: str, score: str, note: str, who: Principal) -> str:
    o = objectives.get_objective(session, name)
    if not o.reviewer and not allows(who.role, Permission.PLANS_WRITE):
        raise PermissionDenied("this goal names no reviewer: someone who writes plans scores it")
    objectives.assess(
        session,
        name,
        score,
        note,
        username=who.username,
        may_override=who.role is Role.ADMIN,
        actor=actor(who),
    )
    session.commit()
    return o.period


@router.post("/ui/plan/goals/{name}/assess")
async def assess_goal(request: Request, name: str) -> Response:
    """The reviewer scores a qualitative goal on its scale."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "score a goal")
    if isinstance(form, Response):
        return form
    score, note = form.get("score", "")[:20], form.get("note", "")[:10_000]
    try:
        period = await in_session(request, _assess, name[:100], score, note, who)
    except NotFound:
        return not_found(request, who, f"goal {name!r}")
    except PermissionDenied as e:
        return denied(request, who, e.detail)
    except (InvalidInput, Conflict) as e:
        detail = message(e) if isinstance(e, InvalidInput) else e.detail
        return await _page(request, who, status_code=422, problem=f"{name}: {detail}")
    query = urlencode({"period": period, "done": f"goal {name} scored"})
    return RedirectResponse(f"/ui/plan?{query}#goals", status_code=303)
