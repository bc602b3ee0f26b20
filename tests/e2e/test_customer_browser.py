"""The customer page in a real browser: find a customer, read a contact and why it was made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over
from tests.integration.responses.conftest import ran_store


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The app over a store where the 'autumn' run texted c01 (a user per role)."""
    ran_store(store)
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def test_a_marketer_finds_a_customer_and_sees_why_they_were_texted(browser: Any, site: str) -> None:
    page = sign_in(browser, site, "marketer", "/ui/customers")
    page.get_by_label("Customer id, e-mail or phone").fill("+351 91 000 0001")
    page.get_by_role("button", name="Find").click()
    page.wait_for_selector("text=1 customer found")
    page.get_by_role("link", name="c01", exact=True).click()
    page.wait_for_url(f"{site}/ui/customers/c01")
    contact = page.locator('#contacts tr[data-campaign="gold-sms"]')
    assert "sent" in contact.locator(".status").inner_text()
    assert contact.locator("td").nth(4).inner_text() == "sms"
    # The run's "why" opens in place, loaded when it is opened.
    page.get_by_text("Why? Run 1").click()
    steps = page.locator('tr[data-run="1"] .explanation section[data-campaign="gold-sms"]')
    steps.wait_for()
    assert "contact: GOLD on sms" in steps.locator("h3").inner_text()
    assert "eligibility: passed" in steps.inner_text()
    shot(page, "customer")
    assert page.errors == []
