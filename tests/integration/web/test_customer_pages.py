"""The customer pages: find a customer, and everything about one (the customer 360)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services.events import take_events
from tactica.store.db import Store
from tactica.store.models import Contact, Lead, Order, Response
from tests.integration.events.conftest import NOW as EVENTS_NOW
from tests.integration.events.conftest import events_store, top_up  # noqa: F401
from tests.integration.responses.conftest import NOW, ran_store
from tests.integration.services.test_customer_reads import held_out_customer, make_history
from tests.integration.web.conftest import sign_in


@pytest.fixture
def history(store: Store) -> Store:
    """Customers with contacts, a control group, segments, lists, an order and a lead
    (see ``make_history``)."""
    return make_history(store)


def _row(page: str, attribute: str, value: str) -> str:
    """The table row (its inner HTML) whose ``attribute`` is ``value``."""
    found = re.search(rf'<tr[^>]* {attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found is not None, f"no row {attribute}={value}"
    return found.group(1)


def _rows(page: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr[^>]* {attribute}="([^"]*)"', page)


def test_the_page_shows_one_customers_contacts_lists_segments_orders_and_leads(
    client: TestClient, history: Store
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/customers/c01").text
    # Fields, typed: the age and the contact points.
    assert ">22<" in _row(page, "data-field", "age")
    assert "+351910000001" in _row(page, "data-field", "msisdn")
    assert ">yes<" in _row(page, "data-field", "consent_sms")
    # Segments: the rule that holds (age 22 < 30), the static list, the list-based rule.
    assert _rows(page, "data-segment") == ["picked", "vips", "young"]
    assert "age &lt; 30" in _row(page, "data-segment", "young")
    # Lists: the VIP entry with its reason and expiry; not c02's do-not-disturb.
    vip = _row(page, "data-list", "vip")
    assert "big spender" in vip and "no end" not in vip
    assert _rows(page, "data-list") == ["vip"]
    # Contacts: exactly c01's, with status and times; the 'why' row of each run.
    with history.session() as s:
        mine = set(s.scalars(sa.select(Contact.id).where(Contact.customer_id == "c01")))
        assert mine
    shown = {int(x) for x in _rows(page, "data-contact") if x}
    assert shown == mine
    sms = _row(page, "data-campaign", "gold-sms")
    assert "sent" in sms and "2026-11-24 11:00" in sms and "GOLD" in sms
    assert re.search(r'<tr class="why" data-run="1"', page)
    # The response, what it was understood as and led to; the order it booked.
    with history.session() as s:
        r = s.scalar(sa.select(Response).where(Response.customer_id == "c01"))
        order = s.scalar(sa.select(Order).where(Order.customer_id == "c01"))
        assert r is not None and order is not None
    response = _row(page, "data-response", str(r.id))
    assert "Yes please!" in response and "order" in response
    assert "120.00 EUR" in _row(page, "data-order", str(order.id))
    assert _rows(page, "data-lead") == []
    # Nothing of another customer.
    assert "tell me more" not in page and "c03@example.com" not in page


def test_held_out_rows_and_leads_show_for_their_customer(
    client: TestClient, history: Store
) -> None:
    held = held_out_customer(history)
    sign_in(client, "analyst")
    page = client.get(f"/ui/customers/{held}").text
    row = _row(page, "data-campaign", "winter-email")
    assert "held out (control group)" in row
    assert "data-held-out" in page
    # The lead c03's question opened links to the lead's page.
    page = client.get("/ui/customers/c03").text
    with history.session() as s:
        lead = s.scalar(sa.select(Lead).where(Lead.customer_id == "c03"))
        assert lead is not None
    assert f'href="/ui/leads/{lead.id}"' in _row(page, "data-lead", str(lead.id))
    assert "tell me more" in page


def test_the_why_row_explains_the_run_for_the_customer(client: TestClient, history: Store) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/customers/c01").text
    # Run 1 ('autumn') texted c01; run 2 ('winter') held them out: one 'why' each.
    assert re.findall(r'hx-get="/ui/customers/c01/runs/(\d+)\?part=1"', page) == ["2", "1"]
    part = client.get("/ui/customers/c01/runs/1?part=1")
    assert part.status_code == 200
    assert "<html" not in part.text  # only the explanation, opened in place
    assert 'data-campaign="gold-sms"' in part.text and "contact: GOLD on sms" in part.text
    assert "gold-sms: contacted with GOLD on sms" in part.text  # what the run recorded
    held = client.get("/ui/customers/c01/runs/2?part=1").text
    assert "held out: in the campaign&#39;s control group" in held
    whole = client.get("/ui/customers/c01/runs/1")
    assert whole.status_code == 200 and "<html" in whole.text
    assert client.get("/ui/customers/c01/runs/999").status_code == 404


def test_more_decisions_than_a_page_show_the_newest_and_a_link_to_more(
    client: TestClient, history: Store
) -> None:
    with history.session() as s:
        base = s.scalars(sa.select(Contact).where(Contact.customer_id == "c01")).first()
        assert base is not None
        s.execute(
            sa.insert(Contact),
            [
                {
                    "program": "autumn",
                    "campaign": f"old-{i:03d}",
                    "customer_id": "c01",
                    "offer": "GOLD",
                    "channel": "sms",
                    "status": "sent",
                    "decided_at": NOW - timedelta(days=1 + i),
                }
                for i in range(120)
            ],
        )
        s.commit()
    sign_in(client, "marketer")
    page = client.get("/ui/customers/c01").text
    campaigns = _rows(page, "data-campaign")
    assert len(campaigns) == 100
    assert campaigns[:3] == ["winter-email", "gold-sms", "old-000"]
    assert campaigns[-1] == "old-097" and "old-119" not in campaigns
    assert 'href="/ui/customers/c01?decisions=200#decisions"' in page
    more = client.get("/ui/customers/c01?decisions=200").text
    assert "old-119" in more and "more-decisions" not in more


def test_a_contact_an_event_triggered_shows_what_the_campaigns_did_with_it(
    client: TestClient,
    events_store: Store,  # noqa: F811
) -> None:
    assert take_events(events_store, [top_up("e1", "c05")], now=EVENTS_NOW).contacts == 1
    sign_in(client, "analyst")
    page = client.get("/ui/customers/c05").text
    row = _row(page, "data-campaign", "top-up-bonus")
    assert ">event<" in row and "queued" in row and "DATA-5GB" in row
    why = re.search(r'<tr class="why" data-event="e1">(.*?)</tr>', page, re.S)
    assert why is not None
    assert "moments/top-up-bonus: contacted with DATA-5GB on sms" in why.group(1)
    # Another customer's page has none of it.
    assert 'data-event="e1"' not in client.get("/ui/customers/c04").text


def test_an_unknown_customer_is_not_found(client: TestClient, history: Store) -> None:
    sign_in(client, "sales_rep")
    r = client.get("/ui/customers/nobody")
    assert r.status_code == 404 and "There is no customer" in r.text


def test_roles_without_customers_read_are_refused(client: TestClient, history: Store) -> None:
    sign_in(client, "integration")
    for path in ("/ui/customers", "/ui/customers/c01", "/ui/customers/c01/runs/1"):
        assert client.get(path).status_code == 403, path
    assert "Customers" not in client.get("/ui/dashboard").text


def test_a_sales_rep_sees_the_customer_but_not_the_runs_reasoning(
    client: TestClient, history: Store
) -> None:
    sign_in(client, "sales_rep")
    page = client.get("/ui/customers/c01")
    assert page.status_code == 200 and 'data-campaign="gold-sms"' in page.text
    # Explaining a run shows the program's rules: programs:read, as the API asks.
    assert "/runs/1?part=1" not in page.text
    assert client.get("/ui/customers/c01/runs/1").status_code == 403


def test_signed_out_the_page_asks_for_a_sign_in(client: TestClient, history: Store) -> None:
    r = client.get("/ui/customers/c01", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_search_by_id_e_mail_or_phone(client: TestClient, history: Store) -> None:
    sign_in(client, "sales_rep")
    for text in ("c04", "C04@Example.com", "+351 91 000 0004", "00351910000004"):
        page = client.get("/ui/customers", params={"q": text}).text
        assert _rows(page, "data-customer") == ["c04"], text
        assert 'href="/ui/customers/c04"' in page
    page = client.get("/ui/customers", params={"q": "c0"}).text  # exact only
    assert _rows(page, "data-customer") == [] and "No customer has" in page
    # The list without a search: a page by id, and the next one.
    first = client.get("/ui/customers").text
    assert _rows(first, "data-customer")[:3] == ["c00", "c01", "c02"]
    r = client.get("/ui/customers", params={"q": "x" * 201})
    assert r.status_code == 422 and 'id="q-error"' in r.text and 'aria-invalid="true"' in r.text


def test_the_list_pages_through_customers_by_id(client: TestClient, store: Store) -> None:
    ran_store(store, n=60)
    sign_in(client, "analyst")
    first = client.get("/ui/customers").text
    ids = _rows(first, "data-customer")
    assert len(ids) == 50 and ids[0] == "c00" and ids[-1] == "c49"
    assert 'href="/ui/customers?after=c49"' in first
    second = client.get("/ui/customers?after=c49").text
    assert _rows(second, "data-customer") == [f"c{i}" for i in range(50, 60)]
    assert "?after=" not in second
