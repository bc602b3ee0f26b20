"""Objectives: actuals computed from the records match sums made independently from the
raw rows, on both databases; status, projection and every refusal."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tactica.errors import Conflict, InvalidInput, PermissionDenied
from tactica.services import objectives
from tactica.services.objectives import ObjectiveInput
from tactica.store.db import Store
from tactica.store.models import Activity, Contact, Lead, Offer, Order, Response
from tests.integration.plans.conftest import marketing_org

CAMPAIGNS = [("autumn", "gold-sms"), ("autumn", "gold-mail"), ("spring", "loans")]
CHANNELS = ["sms", "email"]
OFFERS = {"GOLD": "cards", "SILVER": "cards", "LOAN": "loans"}
REPS = ["rita", "rob", None]


def _when(rng: random.Random) -> datetime:
    """A moment in 2025-10 .. 2026-12, some right at a quarter's edge."""
    edge = rng.choice([datetime(2026, 10, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC)])
    if rng.random() < 0.15:
        return edge - timedelta(seconds=rng.choice([0, 1]))
    start = datetime(2025, 10, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(int(timedelta(days=455).total_seconds())))


def _records(store: Store, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Random contacts, replies, leads, orders and activities; returns the rows made."""
    rng = random.Random(seed)
    made: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("contact", "response", "lead", "order", "activity")
    }
    with store.session() as s:
        for code, product in OFFERS.items():
            s.add(Offer(code=code, name=code, product=product))
        contacts = []
        for _ in range(150):
            program, campaign = rng.choice(CAMPAIGNS)
            decided = _when(rng)
            status = rng.choice(["queued", "sent", "delivered", "failed"])
            sent = (
                decided + timedelta(hours=rng.choice([1, 30]))
                if status in ("sent", "delivered")
                else None
            )
            row = {
                "program": program,
                "campaign": campaign,
                "customer_id": f"c{rng.randrange(60)}",
                "offer": rng.choice(list(OFFERS)),
                "channel": rng.choice(CHANNELS),
                "cost": Decimal("0.05"),
                "spent": Decimal(rng.choice(["0.04", "0.06"])) if sent else None,
                "status": status,
                "decided_at": decided,
                "sent_at": sent,
                "delivered_at": sent + timedelta(minutes=5)
                if status == "delivered" and sent
                else None,
            }
            c = Contact(**row)
            s.add(c)
            s.flush()
            contacts.append((c.id, row))
            made["contact"].append(row)
        for i in range(60):
            cid, c = rng.choice(contacts)
            row = {
                "source": "t",
                "message_id": f"m{i}",
                "channel": c["channel"],
                "received_at": _when(rng),
                "contact_id": cid,
                "program": c["program"],
                "campaign": c["campaign"],
                "offer": c["offer"],
                "outcome": "interest",
                "result": "lead",
            }
            s.add(Response(**row))
            made["response"].append(row)
        leads = []
        for _ in range(40):
            cid, c = rng.choice(contacts)
            row = {
                "customer_id": c["customer_id"],
                "contact_id": cid,
                "program": c["program"],
                "campaign": c["campaign"],
                "offer": c["offer"],
                "created_at": _when(rng),
                "rep": rng.choice(REPS),
            }
            lead = Lead(**row)
            s.add(lead)
            s.flush()
            leads.append((lead.id, row, c))
            made["lead"].append({**row, "channel": c["channel"]})
        unordered = list(leads)
        rng.shuffle(unordered)
        for _ in range(70):
            if unordered and rng.random() < 0.5:  # one order per lead at most
                lead_id, lrow, c = unordered.pop()
                cid = lrow["contact_id"]
            else:
                lead_id, lrow = None, None
                cid, c = rng.choice(contacts)
            amount = Decimal(rng.choice(["10.00", "99.90", "250.00"]))
            row = {
                "customer_id": c["customer_id"],
                "contact_id": cid,
                "program": c["program"],
                "campaign": c["campaign"],
                "offer": c["offer"],
                "price": amount,
                "amount": amount,
                "status": rng.choice(
                    ["booked", "booked", "booked", "pending_approval", "rejected"]
                ),
                "created_at": _when(rng),
                "lead_id": lead_id,
            }
            o = Order(**row)
            s.add(o)
            s.flush()
            made["order"].append(
                {**row, "channel": c["channel"], "rep": lrow["rep"] if lrow else None}
            )
        for _ in range(50):
            lead_id, lrow, c = rng.choice(leads)
            row = {
                "lead_id": lead_id,
                "rep": lrow["rep"] or "rita",
                "kind": "call",
                "at": _when(rng),
                "cost": Decimal(rng.choice(["1.50", "4.00"])),
            }
            s.add(Activity(**row))
            made["activity"].append(
                {
                    **row,
                    "channel": c["channel"],
                    "program": lrow["program"],
                    "campaign": lrow["campaign"],
                    "offer": lrow["offer"],
                }
            )
        s.commit()
    return made


def _in(row: dict[str, Any], scope: dict[str, str]) -> bool:
    for key, value in scope.items():
        if key == "product":
            if OFFERS.get(row.get("offer") or "") != value:
                return False
        elif row.get(key) != value:
            return False
    return True


def _sums(
    made: dict[str, list[dict[str, Any]]], start: date, end: date, scope: dict[str, str]
) -> dict[str, Any]:
    """The measures over [start, end) within scope, summed in Python from the rows."""
    low = datetime(start.year, start.month, start.day, tzinfo=UTC)
    high = datetime(end.year, end.month, end.day, tzinfo=UTC)

    def inside(t: datetime | None) -> bool:
        return t is not None and low <= t < high

    out: dict[str, Any] = {
        m: 0
        for m in (
            "planned",
            "sent",
            "delivered",
            "responses",
            "leads",
            "orders",
            "buyers",
            "new_customers",
            "activities",
        )
    }
    out |= {"revenue": Decimal(0), "cost": Decimal(0), "activity_cost": Decimal(0)}
    for c in made["contact"]:
        if not _in(c, scope):
            continue
        out["planned"] += inside(c["decided_at"])
        if inside(c["sent_at"]):
            out["sent"] += 1
            out["cost"] += c["spent"] if c["spent"] is not None else c["cost"]
        out["delivered"] += inside(c["delivered_at"])
    out["responses"] = sum(
        1 for r in made["response"] if _in(r, scope) and inside(r["received_at"])
    )
    out["leads"] = sum(1 for r in made["lead"] if _in(r, scope) and inside(r["created_at"]))
    booked = [o for o in made["order"] if o["status"] == "booked"]
    mine = [o for o in booked if _in(o, scope) and inside(o["created_at"])]
    out["orders"] = len(mine)
    out["revenue"] = sum((o["amount"] for o in mine), Decimal(0))
    out["buyers"] = len({o["customer_id"] for o in mine})
    first: dict[str, datetime] = {}
    for o in booked:
        first[o["customer_id"]] = min(first.get(o["customer_id"], o["created_at"]), o["created_at"])
    out["new_customers"] = len(
        {o["customer_id"] for o in mine if o["created_at"] == first[o["customer_id"]]}
    )
    acts = [a for a in made["activity"] if _in(a, scope) and inside(a["at"])]
    out["activities"] = len(acts)
    out["activity_cost"] = sum((a["cost"] for a in acts), Decimal(0))
    return out


KPI_CASES: list[tuple[str, dict[str, str], Any]] = [
    ("revenue", {}, lambda m, ly: float(m["revenue"])),
    ("sales", {"program": "autumn"}, lambda m, ly: m["orders"]),
    ("response_rate", {"channel": "sms"}, lambda m, ly: m["responses"] / m["delivered"]),
    ("new_customers", {"product": "cards"}, lambda m, ly: m["new_customers"]),
    (
        "profit",
        {"campaign": "gold-sms"},
        lambda m, ly: float(m["revenue"] - m["cost"] - m["activity_cost"]),
    ),
    ("growth_rate", {"offer": "GOLD"}, lambda m, ly: float(m["revenue"] / ly["revenue"]) - 1),
    ("cost_per_order", {}, lambda m, ly: float((m["cost"] + m["activity_cost"]) / m["orders"])),
    ("leads", {"rep": "rita"}, lambda m, ly: m["leads"]),
    ("revenue", {"rep": "rob", "product": "cards"}, lambda m, ly: float(m["revenue"])),
]


@pytest.mark.parametrize(
    ("seed", "today"),
    [(1, date(2027, 1, 15)), (2, date(2027, 1, 15)), (3, date(2026, 11, 15))],
    ids=["whole-quarter", "whole-quarter-2", "to-date"],
)
def test_actuals_are_the_sums_of_the_raw_records(store: Store, seed: int, today: date) -> None:
    """Figures of the quarter (to date: up to the end of ``today``, and last year's over
    the same days) against sums of the raw rows."""
    marketing_org(store)
    made = _records(store, seed)
    with store.session() as s:
        for i, (kpi, scope, _) in enumerate(KPI_CASES):
            objectives.create_objective(
                s,
                ObjectiveInput(
                    f"o{i}", "2026-Q4", 100, kpi=kpi, scope=scope, owner_team="marketing"
                ),
                actor="t",
            )
        s.commit()
    with store.session() as s:
        lines = {p.objective.name: p for p in objectives.plan_vs_actual(s, "2026-Q4", today=today)}
    end = min(date(2027, 1, 1), today + timedelta(days=1))
    for i, (kpi, scope, formula) in enumerate(KPI_CASES):
        now = _sums(made, date(2026, 10, 1), end, scope)
        ly = _sums(made, date(2025, 10, 1), end.replace(year=end.year - 1), scope)
        try:
            expected = formula(now, ly)
        except (ZeroDivisionError, ArithmeticError):
            expected = None
        line = lines[f"o{i}"]
        if expected is None:
            assert line.actual is None and line.why_not and "is 0" in line.why_not, (kpi, scope)
        else:
            assert line.actual == pytest.approx(expected), (kpi, scope, line.measures)


def test_a_rep_scope_says_what_it_cannot_attribute(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        objectives.create_objective(
            s,
            ObjectiveInput(
                "rita-rr", "2026-Q4", 0.1, kpi="response_rate", scope={"rep": "rita"}, owner="rita"
            ),
            actor="t",
        )
        s.commit()
        (line,) = objectives.plan_vs_actual(s, "2026", today=date(2026, 11, 1))
    assert line.actual is None and line.status == "no figure"
    assert "responses is not attributed to a rep" in (line.why_not or "")


def test_status_expected_variance_and_projection(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        # The 20th's order is after the day the plan is read on: not counted yet.
        for day, amount in ((1, "400.00"), (10, "200.00"), (20, "1000.00")):
            s.add(
                Order(
                    customer_id=f"c{day}",
                    offer="GOLD",
                    price=Decimal(amount),
                    amount=Decimal(amount),
                    status="booked",
                    created_at=datetime(2026, 11, day, 9, tzinfo=UTC),
                )
            )
        objectives.create_objective(
            s,
            ObjectiveInput("nov-revenue", "2026-11", 1000, kpi="revenue", owner_team="marketing"),
            actor="t",
        )
        objectives.create_objective(
            s, ObjectiveInput("nov-big", "2026-11", 1300, kpi="revenue", owner="dana"), actor="t"
        )
        objectives.create_objective(
            s, ObjectiveInput("nov-huge", "2026-11", 5000, kpi="revenue", owner="dana"), actor="t"
        )
        objectives.create_objective(
            s,
            ObjectiveInput("dec-revenue", "2026-12", 1000, kpi="revenue", owner="dana"),
            actor="t",
        )
        objectives.create_objective(
            s, ObjectiveInput("oct-revenue", "2026-10", 10, kpi="revenue", owner="dana"), actor="t"
        )
        s.commit()
        # 15 of 30 days gone by, 600 booked (the 20th is still ahead).
        lines = {
            p.objective.name: p
            for p in objectives.plan_vs_actual(s, "2026-Q4", today=date(2026, 11, 15))
        }
    nov = lines["nov-revenue"]
    assert (nov.actual, nov.elapsed, nov.expected, nov.projected) == (600.0, 0.5, 500.0, 1200.0)
    assert nov.variance == 100.0 and nov.attainment == 0.6 and nov.status == "on track"
    assert lines["nov-big"].status == "at risk"  # 1,200 projected: 92 % of 1,300
    assert lines["nov-huge"].status == "behind"
    assert lines["dec-revenue"].status == "not started"
    assert lines["oct-revenue"].status == "missed" and lines["oct-revenue"].actual == 0.0


def _goal(**kw: Any) -> ObjectiveInput:
    base: dict[str, Any] = {
        "name": "g",
        "period": "2026",
        "target": 100,
        "kpi": "revenue",
        "owner": "dana",
    }
    return ObjectiveInput(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "where", "says"),
    [
        ({"kpi": "revnue"}, "kpi", "unknown KPI 'revnue'"),
        ({"kpi": "custom"}, "kpi", "a custom KPI needs a definition"),
        (
            {"kpi": "custom", "definition": "responses / delivred"},
            "definition",
            "line 1, col 13: unknown measure 'delivred'",
        ),
        ({"kpi": "custom", "definition": "orders >"}, "definition", "line 1, col"),
        ({"kpi": "revenue", "definition": "orders"}, "definition", "use kpi 'custom'"),
        ({"period": "2026-Q5"}, "period", "is not a period"),
        ({"owner": None}, "owner", "owned by a team or a person"),
        ({"owner_team": "nope"}, "owner_team", "no team 'nope'"),
        ({"owner": "nobody"}, "owner", "no user 'nobody'"),
        ({"scope": {"region": "north"}}, "scope", "unknown key 'region'"),
        ({"target": "lots"}, "target", "is not a number"),
        ({"name": "Big Goal"}, "name", "letters, digits"),
        ({"kind": "qualitative", "target": 9}, "target", "outside 1–5"),
        ({"parent": "nope"}, "parent", "no objective 'nope'"),
    ],
)
def test_a_bad_objective_is_refused_naming_the_field(
    store: Store, kw: dict[str, Any], where: str, says: str
) -> None:
    marketing_org(store)
    with store.session() as s:
        with pytest.raises(InvalidInput, match=says) as e:
            objectives.create_objective(s, _goal(**kw), actor="t")
        assert e.value.where == where
        assert objectives.list_objectives(s) == []


def test_goals_break_down_within_their_parent_period(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        objectives.create_objective(s, _goal(name="year"), actor="t")
        objectives.create_objective(s, _goal(name="q1", period="2026-Q1", parent="year"), actor="t")
        with pytest.raises(InvalidInput, match="2027-Q1 is not within 'year'") as e:
            objectives.create_objective(
                s, _goal(name="q5", period="2027-Q1", parent="year"), actor="t"
            )
        assert e.value.where == "period"
        with pytest.raises(Conflict, match="broken down into q1"):
            objectives.delete_objective(s, "year", actor="t")
        with pytest.raises(Conflict, match="exists already"):
            objectives.create_objective(s, _goal(name="q1"), actor="t")


def test_what_does_not_compute_says_why(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        objectives.create_objective(
            s, _goal(name="share", kpi="market_share", target=0.2), actor="t"
        )
        objectives.create_objective(
            s, _goal(name="rr", kpi="response_rate", target=0.05), actor="t"
        )
        s.commit()
        lines = {
            p.objective.name: p
            for p in objectives.plan_vs_actual(s, "2026", today=date(2026, 6, 30))
        }
        assert lines["share"].status == "no figure"
        assert lines["share"].why_not == "no market size entered for 2026 (the whole market)"
        assert lines["rr"].why_not == "delivered is 0: nothing to divide by"
        s.add(
            Order(
                customer_id="c1",
                offer="GOLD",
                price=Decimal(500),
                amount=Decimal(500),
                status="booked",
                created_at=datetime(2026, 3, 1, tzinfo=UTC),
            )
        )
        objectives.put_market_size(s, "2026", 10_000, source="industry report", actor="t")
        s.commit()
        (share,) = [
            p
            for p in objectives.plan_vs_actual(s, "2026", today=date(2026, 6, 30))
            if p.objective.name == "share"
        ]
    # Half the year gone by (181 of 365 days): half the market's size so far.
    assert share.actual == pytest.approx(500 / (10_000 * 181 / 365))


def test_a_qualitative_goal_is_scored_by_its_reviewer(store: Store) -> None:
    marketing_org(store)
    with store.session() as s:
        objectives.create_objective(
            s,
            _goal(
                name="launch-on-time",
                kind="qualitative",
                kpi="custom",
                target=4,
                reviewer="dana",
                owner="mia",
            ),
            actor="t",
        )
        s.commit()
        (line,) = objectives.plan_vs_actual(s, "2026", today=date(2026, 6, 1))
        assert (line.status, line.actual) == ("in progress", None)
        with pytest.raises(PermissionDenied, match="scored by its reviewer, dana"):
            objectives.assess(
                s, "launch-on-time", 5, "", username="mia", may_override=False, actor="t"
            )
        with pytest.raises(InvalidInput, match="outside 1–5"):
            objectives.assess(
                s, "launch-on-time", 6, "", username="dana", may_override=False, actor="t"
            )
        objectives.assess(
            s, "launch-on-time", 3, "two weeks late", username="dana", may_override=False, actor="t"
        )
        s.commit()
        (line,) = objectives.plan_vs_actual(s, "2026", today=date(2026, 6, 1))
    assert (line.status, line.actual, line.objective.assessment_note) == (
        "missed",
        3.0,
        "two weeks late",
    )
