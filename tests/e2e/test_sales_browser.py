"""A sales rep in a real browser (Debian's Chromium, driven by Playwright): from the
lead inbox to a won lead, and the order on the dashboard.

With ``TACTICA_SCREENSHOTS=DIR`` the inbox and the lead page are saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over
from tests.integration.responses.conftest import ran_store


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The 'autumn' program sent yesterday; c01 answered its SMS ten minutes ago asking
    to know more, which opened a lead for the only rep, sales_rep. Served over HTTP."""
    now = datetime.now(UTC)
    ran_store(store, reps=("sales_rep",), sent=now - timedelta(days=1))
    at = now - timedelta(minutes=10)
    asked = Inbound("m1", "sms", "tell me more", sender="351910000001", received_at=at)
    assert take_responses(store, "gw", [asked], now=at).leads == 1
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def _orders(page: Any) -> tuple[str, str]:
    """The dashboard's Orders tile and the autumn/gold-sms campaign's orders."""
    tile = page.locator('.tile[data-measure="orders"] .value').inner_text()
    row = page.locator('tr[data-campaign="autumn/gold-sms"] td.num')
    return str(tile), str(row.nth(7).inner_text())  # the 8th figure: orders


def test_a_sales_rep_works_a_lead_to_won_and_the_order_is_on_the_dashboard(
    browser: Any, site: str
) -> None:
    page = sign_in(browser, site, "sales_rep")
    assert _orders(page) == ("0", "0")

    page.get_by_role("link", name="Leads").click()
    page.wait_for_selector("h1:has-text('My leads')")
    row = page.locator("#leads tbody tr[data-lead]")
    assert row.count() == 1
    assert "c01" in row.inner_text() and "autumn / gold-sms" in row.inner_text()
    shot(page, "leads")

    row.get_by_role("link").first.click()
    page.wait_for_selector("#lead-status")
    assert page.locator("#lead-status").inner_text() == "new"
    # A call: the rep has spoken to the customer, so the new lead is contacted.
    page.get_by_label("Kind").select_option("call")
    page.get_by_label("Minutes").fill("15")
    page.get_by_label("Result").fill("interested")
    page.get_by_label("Notes").fill("Wants the gold card")
    page.get_by_role("button", name="Log activity").click()
    page.wait_for_selector("text=the lead is contacted now")
    assert page.locator("#lead-status").inner_text() == "contacted"
    assert "Wants the gold card" in page.locator("#activity-list").inner_text()

    page.get_by_role("button", name="Mark qualified").click()
    page.wait_for_selector("text=The lead is qualified now.")
    shot(page, "lead")
    # A discount that is not a number is named next to its field; what was typed stays.
    page.get_by_label("Discount (%)").fill("five")
    page.get_by_role("button", name="Won: book the order").click()
    page.wait_for_selector("#discount-error")
    assert "a percentage" in page.locator("#discount-error").inner_text()
    assert page.get_by_label("Discount (%)").input_value() == "five"
    assert page.locator("#lead-status").inner_text() == "qualified"
    page.get_by_label("Discount (%)").fill("5")
    page.get_by_role("button", name="Won: book the order").click()
    page.wait_for_selector("text=The lead is won now.")
    assert "is booked" in page.locator("[role=status]").inner_text()
    assert page.locator("#lead-value").inner_text().startswith("114.00 EUR")

    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_selector('.tile[data-measure="orders"]')
    assert _orders(page) == ("1", "1")
    assert page.locator('.tile[data-measure="revenue"] .value').inner_text() == "114.00"
    assert page.errors == []


def test_a_sales_rep_cannot_reach_the_users_page(browser: Any, site: str) -> None:
    page = sign_in(browser, site, "sales_rep", "/ui/leads")
    assert page.get_by_role("link", name="Admin").count() == 0
    response = page.goto(site + "/ui/admin/users")
    assert response.status == 403
    assert "may not manage users" in page.locator("main").inner_text()
    assert page.errors == []
