"""The sales routes: reps, a rep's own leads, moves, activities, figures and approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tactica.services import sales
from tests.integration.api.conftest import Api
from tests.integration.sales.conftest import lead_for, seed


def _leads(api: Api, *customers: str) -> list[int]:
    seed(api.store)
    opened = datetime.now(UTC) - timedelta(hours=1)
    with api.store.session() as s:
        ids = [lead_for(s, c, now=opened).id for c in customers]
        s.commit()
    return ids


def test_a_rep_works_their_leads_over_the_api(api: Api) -> None:
    mine, theirs = _leads(api, "c1", "c3")
    admin, rep, marketer = api.as_("admin"), api.as_("sales_rep"), api.as_("marketer")
    c = api.client
    # The user 'sales_rep' is the Lisboa rep; paulo covers Porto.
    r = c.post(
        "/reps",
        json={"username": "sales_rep", "territory": "Lisboa", "manager": "marketer"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["assigned"] == 2  # nobody else yet: both waiting leads
    assert c.post("/reps", json={"username": "paulo"}, headers=rep).status_code == 403
    assert (
        c.post(
            "/reps", json={"username": "paulo", "territory": "Porto"}, headers=marketer
        ).status_code
        == 201
    )
    assert c.post(f"/leads/{theirs}/assign", json={"rep": "paulo"}, headers=rep).status_code == 403
    r = c.post(f"/leads/{theirs}/assign", json={"rep": "paulo"}, headers=marketer)
    assert r.status_code == 200 and r.json()["lead"]["rep"] == "paulo"
    reps = c.get("/reps", headers=rep).json()
    assert [(x["username"], x["open_leads"]) for x in reps] == [("paulo", 1), ("sales_rep", 1)]

    # A rep sees their own leads unless they ask for everyone's.
    assert [x["id"] for x in c.get("/leads", headers=rep).json()] == [mine]
    assert {x["id"] for x in c.get("/leads?all_reps=true", headers=rep).json()} == {mine, theirs}

    r = c.post(f"/leads/{theirs}/move", json={"status": "contacted"}, headers=rep)
    assert r.status_code == 403 and "paulo's" in r.json()["detail"]
    r = c.post(f"/leads/{mine}/move", json={"status": "won"}, headers=rep)
    assert r.status_code == 409
    assert r.json()["detail"] == "a new lead cannot become won; it may become: contacted, lost"
    r = c.post(f"/leads/{mine}/move", json={"status": "lost"}, headers=rep)
    assert r.status_code == 422 and r.json()["where"] == "reason"

    call = {"kind": "call", "minutes": 9, "cost": "1.20", "result": "interested"}
    r = c.post(f"/leads/{mine}/activities", json=call, headers=rep)
    assert r.status_code == 201, r.text
    assert r.json()["contacted"] and r.json()["lead"]["status"] == "contacted"
    assert (
        c.post(f"/leads/{mine}/activities", json=call, headers=api.as_("analyst")).status_code
        == 403
    )

    r = c.post(f"/leads/{mine}/move", json={"status": "won", "discount": "20"}, headers=rep)
    assert r.status_code == 200, r.text
    order = r.json()["order"]
    assert (order["status"], order["amount"], order["lead_id"]) == (
        "pending_approval",
        "96.00",
        mine,
    )
    assert c.post(f"/orders/{order['id']}/approve", headers=rep).status_code == 403
    r = c.post(f"/orders/{order['id']}/approve", json={"note": "loyal"}, headers=marketer)
    assert r.status_code == 200 and r.json()["status"] == "booked"
    assert c.post(f"/orders/{order['id']}/reject", headers=marketer).status_code == 409

    detail = c.get(f"/leads/{mine}", headers=rep).json()
    assert [a["kind"] for a in detail["activities"]] == ["call"]
    assert detail["order"]["status"] == "booked" and detail["status"] == "won"

    figures = c.get("/sales/figures", params={"rep": "sales_rep"}, headers=rep).json()
    (today,) = figures["days"]
    assert (today["calls"], today["cost"], today["orders"], today["orders_per_call"]) == (
        1,
        "1.20",
        1,
        "1.0000",
    )
    assert [o["id"] for o in c.get("/orders?status=booked", headers=rep).json()] == [order["id"]]

    r = c.patch("/reps/paulo", json={"active": False}, headers=admin)
    assert r.status_code == 200 and (r.json()["released"], r.json()["assigned"]) == (1, 1)
    with api.store.session() as s:
        assert sales.get_lead(s, theirs).rep == "sales_rep"


def test_bad_requests_get_named_errors(api: Api) -> None:
    (lead,) = _leads(api, "c1")
    admin, c = api.as_("admin"), api.client
    assert c.post("/reps", json={"username": "rita"}, headers=admin).status_code == 201
    assert c.post("/reps", json={"username": "rita"}, headers=admin).status_code == 409
    r = c.post("/reps", json={"username": "zoe", "role": "closer"}, headers=admin)
    assert r.status_code == 422 and "role" in r.json()["detail"]
    assert c.get("/leads/999", headers=admin).status_code == 404
    assert c.patch("/reps/nobody", json={"capacity": 3}, headers=admin).status_code == 404
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = c.post(f"/leads/{lead}/activities", json={"kind": "call", "at": future}, headers=admin)
    assert r.status_code == 422 and r.json()["where"] == "at"
    r = c.get("/sales/figures", params={"tz": "Mars/Base"}, headers=admin)
    assert r.status_code == 422 and "unknown time zone" in r.json()["detail"]
    r = c.get("/sales/figures", params={"rep": "ghost"}, headers=admin)
    assert r.status_code == 404
