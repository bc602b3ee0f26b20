"""Plans broken into owned actions, and how the actions are going.

A plan covers a period: an annual plan a year, a quarterly plan a quarter within
its annual parent, and so down to weekly plans; promotion and brand-communication
plans cover whatever period they name. A plan is broken into actions, each with a
subject, a responsible person, start and due days and the criteria it will be
evaluated by. Until an action has an owner and a due day it is a draft; a plan
without committed actions is a slogan, and is shown as one.

An action moves ``draft → committed → in_progress → done`` (or ``cancelled``); once
done, its evaluator (named on the action, else the owner's manager) records whether
the criteria were met and at what quality. An action that carries out a program
shows the program's figures over the action's days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.periods import Period, PeriodKind, parse_period
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import audit, kpi_actuals, organisation
from tactica.store.models import Objective, Plan, PlanAction, Program, Team, User

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

#: Plan kinds and the period each covers (None: any period).
PLAN_KINDS: dict[str, PeriodKind | None] = {
    "annual": PeriodKind.YEAR,
    "half-yearly": PeriodKind.HALF,
    "quarterly": PeriodKind.QUARTER,
    "monthly": PeriodKind.MONTH,
    "weekly": PeriodKind.WEEK,
    "promotion": None,
    "brand": None,
}
STATUSES = ("draft", "committed", "in_progress", "done", "cancelled")
#: Where each status may go next.
MOVES: dict[str, tuple[str, ...]] = {
    "draft": ("committed", "cancelled"),
    "committed": ("draft", "in_progress", "done", "cancelled"),
    "in_progress": ("done", "cancelled"),
    "done": ("in_progress",),  # reopened, until it is evaluated
    "cancelled": (),
}
#: Statuses a plan written as code may set; the rest are recorded as the work goes.
PLANNED = ("draft", "committed")
RESULTS = ("met", "partly", "not_met")
QUALITY_MAX = 5
#: An action not yet started this close to its due day is at risk.
AT_RISK_DAYS = 3
#: The program figures an action shows.
ACTION_MEASURES = ("sent", "delivered", "responses", "leads", "orders", "revenue", "cost")


# ------------------------------------------------------------------ plans


@dataclass(frozen=True)
class PlanInput:
    """A plan as written: its period, kind, parent plan, owner and the goal it serves."""

    name: str
    period: str
    kind: str = "annual"
    title: str = ""
    parent: str | None = None
    owner_team: str | None = None
    owner: str | None = None
    objective: str | None = None
    strategy: str = ""


def _user_exists(session: Session, username: str) -> bool:
    return session.scalar(sa.select(User.id).where(User.username == username)) is not None


def _check_plan(session: Session, data: PlanInput) -> dict[str, Any]:
    if not _NAME.match(data.name):
        raise InvalidInput(f"{data.name!r}: letters, digits, '.', '-' and '_', at most 100", "name")
    if data.kind not in PLAN_KINDS:
        raise InvalidInput(f"{data.kind!r} is not one of {', '.join(PLAN_KINDS)}", "kind")
    period = parse_period(data.period)
    wanted = PLAN_KINDS[data.kind]
    if wanted is not None and period.kind is not wanted:
        raise InvalidInput(
            f"a {data.kind} plan covers a {wanted.value}, not {period.label}", "period"
        )
    if len(data.title) > 200:
        raise InvalidInput("at most 200 characters", "title")
    if len(data.strategy) > 20_000:
        raise InvalidInput("at most 20,000 characters", "strategy")
    if data.parent:
        parent = session.scalar(sa.select(Plan).where(Plan.name == data.parent))
        if parent is None:
            raise InvalidInput(f"no plan {data.parent!r}", "parent")
        if parent.name == data.name:
            raise InvalidInput("a plan cannot break down itself", "parent")
        if not (parent.starts_on <= period.start and period.end <= parent.ends_on):
            raise InvalidInput(
                f"{period.label} is not within {parent.name!r}'s period {parent.period}", "period"
            )
    if (
        data.owner_team
        and session.scalar(sa.select(Team.id).where(Team.name == data.owner_team)) is None
    ):
        raise InvalidInput(f"no team {data.owner_team!r}", "owner_team")
    if data.owner and not _user_exists(session, data.owner):
        raise InvalidInput(f"no user {data.owner!r}", "owner")
    if (
        data.objective
        and session.scalar(sa.select(Objective.id).where(Objective.name == data.objective)) is None
    ):
        raise InvalidInput(f"no objective {data.objective!r}", "objective")
    return {
        "title": data.title,
        "kind": data.kind,
        "period": period.label,
        "starts_on": period.start,
        "ends_on": period.end,
        "parent": data.parent or None,
        "owner_team": data.owner_team or None,
        "owner": data.owner or None,
        "objective": data.objective or None,
        "strategy": data.strategy,
    }


def plan_view(p: Plan) -> dict[str, Any]:
    """A plan as written (its actions apart)."""
    return {
        "name": p.name,
        "title": p.title,
        "kind": p.kind,
        "period": p.period,
        "parent": p.parent,
        "owner_team": p.owner_team,
        "owner": p.owner,
        "objective": p.objective,
        "strategy": p.strategy,
    }


def get_plan(session: Session, name: str) -> Plan:
    """The plan called ``name``, or NotFound."""
    p = session.scalar(sa.select(Plan).where(Plan.name == name))
    if p is None:
        raise NotFound(f"no plan {name!r}")
    return p


def create_plan(session: Session, data: PlanInput, *, actor: str) -> Plan:
    """A new plan; Conflict when the name is taken."""
    cols = _check_plan(session, data)
    if session.scalar(sa.select(Plan.id).where(Plan.name == data.name)) is not None:
        raise Conflict(f"plan {data.name!r} exists already")
    p = Plan(name=data.name, created_by=actor, **cols)
    session.add(p)
    session.flush()
    audit.record(session, actor, "plan.create", "plan", p.name, after=plan_view(p))
    return p


def update_plan(session: Session, data: PlanInput, *, actor: str) -> Plan:
    """Change a plan (its name stays); its actions must still fit its period."""
    p = get_plan(session, data.name)
    cols = _check_plan(session, data)
    outside = session.scalars(
        sa.select(PlanAction.name).where(
            PlanAction.plan == p.name,
            sa.or_(PlanAction.starts_on < cols["starts_on"], PlanAction.due_on >= cols["ends_on"]),
        )
    ).all()
    if outside:
        raise InvalidInput(
            f"actions {', '.join(sorted(outside)[:10])} fall outside {cols['period']}", "period"
        )
    before = plan_view(p)
    for k, v in cols.items():
        setattr(p, k, v)
    session.flush()
    audit.record(session, actor, "plan.update", "plan", p.name, before, plan_view(p))
    return p


def delete_plan(session: Session, name: str, *, actor: str) -> None:
    """Remove a plan and its actions; refused while plans break it down or work is recorded."""
    p = get_plan(session, name)
    below = session.scalars(sa.select(Plan.name).where(Plan.parent == name)).all()
    if below:
        raise Conflict(f"plan {name!r} is broken down into {', '.join(sorted(below))}")
    worked = session.scalars(
        sa.select(PlanAction.name).where(
            PlanAction.plan == name, PlanAction.status.in_(("in_progress", "done"))
        )
    ).all()
    if worked:
        raise Conflict(
            f"plan {name!r} has actions under way or done ({', '.join(sorted(worked)[:10])}): "
            "cancel the plan's open actions instead"
        )
    before = plan_view(p)
    session.execute(sa.delete(PlanAction).where(PlanAction.plan == name))
    session.delete(p)
    session.flush()
    audit.record(session, actor, "plan.delete", "plan", name, before=before)


def list_plans(
    session: Session, *, period: str | None = None, owner_team: str | None = None
) -> list[Plan]:
    """Plans, parents before the plans that break them down; optionally of periods
    overlapping ``period`` and of one team."""
    stmt = sa.select(Plan).order_by(Plan.starts_on, Plan.ends_on.desc(), Plan.name)
    if period:
        p = parse_period(period)
        stmt = stmt.where(Plan.starts_on < p.end, Plan.ends_on > p.start)
    if owner_team:
        stmt = stmt.where(Plan.owner_team == owner_team)
    return list(session.scalars(stmt))


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class ActionInput:
    """An action as written. ``status`` may be ``draft`` or ``committed`` here; the
    work moves it on (:func:`move`)."""

    name: str
    subject: str
    owner: str | None = None
    starts_on: date | str | None = None
    due_on: date | str | None = None
    criteria: str = ""
    status: str = "committed"
    program: str | None = None
    evaluator: str | None = None


def _day(value: date | str | None, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{value!r} is not a day (YYYY-MM-DD)", where) from None


def missing_for_commitment(owner: str | None, due_on: date | None, criteria: str) -> list[str]:
    """What an action lacks to be committed: an owner, a due day, evaluation criteria."""
    missing = []
    if not owner:
        missing.append("owner")
    if due_on is None:
        missing.append("due_on")
    if not criteria.strip():
        missing.append("criteria")
    return missing


def _check_action(session: Session, plan: Plan, data: ActionInput) -> dict[str, Any]:
    if not _NAME.match(data.name):
        raise InvalidInput(f"{data.name!r}: letters, digits, '.', '-' and '_', at most 100", "name")
    if not data.subject.strip() or len(data.subject) > 300:
        raise InvalidInput("what is to be done, 1 to 300 characters", "subject")
    if len(data.criteria) > 10_000:
        raise InvalidInput("at most 10,000 characters", "criteria")
    starts_on, due_on = _day(data.starts_on, "starts_on"), _day(data.due_on, "due_on")
    last = plan.ends_on - timedelta(days=1)
    for where, day in (("starts_on", starts_on), ("due_on", due_on)):
        if day is not None and not plan.starts_on <= day <= last:
            raise InvalidInput(
                f"{day} is outside plan {plan.name!r} ({plan.starts_on} to {last})", where
            )
    if starts_on and due_on and due_on < starts_on:
        raise InvalidInput(f"due {due_on}, before its start {starts_on}", "due_on")
    for where, username in (("owner", data.owner), ("evaluator", data.evaluator)):
        if username and not _user_exists(session, username):
            raise InvalidInput(f"no user {username!r}", where)
    if data.program and (
        session.scalar(sa.select(Program.id).where(Program.name == data.program)) is None
    ):
        raise InvalidInput(f"no program {data.program!r}", "program")
    if data.status not in STATUSES:
        raise InvalidInput(f"{data.status!r} is not one of {', '.join(STATUSES)}", "status")
    if data.status == "committed":
        missing = missing_for_commitment(data.owner, due_on, data.criteria)
        if missing:
            raise InvalidInput(
                f"a committed action needs {' and '.join(missing)} (or keep it as a draft)",
                missing[0],
            )
    return {
        "subject": data.subject.strip(),
        "owner": data.owner or None,
        "starts_on": starts_on,
        "due_on": due_on,
        "criteria": data.criteria,
        "program": data.program or None,
        "evaluator": data.evaluator or None,
    }


def action_view(a: PlanAction) -> dict[str, Any]:
    """An action as written and as it stands (status, done day, evaluation)."""
    return {
        "plan": a.plan,
        "name": a.name,
        "subject": a.subject,
        "owner": a.owner,
        "starts_on": a.starts_on.isoformat() if a.starts_on else None,
        "due_on": a.due_on.isoformat() if a.due_on else None,
        "criteria": a.criteria,
        "status": a.status,
        "program": a.program,
        "evaluator": a.evaluator,
        "started_on": a.started_on.isoformat() if a.started_on else None,
        "done_on": a.done_on.isoformat() if a.done_on else None,
        "result": a.result,
        "quality": a.quality,
        "evaluation_note": a.evaluation_note,
        "evaluated_by": a.evaluated_by,
        "evaluated_at": a.evaluated_at.astimezone(UTC).isoformat() if a.evaluated_at else None,
    }


def get_action(session: Session, plan: str, name: str) -> PlanAction:
    """Action ``name`` of ``plan``, or NotFound."""
    a = session.scalar(
        sa.select(PlanAction).where(PlanAction.plan == plan, PlanAction.name == name)
    )
    if a is None:
        get_plan(session, plan)
        raise NotFound(f"plan {plan!r} has no action {name!r}")
    return a


def actions_of(session: Session, plan: str) -> list[PlanAction]:
    """A plan's actions by due day (undated last), then name."""
    return list(
        session.scalars(
            sa.select(PlanAction)
            .where(PlanAction.plan == plan)
            .order_by(PlanAction.due_on.is_(None), PlanAction.due_on, PlanAction.name)
        )
    )


