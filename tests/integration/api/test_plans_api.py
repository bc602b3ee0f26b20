"""The plan over HTTP: a director sets teams and goals, reads plan against actual;
roles and bad input answered as everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tactica.store.models import Order
from tests.integration.api.conftest import Api


def _order(api: Api, day: int, amount: str, offer: str = "GOLD") -> None:
    with api.store.session() as s:
        s.add(
            Order(
                customer_id=f"c{day}",
                offer=offer,
                price=Decimal(amount),
                amount=Decimal(amount),
                status="booked",
                created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
            )
        )
        s.commit()


def test_a_director_sets_the_plan_and_reads_it_against_the_actuals(api: Api) -> None:
    m = api.as_("marketer")
    c = api.client
    r = c.post(
        "/teams", json={"name": "marketing", "title": "Marketing", "lead": "marketer"}, headers=m
    )
    assert r.status_code == 201, r.text
    r = c.post(
        "/teams", json={"name": "sales", "function": "sales", "parent": "marketing"}, headers=m
    )
    assert r.status_code == 201 and r.json()["depth"] == 1
    r = c.put(
        "/teams/sales/members/sales_rep",
        json={"title": "Rep", "responsibilities": "North region accounts"},
        headers=m,
    )
    assert r.status_code == 200 and r.json()["responsibilities"] == "North region accounts"
    assert [t["name"] for t in c.get("/teams", headers=api.as_("sales_rep")).json()] == [
        "marketing",
        "sales",
    ]

    goals = [
        {
            "name": "revenue-2026-11",
            "kpi": "revenue",
            "period": "2026-11",
            "target": 1000,
            "owner_team": "marketing",
        },
        {
            "name": "share-2026-11",
            "kpi": "market_share",
            "period": "2026-11",
            "target": 0.05,
            "owner_team": "marketing",
        },
        {
            "name": "gold-orders",
            "kpi": "custom",
            "definition": "orders",
            "scope": {"offer": "GOLD"},
            "period": "2026-11",
            "target": 4,
            "owner": "sales_rep",
            "parent": "revenue-2026-11",
        },
        {
            "name": "launch",
            "kind": "qualitative",
            "period": "2026-Q4",
            "target": 4,
            "owner": "marketer",
            "reviewer": "analyst",
        },
    ]
    for g in goals:
        r = c.post("/objectives", json=g, headers=m)
        assert r.status_code == 201, r.text
    _order(api, 2, "300.00")
    _order(api, 9, "300.00", offer="SILVER")
    assert (
        c.put("/market-sizes", json={"period": "2026-11", "size": 20000}, headers=m).status_code
        == 200
    )

    r = c.get(
        "/plan", params={"period": "2026-11", "today": "2026-11-15"}, headers=api.as_("analyst")
    )
    assert r.status_code == 200, r.text
    lines = {x["name"]: x for x in r.json()}
    rev = lines["revenue-2026-11"]
    assert (rev["actual"], rev["expected"], rev["projected"], rev["status"]) == (
        600.0,
        500.0,
        1200.0,
        "on track",
    )
    assert lines["share-2026-11"]["actual"] == 0.06  # 600 against half of 20,000
    gold = lines["gold-orders"]
    assert (gold["actual"], gold["projected"], gold["status"]) == (1.0, 2.0, "behind")
    assert lines["launch"]["status"] == "in progress"

    # The reviewer scores the qualitative goal; its owner may not.
    r = c.post("/objectives/launch/assessment", json={"score": 5}, headers=m)
    assert r.status_code == 403 and "reviewer, analyst" in r.json()["detail"]
    r = c.post(
        "/objectives/launch/assessment",
        json={"score": 4, "note": "on time"},
        headers=api.as_("analyst"),
    )
    assert r.status_code == 200 and r.json()["assessed_by"] == "analyst"
    one = c.get("/objectives/launch", params={"today": "2026-12-01"}, headers=m).json()
    assert (one["status"], one["actual"]) == ("achieved", 4.0)

    assert [k["name"] for k in c.get("/kpis", headers=m).json()["kpis"]][:2] == ["sales", "revenue"]


def test_roles_and_bad_input(api: Api) -> None:
    c = api.client
    m = api.as_("marketer")
    rep = api.as_("sales_rep")
    assert c.post("/teams", json={"name": "x"}, headers=rep).status_code == 403
    assert (
        c.get("/plan", params={"period": "2026"}, headers=api.as_("integration")).status_code == 403
    )
    c.post("/teams", json={"name": "marketing"}, headers=m)
    r = c.post(
        "/objectives",
        json={
            "name": "rr",
            "kpi": "custom",
            "definition": "responses / delivred",
            "period": "2026",
            "target": 0.1,
            "owner_team": "marketing",
        },
        headers=m,
    )
    assert r.status_code == 422
    body = r.json()
    assert (
        body["where"] == "definition"
        and "line 1, col 13: unknown measure 'delivred'" in body["detail"]
    )
    r = c.post(
        "/objectives",
        json={"name": "g", "kpi": "revenue", "period": "2026", "target": 1},
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "owner"
    r = c.post(
        "/objectives",
        json={
            "name": "g",
            "kpi": "revenue",
            "period": "2026-13",
            "target": 1,
            "owner_team": "marketing",
        },
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "period"
    assert c.get("/objectives", headers=m).json() == []
    assert c.put("/teams/marketing/members/ghost", json={}, headers=m).status_code == 422
    assert c.delete("/teams/nope", headers=m).status_code == 404
