"""Plans and their actions: a plan's page with its actions and the form that adds one,
and the tracking view (my actions, my teams', everyone's) for a day, a week or a month.

The rules are the API's: everyone who reads plans sees these pages; admins and
marketers make plans and add actions; an action's owner reports its progress; its
evaluator (named, else the owner's manager) evaluates it once done.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, Role, allows
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import organisation, plans, programs, users
from tactica.services.users import Principal
from tactica.web.plan_pages import plan_form_failed
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
# Next to the plan: what each person has to do.
SECTION = Section(13, "/ui/actions", "Actions", Permission.PLANS_READ)

READ = "see the plans"
WRITE = "make plans"
# The plan page's form also sets goals: its fields say they are the plan's.
PLAN_FIELDS = ("name", "title", "kind", "period", "parent", "owner_team", "objective", "strategy")
ACTION_FIELDS = (
    "name",
    "subject",
    "owner",
    "starts_on",
    "due_on",
    "criteria",
    "status",
    "program",
    "evaluator",
)
WHOSE = ("mine", "my teams", "everyone")


def _people(session: Session) -> list[str]:
    return sorted(
        u.username for u in users.list_users(session) if u.active and u.role != Role.INTEGRATION
    )


def _window(raw: str, errors: dict[str, str]) -> plans.Window:
    """The days asked for (this week when none), or this week with an error."""
    default = today().isocalendar()
    week = f"{default.year}-W{default.week:02d}"
    try:
        return plans.window(raw or week)
    except InvalidInput as e:
        errors["period"] = message(e)
        return plans.window(week)


def _as_of(raw: str, errors: dict[str, str]) -> date:
    if not raw:
        return today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors["as_of"] = "a day such as 2026-11-24"
        return today()


def _tracking_data(
    session: Session, who: Principal, window: plans.Window, as_of: date, whose: str
) -> dict[str, Any]:
    owners: list[str] | None = None
    owner: str | None = None
    if whose == "mine":
        owner = who.username
    elif whose == "my teams":
        owners = [who.username, *organisation.people_around(session, who.username)]
    return {"actions": plans.track(session, window, as_of, owner=owner, owners=owners)}


def _counts(actions: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in actions:
        counts[a["tracking"]] = counts.get(a["tracking"], 0) + 1
    return counts


def _common(who: Principal) -> dict[str, Any]:
    return {
        "me": who.username,
        "writer": allows(who.role, Permission.PLANS_WRITE),
        "is_admin": who.role is Role.ADMIN,
        "results": plans.RESULTS,
    }


@router.get("/ui/actions")
async def actions_page(request: Request) -> Response:
    """The tracking view: actions due in a day, week or month (and open ones already
    due), whose: mine, my teams' or everyone's, with where each stands."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    q = request.query_params
    errors: dict[str, str] = {}
    window = _window(q.get("period", "")[:16], errors)
    as_of = _as_of(q.get("as_of", "")[:16], errors)
    whose = q.get("whose", "mine")
    if whose not in WHOSE:
        errors["whose"] = f"one of {', '.join(WHOSE)}"
        whose = "mine"
    data = await in_session(request, _tracking_data, who, window, as_of, whose)
    return render(
        request,
        "actions.html",
        who,
        status_code=422 if errors else 200,
        window=window,
        as_of=as_of,
        whose=whose,
        whose_choices=WHOSE,
        errors=errors,
        counts=_counts(data["actions"]),
        done=q.get("done", "")[:200],
        problem=q.get("problem", "")[:500],
        back=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        **_common(who),
        **data,
    )


def _plan_data(session: Session, name: str, as_of: date) -> dict[str, Any]:
    return {
        "plan": plans.plan_detail(session, name, as_of),
        "people": _people(session),
        "program_names": [p.name for p in programs.list_programs(session)],
    }


async def _plan_page(
    request: Request,
    who: Principal,
    name: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    problem: str = "",
) -> Response:
    q = request.query_params
    errors = dict(errors or {})
    as_of = _as_of(q.get("as_of", "")[:16], errors)
    try:
        data = await in_session(request, _plan_data, name, as_of)
    except NotFound:
        return not_found(request, who, f"plan {name!r}")
    if errors and status_code == 200:
        status_code = 422
    return render(
        request,
        "plan_detail.html",
        who,
        status_code=status_code,
        as_of=as_of,
        errors=errors,
        typed=typed or {"status": "committed"},
        statuses=plans.PLANNED,
        problem=problem or q.get("problem", "")[:500],
        done=q.get("done", "")[:200],
        back=f"/ui/plans/{quote(name)}",
        **_common(who),
        **data,
    )


