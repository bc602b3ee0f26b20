"""decide_batch against hand-made cases for each step, and against the domain's decide()."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tactica.domain.capacity import (
    BudgetRoom,
    CampaignRoom,
    ChannelRoom,
    Chosen,
    Limits,
    allocate,
    campaign_room,
)
from tactica.domain.control import control_bucket, is_held_out
from tactica.domain.policy import (
    Calendar,
    Candidate,
    ContactPolicy,
    ContactStatus,
    FrequencyCap,
    LedgerEntry,
    NoRepeatOffer,
    Scope,
    decide,
    rank_key,
)
from tactica.domain.rules import PyContext, compile_rule
from tactica.domain.schema import FieldType
from tactica.engine.decide import decide_batch
from tactica.engine.plan import (
    EXCLUSIONS_SCHEMA,
    LEDGER_SCHEMA,
    VIP_SCHEMA,
    BatchDecision,
    BatchInputs,
    CampaignPlan,
    OfferPlan,
)
from tests.policy_strategies import CHANNELS, KINDS
from tests.policy_strategies import policies as policies_strategy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIELDS = {
    "id": FieldType.TEXT,
    "x": FieldType.INT,
    "msisdn": FieldType.TEXT,
    "email": FieldType.TEXT,
    "sms_ok": FieldType.BOOL,
    "email_ok": FieldType.BOOL,
    "tz": FieldType.TEXT,
}
CUSTOMER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("x", pa.int64()),
        ("msisdn", pa.string()),
        ("email", pa.string()),
        ("sms_ok", pa.bool_()),
        ("email_ok", pa.bool_()),
        ("tz", pa.string()),
    ]
)


def customer(cid: str, x: int | None = 1, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": cid,
        "x": x,
        "msisdn": "+351900000000",
        "email": f"{cid}@example.com",
        "sms_ok": True,
        "email_ok": True,
        "tz": None,
    }
    row.update(kw)
    return row


def inputs(
    customers: Sequence[dict[str, Any]],
    campaigns: Sequence[CampaignPlan],
    *,
    ledger: Sequence[dict[str, Any]] = (),
    exclusions: Sequence[dict[str, Any]] = (),
    vip: Sequence[str] = (),
    policy: ContactPolicy = ContactPolicy(),
    limits: Limits | None = None,
) -> BatchInputs:
    return BatchInputs(
        customers=pa.Table.from_pylist(list(customers), schema=CUSTOMER_SCHEMA),
        fields=FIELDS,
        campaigns=campaigns,
        ledger=pa.Table.from_pylist(list(ledger), schema=LEDGER_SCHEMA),
        exclusions=pa.Table.from_pylist(list(exclusions), schema=EXCLUSIONS_SCHEMA),
        vip=pa.Table.from_pylist([{"customer_id": v} for v in vip], schema=VIP_SCHEMA),
        policy=policy,
        now=NOW,
        channel_points={"sms": "msisdn", "email": "email"},
        channel_consents={"sms": "sms_ok", "email": "email_ok"},
        timezone_column="tz",
        limits=limits or Limits({}, {}),
    )


def camp(name: str, **kw: Any) -> CampaignPlan:
    base: dict[str, Any] = {"offers": (OfferPlan("O1", Decimal("10")),), "channels": ("sms",)}
    base.update(kw)
    return CampaignPlan(name=name, **base)


def contacts_of(d: BatchDecision) -> set[tuple[str, str, str, str]]:
    return {
        (r["customer_id"], r["campaign"], r["offer"], r["channel"]) for r in d.contacts.to_pylist()
    }


def suppressed_of(d: BatchDecision) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (r["customer_id"], r["campaign"]): (r["stage"], r["reason"])
        for r in d.suppressed.to_pylist()
    }


# -- exclusions ---------------------------------------------------------------------------


def test_exclusion_reasons_list_then_contact_point_then_consent() -> None:
    d = decide_batch(
        inputs(
            [
                customer("a"),
                customer("b"),
                customer("c", msisdn=None),
                customer("d", msisdn="  "),
                customer("e", sms_ok=False),
                customer("f", sms_ok=None),
                customer("g", msisdn=None),
                customer("h"),
            ],
            [camp("k")],
            exclusions=[
                {"customer_id": "b", "channel": "all", "reason": "opt_out"},
                {"customer_id": "g", "channel": "sms", "reason": "blacklist"},
                {"customer_id": "h", "channel": "email", "reason": "dnd"},
            ],
        )
    )
    assert contacts_of(d) == {("a", "k", "O1", "sms"), ("h", "k", "O1", "sms")}
    assert suppressed_of(d) == {
        ("b", "k"): ("exclusion", "opt_out"),
        ("c", "k"): ("exclusion", "no msisdn"),
        ("d", "k"): ("exclusion", "no msisdn"),
        ("e", "k"): ("exclusion", "no consent for sms"),
        ("f", "k"): ("exclusion", "no consent for sms"),
        ("g", "k"): ("exclusion", "blacklist"),
    }
    (row,) = d.funnel
    assert row.candidates == 8
    assert row.excluded == {
        "opt_out": 1,
        "no msisdn": 2,
        "no consent for sms": 2,
        "blacklist": 1,
    }
    assert row.after_capacity == 2


def test_a_channel_excluded_lets_the_other_channel_through() -> None:
    d = decide_batch(
        inputs(
            [customer("a", sms_ok=False)],
            [camp("k", channels=("sms", "email"))],
        )
    )
    assert contacts_of(d) == {("a", "k", "O1", "email")}
    assert d.suppressed.num_rows == 0


def test_rules_and_offer_eligibility_select_candidates_and_the_score_ranks_offers() -> None:
    offers = (
        OfferPlan("small", Decimal("10")),
        OfferPlan("big", Decimal("100"), rule="x >= 5"),
    )
    d = decide_batch(
        inputs(
            [customer("a", x=1), customer("b", x=7), customer("c", x=None)],
            [camp("k", rule="x > 0", offers=offers, score="x * 0.5")],
        )
    )
    assert contacts_of(d) == {("a", "k", "small", "sms"), ("b", "k", "big", "sms")}
    scores = {r["customer_id"]: r["score"] for r in d.contacts.to_pylist()}
    assert scores == {"a": 0.5, "b": 3.5}


# -- control group ------------------------------------------------------------------------


def test_control_group_is_deterministic_and_about_its_share() -> None:
    n = 10_000
    custs = [customer(f"c{i}") for i in range(n)]
    run = inputs(custs, [camp("k", control_share=0.1), camp("m", control_share=0.0, priority=1)])
    d1, d2 = decide_batch(run), decide_batch(run)
    held = {(r["customer_id"], r["campaign"]) for r in d1.held_out.to_pylist()}
    assert held == {(r["customer_id"], r["campaign"]) for r in d2.held_out.to_pylist()}
    # The SQL hash is the Python one.
    assert held == {(f"c{i}", "k") for i in range(n) if is_held_out(f"c{i}", "k", 0.1)}
    assert abs(len(held) - 0.1 * n) < 0.015 * n
    (row_k, row_m) = d1.funnel
    assert row_k.held_out == len(held) and row_m.held_out == 0


def test_held_out_of_one_campaign_can_still_get_another() -> None:
    cid = next(f"c{i}" for i in range(1000) if control_bucket(f"c{i}", "k") < 5000)
    d = decide_batch(inputs([customer(cid)], [camp("k", control_share=0.5, priority=2), camp("m")]))
    assert contacts_of(d) == {(cid, "m", "O1", "sms")}
    assert d.held_out.to_pylist() == [
        {"customer_id": cid, "campaign": "k", "offer": "O1", "channel": "sms", "score": 0.0}
    ]


# -- policy, arbitration, capacity --------------------------------------------------------


def test_policy_blocks_with_the_rule_name_and_lets_the_next_best_through() -> None:
    policy = ContactPolicy(
        rules=(
            FrequencyCap("sms-30d", 1, days=30, scope=Scope(channel="sms")),
            NoRepeatOffer("no-repeat", 14),
        )
    )
    ledger = [
        {
            "customer_id": "a",
            "at": NOW - timedelta(days=3),
            "channel": "sms",
            "campaign": "old",
            "campaign_kind": "outbound",
            "offer": "X",
            "status": "sent",
        }
    ]
    d = decide_batch(
        inputs(
            [customer("a"), customer("b")],
            [camp("k", priority=2), camp("m", channels=("email",))],
            ledger=ledger,
            policy=policy,
        )
    )
    assert contacts_of(d) == {("a", "m", "O1", "email"), ("b", "k", "O1", "sms")}
    assert suppressed_of(d) == {
        ("a", "k"): ("policy", "sms-30d"),
        ("b", "m"): ("arbitration", "1 per run already chosen"),
    }
    row_k, row_m = d.funnel
    assert (row_k.candidates, row_k.after_policy, row_k.after_arbitration) == (2, 1, 1)
    assert (row_m.candidates, row_m.after_policy, row_m.after_arbitration) == (2, 2, 1)


def test_capacity_keeps_the_best_then_lowest_customer_id() -> None:
    custs = [customer(f"c{i}", x=i % 3) for i in range(6)]
    d = decide_batch(
        inputs(
            custs,
            [camp("k", score="x", capacity=3, cost_per_contact=Decimal("0.05"))],
        )
    )
    # x = 2 for c2, c5; then x = 1 for c1, c4: c1 wins the tie on the id.
    assert {c[0] for c in contacts_of(d)} == {"c2", "c5", "c1"}
    assert {
        k for k, v in suppressed_of(d).items() if v == ("capacity", "campaign capacity 3 per run")
    } == {
        ("c0", "k"),
        ("c3", "k"),
        ("c4", "k"),
    }
    (row,) = d.funnel
    assert (row.candidates, row.after_arbitration, row.after_capacity) == (6, 6, 3)
    assert row.cost == Decimal("0.15")


def test_funnel_counts_add_up() -> None:
    custs = [customer(f"c{i}", x=i % 5, sms_ok=i % 7 != 0) for i in range(300)]
    policy = ContactPolicy(rules=(FrequencyCap("cap", 1, days=30),), per_run=2)
    ledger = [
        {
            "customer_id": f"c{i}",
            "at": NOW - timedelta(days=1),
            "channel": "sms",
            "campaign": "old",
            "campaign_kind": "outbound",
            "offer": "X",
            "status": "delivered",
        }
        for i in range(0, 300, 4)
    ]
    campaigns = [
        camp("k", rule="x >= 1", control_share=0.2, capacity=50),
        camp("m", channels=("sms", "email"), priority=1),
        camp("n", rule="x < 3", score="x"),
    ]
    d = decide_batch(inputs(custs, campaigns, ledger=ledger, policy=policy))
    sup = suppressed_of(d)
    for row in d.funnel:
        stages = [s for (c, k), (s, _) in sup.items() if k == row.campaign]
        assert sum(row.excluded.values()) == stages.count("exclusion")
        assert row.after_policy == (
            row.candidates - sum(row.excluded.values()) - row.held_out - stages.count("policy")
        )
        assert row.after_arbitration == row.after_policy - stages.count("arbitration")
        assert row.after_capacity == row.after_arbitration - stages.count("capacity")
        assert row.after_capacity == sum(
            1 for r in d.contacts.to_pylist() if r["campaign"] == row.campaign
        )
    per_customer: dict[str, int] = {}
    for r in d.contacts.to_pylist():
        per_customer[r["customer_id"]] = per_customer.get(r["customer_id"], 0) + 1
    assert max(per_customer.values()) <= 1  # the cap of 1 in 30 days binds before per_run


def test_unmapped_channel_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="push"):
        decide_batch(inputs([customer("a")], [camp("k", channels=("push",))]))


# -- the engine is the domain, customer by customer ---------------------------------------

OFFER_CODES = ["A", "B", "C"]
ZONES = [None, "Europe/Lisbon", "America/New_York", "Asia/Shanghai", "Not/AZone"]
policies = policies_strategy(3)
offer_plans = st.builds(
    OfferPlan,
    code=st.sampled_from(OFFER_CODES),
    value=st.sampled_from([Decimal("0"), Decimal("10"), Decimal("25.5")]),
    rule=st.sampled_from([None, "x >= 2", "x < 4"]),
)


@st.composite
def campaign_plans(draw: st.DrawFn, name: str) -> CampaignPlan:
    return CampaignPlan(
        name=name,
        kind=draw(st.sampled_from(KINDS)),
        rule=draw(st.sampled_from([None, "x > 0", "x is null or x != 3"])),
        offers=tuple(
            draw(st.lists(offer_plans, min_size=1, max_size=2, unique_by=lambda o: o.code))
        ),
        channels=tuple(
            draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True))
        ),
        score=draw(st.sampled_from([None, "x * 0.5", "1.0 - x"])),
        priority=draw(st.integers(0, 2)),
        control_share=draw(st.sampled_from([0.0, 0.3])),
        capacity=draw(st.sampled_from([None, None, 0, 1, 3])),
        cost_per_contact=draw(st.sampled_from([Decimal("0"), Decimal("0.05"), Decimal("1.5")])),
    )


@st.composite
def run_limits(draw: st.DrawFn, campaigns: Sequence[CampaignPlan]) -> Limits:
    rooms: dict[str, CampaignRoom] = {}
    for c in campaigns:
        if draw(st.booleans()):  # a campaign budget, part of it spent by earlier runs
            budget = draw(st.sampled_from([Decimal("0"), Decimal("3"), Decimal("10.5")]))
            spent = draw(st.sampled_from([Decimal("0"), Decimal("1.5"), Decimal("20")]))
            rooms[c.name] = campaign_room(c.capacity, budget, spent, c.cost_per_contact)
    channels = {
        ch: ChannelRoom(ch, draw(st.integers(0, 6)), draw(st.integers(0, 3)))
        for ch in draw(st.lists(st.sampled_from(CHANNELS), unique=True))
    }
    budget = draw(
        st.one_of(
            st.none(),
            st.builds(
                BudgetRoom,
                st.sampled_from([Decimal("0"), Decimal("2"), Decimal("4.6"), Decimal("50")]),
                st.sampled_from([Decimal("0"), Decimal("1.5")]),
            ),
        )
    )
    return Limits(rooms, channels, budget)


@st.composite
def scenarios(draw: st.DrawFn) -> BatchInputs:
    n = draw(st.integers(1, 20))
    custs = [
        customer(
            f"u{i}",
            x=draw(st.sampled_from([None, 0, 1, 2, 3, 5])),
            msisdn=draw(st.sampled_from([None, "+1"])),
            sms_ok=draw(st.sampled_from([None, True, True, False])),
            email_ok=draw(st.sampled_from([True, False])),
            tz=draw(st.sampled_from(ZONES)),
        )
        for i in range(n)
    ]
    ids = [c["id"] for c in custs]
    k = draw(st.integers(1, 4))
    campaigns = [draw(campaign_plans(f"c{j}")) for j in range(k)]
    ledger = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "customer_id": st.sampled_from(ids),
                    "at": st.integers(-60 * 24, 48).map(lambda h: NOW + timedelta(hours=h)),
                    "channel": st.sampled_from(CHANNELS),
                    "campaign": st.sampled_from(["p", "q"]),
                    "campaign_kind": st.sampled_from(KINDS),
                    "offer": st.sampled_from(OFFER_CODES),
                    "status": st.sampled_from([s.value for s in ContactStatus]),
                }
            ),
            max_size=40,
        )
    )
    exclusions = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "customer_id": st.sampled_from(ids),
                    "channel": st.sampled_from(["all", *CHANNELS]),
                    "reason": st.sampled_from(["opt_out", "dnd"]),
                }
            ),
            max_size=4,
        )
    )
    vip = draw(st.lists(st.sampled_from(ids), max_size=3))
    return inputs(
        custs,
        campaigns,
        ledger=ledger,
        exclusions=exclusions,
        vip=vip,
        policy=draw(policies),
        limits=draw(run_limits(campaigns)),
    )


def _domain_run(
    run: BatchInputs,
) -> tuple[list[tuple[Chosen, str | None]], set[tuple[str, str, str, str]]]:
    """What tactica.domain.policy.decide selects customer by customer, then capacity;
    and the control groups' held-out candidates."""
    held_out: set[tuple[str, str, str, str]] = set()
    ctx = PyContext(as_of=NOW.date())
    excluded = {(e["customer_id"], e["channel"]) for e in run.exclusions.to_pylist()}
    vip = {v["customer_id"] for v in run.vip.to_pylist()}
    ledger = run.ledger.to_pylist()
    plans = {p.name: p for p in run.campaigns}
    chosen: list[Chosen] = []
    for c in run.customers.to_pylist():
        cands: list[Candidate] = []
        for p in run.campaigns:
            if p.rule and not compile_rule(p.rule, FIELDS).predicate(ctx)(c):
                continue
            held = is_held_out(c["id"], p.name, p.control_share)
            mine: list[Candidate] = []
            score = (
                compile_rule(p.score, FIELDS, expect=FieldType.FLOAT).evaluator(ctx)(c)
                if p.score
                else 0
            )
            for o in p.offers:
                if o.rule and not compile_rule(o.rule, FIELDS).predicate(ctx)(c):
                    continue
                for ch in p.channels:
                    point, ok = ("msisdn", "sms_ok") if ch == "sms" else ("email", "email_ok")
                    if (c["id"], ch) in excluded or (c["id"], "all") in excluded:
                        continue
                    if not (c[point] or "").strip() or c[ok] is not True:
                        continue
                    mine.append(
                        Candidate(
                            p.name, p.kind, o.code, ch, p.priority, float(score or 0), o.value
                        )
                    )
            if held and mine:  # the control group keeps back the best candidate
                best = min(mine, key=rank_key)
                held_out.add((c["id"], p.name, best.offer, best.channel))
            elif not held:
                cands.extend(mine)
        book = [
            LedgerEntry(
                e["at"],
                e["channel"],
                e["campaign"],
                e["campaign_kind"],
                e["offer"],
                ContactStatus(e["status"]),
            )
            for e in ledger
            if e["customer_id"] == c["id"]
        ]
        outcomes = decide(cands, book, run.policy, NOW, vip=c["id"] in vip, timezone=c["tz"])
        for o in outcomes:
            if o.selected:
                k = o.candidate
                chosen.append(
                    Chosen(
                        c["id"],
                        k.campaign,
                        k.offer,
                        k.channel,
                        k.priority,
                        k.score * float(k.value),
                        plans[k.campaign].cost_per_contact,
                    )
                )
    limits = run.limits
    rooms = {
        p.name: limits.campaigns.get(p.name)
        or CampaignRoom(p.capacity, f"campaign capacity {p.capacity} per run")
        for p in run.campaigns
    }
    return allocate(chosen, Limits(rooms, limits.channels, limits.budget)), held_out