def add_action(session: Session, plan: str, data: ActionInput, *, actor: str) -> PlanAction:
    """A new action of ``plan`` (a draft, or committed with owner, due day and criteria)."""
    p = get_plan(session, plan)
    cols = _check_action(session, p, data)
    if data.status not in PLANNED:
        raise InvalidInput(f"a new action is {' or '.join(PLANNED)}", "status")
    exists = session.scalar(
        sa.select(PlanAction.id).where(PlanAction.plan == plan, PlanAction.name == data.name)
    )
    if exists is not None:
        raise Conflict(f"plan {plan!r} has an action {data.name!r} already")
    a = PlanAction(
        plan=plan,
        name=data.name,
        status=data.status,
        evaluation_note="",
        created_by=actor,
        **cols,
    )
    session.add(a)
    session.flush()
    audit.record(
        session, actor, "action.create", "action", f"{plan}/{a.name}", after=action_view(a)
    )
    return a


def update_action(session: Session, plan: str, data: ActionInput, *, actor: str) -> PlanAction:
    """Change what an action is (subject, owner, days, criteria, program, evaluator).

    Its status changes only between draft and committed here; work under way or done
    keeps its status (see :func:`move`) and must keep an owner and a due day.
    """
    a = get_action(session, plan, data.name)
    cols = _check_action(session, get_plan(session, plan), data)
    status = a.status
    if data.status not in PLANNED and data.status != a.status:
        raise InvalidInput(
            f"an action moves to {data.status} by recording its progress, not by editing it",
            "status",
        )
    if a.status in PLANNED:
        status = data.status
    else:
        missing = missing_for_commitment(cols["owner"], cols["due_on"], cols["criteria"])
        if missing:
            raise InvalidInput(
                f"action {a.name!r} is {a.status}: it keeps its {' and '.join(missing)}",
                missing[0],
            )
    before = action_view(a)
    for k, v in cols.items():
        setattr(a, k, v)
    a.status = status
    session.flush()
    after = action_view(a)
    if after != before:
        audit.record(session, actor, "action.update", "action", f"{plan}/{a.name}", before, after)
    return a


