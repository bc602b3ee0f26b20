"""The plan as code: ``Team``, ``MarketSize``, ``Objective`` and ``Plan`` documents for
``tactica apply``.

A team document is the team as it should be, members included: members it no
longer lists leave the team. A plan document is the plan as it should be, actions
included: a planned action it no longer lists is removed, while one already under
way or done must stay listed (it is cancelled, not forgotten). An action's progress
(started, done, evaluated) is recorded as the work goes, so a document sets only
``draft`` or ``committed``. Objectives and market sizes are created or changed in
place. Each apply says ``created``, ``updated`` or ``unchanged``.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from tactica.errors import InvalidInput, NotFound
from tactica.services import objectives, organisation, plans
from tactica.store.models import Objective, Plan

_TEAM_FIELDS = {f.name for f in fields(organisation.TeamInput)} | {"members"}
_MEMBER_FIELDS = {f.name for f in fields(organisation.MemberInput)}
# In a document ``kind`` is the document's (Objective): the goal's own kind is ``type``.
_OBJECTIVE_FIELDS = {f.name for f in fields(objectives.ObjectiveInput)} - {"kind"} | {"type"}
_MARKET_FIELDS = {"period", "market", "size", "source"}
# A plan's own kind (annual, quarterly...) is ``type`` too.
_PLAN_FIELDS = {f.name for f in fields(plans.PlanInput)} - {"kind"} | {"type", "actions"}
_ACTION_FIELDS = {f.name for f in fields(plans.ActionInput)}
_T = TypeVar("_T", Objective, Plan)


def _known(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; fields: {', '.join(sorted(allowed))}", where
        )


def _text(raw: dict[str, Any], key: str, where: str) -> Any:
    """``raw[key]`` as text when it was written as a number (YAML reads 2026 as one)."""
    value = raw.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise InvalidInput("text", f"{where}.{key}")
    return value


def _apply_team(session: Session, raw: dict[str, Any], actor: str) -> tuple[str, str]:
    _known(raw, _TEAM_FIELDS, "team")
    members = raw.get("members") or []
    if not isinstance(members, list):
        raise InvalidInput("a list of members", "team.members")
    data = organisation.TeamInput(**{k: v for k, v in raw.items() if k != "members"})
    try:
        team = organisation.get_team(session, data.name)
    except NotFound:
        team = None
    before = (
        None
        if team is None
        else organisation.team_view(team, organisation.members(session, team.name))
    )
    if team is None:
        organisation.add_team(session, data, actor=actor)
    else:
        wanted = {
            "name": data.name,
            "title": data.title,
            "function": data.function,
            "parent": data.parent or None,
            "lead": data.lead or None,
            "description": data.description,
        }
        if organisation.team_view(team) != wanted:
            organisation.update_team(session, data, actor=actor)
    listed: set[str] = set()
    for i, m in enumerate(members):
        where = f"team.members[{i}]"
        if not isinstance(m, dict):
            raise InvalidInput("a member: {username: ..., title: ...}", where)
        _known(m, _MEMBER_FIELDS, where)
        try:
            member = organisation.MemberInput(**m)
            organisation.put_member(session, data.name, member, actor=actor)
        except InvalidInput as e:
            detail = e.detail.removeprefix(f"{e.where}: ") if e.where else e.detail
            raise InvalidInput(detail, f"{where}.{e.where}" if e.where else where) from None
        listed.add(member.username)
    for m in organisation.members(session, data.name):
        if m.username not in listed:
            organisation.remove_member(session, data.name, m.username, actor=actor)
    after = organisation.team_view(
        organisation.get_team(session, data.name), organisation.members(session, data.name)
    )
    return data.name, "created" if before is None else (
        "unchanged" if before == after else "updated"
    )


def _apply_objective(session: Session, raw: dict[str, Any], actor: str) -> tuple[str, str]:
    _known(raw, _OBJECTIVE_FIELDS, "objective")
    data = {("kind" if k == "type" else k): v for k, v in raw.items()}
    data["period"] = _text(raw, "period", "objective")
    if "scope" in data and not isinstance(data["scope"], dict):
        raise InvalidInput("a mapping such as {channel: sms}", "objective.scope")
    try:
        existing = objectives.get_objective(session, str(raw.get("name")))
    except NotFound:
        existing = None
    goal = objectives.ObjectiveInput(**data)
    if existing is None:
        objectives.create_objective(session, goal, actor=actor)
        return goal.name, "created"
    before = objectives.objective_view(existing)
    after = objectives.objective_view(objectives.update_objective(session, goal, actor=actor))
    return goal.name, "unchanged" if before == after else "updated"


def _apply_market_size(session: Session, raw: dict[str, Any], actor: str) -> tuple[str, str]:
    _known(raw, _MARKET_FIELDS, "market size")
    period = _text(raw, "period", "market size")
    if period is None or "size" not in raw:
        raise InvalidInput("a market size needs a period and a size", "market size")
    market = str(raw.get("market") or "")
    source = str(raw.get("source") or "")
    label = f"{period}{' ' + market if market else ''}"
    before = {
        (m.period, m.market): (m.size, m.source) for m in objectives.list_market_sizes(session)
    }
    row = objectives.put_market_size(
        session, period, raw["size"], market=market, source=source, actor=actor
    )
    old = before.get((row.period, row.market))
    if old is None:
        return label, "created"
    return label, "unchanged" if old == (Decimal(row.size), row.source) else "updated"


def _plan_state(session: Session, name: str) -> Any:
    try:
        p = plans.get_plan(session, name)
    except NotFound:
        return None
    return plans.plan_view(p), [plans.action_view(a) for a in plans.actions_of(session, name)]


def _apply_plan(session: Session, raw: dict[str, Any], actor: str) -> tuple[str, str]:
    _known(raw, _PLAN_FIELDS, "plan")
    actions = raw.get("actions") or []
    if not isinstance(actions, list):
        raise InvalidInput("a list of actions", "plan.actions")
    data = {("kind" if k == "type" else k): v for k, v in raw.items() if k != "actions"}
    data["period"] = _text(raw, "period", "plan")
    wanted = plans.PlanInput(**data)
    before = _plan_state(session, wanted.name)
    if before is None:
        plans.create_plan(session, wanted, actor=actor)
    else:
        plans.update_plan(session, wanted, actor=actor)
    listed: set[str] = set()
    existing = {a.name for a in plans.actions_of(session, wanted.name)}
    for i, a in enumerate(actions):
        where = f"plan.actions[{i}]"
        if not isinstance(a, dict):
            raise InvalidInput(
                "an action: {name: ..., subject: ..., owner: ..., due_on: ...}", where
            )
        _known(a, _ACTION_FIELDS, where)
        try:
            action = plans.ActionInput(**a)
            if action.name in existing:
                plans.update_action(session, wanted.name, action, actor=actor)
            else:
                plans.add_action(session, wanted.name, action, actor=actor)
        except InvalidInput as e:
            detail = e.detail.removeprefix(f"{e.where}: ") if e.where else e.detail
            raise InvalidInput(detail, f"{where}.{e.where}" if e.where else where) from None
        listed.add(action.name)
    for name in sorted(existing - listed):
        a = plans.get_action(session, wanted.name, name)
        if a.status not in plans.PLANNED:
            raise InvalidInput(
                f"action {name!r} is {a.status}: keep it in the document (cancel it instead)",
                "plan.actions",
            )
        plans.remove_action(session, wanted.name, name, actor=actor)
    after = _plan_state(session, wanted.name)
    return wanted.name, "created" if before is None else (
        "unchanged" if before == after else "updated"
    )


def apply(session: Session, kind: str, raw: dict[str, Any], *, actor: str) -> tuple[str, str]:
    """Apply one plan document of ``kind``; (name, created/updated/unchanged)."""
    if kind == "Team":
        return _apply_team(session, raw, actor)
    if kind == "Objective":
        return _apply_objective(session, raw, actor)
    if kind == "MarketSize":
        return _apply_market_size(session, raw, actor)
    if kind == "Plan":
        return _apply_plan(session, raw, actor)
    raise InvalidInput(f"not a plan document: {kind!r}", "kind")


def export(session: Session) -> list[dict[str, Any]]:
    """Teams (parents first), market sizes and objectives as documents to apply again."""
    docs: list[dict[str, Any]] = []
    for t in organisation.list_teams(session):
        team = {k: v for k, v in t.items() if k not in ("depth", "members") and v not in (None, "")}
        members = [
            {k: v for k, v in m.items() if k != "team" and v not in (None, "")}
            for m in t["members"]
        ]
        docs.append({"kind": "Team", **team, **({"members": members} if members else {})})
    for m in objectives.list_market_sizes(session):
        doc: dict[str, Any] = {"kind": "MarketSize", "period": m.period, "size": str(m.size)}
        if m.market:
            doc["market"] = m.market
        if m.source:
            doc["source"] = m.source
        docs.append(doc)
    kept = set(_OBJECTIVE_FIELDS)
    for o in _parents_first(objectives.list_objectives(session)):
        view = objectives.objective_view(o)
        goal: dict[str, Any] = {"kind": "Objective"}
        for k, v in view.items():
            if k == "kind":
                if v == "qualitative":
                    goal["type"] = v
                continue
            if k not in kept or v in (None, "", {}):
                continue
            if (k, v) in (("higher_is_better", True), ("weight", Decimal(1))):
                continue  # the defaults
            if k == "definition" and o.kpi != "custom":
                continue  # the KPI's own
            if k == "scale_max" and o.kind != "qualitative":
                continue
            goal[k] = str(v) if isinstance(v, Decimal) else v
        docs.append(goal)
    docs.extend(_export_plans(session))
    return docs


def _parents_first(items: list[_T]) -> list[_T]:
    """``items`` with each after the one it names as ``parent`` (when listed)."""
    done: set[str] = set()
    ordered: list[_T] = []
    while len(ordered) < len(items):
        progressed = False
        for x in items:
            if x.name not in done and (x.parent is None or x.parent in done):
                ordered.append(x)
                done.add(x.name)
                progressed = True
        if not progressed:  # a parent outside the list: keep the rest as they are
            ordered.extend(x for x in items if x.name not in done)
            break
    return ordered


def _export_plans(session: Session) -> list[dict[str, Any]]:
    """Plans (parents first) with their actions as written; progress is not exported."""
    docs: list[dict[str, Any]] = []
    for p in _parents_first(plans.list_plans(session)):
        doc: dict[str, Any] = {"kind": "Plan"}
        for k, v in plans.plan_view(p).items():
            if v in (None, ""):
                continue
            doc["type" if k == "kind" else k] = v
        actions = []
        for a in plans.actions_of(session, p.name):
            view = plans.action_view(a)
            action = {k: view[k] for k in _ACTION_FIELDS if view.get(k) not in (None, "")}
            if a.status != "draft":
                action.pop("status", None)  # committed, or moved on by the work
            actions.append(action)
        if actions:
            doc["actions"] = actions
        docs.append(doc)
    return docs