@settings(max_examples=200)
@given(scenarios())
def test_engine_equals_the_domain_customer_by_customer(run: BatchInputs) -> None:
    """Contacts, held-out members and every capacity cut with its reason, as the domain
    decides them."""
    d = decide_batch(run)
    expected, held_out = _domain_run(run)
    assert {
        (r["customer_id"], r["campaign"], r["offer"], r["channel"]) for r in d.held_out.to_pylist()
    } == held_out
    assert contacts_of(d) == {
        (c.customer_id, c.campaign, c.offer, c.channel) for c, cut in expected if cut is None
    }
    cuts = {k: v for k, v in suppressed_of(d).items() if v[0] == "capacity"}
    assert cuts == {
        (c.customer_id, c.campaign): ("capacity", cut) for c, cut in expected if cut is not None
    }
    assert sum(f.cost for f in d.funnel) == sum(
        (c.cost for c, cut in expected if cut is None), Decimal("0")
    )


def test_scheduled_contacts_and_calendar_days_in_the_customers_timezone() -> None:
    # 03:30 UTC on the 23rd is the 22nd in New York: not "today" there at noon UTC.
    entry = {
        "customer_id": "ny",
        "at": datetime(2026, 11, 23, 3, 30, tzinfo=UTC),
        "channel": "sms",
        "campaign": "old",
        "campaign_kind": "outbound",
        "offer": "X",
        "status": "sent",
    }
    policy = ContactPolicy(rules=(FrequencyCap("daily", 1, calendar=Calendar.DAY),))
    custs = [customer("ny", tz="America/New_York"), customer("utc")]
    ledger = [entry, {**entry, "customer_id": "utc"}]
    d = decide_batch(inputs(custs, [camp("k")], ledger=ledger, policy=policy))
    assert contacts_of(d) == {("ny", "k", "O1", "sms")}
    assert suppressed_of(d) == {("utc", "k"): ("policy", "daily")}
    later = inputs(
        custs, [camp("k")], ledger=[{**entry, "at": NOW + timedelta(days=3)}], policy=policy
    )
    assert contacts_of(decide_batch(later)) == {("utc", "k", "O1", "sms")}


def test_the_suppression_log_is_parquet_sorted_by_customer_and_optional() -> None:
    custs = [customer(f"c{i:03d}", x=i % 4, sms_ok=i % 5 != 0) for i in range(200)]
    campaigns = [camp("k", rule="x >= 1", capacity=20), camp("a", rule="x < 3", priority=1)]
    full = decide_batch(inputs(custs, campaigns), memory_limit="64MB")
    rows = full.suppressed.to_pylist()
    assert len(rows) == full.suppressed_rows > 0
    keys = [(r["customer_id"], r["campaign"]) for r in rows]
    assert keys == sorted(keys)
    assert {r["stage"] for r in rows} == {"exclusion", "arbitration", "capacity"}
    bare = decide_batch(inputs(custs, campaigns), suppression_log=False)
    assert bare.suppression_log == b"" and bare.suppressed.num_rows == 0
    assert contacts_of(bare) == contacts_of(full) and bare.funnel == full.funnel