def remove_action(session: Session, plan: str, name: str, *, actor: str) -> None:
    """Remove an action not yet under way; work recorded is cancelled, not removed."""
    a = get_action(session, plan, name)
    if a.status not in PLANNED:
        raise Conflict(f"action {name!r} is {a.status}: cancel it instead of removing it")
    before = action_view(a)
    session.delete(a)
    session.flush()
    audit.record(session, actor, "action.delete", "action", f"{plan}/{name}", before=before)


def move(
    session: Session,
    plan: str,
    name: str,
    status: str,
    *,
    username: str,
    may_write: bool,
    actor: str,
    on: date | None = None,
) -> PlanAction:
    """Record an action's progress: started, done (on a day), cancelled, reopened.

    Its owner records it; so may anyone who writes plans. Done records the day it was
    done (``on``, default today), which says whether it was on time.
    """
    a = get_action(session, plan, name)
    if a.owner != username and not may_write:
        raise PermissionDenied(f"action {name!r} is {a.owner or 'nobody'}'s to report on")
    if status not in STATUSES:
        raise InvalidInput(f"{status!r} is not one of {', '.join(STATUSES)}", "status")
    if status == a.status:
        return a
    if status not in MOVES[a.status]:
        allowed = ", ".join(MOVES[a.status]) or "nothing"
        raise Conflict(f"action {name!r} is {a.status}: it can move to {allowed}")
    if a.status == "done" and a.result is not None:
        raise Conflict(f"action {name!r} has been evaluated: it stays done")
    if status == "committed":
        missing = missing_for_commitment(a.owner, a.due_on, a.criteria)
        if missing:
            raise InvalidInput(f"a committed action needs {' and '.join(missing)}", missing[0])
    today = datetime.now(UTC).date()
    day = on or today
    if day > today:
        raise InvalidInput(f"{day} has not come yet: record work once it is done", "on")
    before = action_view(a)
    if status == "in_progress":
        a.started_on = a.started_on or day
        a.done_on = None
    elif status == "done":
        a.started_on = a.started_on or day
        a.done_on = day
    elif status in PLANNED:
        a.started_on = None
    a.status = status
    session.flush()
    audit.record(
        session, actor, f"action.{status}", "action", f"{plan}/{name}", before, action_view(a)
    )
    return a


