"""Programs and their campaigns: saved from documents (YAML as code), listed, moved
through their life, written back out.

A program document::

    name: spring-deposits
    owner: ana
    budget: 5000
    start: 2026-03-01
    end: 2026-05-31
    policy: default
    schedule: {cron: "0 9 * * 1"}        # or {once: 2026-03-02T09:00:00+00:00}, or manual
    campaigns:
      - name: young-td
        segment: young-savers
        eligibility: "consent_sms"
        offers: [TD-12M]
        channels: [sms]
        score: "balance / 1000"
        priority: 10
        capacity: 2000
        control_share: 0.1
        cost_per_contact: 0.05
      - name: top-up-bonus                # answers events as they come, not runs
        kind: triggered
        events: [top_up]
        eligibility: "event.amount >= 50 and tenure_months > 12"
        offers: [DATA-5GB]
        channels: [sms]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.programs import (
    CampaignSpec,
    ProgramSpec,
    ProgramStatus,
    Schedule,
    ScheduleKind,
    program_problems,
    transition,
)
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit, event_types
from tactica.store.customer_table import load_schema
from tactica.store.models import (
    Campaign,
    ContactPolicyRow,
    Offer,
    Program,
    Run,
    Segment,
    SpecialList,
)

_PROGRAM_KEYS = {
    "name",
    "owner",
    "description",
    "budget",
    "start",
    "end",
    "schedule",
    "policy",
    "sales",
    "campaigns",
}
_CAMPAIGN_KEYS = {
    "name",
    "kind",
    "segment",
    "eligibility",
    "offers",
    "channels",
    "template",
    "score",
    "priority",
    "capacity",
    "control_share",
    "cost_per_contact",
    "budget",
    "response_window_days",
    "events",
    "max_event_age_minutes",
}
#: A program may change while it is being prepared or is paused, not while it runs.
EDITABLE = {ProgramStatus.DRAFT, ProgramStatus.SCHEDULED, ProgramStatus.PAUSED}


def _money(raw: Any, where: str, problems: list[str]) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        problems.append(f"{where}: an amount, got {raw!r}")
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        problems.append(f"{where}: an amount, got {raw!r}")
        return None


def _day(raw: Any, where: str, problems: list[str]) -> date | None:
    if raw is None or (isinstance(raw, date) and not isinstance(raw, datetime)):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        problems.append(f"{where}: a date like 2026-03-01, got {raw!r}")
        return None


def _strings(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        problems.append(f"{where}: a list of names, got {raw!r}")
        return ()
    return tuple(raw)


def _schedule(raw: Any, where: str, problems: list[str]) -> Schedule:
    try:
        if raw is None or raw == "manual":
            return Schedule.manual()
        if isinstance(raw, Mapping) and set(raw) == {"cron"}:
            return Schedule.cron(str(raw["cron"]))
        if isinstance(raw, Mapping) and set(raw) == {"once"}:
            at = raw["once"]
            if not isinstance(at, datetime):
                at = datetime.fromisoformat(str(at))
            return Schedule.once(at)
    except ValueError as e:
        problems.append(f"{where}: {e}")
        return Schedule.manual()
    except InvalidInput as e:
        problems.append(f"{where}: {e.detail}")
        return Schedule.manual()
    problems.append(
        f"{where}: 'manual', {{cron: '0 9 * * 1'}} or {{once: 2026-03-02T09:00:00+00:00}}"
    )
    return Schedule.manual()


def _campaign(raw: Any, where: str, problems: list[str]) -> CampaignSpec | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: a mapping with name, offers, channels...")
        return None
    unknown = set(raw) - _CAMPAIGN_KEYS
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"a campaign takes {', '.join(sorted(_CAMPAIGN_KEYS))}"
        )
    priority, capacity, share = (
        raw.get("priority", 0),
        raw.get("capacity"),
        raw.get("control_share", 0),
    )
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(f"{where}.priority: a whole number, got {priority!r}")
        priority = 0
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        problems.append(f"{where}.capacity: a whole number, got {capacity!r}")
        capacity = None
    if isinstance(share, bool) or not isinstance(share, int | float):
        problems.append(f"{where}.control_share: a share such as 0.1, got {share!r}")
        share = 0.0
    texts = {}
    for key in ("segment", "eligibility", "template", "score"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{where}.{key}: text, got {value!r}")
            value = None
        texts[key] = value
    return CampaignSpec(
        name=str(raw.get("name", "")),
        kind=str(raw.get("kind", "outbound")),
        offers=_strings(raw.get("offers", []), f"{where}.offers", problems),
        channels=_strings(raw.get("channels", []), f"{where}.channels", problems),
        priority=priority,
        capacity=capacity,
        control_share=float(share),
        cost_per_contact=_money(
            raw.get("cost_per_contact", 0), f"{where}.cost_per_contact", problems
        )
        or Decimal(0),
        budget=_money(raw.get("budget"), f"{where}.budget", problems),
        response_window_days=raw.get("response_window_days", 14),
        events=_strings(raw.get("events", []), f"{where}.events", problems),
        max_event_age_minutes=raw.get("max_event_age_minutes"),
        **texts,
    )


def _sales(raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
    """``sales: {assignment: territory, sla_hours: 8}``: how the program's leads are worked."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or set(raw) - {"assignment", "sla_hours"}:
        problems.append(f"{where}: a mapping with assignment and/or sla_hours, got {raw!r}")
        return {}
    out: dict[str, Any] = {}
    if "assignment" in raw:
        out["lead_assignment"] = str(raw["assignment"])
    if "sla_hours" in raw:
        out["lead_sla_hours"] = raw["sla_hours"]
    return out