@router.get("/ui/plans/{name}")
async def plan_detail_page(request: Request, name: str) -> Response:
    """A plan: its strategy, its actions as they stand, and whether it is still a slogan."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    return await _plan_page(request, who, name[:100])


def _make_plan(session: Session, typed: dict[str, str], who: Principal) -> None:
    data = plans.PlanInput(
        name=typed["plan_name"],
        title=typed["plan_title"],
        kind=typed["plan_kind"] or "annual",
        period=typed["plan_period"],
        parent=typed["plan_parent"] or None,
        owner_team=typed["plan_owner_team"] or None,
        objective=typed["plan_objective"] or None,
        strategy=typed["plan_strategy"],
    )
    plans.create_plan(session, data, actor=actor(who))
    session.commit()


@router.post("/ui/plans")
async def make_plan(request: Request) -> Response:
    """Make a plan (from the plan page's form); its page comes next, to add actions."""
    who = await let_in(request, Permission.PLANS_WRITE, WRITE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WRITE)
    if isinstance(form, Response):
        return form
    typed = {f"plan_{k}": form.get(f"plan_{k}", "")[:20_000] for k in PLAN_FIELDS}
    name = typed["plan_name"]
    try:
        await in_session(request, _make_plan, typed, who)
    except InvalidInput as e:
        errors = {f"plan_{field_of(e, set(PLAN_FIELDS), 'name')}": message(e)}
        return await plan_form_failed(request, who, 422, errors, typed)
    except Conflict as e:
        return await plan_form_failed(request, who, 409, {"plan_name": e.detail}, typed)
    done = urlencode({"done": f"plan {name} made: now break it into actions"})
    return RedirectResponse(f"/ui/plans/{quote(name)}?{done}", status_code=303)


def _add_action(session: Session, plan: str, typed: dict[str, str], who: Principal) -> None:
    data = plans.ActionInput(
        name=typed["name"],
        subject=typed["subject"],
        owner=typed["owner"] or None,
        starts_on=typed["starts_on"] or None,
        due_on=typed["due_on"] or None,
        criteria=typed["criteria"],
        status=typed["status"] or "committed",
        program=typed["program"] or None,
        evaluator=typed["evaluator"] or None,
    )
    plans.add_action(session, plan, data, actor=actor(who))
    session.commit()


@router.post("/ui/plans/{name}/actions")
async def add_action(request: Request, name: str) -> Response:
    """Add an action to a plan: committed with owner, due day and criteria, or a draft."""
    who = await let_in(request, Permission.PLANS_WRITE, WRITE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WRITE)
    if isinstance(form, Response):
        return form
    plan = name[:100]
    typed = {k: form.get(k, "")[:10_000] for k in ACTION_FIELDS}
    try:
        await in_session(request, _add_action, plan, typed, who)
    except NotFound:
        return not_found(request, who, f"plan {plan!r}")
    except InvalidInput as e:
        errors = {field_of(e, set(ACTION_FIELDS), "name"): message(e)}
        return await _plan_page(request, who, plan, status_code=422, errors=errors, typed=typed)
    except Conflict as e:
        return await _plan_page(
            request, who, plan, status_code=409, errors={"name": e.detail}, typed=typed
        )
    done = urlencode({"done": f"action {typed['name']} added"})
    return RedirectResponse(f"/ui/plans/{quote(plan)}?{done}#actions", status_code=303)


def _back(raw: str, plan: str) -> str:
    """Where a form on a row returns: the page it was on (never off this site)."""
    if raw.startswith("/ui/") and "//" not in raw and "\\" not in raw:
        return raw
    return f"/ui/plans/{quote(plan)}"


def _with(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _move(
    session: Session, plan: str, action: str, status: str, on: date | None, who: Principal
) -> None:
    plans.move(
        session,
        plan,
        action,
        status,
        username=who.username,
        may_write=allows(who.role, Permission.PLANS_WRITE),
        actor=actor(who),
        on=on,
    )
    session.commit()


@router.post("/ui/plans/{name}/actions/{action}/progress")
async def report_progress(request: Request, name: str, action: str) -> Response:
    """The owner (or a planner) records that an action started, was done or cancelled."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "report progress")
    if isinstance(form, Response):
        return form
    plan, act = name[:100], action[:100]
    back = _back(form.get("back", "")[:500], plan)
    status = form.get("status", "")[:16]
    on: date | None = None
    if form.get("on"):
        try:
            on = date.fromisoformat(form["on"][:10])
        except ValueError:
            return RedirectResponse(
                _with(back, problem=f"{act}: a day such as 2026-11-24"), status_code=303
            )
    try:
        await in_session(request, _move, plan, act, status, on, who)
    except NotFound as e:
        return not_found(request, who, e.detail.removeprefix("no "))
    except PermissionDenied as e:
        return denied(request, who, e.detail)
    except (InvalidInput, Conflict) as e:
        detail = message(e) if isinstance(e, InvalidInput) else e.detail
        return RedirectResponse(_with(back, problem=f"{act}: {detail}"), status_code=303)
    shown = status.replace("_", " ")
    return RedirectResponse(_with(back, done=f"{act}: {shown}"), status_code=303)


def _evaluate(
    session: Session, plan: str, action: str, form: dict[str, str], who: Principal
) -> None:
    try:
        quality = int(form.get("quality", ""))
    except ValueError:
        raise InvalidInput("a quality of 1 to 5", "quality") from None
    plans.evaluate(
        session,
        plan,
        action,
        form.get("result", ""),
        quality,
        form.get("note", "")[:10_000],
        username=who.username,
        may_override=who.role is Role.ADMIN,
        actor=actor(who),
    )
    session.commit()


@router.post("/ui/plans/{name}/actions/{action}/evaluation")
async def evaluate_action(request: Request, name: str, action: str) -> Response:
    """The evaluator records whether a done action met its criteria, and its quality."""
    who = await let_in(request, Permission.PLANS_READ, READ)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "evaluate an action")
    if isinstance(form, Response):
        return form
    plan, act = name[:100], action[:100]
    back = _back(form.get("back", "")[:500], plan)
    try:
        await in_session(request, _evaluate, plan, act, form, who)
    except NotFound as e:
        return not_found(request, who, e.detail.removeprefix("no "))
    except PermissionDenied as e:
        return denied(request, who, e.detail)
    except (InvalidInput, Conflict) as e:
        detail = message(e) if isinstance(e, InvalidInput) else e.detail
        return RedirectResponse(_with(back, problem=f"{act}: {detail}"), status_code=303)
    return RedirectResponse(_with(back, done=f"{act} evaluated"), status_code=303)