def evaluator_of(session: Session, a: PlanAction) -> str | None:
    """Who evaluates ``a``: the evaluator it names, else its owner's manager."""
    if a.evaluator:
        return a.evaluator
    return organisation.manager_of(session, a.owner) if a.owner else None


def evaluate(
    session: Session,
    plan: str,
    name: str,
    result: str,
    quality: int,
    note: str,
    *,
    username: str,
    may_override: bool,
    actor: str,
    now: datetime | None = None,
) -> PlanAction:
    """Record a done action's evaluation against its criteria: met, partly or not met,
    and its quality on a scale of 1 to 5. Its evaluator records it (an admin may);
    never its owner."""
    a = get_action(session, plan, name)
    if a.status != "done":
        raise Conflict(f"action {name!r} is {a.status}: it is evaluated once done")
    who = evaluator_of(session, a)
    if not may_override:
        if who is None:
            raise PermissionDenied(
                f"action {name!r} names no evaluator and its owner has no manager: "
                "name an evaluator first"
            )
        if username != who:
            raise PermissionDenied(f"action {name!r} is evaluated by {who}")
    if username == a.owner and not may_override:
        raise PermissionDenied("nobody evaluates their own action")
    if result not in RESULTS:
        raise InvalidInput(f"{result!r} is not one of {', '.join(RESULTS)}", "result")
    if not 1 <= quality <= QUALITY_MAX:
        raise InvalidInput(f"a quality of 1 to {QUALITY_MAX}", "quality")
    if len(note) > 10_000:
        raise InvalidInput("at most 10,000 characters", "note")
    before = action_view(a)
    a.result, a.quality, a.evaluation_note = result, quality, note
    a.evaluated_by, a.evaluated_at = username, now or datetime.now(UTC)
    session.flush()
    audit.record(
        session, actor, "action.evaluate", "action", f"{plan}/{name}", before, action_view(a)
    )
    return a