def parse_program(raw: Mapping[str, Any], where: str = "program") -> tuple[ProgramSpec, str]:
    """The spec and policy name a document describes; InvalidInput lists shape problems."""
    problems: list[str] = []
    unknown = set(raw) - _PROGRAM_KEYS
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"a program takes {', '.join(sorted(_PROGRAM_KEYS))}"
        )
    camps_raw = raw.get("campaigns", [])
    if not isinstance(camps_raw, list):
        problems.append(f"{where}.campaigns: a list of campaigns")
        camps_raw = []
    camps = [_campaign(c, f"{where}.campaigns[{i}]", problems) for i, c in enumerate(camps_raw)]
    spec = ProgramSpec(
        name=str(raw.get("name", "")),
        owner=str(raw.get("owner", "")),
        description=str(raw.get("description", "")),
        budget=_money(raw.get("budget"), f"{where}.budget", problems),
        start=_day(raw.get("start"), f"{where}.start", problems),
        end=_day(raw.get("end"), f"{where}.end", problems),
        schedule=_schedule(raw.get("schedule"), f"{where}.schedule", problems),
        campaigns=tuple(c for c in camps if c is not None),
        **_sales(raw.get("sales"), f"{where}.sales", problems),
    )
    if problems:
        raise InvalidInput(f"{where} has problems:\n- " + "\n- ".join(problems))
    return spec, str(raw.get("policy", "default"))


def _problems_in_store(session: Session, spec: ProgramSpec, policy: str) -> list[str]:
    problems = program_problems(
        spec,
        fields=load_schema(session).types(),
        segments=set(session.scalars(sa.select(Segment.name))),
        lists=set(session.scalars(sa.select(SpecialList.name))),
        offers=set(session.scalars(sa.select(Offer.code))),
        allow_empty=True,
        event_types=event_types.fields_by_type(session),
    )
    if (
        session.scalar(sa.select(ContactPolicyRow.id).where(ContactPolicyRow.name == policy))
        is None
    ):
        known = ", ".join(session.scalars(sa.select(ContactPolicyRow.name)))
        problems.append(f"policy: no contact policy {policy!r}; policies are: {known}")
    return problems


