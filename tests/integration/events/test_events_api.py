"""POST /events and what it led to, over HTTP, with a machine's token."""

from __future__ import annotations

import sqlalchemy as sa

from tactica.store.db import Store
from tactica.store.models import Contact, EventRow
from tests.integration.api.conftest import Api, api  # noqa: F401 - the fixture
from tests.integration.events.conftest import top_up


def test_a_machine_sends_events_and_reads_what_they_led_to(
    api: Api,  # noqa: F811
    events_store: Store,
) -> None:
    machine = api.as_("integration")
    r = api.client.post(
        "/events",
        json={
            "events": [
                top_up("e1", "c05"),
                top_up("e2", "c05", amount="lots"),
                top_up("e3", "ghost"),
                top_up("e4", "c01"),
            ]
        },
        headers=machine,
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3 and body["contacts"] == 1
    assert body["rejected"] == [
        {"index": 1, "id": "e2", "problems": ["payload.amount: must be a number, got 'lots'"]}
    ]
    assert body["unattributed"] == ["e3"]
    first = body["decided"][0]
    assert (first["id"], first["status"]) == ("e1", "contacted")
    (contact,) = first["contacts"]
    assert (contact["campaign"], contact["offer"], contact["channel"]) == (
        "top-up-bonus",
        "DATA-5GB",
        "sms",
    )
    assert first["decisions"] == ["moments/top-up-bonus: contacted with DATA-5GB on sms"]
    assert body["decided"][2]["decisions"] == [
        "moments/top-up-bonus: not eligible: the campaign's rule does not hold"
    ]
    with events_store.session() as s:
        assert s.scalar(sa.select(Contact.id)) == contact["contact_id"]

    # Sent again (a producer retrying): accepted, nothing decided twice.
    again = api.client.post("/events", json={"events": [top_up("e1", "c05")]}, headers=machine)
    assert again.status_code == 200 and again.json()["duplicates"] == ["e1"]

    # The machine may send, not read; a marketer reads.
    assert api.client.get("/events", headers=machine).status_code == 403
    listed = api.client.get("/events?customer_id=c05", headers=api.as_("marketer")).json()
    assert [e["id"] for e in listed] == ["e1"]
    shown = api.client.get("/events/e1", headers=api.as_("analyst")).json()
    assert shown["status"] == "contacted" and shown["payload"] == {"amount": 60.0, "shop": "online"}
    figures = api.client.get("/events/figures", headers=api.as_("analyst")).json()
    assert figures[0]["matched"] == 2 and figures[0]["contacted"] == 1
    assert figures[0]["suppressed"] == {"not_eligible": 1}
    assert api.client.get("/events/nope", headers=api.as_("analyst")).status_code == 404


def test_a_batch_of_only_bad_events_gets_422_naming_each_field(
    api: Api,  # noqa: F811
    events_store: Store,
) -> None:
    r = api.client.post(
        "/events",
        json={"events": [top_up("x", "c05", amount="lots"), {"id": "y"}]},
        headers=api.as_("integration"),
    )

    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "events[0].payload.amount: must be a number, got 'lots'" in detail
    assert "events[1].type: is required" in detail
    with events_store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(EventRow)) == 0
    assert (
        api.client.post("/events", json={"events": []}, headers=api.as_("integration")).status_code
        == 422
    )
    assert (
        api.client.post("/events", content=b"{", headers=api.as_("integration")).status_code == 400
    )
    assert api.client.post("/events", json={"events": [top_up("z", "c05")]}).status_code == 401


def test_event_types_are_declared_over_http(
    api: Api,  # noqa: F811
    events_store: Store,
) -> None:
    admin = api.as_("admin")
    r = api.client.put(
        "/event-types/churn_jump",
        json={"fields": {"score": "float", "previous": "float"}, "required": ["score"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    names = [t["name"] for t in api.client.get("/event-types", headers=admin).json()]
    assert names == ["bill_paid", "churn_jump", "top_up"]
    bad = api.client.put(
        "/event-types/churn_jump", json={"fields": {"score": "money"}}, headers=admin
    )
    assert bad.status_code == 422 and "fields.score: unknown type 'money'" in bad.json()["detail"]
    # A type a campaign listens to cannot go.
    busy = api.client.delete("/event-types/top_up", headers=admin)
    assert busy.status_code == 409 and "moments/top-up-bonus" in busy.json()["detail"]
    assert api.client.delete("/event-types/churn_jump", headers=admin).status_code == 204