# ------------------------------------------------------------------ tracking


def tracking(a: PlanAction, today: date) -> str:
    """Where an action stands on ``today``.

    ``slogan`` (a draft without owner, due day or criteria), ``draft``, ``on track``,
    ``at risk`` (not started though its start has passed, or due within a few days),
    ``late`` (open past its due day), ``done on time``, ``done late``, ``cancelled``.
    """
    if a.status == "cancelled":
        return "cancelled"
    if a.status == "done":
        on_time = a.due_on is None or (a.done_on is not None and a.done_on <= a.due_on)
        return "done on time" if on_time else "done late"
    if a.status == "draft":
        return "slogan" if missing_for_commitment(a.owner, a.due_on, a.criteria) else "draft"
    if a.due_on is not None and a.due_on < today:
        return "late"
    if a.status == "committed" and (
        (a.starts_on is not None and a.starts_on < today)
        or (a.due_on is not None and (a.due_on - today).days < AT_RISK_DAYS)
    ):
        return "at risk"
    return "on track"


def program_figures(
    session: Session, a: PlanAction, plan: Plan, today: date, cache: kpi_actuals.Cache
) -> dict[str, Any] | None:
    """The figures of the program ``a`` carries out, from its start (or the plan's) to
    the day it was done (else its due day, and never after ``today``)."""
    if not a.program:
        return None
    start = a.starts_on or plan.starts_on
    last = a.done_on or a.due_on or (plan.ends_on - timedelta(days=1))
    end = min(last, today) + timedelta(days=1)
    period = parse_period(plan.period)
    span = kpi_actuals.Span(period, start, max(end, start))
    got = kpi_actuals.measures(session, span, {"program": a.program}, ACTION_MEASURES, cache)
    return {
        "from": start.isoformat(),
        "to": (span.end - timedelta(days=1)).isoformat() if span.end > start else None,
        **{k: got.values.get(k) for k in ACTION_MEASURES},
    }