def get_program(session: Session, name: str) -> Program:
    """The program called ``name``; NotFound names the programs that exist."""
    p = session.scalar(sa.select(Program).where(Program.name == name))
    if p is None:
        known = ", ".join(session.scalars(sa.select(Program.name).order_by(Program.name)))
        raise NotFound(f"no program {name!r}; programs are: {known or '(none yet)'}")
    return p


def list_programs(session: Session) -> list[Program]:
    """Every program, by name."""
    return list(session.scalars(sa.select(Program).order_by(Program.name)))


def campaigns_of(session: Session, program: Program) -> list[Campaign]:
    """A program's campaigns in their written order."""
    return list(
        session.scalars(
            sa.select(Campaign).where(Campaign.program_id == program.id).order_by(Campaign.position)
        )
    )


def _amount(value: Decimal) -> str:
    # The same text before and after a round trip through NUMERIC columns.
    return format(value.normalize(), "f")


def program_data(session: Session, p: Program) -> dict[str, Any]:
    """A program as its document (what ``tactica export`` writes)."""
    schedule: Any = "manual"
    if p.schedule_kind == ScheduleKind.CRON.value:
        schedule = {"cron": p.schedule_cron}
    elif p.schedule_kind == ScheduleKind.ONCE.value and p.schedule_at is not None:
        schedule = {"once": p.schedule_at.isoformat()}
    out: dict[str, Any] = {"name": p.name, "owner": p.owner}
    if p.description:
        out["description"] = p.description
    if p.budget is not None:
        out["budget"] = _amount(p.budget)
    if p.start_date:
        out["start"] = p.start_date.isoformat()
    if p.end_date:
        out["end"] = p.end_date.isoformat()
    out["policy"] = p.policy
    out["schedule"] = schedule
    out["sales"] = {"assignment": p.lead_assignment, "sla_hours": p.lead_sla_hours}
    out["campaigns"] = []
    for c in campaigns_of(session, p):
        camp: dict[str, Any] = {"name": c.name, "kind": c.kind}
        for key in ("segment", "eligibility", "template", "score"):
            if getattr(c, key) is not None:
                camp[key] = getattr(c, key)
        camp["offers"] = list(c.offers)
        camp["channels"] = list(c.channels)
        camp["priority"] = c.priority
        if c.capacity is not None:
            camp["capacity"] = c.capacity
        camp["control_share"] = float(c.control_share)
        camp["cost_per_contact"] = _amount(c.cost_per_contact)
        if c.budget is not None:
            camp["budget"] = _amount(c.budget)
        camp["response_window_days"] = c.response_window_days
        if c.events:
            camp["events"] = list(c.events)
        if c.max_event_age_minutes is not None:
            camp["max_event_age_minutes"] = c.max_event_age_minutes
        out["campaigns"].append(camp)
    return out


def _write(session: Session, p: Program, spec: ProgramSpec, policy: str) -> None:
    """Write a checked spec onto the program row and replace its campaigns."""
    p.owner, p.description, p.budget, p.policy = spec.owner, spec.description, spec.budget, policy
    p.start_date, p.end_date = spec.start, spec.end
    p.schedule_kind = spec.schedule.kind.value
    p.schedule_at, p.schedule_cron = spec.schedule.at, spec.schedule.expression
    p.lead_assignment, p.lead_sla_hours = spec.lead_assignment, spec.lead_sla_hours
    # Stamped even when only campaigns change: the real-time path reloads what it
    # decides events with when a program's stamp moves.
    p.updated_at = datetime.now(UTC)
    session.flush()
    session.execute(sa.delete(Campaign).where(Campaign.program_id == p.id))
    for i, c in enumerate(spec.campaigns):
        session.add(
            Campaign(
                program_id=p.id,
                name=c.name,
                position=i,
                kind=c.kind,
                segment=c.segment,
                eligibility=c.eligibility,
                offers=list(c.offers),
                channels=list(c.channels),
                template=c.template,
                score=c.score,
                priority=c.priority,
                capacity=c.capacity,
                control_share=Decimal(str(c.control_share)),
                cost_per_contact=c.cost_per_contact,
                budget=c.budget,
                response_window_days=c.response_window_days,
                events=list(c.events),
                max_event_age_minutes=c.max_event_age_minutes,
            )
        )
    session.flush()


