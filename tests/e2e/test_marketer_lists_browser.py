"""A marketer reads a reply the rules could not, in a real browser (Debian's Chromium
driven by Playwright), calls it an opt-out, and finds the customer on the opt-out list.

With ``TACTICA_SCREENSHOTS=DIR`` the review queue and the list are saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over
from tests.integration.responses.conftest import NOW, ran_store


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The 'autumn' run sent, two replies waiting for review (c03's unclear one and a
    stranger's), a user per role; the app served over HTTP."""
    ran_store(store)
    take_responses(
        store,
        "gw",
        [
            Inbound(
                "m1", "sms", "please leave me in peace", sender="+351910000003", received_at=NOW
            ),
            Inbound("m2", "sms", "who is this?", sender="+999", received_at=NOW),
        ],
        now=NOW,
    )
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def test_a_marketer_reads_a_reply_as_an_opt_out_and_finds_the_customer_on_the_list(
    browser: Any, site: str
) -> None:
    page = sign_in(browser, site, "marketer", "/ui/responses")
    reply = page.locator("article.reply", has_text="please leave me in peace")
    assert reply.locator('[data-field="customer"]').inner_text() == "c03"
    assert "gold-sms" in reply.locator('[data-field="contact"]').inner_text()
    assert reply.locator('[data-field="guess"]').inner_text().startswith("Other")
    assert page.locator("article.reply").count() == 2
    shot(page, "responses")

    reply.get_by_label("Opt-out").check()
    reply.get_by_role("button", name="Save").click()
    page.wait_for_selector("#done")
    assert "c03 is on the opt-out list" in page.locator("#done").inner_text()
    # It has left the queue; the stranger's reply still waits.
    assert page.locator("article.reply").count() == 1
    assert page.locator("article.reply", has_text="please leave me in peace").count() == 0
    assert page.locator("[data-waiting]").inner_text() == "1"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lists").click()
    page.wait_for_url(f"{site}/ui/lists")
    assert page.locator('tr[data-list="opt_out"] td.num').inner_text() == "1"
    page.get_by_role("link", name="opt_out", exact=True).click()
    page.wait_for_url(f"{site}/ui/lists/opt_out")
    page.get_by_label("Customer id starts with").fill("c03")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{site}/ui/lists/opt_out?q=c03")
    entry = page.locator('tr[data-customer="c03"]')
    assert entry.locator("td").nth(0).inner_text() == "sms"
    assert "please leave me in peace" in entry.locator("td.reason").inner_text()
    shot(page, "lists")
    assert page.errors == []