def tracked_view(
    session: Session,
    a: PlanAction,
    plan: Plan,
    today: date,
    cache: kpi_actuals.Cache | None = None,
) -> dict[str, Any]:
    """An action with its tracking status, its evaluator and its program's figures."""
    missing = missing_for_commitment(a.owner, a.due_on, a.criteria)
    return {
        **action_view(a),
        "tracking": tracking(a, today),
        "missing": missing if a.status in PLANNED else [],
        "evaluates": evaluator_of(session, a),
        "figures": program_figures(session, a, plan, today, {} if cache is None else cache),
    }


def slogan_reason(session: Session, plan: Plan) -> str | None:
    """Why ``plan`` is still a slogan (no committed action), or None when it is a plan."""
    counts = dict(
        session.execute(
            sa.select(PlanAction.status, sa.func.count())
            .where(PlanAction.plan == plan.name)
            .group_by(PlanAction.status)
        ).all()
    )
    if not counts:
        return "no actions"
    if not any(counts.get(s) for s in ("committed", "in_progress", "done")):
        return "no committed action (only drafts or cancelled ones)"
    return None


def plan_detail(session: Session, name: str, today: date) -> dict[str, Any]:
    """A plan with its actions as they stand on ``today`` and a count per status."""
    p = get_plan(session, name)
    cache: kpi_actuals.Cache = {}
    actions = [tracked_view(session, a, p, today, cache) for a in actions_of(session, name)]
    counts: dict[str, int] = {}
    for a in actions:
        counts[a["tracking"]] = counts.get(a["tracking"], 0) + 1
    return {
        **plan_view(p),
        "slogan": slogan_reason(session, p),
        "actions": actions,
        "tracking": counts,
    }


@dataclass(frozen=True)
class Window:
    """The days ``[start, end]`` a tracking view covers: a day, a week, a month..."""

    label: str
    start: date
    end: date


def window(text: str, where: str = "period") -> Window:
    """A day (``2026-11-23``) or a period (``2026-W48``, ``2026-11``...) as a Window."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        day = _day(text.strip(), where)
        assert day is not None
        return Window(day.isoformat(), day, day)
    p = parse_period(text, where)
    return Window(p.label, p.start, p.end - timedelta(days=1))


def track(
    session: Session,
    period: Period | Window,
    today: date,
    *,
    owner: str | None = None,
    owners: list[str] | None = None,
    plan: str | None = None,
) -> list[dict[str, Any]]:
    """The daily, weekly or monthly tracking view: actions due within ``period`` and
    those still open that fell due before it, for one owner, several, or everyone."""
    if isinstance(period, Period):
        period = Window(period.label, period.start, period.end - timedelta(days=1))
    last = period.end
    stmt = (
        sa.select(PlanAction, Plan)
        .join(Plan, Plan.name == PlanAction.plan)
        .where(
            sa.or_(
                sa.and_(PlanAction.due_on >= period.start, PlanAction.due_on <= last),
                sa.and_(
                    PlanAction.due_on < period.start,
                    PlanAction.status.in_(("committed", "in_progress")),
                ),
                sa.and_(
                    PlanAction.due_on.is_(None),
                    Plan.starts_on <= last,
                    Plan.ends_on > period.start,
                ),
            )
        )
        .order_by(PlanAction.due_on.is_(None), PlanAction.due_on, PlanAction.plan, PlanAction.name)
    )
    if owner is not None:
        stmt = stmt.where(PlanAction.owner == owner)
    if owners is not None:
        stmt = stmt.where(PlanAction.owner.in_(owners))
    if plan is not None:
        stmt = stmt.where(PlanAction.plan == plan)
    cache: kpi_actuals.Cache = {}
    return [tracked_view(session, a, p, today, cache) for a, p in session.execute(stmt).all()]
