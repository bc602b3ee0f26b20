"""Why a customer was (or would be) contacted or not: every step, with rules and numbers.

For a past run the decision is replayed from the run's own snapshot, at its decision
time, against the contact history as the run saw it (without its own contacts and
nothing later); what the run actually recorded (its contacts and its suppression log)
is shown next to the replay. For a program that has not run, the replay is "what a run
would do now". Target rules are evaluated by the engine's own SQL (in DuckDB), the
contact policy and the arbitration by :func:`tactica.domain.policy.decide`, which the
engine is held equal to by property tests.

Capacity is the one step that depends on other customers: for a run, the recorded
contacts tell whether the customer was cut by it; for a preview it is only named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import sqlalchemy as sa

from tactica.domain.control import BUCKETS, control_bucket
from tactica.domain.policy import Candidate, ContactStatus, LedgerEntry, Outcome, decide
from tactica.domain.rules import compile_rule
from tactica.domain.schema import FieldType
from tactica.engine.membership import MEMBERS_SCHEMA, MEMBERS_TABLE, rule_context
from tactica.engine.plan import BatchInputs, CampaignPlan
from tactica.errors import NotFound
from tactica.services.programs import get_program
from tactica.services.run_inputs import campaign_rule, read_inputs, run_limits, take_snapshot
from tactica.services.runs import get_run, suppressions_of
from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut


@dataclass(frozen=True)
class Step:
    """One step of a decision: its name, whether it passed (None: informative), and why."""

    name: str
    passed: bool | None
    detail: str


@dataclass
class CampaignExplanation:
    """How one campaign went for the customer: the steps, then the outcome in one line."""

    campaign: str
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""
    contacted: bool = False


@dataclass
class Explanation:
    """The whole story for one customer in one run (or a preview of one)."""

    customer_id: str
    program: str
    as_of: datetime
    run_id: int | None
    campaigns: list[CampaignExplanation]
    recorded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The explanation as plain data (the API's response)."""
        return {
            "customer_id": self.customer_id,
            "program": self.program,
            "as_of": self.as_of.isoformat(),
            "run_id": self.run_id,
            "campaigns": [
                {
                    "campaign": c.campaign,
                    "outcome": c.outcome,
                    "contacted": c.contacted,
                    "steps": [
                        {"step": s.name, "passed": s.passed, "detail": s.detail} for s in c.steps
                    ],
                }
                for c in self.campaigns
            ],
            "recorded": self.recorded,
            "notes": self.notes,
        }


class _Evaluator:
    """Evaluates rule conditions on the one customer, with the engine's SQL."""

    def __init__(self, inputs: BatchInputs) -> None:
        self.inputs = inputs
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.register("cust", inputs.customers)
        self.con.register(MEMBERS_TABLE, inputs.members or MEMBERS_SCHEMA.empty_table())
        self.ctx = rule_context(
            inputs.fields, inputs.now.astimezone(UTC).date(), "c", inputs.segment_rules
        )

    def value(self, source: str, expect: FieldType) -> Any:
        checked = compile_rule(source, self.inputs.fields, expect=expect)
        row = self.con.execute(f"SELECT {checked.sql(self.ctx, 'duckdb')} FROM cust c").fetchone()
        return row[0] if row else None

    def holds(self, source: str) -> bool:
        return self.value(source, FieldType.BOOL) is True

    def close(self) -> None:
        self.con.close()


def _target_steps(ev: _Evaluator, plan: CampaignPlan, snapshot: Mapping[str, Any]) -> list[Step]:
    """The campaign's segment and eligibility, as the snapshot defines them."""
    spec = next(c for c in snapshot["program"]["campaigns"] if c["name"] == plan.name)
    steps: list[Step] = []
    segment = spec.get("segment")
    if segment:
        rule = snapshot["segments"].get(segment)
        ok = ev.holds(campaign_rule(segment, None) or "true")
        steps.append(
            Step(f"segment '{segment}'", ok, f"rule: {rule}" if rule else "static segment")
        )
    if spec.get("eligibility"):
        steps.append(Step("eligibility", ev.holds(spec["eligibility"]), spec["eligibility"]))
    return steps


def _channel_steps(
    inputs: BatchInputs, row: Mapping[str, Any], channel: str
) -> tuple[list[Step], bool]:
    """Exclusion lists, contact point and consent on one channel (in the engine's order)."""
    steps: list[Step] = []
    reasons = sorted(
        str(x["reason"]) for x in inputs.exclusions.to_pylist() if x["channel"] in (channel, "all")
    )
    steps.append(
        Step(f"{channel}: special lists", not reasons, "; ".join(reasons) or "on no exclusion list")
    )
    point_col = inputs.channel_points[channel]
    point = row.get(point_col)
    has_point = point is not None and str(point).strip() != ""
    steps.append(
        Step(f"{channel}: {point_col}", has_point, str(point) if has_point else f"no {point_col}")
    )
    consent_col = inputs.channel_consents[channel]
    consent = row.get(consent_col) is True
    steps.append(
        Step(
            f"{channel}: {consent_col}",
            consent,
            "consent given" if consent else f"no consent for {channel}",
        )
    )
    return steps, not reasons and has_point and consent


