"""The offers pages: the catalog, create, change, delete, refusals next to their fields."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import offers
from tactica.store.db import Store
from tactica.store.models import AuditEntry, Offer
from tests.integration.web.conftest import csrf_of, post_form, sign_in

NEW = {
    "code": "TD-12M",
    "name": "12-month deposit",
    "product": "deposits",
    "description": "A year at a fixed rate",
    "currency": "EUR",
    "price": "19.99",
    "value": "120.10",
    "margin": "0.30",
    "discount_min": "0",
    "discount_max": "15",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "active": "on",
    "eligibility": "balance > 1000 and age >= 30",
}


def _offers(store: Store) -> dict[str, dict[str, Any]]:
    with store.session() as s:
        return {o.code: offers.offer_view(o) for o in s.scalars(sa.select(Offer))}


def _error(html: str, field: str) -> str:
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    assert found is not None, html
    return found.group(1)


def _row(html: str, code: str) -> str:
    found = re.search(rf'<tr data-offer="{re.escape(code)}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


def test_everyone_who_reads_offers_sees_the_catalog_but_only_writers_get_forms(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "sales_rep")
    page = client.get("/ui/offers")
    assert page.status_code == 200
    gold = _row(page.text, "GOLD")
    assert "Gold card" in gold and "100.00" in gold
    saver = _row(page.text, "SAVER")
    assert "balance &gt; 1000" in saver and "Savings account" in saver
    assert "New offer" not in page.text and 'name="code"' not in page.text
    one = client.get("/ui/offers/SAVER")
    assert one.status_code == 200 and "Delete offer" not in one.text
    assert 'data-field="eligibility"><code class="rule">balance &gt; 1000</code>' in one.text
    # The nav bar shows offers to a sales rep.
    assert 'href="/ui/offers"' in page.text


@pytest.mark.parametrize("role", ["analyst", "sales_rep"])
def test_readers_may_not_create_change_or_delete(
    client: TestClient, marketing: Store, role: str
) -> None:
    sign_in(client, role)
    token = csrf_of(client.get("/ui/offers").text)
    assert client.post("/ui/offers", data={**NEW, "csrf": token}).status_code == 403
    changed = {**NEW, "name": "Renamed", "csrf": token}
    assert client.post("/ui/offers/GOLD", data=changed).status_code == 403
    assert client.post("/ui/offers/GOLD/delete", data={"csrf": token}).status_code == 403
    assert set(_offers(marketing)) == {"GOLD", "SAVER"}
    assert _offers(marketing)["GOLD"]["name"] == "Gold card"


def test_a_marketer_creates_an_offer_and_sees_every_field(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/offers", "/ui/offers", NEW)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/offers/TD-12M?saved=created"
    saved = _offers(marketing)["TD-12M"]
    assert saved["price"] == Decimal("19.99") and saved["value"] == Decimal("120.10")
    assert saved["margin"] == Decimal("0.30") and saved["discount_max"] == Decimal("15")
    assert str(saved["valid_from"]) == "2026-01-01" and saved["active"] is True
    assert saved["eligibility"] == NEW["eligibility"]
    page = client.get(r.headers["location"]).text
    assert 'role="status">Offer created.' in page
    assert 'data-field="price">19.99 EUR' in page
    assert 'data-field="valid">2026-01-01 to 2026-12-31' in page
    row = _row(client.get("/ui/offers").text, "TD-12M")
    assert "19.99 EUR" in row and "0.00–15.00%" in row and "2026-01-01 to 2026-12-31" in row
    with marketing.session() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.entity_id == "TD-12M")).one()
        assert entry.actor == "user:marketer" and entry.action == "create"


def test_a_marketer_changes_an_offer_and_deletes_it(client: TestClient, marketing: Store) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/offers/SAVER").text
    # The form shows the offer as it is; the code is not a field of it.
    assert 'id="name" name="name" type="text" value="Savings account"' in page
    assert 'name="code"' not in page
    assert "balance &gt; 1000</textarea>" in page
    changed = {**NEW, "name": "Saver plus", "eligibility": "", "active": ""}
    del changed["code"]
    r = post_form(client, "/ui/offers/SAVER", "/ui/offers/SAVER", changed)
    assert r.status_code == 303 and r.headers["location"] == "/ui/offers/SAVER?saved=updated"
    saver = _offers(marketing)["SAVER"]
    assert saver["name"] == "Saver plus" and saver["eligibility"] is None
    assert saver["active"] is False and saver["price"] == Decimal("19.99")
    assert 'data-field="active">no' in client.get(r.headers["location"]).text

    r = post_form(client, "/ui/offers/SAVER", "/ui/offers/SAVER/delete", {})
    assert r.status_code == 303 and r.headers["location"] == "/ui/offers?deleted=SAVER"
    assert set(_offers(marketing)) == {"GOLD"}
    listed = client.get(r.headers["location"]).text
    assert "Offer SAVER deleted." in listed and 'data-offer="SAVER"' not in listed
    assert client.get("/ui/offers/SAVER").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"code": "GOLD"}, "code", "exists already"),
        ({"code": "bad code!"}, "code", "letters, digits"),
        ({"code": ""}, "code", "give the offer a code"),
        ({"name": ""}, "name", "must not be empty"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"currency": "euro"}, "currency", "three-letter"),
        ({"price": "12,50"}, "price", "not a number"),
        ({"price": "NaN"}, "price", "not a number"),
        ({"value": "-1"}, "value", "must not be negative"),
        ({"margin": "0.001"}, "margin", "at most two decimals"),
        ({"price": "1e15"}, "price", "at most 999,999,999,999.99"),
        ({"discount_max": "150"}, "discount_max", "at most 100"),
        ({"discount_min": "20", "discount_max": "10"}, "discount_min", "is above"),
        ({"valid_from": "31/12/2026"}, "valid_from", "YYYY-MM-DD"),
        ({"valid_to": "2026-02-30"}, "valid_to", "YYYY-MM-DD"),
        ({"valid_from": "2027-01-01"}, "valid_from", "is after valid_to"),
    ],
)
def test_a_refused_field_is_named_what_was_typed_kept_and_nothing_saved(
    client: TestClient, marketing: Store, changes: dict[str, str], field: str, says: str
) -> None:
    sign_in(client, "marketer")
    before = _offers(marketing)
    r = post_form(client, "/ui/offers", "/ui/offers", {**NEW, **changes})
    assert r.status_code == 422, r.text
    assert says in _error(r.text, field)
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', r.text)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', r.text)
    # What was typed is shown again.
    assert 'value="12-month deposit"' in r.text or field == "name"
    assert "A year at a fixed rate</textarea>" in r.text
    assert "balance &gt; 1000 and age &gt;= 30</textarea>" in r.text
    assert _offers(marketing) == before


def test_a_wrong_eligibility_rule_is_marked_where_it_fails(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(
        client, "/ui/offers", "/ui/offers", {**NEW, "eligibility": "age >= 30 and\r\nbalanse > 0"}
    )
    assert r.status_code == 422
    assert "see them marked below" in _error(r.text, "eligibility")
    marked = re.search(r'<mark class="rule-problem"[^>]*>([^<]*)</mark>', r.text)
    assert marked is not None and marked.group(1) == "balanse"
    assert "line 2, column 1:" in r.text
    assert "TD-12M" not in _offers(marketing)
    # The same on an offer's page: the change is refused, the offer stays as it was.
    changed = {**NEW, "eligibility": "balance >"}
    r = post_form(client, "/ui/offers/GOLD", "/ui/offers/GOLD", changed)
    assert r.status_code == 422 and '<mark class="rule-problem"' in r.text
    assert 'value="12-month deposit"' in r.text
    assert _offers(marketing)["GOLD"]["name"] == "Gold card"


def test_a_refused_change_names_its_field_and_saves_nothing(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    before = _offers(marketing)
    r = post_form(client, "/ui/offers/GOLD", "/ui/offers/GOLD", {**NEW, "price": "abc"})
    assert r.status_code == 422
    assert "not a number" in _error(r.text, "price") and 'value="abc"' in r.text
    r = post_form(client, "/ui/offers/GOLD", "/ui/offers/GOLD", {**NEW, "discount_max": "101"})
    assert r.status_code == 422 and "at most 100" in _error(r.text, "discount_max")
    assert _offers(marketing) == before
    assert client.post("/ui/offers/NOPE/delete", data={"csrf": csrf_of(r.text)}).status_code == 404


def test_a_forged_form_is_refused(client: TestClient, marketing: Store) -> None:
    sign_in(client, "marketer")
    assert client.post("/ui/offers", data={**NEW, "csrf": "forged"}).status_code == 403
    r = client.post("/ui/offers/GOLD/delete", data={"csrf": "forged"})
    assert r.status_code == 403
    assert set(_offers(marketing)) == {"GOLD", "SAVER"}


def test_the_catalog_goes_fifty_offers_a_page(client: TestClient, marketing: Store) -> None:
    with marketing.session() as s:
        for i in range(60):
            offers.create_offer(s, offers.OfferInput(code=f"P{i:02d}", name=f"P {i}"), actor="t")
        s.commit()
    sign_in(client, "analyst")
    first = client.get("/ui/offers").text
    assert first.count("<tr data-offer=") == 50 and 'rel="next"' in first
    # By code: GOLD, then P00..P48 on the first page; P49..P59 and SAVER on the second.
    assert 'data-offer="GOLD"' in first and 'data-offer="P48"' in first
    second = client.get("/ui/offers?page=2").text
    assert second.count("<tr data-offer=") == 12 and 'rel="prev"' in second
    assert 'data-offer="SAVER"' in second and 'rel="next"' not in second


def test_signing_in_is_needed(client: TestClient, marketing: Store) -> None:
    r = client.get("/ui/offers", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
