"""The leads pages: a rep's inbox, a lead's page, logging activities, moving a lead to won
or lost (the order booked and on the dashboard), and who may do what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import sales
from tactica.services.responses import Inbound, take_responses
from tactica.services.sales import Acting
from tactica.store.db import Store
from tactica.store.models import Activity, Lead, Order, SalesRep
from tests.integration.responses.conftest import ran_store
from tests.integration.web.conftest import csrf_of, post_form, sign_in

BOSS = Acting("admin", "admin", "user:admin")


@dataclass(frozen=True)
class Leads:
    """The store and its leads: ``late`` and ``fresh`` are sales_rep's, ``ritas`` rita's."""

    store: Store
    late: int
    fresh: int
    ritas: int


def _reply(store: Store, mid: str, customer: int, at: datetime) -> int:
    """Customer c<nn> answers the campaign's SMS asking to know more, at ``at``: a lead."""
    sender = f"35191{customer:07d}"
    item = Inbound(mid, "sms", "tell me more", sender=sender, received_at=at)
    assert take_responses(store, "gw", [item], now=at).leads == 1
    with store.session() as s:
        lead = s.scalars(sa.select(Lead).order_by(Lead.id.desc()).limit(1)).one()
        return lead.id


def _give(store: Store, lead_id: int, rep: str) -> None:
    with store.session() as s:
        sales.reassign_lead(s, lead_id, rep, who=BOSS)
        s.commit()


@pytest.fixture
def leads(store: Store) -> Leads:
    """The 'autumn' program sent two days ago; three customers asked to know more since:
    c01 six hours ago (past the 4-hour SLA), c02 an hour ago (sales_rep's), c03 half an
    hour ago (rita's)."""
    now = datetime.now(UTC)
    ran_store(store, reps=("sales_rep", "rita"), sent=now - timedelta(days=2))
    late = _reply(store, "m1", 1, now - timedelta(hours=6))
    fresh = _reply(store, "m2", 2, now - timedelta(hours=1))
    ritas = _reply(store, "m3", 3, now - timedelta(minutes=30))
    _give(store, late, "sales_rep")
    _give(store, fresh, "sales_rep")
    _give(store, ritas, "rita")
    return Leads(store, late, fresh, ritas)


