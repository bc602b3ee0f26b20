"""A marketer's offer and message in a real browser: create an offer, write an SMS
template, preview it for a customer and read that customer's own values in it."""

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
from tests.integration.web.conftest import seed_marketing


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The app over a store with customers, offers and users, served over HTTP."""
    seed_marketing(store)
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def test_a_marketer_creates_an_offer_writes_an_sms_and_previews_it_for_a_customer(
    browser: Any, site: str
) -> None:
    page = sign_in(browser, site, "marketer")
    page.get_by_role("link", name="Offers").click()
    page.wait_for_url(f"{site}/ui/offers")
    page.get_by_label("Code", exact=True).fill("WINTER")
    page.get_by_label("Name", exact=True).fill("Winter deposit")
    page.get_by_label("Price", exact=True).fill("25.50")
    page.get_by_label("Value", exact=True).fill("80")
    page.get_by_label("Largest discount (%)").fill("10")
    # The eligibility rule is checked as it is typed, and sized.
    page.locator("textarea#eligibility").fill("age >= 30")
    page.wait_for_selector("#eligibility-check [data-valid=true]")
    assert page.locator("#eligibility-check [data-size]").inner_text() == "30"
    page.get_by_role("button", name="Create offer").click()
    page.wait_for_url(f"{site}/ui/offers/WINTER*")
    assert page.locator('[data-field="price"]').inner_text() == "25.50 EUR"
    page.get_by_role("link", name="Offers", exact=True).first.click()
    page.wait_for_url(f"{site}/ui/offers")
    row = page.locator('tr[data-offer="WINTER"]')
    assert "Winter deposit" in row.inner_text() and "age >= 30" in row.inner_text()
    shot(page, "offers")

    page.get_by_role("link", name="Templates").click()
    page.wait_for_url(f"{site}/ui/templates")
    page.get_by_label("Name", exact=True).fill("winter-sms")
    page.get_by_label("Channel", exact=True).select_option("sms")
    page.get_by_label("Language", exact=True).fill("en")
    body = page.get_by_label("Body", exact=True)
    # A misspelt field is refused with its line, what was typed kept.
    body.fill("Hi {{ customer.id }},\nat {{ customer.aeg }} ask for {{ offer.name }}.")
    page.get_by_role("button", name="Save variant").click()
    page.wait_for_selector("#body-error")
    assert "line 2: unknown customer field 'aeg'" in page.locator("#body-error").inner_text()
    body = page.get_by_label("Body", exact=True)
    assert "customer.aeg" in body.input_value()
    body.fill(
        "Hi {{ customer.id }},\nat {{ customer.age }} ask for {{ offer.name }}"
        " at {{ offer.price }} EUR."
    )
    page.get_by_role("button", name="Save variant").click()
    page.wait_for_url(f"{site}/ui/templates/winter-sms/sms/en*")
    page.get_by_label("Customer id").fill("c12")
    page.get_by_label("Offer", exact=True).select_option("WINTER")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#preview-body")
    # c12 is 32: their own id and age, and the offer chosen.
    assert page.locator("#preview-body").inner_text() == (
        "Hi c12,\nat 32 ask for Winter deposit at 25.50 EUR."
    )
    assert page.locator("#sms-length").get_attribute("data-segments") == "1"
    shot(page, "template-preview")
    assert page.errors == []
