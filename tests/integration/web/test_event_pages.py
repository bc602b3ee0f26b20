"""The events page: the latest events and what they led to, filtered; the event types,
declared, changed (kept while campaigns listen) and removed; who may do what."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import event_types
from tactica.services.events import take_events
from tactica.store.db import Store
from tactica.store.models import AuditEntry, EventTypeRow
from tests.integration.events.conftest import NOW, seed_events, top_up
from tests.integration.web.conftest import csrf_of, post_form, sign_in


@pytest.fixture
def ev(store: Store) -> Store:
    """Customers c00..c11, the event types top_up and bill_paid, the running program
    'moments' (its triggered campaign answers top-ups of 50 or more from customers of
    more than a year), and three events taken."""
    seeded = seed_events(store)
    taken = take_events(
        seeded,
        [top_up("e1", "c05", 80.0), top_up("e2", "c06", 10.0), top_up("e3", "nobody", 70.0)],
        now=NOW,
    )
    assert not taken.rejected
    return seeded


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-event="([^"]*)"', html)


def _types(store: Store) -> dict[str, dict[str, object]]:
    with store.session() as s:
        return {r.name: event_types.event_type_data(r) for r in event_types.list_event_types(s)}


def test_the_latest_events_show_what_they_led_to_and_filter(client: TestClient, ev: Store) -> None:
    sign_in(client, "analyst")
    page = client.get("/ui/events")
    assert page.status_code == 200
    assert _rows(page.text) == ["e3", "e2", "e1"]
    first = re.search(r'<tr data-event="e1">(.*?)</tr>', page.text, re.S)
    assert first is not None
    assert "contacted" in first.group(1) and "moments/top-up-bonus: contacted with" in first.group(
        1
    )
    assert "amount=80.0" in first.group(1)
    second = re.search(r'<tr data-event="e2">(.*?)</tr>', page.text, re.S)
    assert second is not None and "not eligible" in second.group(1)
    assert _rows(client.get("/ui/events?status=unattributed").text) == ["e3"]
    assert _rows(client.get("/ui/events?customer=c06").text) == ["e2"]
    assert _rows(client.get("/ui/events?type=bill_paid").text) == []
    bad = client.get("/ui/events?status=lost")
    assert bad.status_code == 422 and 'id="f-status-error"' in bad.text
    assert _rows(bad.text) == ["e3", "e2", "e1"]  # an unreadable filter filters nothing
    # Analysts read the types but declare none.
    assert 'data-type="top_up"' in page.text and "moments/top-up-bonus" in page.text
    assert "Save event type" not in page.text


def test_a_marketer_declares_a_type_changes_it_and_removes_it(
    client: TestClient, ev: Store
) -> None:
    sign_in(client, "marketer")
    form = {
        "name": "bill_late",
        "description": "a bill unpaid past its due day",
        "fields": "amount: float\ndays_late: int\n",
        "required": "days_late",
    }
    r = post_form(client, "/ui/events", "/ui/events/types", form)
    assert r.status_code == 303
    assert "Event type bill_late saved." in client.get(r.headers["location"]).text
    assert _types(ev)["bill_late"] == {
        "name": "bill_late",
        "description": "a bill unpaid past its due day",
        "fields": {"amount": "float", "days_late": "int"},
        "required": ["days_late"],
    }
    r = post_form(client, "/ui/events", "/ui/events/types", {**form, "fields": "days_late: float"})
    assert r.status_code == 303 and _types(ev)["bill_late"]["fields"] == {"days_late": "float"}
    r = post_form(client, "/ui/events", "/ui/events/types/bill_late/delete", {})
    assert r.status_code == 303
    assert "Event type bill_late removed." in client.get(r.headers["location"]).text
    assert "bill_late" not in _types(ev)
    with ev.session() as s:
        actions = s.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.entity_type == "event_type", AuditEntry.entity_id == "bill_late")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("form", "field", "said", "status"),
    [
        ({"name": "Top Up", "fields": "amount: float"}, "name", "lower-case letters", 422),
        (
            {"name": "refund", "fields": "amount float"},
            "fields",
            "line 1: &#39;name: type&#39;",
            422,
        ),
        ({"name": "refund", "fields": "amount: money"}, "fields", "unknown type", 422),
        (
            {"name": "refund", "fields": "amount: float", "required": "reason"},
            "required",
            "&#39;reason&#39; is not one of the fields",
            422,
        ),
        # A field the listening campaign's rule reads may not change type.
        ({"name": "top_up", "fields": "amount: text"}, "fields", "moments/top-up-bonus", 409),
    ],
)
def test_a_refused_declaration_is_named_by_its_field_keeps_what_was_typed_and_saves_nothing(
    client: TestClient, ev: Store, form: dict[str, str], field: str, said: str, status: int
) -> None:
    before = _types(ev)
    sign_in(client, "marketer")
    r = post_form(client, "/ui/events", "/ui/events/types", form)
    assert r.status_code == status
    error = re.search(rf'id="{field}-error">([^<]*)<', r.text)
    assert error is not None and said in error.group(1), r.text
    assert unescape(form["fields"]) in unescape(r.text)  # kept as typed
    assert _types(ev) == before


def test_a_type_campaigns_listen_to_is_not_removed(client: TestClient, ev: Store) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/events").text
    # No remove button on it; a forged post is refused with the listeners named.
    assert 'action="/ui/events/types/top_up/delete"' not in page
    assert 'action="/ui/events/types/bill_paid/delete"' in page
    r = post_form(client, "/ui/events", "/ui/events/types/top_up/delete", {})
    assert r.status_code == 409 and "listened to by: moments/top-up-bonus" in r.text
    assert "top_up" in _types(ev)
    r = post_form(client, "/ui/events", "/ui/events/types/nothing/delete", {})
    assert r.status_code == 404


def test_a_lifecycle_type_keeps_its_block_when_its_fields_change_here(
    client: TestClient, ev: Store
) -> None:
    from tactica.domain.schema import FieldDef, FieldType
    from tactica.store.customer_table import add_fields

    with ev.session() as s:
        add_fields(s, [FieldDef("birth_date", FieldType.DATE)])
        ty = event_types.parse_event_type(
            {
                "name": "birthday",
                "fields": {"age": "int"},
                "lifecycle": {"kind": "birthday", "field": "birth_date"},
            }
        )
        event_types.save_event_type(s, ty, actor="t")
        s.commit()
    sign_in(client, "marketer")
    form = {"name": "birthday", "description": "happy birthday", "fields": "age: int"}
    assert post_form(client, "/ui/events", "/ui/events/types", form).status_code == 303
    saved = _types(ev)["birthday"]
    assert saved["description"] == "happy birthday"
    assert saved["lifecycle"] == {"kind": "birthday", "field": "birth_date"}


def test_who_may_see_and_declare(client: TestClient, ev: Store) -> None:
    sign_in(client, "sales_rep")
    assert client.get("/ui/events").status_code == 403
    client.cookies.clear()
    sign_in(client, "analyst")
    csrf = csrf_of(client.get("/ui/events").text)
    r = client.post("/ui/events/types", data={"name": "x", "fields": "a: int", "csrf": csrf})
    assert r.status_code == 403
    r = client.post("/ui/events/types/bill_paid/delete", data={"csrf": csrf})
    assert r.status_code == 403
    client.cookies.clear()
    sign_in(client, "marketer")
    client.get("/ui/events")
    r = client.post("/ui/events/types", data={"name": "x", "fields": "a: int", "csrf": "forged"})
    assert r.status_code == 403
    with ev.session() as s:
        assert s.scalar(sa.select(EventTypeRow.id).where(EventTypeRow.name == "x")) is None
        assert s.scalar(sa.select(EventTypeRow.id).where(EventTypeRow.name == "bill_paid"))