def _rows(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-lead="(\d+)"', html)]


def _lead(store: Store, lead_id: int) -> Lead:
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        s.expunge(lead)
        return lead


def _count(store: Store, table: type) -> int:
    with store.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _tile(html: str, measure: str) -> str:
    found = re.search(rf'data-measure="{measure}">.*?<span class="value">([^<]*)<', html, re.S)
    assert found is not None
    return found.group(1)


def _campaign_orders(html: str, campaign: str) -> str:
    row = re.search(rf'<tr data-campaign="{campaign}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    return cells[7]  # planned, executed, delivered, failed, held out, responses, rate, orders


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert found is not None, html
    return unescape(found.group(1))


# ----------------------------------------------------------------------------- inbox


def test_a_rep_sees_their_open_leads_overdue_first_and_not_another_reps(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    page = client.get("/ui/leads")
    assert page.status_code == 200
    assert _rows(page.text) == [leads.late, leads.fresh]
    late = re.search(rf'<tr data-lead="{leads.late}" class="overdue">(.*?)</tr>', page.text, re.S)
    assert late is not None and "data-overdue" in late.group(1)
    assert '<a href="/ui/customers/c01">c01</a>' in late.group(1)
    assert "autumn / gold-sms" in late.group(1) and "120.00 EUR" in late.group(1)
    fresh = re.search(rf'<tr data-lead="{leads.fresh}">(.*?)</tr>', page.text, re.S)
    assert fresh is not None and "data-overdue" not in fresh.group(1)
    # Asking for another rep's leads changes nothing: a rep's inbox is their own.
    assert _rows(client.get("/ui/leads?rep=rita&status=all").text) == [leads.late, leads.fresh]
    assert 'id="rep"' not in page.text
    # The nav bar leads here.
    assert '<a href="/ui/leads" aria-current="page">Leads</a>' in page.text


def test_a_marketer_sees_every_reps_leads_and_filters_by_rep_and_status(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/leads").text
    assert _rows(page) == [leads.late, leads.fresh, leads.ritas]
    assert "<small>3 leads</small>" in page
    assert re.search(r'<option value="rita"[^>]*>rita \(1 open\)</option>', page)
    assert re.search(r'<option value="sales_rep"[^>]*>sales_rep \(2 open, 1 overdue\)', page)
    assert _rows(client.get("/ui/leads?rep=rita").text) == [leads.ritas]
    assert _rows(client.get("/ui/leads?rep=-").text) == []  # nobody waits for a rep
    assert _rows(client.get("/ui/leads?status=won").text) == []
    assert _rows(client.get("/ui/leads?status=new&rep=sales_rep").text) == [
        leads.late,
        leads.fresh,
    ]
    bad = client.get("/ui/leads?status=maybe")
    assert bad.status_code == 422
    assert "one of open, all" in _error(bad.text, "status")


def test_the_inbox_pages_by_fifty(client: TestClient, leads: Leads) -> None:
    now = datetime.now(UTC)
    with leads.store.session() as s:
        for i in range(50):
            sales.open_lead(s, customer_id=f"c{i % 20:02d}", reply="call me", now=now)
        s.commit()
    sign_in(client, "analyst")
    first = client.get("/ui/leads").text
    assert len(_rows(first)) == 50 and "Page 1 of 2" in first
    second = client.get("/ui/leads?status=open&rep=&page=2").text
    assert len(_rows(second)) == 3 and "Page 2 of 2" in second
    assert not set(_rows(first)) & set(_rows(second))


def test_signing_in_is_needed_and_an_integration_may_not_read_leads(
    client: TestClient, leads: Leads
) -> None:
    r = client.get("/ui/leads", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    sign_in(client, "integration")
    assert client.get("/ui/leads").status_code == 403
    assert client.get(f"/ui/leads/{leads.late}").status_code == 403


# ------------------------------------------------------------------------------ lead


def test_a_lead_page_shows_the_lead_and_the_customers_history(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    page = client.get(f"/ui/leads/{leads.late}")
    assert page.status_code == 200
    html = page.text
    assert 'id="lead-status">new<' in html and "data-overdue" in html
    assert 'href="/ui/customers/c01"' in html and "Gold card" in html
    assert "tell me more" in html and 'id="lead-value">120.00 EUR' in html
    contacts = re.search(r'<table id="history-contacts">(.*?)</table>', html, re.S)
    assert contacts is not None and "autumn / gold-sms" in contacts.group(1)
    assert ">sms<" in contacts.group(1) and ">sent<" in contacts.group(1)
    responses = re.search(r'<table id="history-responses">(.*?)</table>', html, re.S)
    assert responses is not None and "tell me more" in responses.group(1)
    # A new lead may be marked contacted or lost, not won or qualified yet.
    assert "Mark contacted" in html and "Lost" in html
    assert "Won: book the order" not in html and "Mark qualified" not in html
    assert client.get("/ui/leads/999999").status_code == 404
    assert client.get("/ui/leads/abc").status_code == 404


def test_a_rep_logs_a_call_and_the_new_lead_is_contacted(client: TestClient, leads: Leads) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    r = post_form(
        client,
        page,
        f"{page}/activities",
        {
            "kind": "call",
            "at": "",
            "minutes": "12",
            "cost": "1.50",
            "result": "interested",
            "notes": "Wants the card before Christmas",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"{page}?done=contacted")
    html = client.get(r.headers["location"]).text
    assert 'role="status">Activity logged; the lead is contacted now.' in html
    row = re.search(r'<tr data-activity="\d+">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "Wants the card before Christmas" in row.group(1) and ">1.50<" in row.group(1)
    assert 'id="lead-status">contacted<' in html and "Won: book the order" in html
    lead = _lead(leads.store, leads.late)
    assert lead.status == "contacted" and lead.contacted_at is not None
    with leads.store.session() as s:
        act = s.scalars(sa.select(Activity)).one()
        assert (act.rep, act.kind, act.minutes, act.result) == (
            "sales_rep",
            "call",
            12,
            "interested",
        )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("minutes", "ten", "whole minutes"),
        ("minutes", "2000", "whole minutes from 0 to 1440"),
        ("at", "2999-01-01T10:00", "in the future"),
        ("at", "yesterday", "a date and time"),
        ("cost", "-3", "from 0 to"),
        ("kind", "fax", "unknown kind"),
        ("result", "x" * 40, "at most 32 characters"),
    ],
)
def test_a_refused_activity_is_named_next_to_its_field_and_nothing_is_written(
    client: TestClient, leads: Leads, field: str, value: str, says: str
) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    data = {"kind": "call", "at": "", "minutes": "5", "cost": "0", "result": "", "notes": "kept"}
    r = post_form(client, page, f"{page}/activities", {**data, field: value})
    assert r.status_code == 422
    assert says in _error(r.text, field)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', r.text, re.S) or re.search(
        rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', r.text
    )
    assert ">kept</textarea>" in r.text
    if field != "kind":
        assert f'value="{value}"' in r.text
    assert _count(leads.store, Activity) == 0
    assert _lead(leads.store, leads.late).status == "new"


def test_winning_a_lead_books_the_order_and_the_dashboard_counts_it(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    before = client.get("/ui/dashboard").text
    assert _tile(before, "orders") == "0"
    assert _campaign_orders(before, "autumn/gold-sms") == "0"
    page = f"/ui/leads/{leads.fresh}"
    assert post_form(client, page, f"{page}/move", {"status": "contacted"}).status_code == 303
    assert post_form(client, page, f"{page}/move", {"status": "qualified"}).status_code == 303
    r = post_form(client, page, f"{page}/move", {"status": "won", "offer": "GOLD", "discount": "5"})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?done=moved"
    html = client.get(r.headers["location"]).text
    assert 'id="lead-status">won<' in html
    assert re.search(r'role="status">The lead is won now. Order #\d+ is booked.', html)
    assert 'id="lead-value">114.00 EUR' in html
    assert "closed, it moves no further" in html
    with leads.store.session() as s:
        order = s.scalars(sa.select(Order)).one()
        assert (order.lead_id, order.status, str(order.amount)) == (leads.fresh, "booked", "114.00")
        assert (order.program, order.campaign, order.requested_by) == (
            "autumn",
            "gold-sms",
            "user:sales_rep",
        )
    after = client.get("/ui/dashboard").text
    assert _tile(after, "orders") == "1" and _tile(after, "revenue") == "114.00"
    assert _campaign_orders(after, "autumn/gold-sms") == "1"
    # Won leads leave the open inbox and show under "won".
    assert _rows(client.get("/ui/leads").text) == [leads.late]
    assert _rows(client.get("/ui/leads?status=won").text) == [leads.fresh]


def test_a_discount_beyond_the_offers_bounds_waits_for_approval(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.fresh}"
    post_form(client, page, f"{page}/move", {"status": "contacted"})
    r = post_form(
        client, page, f"{page}/move", {"status": "won", "offer": "GOLD", "discount": "30"}
    )
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert "waits for a marketer to approve its discount" in html
    assert _tile(client.get("/ui/dashboard").text, "orders") == "0"


def test_an_illegal_move_is_refused_next_to_the_stage_and_nothing_is_written(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    r = post_form(client, page, f"{page}/move", {"status": "won", "offer": "GOLD"})
    assert r.status_code == 409
    assert "a new lead cannot become won; it may become: contacted, lost" in _error(
        r.text, "status"
    )
    assert _lead(leads.store, leads.late).status == "new"
    assert _count(leads.store, Order) == 0


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"status": "lost", "reason": ""}, "reason", "needs a reason"),
        ({"status": "won", "offer": "GOLD", "discount": "lots"}, "discount", "a percentage"),
        ({"status": "won", "offer": "GOLD", "discount": "150"}, "discount", "from 0 to 100"),
        ({"status": "won", "offer": "NOPE", "discount": "2"}, "offer", "no offer 'NOPE'"),
    ],
)
def test_a_refused_move_is_named_next_to_its_field_and_nothing_is_written(
    client: TestClient, leads: Leads, data: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.fresh}"
    assert post_form(client, page, f"{page}/move", {"status": "contacted"}).status_code == 303
    r = post_form(client, page, f"{page}/move", data)
    assert r.status_code == 422, r.text
    assert says in _error(r.text, field)
    if field == "discount":
        assert f'value="{data["discount"]}"' in r.text
    if field == "offer":
        assert '<option value="NOPE" selected>' in r.text
    lead = _lead(leads.store, leads.fresh)
    assert (lead.status, lead.closed_at, lead.lost_reason) == ("contacted", None, None)
    assert _count(leads.store, Order) == 0


def test_lost_with_a_reason_closes_the_lead(client: TestClient, leads: Leads) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    r = post_form(client, page, f"{page}/move", {"status": "lost", "reason": "Has a card already"})
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert 'id="lead-status">lost<' in html and "Has a card already" in html
    assert _lead(leads.store, leads.late).lost_reason == "Has a card already"


# ------------------------------------------------------------------------ who may do


def test_a_rep_reads_another_reps_lead_but_may_not_work_it(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.ritas}"
    html = client.get(page).text
    assert "This is rita's lead" in html
    assert "Log activity" not in html and "Mark contacted" not in html
    csrf = csrf_of(html)
    r = client.post(f"{page}/move", data={"status": "contacted", "csrf": csrf})
    assert r.status_code == 403 and "only its rep or a sales admin" in r.text
    r = client.post(f"{page}/activities", data={"kind": "call", "csrf": csrf})
    assert r.status_code == 403
    assert _lead(leads.store, leads.ritas).status == "new"
    assert _count(leads.store, Activity) == 0


def test_a_marketer_works_any_lead(client: TestClient, leads: Leads) -> None:
    sign_in(client, "marketer")
    page = f"/ui/leads/{leads.ritas}"
    r = post_form(
        client, page, f"{page}/activities", {"kind": "email", "notes": "sent the brochure"}
    )
    assert r.status_code == 303 and "done=logged" in r.headers["location"]
    with leads.store.session() as s:
        # An e-mail is no conversation: the lead stays new; the work is recorded as rita's.
        assert s.scalars(sa.select(Activity.rep)).one() == "rita"
    assert _lead(leads.store, leads.ritas).status == "new"


def test_an_analyst_reads_leads_but_may_not_work_them(client: TestClient, leads: Leads) -> None:
    sign_in(client, "analyst")
    assert _rows(client.get("/ui/leads").text) == [leads.late, leads.fresh, leads.ritas]
    page = f"/ui/leads/{leads.late}"
    html = client.get(page).text
    assert "Log activity" not in html and "Mark contacted" not in html
    csrf = csrf_of(html)
    r = client.post(f"{page}/activities", data={"kind": "call", "csrf": csrf})
    assert r.status_code == 403 and "may not work leads" in r.text
    r = client.post(f"{page}/move", data={"status": "contacted", "csrf": csrf})
    assert r.status_code == 403
    assert _lead(leads.store, leads.late).status == "new"
    assert _count(leads.store, Activity) == 0


def test_a_forged_form_is_refused_and_nothing_is_written(client: TestClient, leads: Leads) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    client.get(page)
    r = client.post(f"{page}/move", data={"status": "lost", "reason": "x", "csrf": "forged"})
    assert r.status_code == 403
    r = client.post(f"{page}/activities", data={"kind": "call", "csrf": "forged"})
    assert r.status_code == 403
    assert _lead(leads.store, leads.late).status == "new"
    assert _count(leads.store, Activity) == 0


# ------------------------------------------------------------------------- reassign


def test_a_marketer_gives_a_lead_to_another_rep_and_it_leaves_the_first_reps_inbox(
    client: TestClient, leads: Leads
) -> None:
    sign_in(client, "marketer")
    page = f"/ui/leads/{leads.late}"
    html = client.get(page).text
    # The form offers the other active reps, with what they hold, not the lead's own rep.
    assert f'action="/ui/leads/{leads.late}/assign"' in html
    assert '<option value="rita"' in html and '<option value="sales_rep"' not in html
    assert "rita): 1 open of 50" in html
    due = _lead(leads.store, leads.late).due_at
    r = post_form(client, page, f"{page}/assign", {"rep": "rita"})
    assert r.status_code == 303 and "done=assigned" in r.headers["location"]
    assert "The lead is rita's now." in unescape(client.get(r.headers["location"]).text)
    lead = _lead(leads.store, leads.late)
    assert lead.rep == "rita" and lead.due_at == due  # the customer has waited all along
    with leads.store.session() as s:
        assert sales.inbox(s, rep="sales_rep").total == 1
        assert sales.inbox(s, rep="rita").total == 2
    client.cookies.clear()
    sign_in(client, "sales_rep")
    assert _rows(client.get("/ui/leads").text) == [leads.fresh]


@pytest.mark.parametrize(
    ("rep", "status", "said"),
    [
        ("", 422, "choose the rep to give the lead to"),
        ("nobody", 422, "no rep &#39;nobody&#39;"),
        ("gone", 409, "rep &#39;gone&#39; is inactive"),
    ],
)
def test_a_refused_reassignment_is_named_next_to_the_rep_and_nothing_changes(
    client: TestClient, leads: Leads, rep: str, status: int, said: str
) -> None:
    with leads.store.session() as s:
        s.add(SalesRep(username="gone", capacity=50, skills=[], role="hunter", active=False))
        s.commit()
    sign_in(client, "marketer")
    page = f"/ui/leads/{leads.late}"
    r = post_form(client, page, f"{page}/assign", {"rep": rep})
    assert r.status_code == status
    assert 'id="rep-error"' in r.text and said in r.text
    assert _lead(leads.store, leads.late).rep == "sales_rep"


def test_a_closed_lead_is_not_reassigned(client: TestClient, leads: Leads) -> None:
    sign_in(client, "marketer")
    page = f"/ui/leads/{leads.late}"
    post_form(client, page, f"{page}/move", {"status": "lost", "reason": "moved abroad"})
    assert f'action="/ui/leads/{leads.late}/assign"' not in client.get(page).text
    r = post_form(client, page, f"{page}/assign", {"rep": "rita"})
    assert r.status_code == 409 and "only open leads are reassigned" in r.text
    assert _lead(leads.store, leads.late).rep == "sales_rep"


def test_a_rep_may_not_reassign_even_their_own_lead(client: TestClient, leads: Leads) -> None:
    sign_in(client, "sales_rep")
    page = f"/ui/leads/{leads.late}"
    html = client.get(page).text
    assert "/assign" not in html
    r = client.post(f"{page}/assign", data={"rep": "rita", "csrf": csrf_of(html)})
    assert r.status_code == 403 and "may not reassign leads" in r.text
    assert _lead(leads.store, leads.late).rep == "sales_rep"