def _ledger(inputs: BatchInputs) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            r["at"],
            r["channel"],
            r["campaign"],
            r["campaign_kind"],
            r["offer"],
            ContactStatus(r["status"]),
        )
        for r in inputs.ledger.to_pylist()
    ]


def _policy_steps(outcome: Outcome) -> list[Step]:
    return [Step(f"policy '{v.rule}'", v.passed, v.detail) for v in outcome.verdicts]


def explain_customer(
    store: Store,
    customer_id: str,
    *,
    run_id: int | None = None,
    program: str | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Explain run ``run_id`` for the customer, or what ``program`` would do now."""
    recorded_contacts: list[dict[str, Any]] = []
    recorded_log: list[dict[str, Any]] = []
    with store.session() as s:
        if run_id is not None:
            run = get_run(s, run_id)
            snapshot, as_of, name = run.snapshot, run.as_of, run.program
            inputs = read_inputs(
                store, s, snapshot, as_of, customer_ids=[customer_id], past_run=run_id
            )
            if run.status == "completed":
                limits = run_limits(s, snapshot, as_of, past_run=run_id)
                inputs = replace(inputs, limits=limits)
            recorded_contacts = [
                {"campaign": h.campaign, "offer": h.offer, "channel": h.channel, "held_out": True}
                for h in s.scalars(
                    sa.select(HeldOut)
                    .where(HeldOut.run_id == run_id, HeldOut.customer_id == customer_id)
                    .order_by(HeldOut.campaign)
                )
            ] + [
                {"campaign": c.campaign, "offer": c.offer, "channel": c.channel, "held_out": False}
                for c in s.scalars(
                    sa.select(Contact)
                    .where(Contact.run_id == run_id, Contact.customer_id == customer_id)
                    .order_by(Contact.rank, Contact.campaign)
                )
            ]
            recorded_log = suppressions_of(s, run_id, customer_id)
        else:
            if program is None:
                raise ValueError("explain needs a run or a program")
            as_of = now or datetime.now(UTC)
            p = get_program(s, program)
            snapshot, name = take_snapshot(s, p), p.name
            inputs = read_inputs(store, s, snapshot, as_of, customer_ids=[customer_id])
            inputs = replace(inputs, limits=run_limits(s, snapshot, as_of))
    rows = inputs.customers.to_pylist()
    if not rows:
        raise NotFound(f"no customer {customer_id!r}")
    out = _replay(inputs, rows[0], snapshot, customer_id, name, as_of, run_id)
    if run_id is not None:
        _compare(out, recorded_contacts, recorded_log)
    return out


def _replay(
    inputs: BatchInputs,
    row: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    customer_id: str,
    program: str,
    as_of: datetime,
    run_id: int | None,
) -> Explanation:
    ev = _Evaluator(inputs)
    try:
        vip = inputs.vip.num_rows > 0
        candidates: list[Candidate] = []
        by_campaign: dict[str, CampaignExplanation] = {}
        for plan in inputs.campaigns:
            ex = CampaignExplanation(plan.name)
            by_campaign[plan.name] = ex
            ex.steps = _target_steps(ev, plan, snapshot)
            if not all(st.passed for st in ex.steps):
                ex.outcome = "not a candidate: not in the campaign's target"
                continue
            offers = []
            for o in plan.offers:
                if o.rule:
                    ok = ev.holds(o.rule)
                    ex.steps.append(Step(f"offer {o.code}", ok, f"eligibility: {o.rule}"))
                    if not ok:
                        continue
                offers.append(o)
            if not offers:
                ex.outcome = "not a candidate: eligible for none of the campaign's offers"
                continue
            channels = []
            blocked: list[str] = []
            for ch in plan.channels:
                steps, ok = _channel_steps(inputs, row, ch)
                ex.steps.extend(steps)
                if ok:
                    channels.append(ch)
                blocked.extend(st.detail for st in steps if st.passed is False)
            if not channels:
                ex.outcome = "excluded: " + "; ".join(blocked)
                continue
            if plan.control_share > 0:
                bucket = control_bucket(customer_id, plan.name)
                held = bucket < plan.control_share * BUCKETS
                ex.steps.append(
                    Step(
                        "control group",
                        not held,
                        f"bucket {bucket} of {BUCKETS}; the control group is buckets below "
                        f"{plan.control_share * BUCKETS:g} ({plan.control_share:.0%})",
                    )
                )
                if held:
                    ex.outcome = "held out: in the campaign's control group"
                    continue
            score = 0.0
            if plan.score:
                raw = ev.value(plan.score, FieldType.FLOAT)
                score = float(raw) if raw is not None else 0.0
                ex.steps.append(Step("score", None, f"{plan.score} = {score:g}"))
            for o in offers:
                for ch in channels:
                    candidates.append(
                        Candidate(plan.name, plan.kind, o.code, ch, plan.priority, score, o.value)
                    )
        if vip:
            for ex in by_campaign.values():
                if not ex.outcome:
                    ex.steps.append(Step("VIP", None, "on the VIP list: frequency rules waived"))
        tz = row.get(inputs.timezone_column) if inputs.timezone_column else None
        outcomes = decide(candidates, _ledger(inputs), inputs.policy, as_of, vip=vip, timezone=tz)
        _policy_and_arbitration(outcomes, by_campaign, inputs)
        return Explanation(customer_id, program, as_of, run_id, list(by_campaign.values()))
    finally:
        ev.close()


def _policy_and_arbitration(
    outcomes: Sequence[Outcome],
    by_campaign: Mapping[str, CampaignExplanation],
    inputs: BatchInputs,
) -> None:
    """Per campaign: the selected candidate, or the best one and why it lost."""
    plans = {p.name: p for p in inputs.campaigns}
    for name, ex in by_campaign.items():
        if ex.outcome:
            continue
        mine = [o for o in outcomes if o.candidate.campaign == name]
        chosen = next((o for o in mine if o.selected), None)
        if chosen is not None:
            c = chosen.candidate
            ex.steps.extend(_policy_steps(chosen))
            rank = [o for o in outcomes if o.selected].index(chosen) + 1
            ex.steps.append(
                Step(
                    "arbitration", True, f"{c.offer} on {c.channel}: the customer's choice #{rank}"
                )
            )
            ex.steps.append(Step("capacity", None, _capacity_text(plans[name], c.channel, inputs)))
            ex.outcome = f"contact: {c.offer} on {c.channel}"
            ex.contacted = True
            continue
        best = mine[0]
        ex.steps.extend(_policy_steps(best))
        if best.reason == "policy":
            ex.outcome = best.explain()
        else:
            ex.steps.append(Step("arbitration", False, best.reason.removeprefix("arbitration: ")))
            ex.outcome = f"not chosen: {best.reason.removeprefix('arbitration: ')}"


def _capacity_text(plan: CampaignPlan, channel: str, inputs: BatchInputs) -> str:
    """The capacity limits a contact of ``plan`` on ``channel`` has to fit in."""
    limits = inputs.limits
    room = limits.campaigns.get(plan.name)
    parts = []
    if room is not None and room.limit is not None:
        parts.append(room.reason)
    elif room is None and plan.capacity is not None:
        parts.append(f"campaign capacity {plan.capacity} per run")
    if channel in limits.channels:
        parts.append(limits.channels[channel].reason)
    if limits.budget is not None:
        parts.append(limits.budget.reason)
    if not parts:
        return "no capacity limit"
    return "; ".join(parts) + ": filled best first across the whole run"


def _compare(
    out: Explanation,
    contacts: Sequence[Mapping[str, Any]],
    log: Sequence[Mapping[str, Any]],
) -> None:
    """Put what the run recorded next to the replay, and say where they differ."""
    for c in contacts:
        what = "held out (control group)" if c["held_out"] else "contacted"
        out.recorded.append(f"{c['campaign']}: {what} with {c['offer']} on {c['channel']}")
    for r in log:
        out.recorded.append(f"{r['campaign']}: {r['stage']}: {r['reason']}")
    queued = {c["campaign"] for c in contacts if not c["held_out"]}
    for ex in out.campaigns:
        if ex.contacted and ex.campaign not in queued:
            cut = next((r for r in log if r["campaign"] == ex.campaign), None)
            if cut is not None and cut["stage"] == "capacity":
                ex.steps[-1] = Step(
                    "capacity", False, f"{cut['reason']} reached by better candidates"
                )
                ex.outcome = f"not contacted: {cut['reason']} reached by better candidates"
                ex.contacted = False
    replayed = {ex.campaign for ex in out.campaigns if ex.contacted}
    if replayed != queued:
        out.notes.append(
            "the replay differs from what the run recorded: the customer's data or lists "
            "changed since the run; the recorded outcome is what happened"
        )