def apply_program(
    session: Session, raw: Mapping[str, Any], *, actor: str, where: str = "program"
) -> str:
    """Create or replace a program and its campaigns; returns 'created', 'updated' or 'unchanged'.

    Every problem is reported at once, each with its place; nothing is saved then.
    A running, completed or cancelled program cannot change.
    """
    spec, policy = parse_program(raw, where)
    problems = _problems_in_store(session, spec, policy)
    if problems:
        raise InvalidInput(f"{where} '{spec.name}' has problems:\n- " + "\n- ".join(problems))
    p = session.scalar(sa.select(Program).where(Program.name == spec.name))
    before = program_data(session, p) if p is not None else None
    if p is not None and ProgramStatus(p.status) not in EDITABLE:
        # Applying the same document again (a git checkout applied twice) is no change.
        savepoint = session.begin_nested()
        try:
            _write(session, p, spec, policy)
            same = program_data(session, p) == before
        finally:
            savepoint.rollback()
        session.expire_all()
        if same:
            return "unchanged"
        raise Conflict(f"program {spec.name!r} is {p.status}: pause it before changing it")
    if p is None:
        p = Program(name=spec.name, status=ProgramStatus.DRAFT.value)
        session.add(p)
    _write(session, p, spec, policy)
    after = program_data(session, p)
    if before == after:
        return "unchanged"
    audit.record(
        session, actor, "create" if before is None else "update", "program", p.name, before, after
    )
    return "created" if before is None else "updated"


#: Statuses in which a program's schedule is live.
ACTIVE = frozenset({ProgramStatus.SCHEDULED.value, ProgramStatus.RUNNING.value})


def runnable_problems(session: Session, p: Program) -> list[str]:
    """Why ``p`` cannot run as stored now (its rules, offers, segments, policy), or []."""
    spec, policy = parse_program(program_data(session, p))
    problems = _problems_in_store(session, spec, policy)
    if not spec.campaigns:
        problems.append("campaigns: a program needs at least one campaign to run")
    return problems


def set_status(session: Session, name: str, target: str, *, actor: str) -> Program:
    """Move a program along its life; to be scheduled or run it must be valid, with campaigns."""
    p = get_program(session, name)
    new = transition(p.status, target)
    if new in (ProgramStatus.SCHEDULED, ProgramStatus.RUNNING):
        problems = runnable_problems(session, p)
        if problems:
            raise InvalidInput(
                f"program {name!r} cannot be {new.value}:\n- " + "\n- ".join(problems)
            )
        if p.status not in ACTIVE:
            p.activated_at = datetime.now(UTC)
    before = p.status
    p.status = new.value
    audit.record(
        session, actor, "status", "program", name, {"status": before}, {"status": new.value}
    )
    return p


def delete_program(session: Session, name: str, *, actor: str) -> None:
    """Remove a program that is not running."""
    p = get_program(session, name)
    if p.status in (ProgramStatus.RUNNING.value, ProgramStatus.SCHEDULED.value):
        raise Conflict(f"program {name!r} is {p.status}: cancel it first")
    runs = session.scalar(sa.select(sa.func.count()).select_from(Run).where(Run.program_id == p.id))
    if runs:
        # Its contacts are history every later policy check reads: they must stay.
        raise Conflict(
            f"program {name!r} has {runs} run(s) and its contacts are history: "
            "cancel or complete it instead of deleting it"
        )
    before = program_data(session, p)
    session.delete(p)
    audit.record(session, actor, "delete", "program", name, before, None)
