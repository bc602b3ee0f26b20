"""A marketer's real-time path in a real browser: an event type declared, a triggered
campaign added with its rule checked against the event as it is typed, the program
started, an event answered, and the events page saying what it led to.

With ``TACTICA_SCREENSHOTS=DIR`` the events page is saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.services.events import take_events
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over
from tests.integration.web.conftest import seed_marketing


@pytest.fixture
def served(store: Store) -> Iterator[tuple[str, Store]]:
    """The app over a store with customers (c00.. aged 20..), offers and users."""
    seed_marketing(store)
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url, store


def test_a_marketer_adds_a_triggered_campaign_and_sees_the_event_it_answered(
    browser: Any, served: tuple[str, Store]
) -> None:
    site, store = served
    page = sign_in(browser, site, "marketer")
    page.get_by_role("link", name="Events").click()
    page.wait_for_url(f"{site}/ui/events")
    page.get_by_label("Name", exact=True).fill("top_up")
    page.get_by_label("Fields, one a line").fill("amount: float\nshop: text")
    page.get_by_label("Required fields").fill("amount")
    page.get_by_role("button", name="Save event type").click()
    page.wait_for_selector("text=Event type top_up saved.")
    assert page.locator('#event-types tr[data-type="top_up"]').count() == 1

    page.get_by_role("link", name="Programs").click()
    page.wait_for_url(f"{site}/ui/programs")
    page.get_by_label("Name").fill("moments")
    page.get_by_role("button", name="Create program").click()
    page.wait_for_url(f"{site}/ui/programs/moments")
    page.get_by_label("Campaign name").fill("top-up-gold")
    page.get_by_label("Kind").select_option("triggered")
    page.get_by_role("checkbox", name="top_up").check()
    page.get_by_role("checkbox", name="GOLD").check()
    page.get_by_role("checkbox", name="sms").check()
    # The rule reads the event: checked as it is typed, against the event type ticked.
    page.locator("textarea#eligibility").fill("event.amount >= 50 and age > 30")
    page.wait_for_selector("#eligibility-check [data-valid=true]")
    assert "on the customer and the event" in page.locator("#eligibility-check").inner_text()
    page.get_by_role("button", name="Add campaign").click()
    page.wait_for_selector("text=Campaign added.")
    row = page.locator('#campaigns tr[data-campaign="top-up-gold"]')
    assert "triggered: top_up" in row.inner_text()
    page.get_by_role("button", name="Start").click()
    page.wait_for_selector("#program-status:has-text('running')")

    now = datetime.now(UTC)
    event = {"id": "t1", "type": "top_up", "customer_id": "c35", "time": now.isoformat()}
    taken = take_events(store, [{**event, "payload": {"amount": 80.0}}], now=now)
    assert not taken.rejected

    page.reload()
    figures = page.locator('#triggered tr[data-triggered="top-up-gold"]').inner_text()
    assert "1" in figures.split()
    page.get_by_role("link", name="Events").click()
    page.wait_for_url(f"{site}/ui/events")
    answered = page.locator('#events tr[data-event="t1"]').inner_text()
    assert "contacted" in answered and "moments/top-up-gold: contacted with GOLD" in answered
    shot(page, "events")
    assert page.errors == []
