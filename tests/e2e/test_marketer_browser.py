"""A marketer's main path in a real browser: a segment built with the rule editor, a
program and its campaign, a dry run, a run, and the dashboard's numbers moving."""

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


def _tile(page: Any, measure: str) -> int:
    text = page.locator(f'.tile[data-measure="{measure}"] .value').inner_text()
    return int(text.replace(",", ""))


def test_a_marketer_builds_a_segment_and_a_campaign_dry_runs_runs_and_sees_the_dashboard(
    browser: Any, site: str
) -> None:
    page = sign_in(browser, site, "marketer")
    assert _tile(page, "planned") == 0
    page.get_by_role("link", name="Segments").click()
    page.wait_for_url(f"{site}/ui/segments")
    page.get_by_label("Name").fill("seniors")
    rule = page.locator("textarea#rule")
    # A wrong rule is underlined where it fails as it is typed...
    rule.fill("age >= 50 and balanse > 0")
    page.wait_for_selector("#rule-check mark.rule-problem")
    assert page.locator("#rule-check mark.rule-problem").inner_text() == "balanse"
    shot(page, "segment-editor")
    # ...and a right one is sized.
    rule.fill("age >= 50 and balance > 0")
    page.wait_for_selector("#rule-check [data-valid=true]")
    assert page.locator("#rule-check [data-size]").inner_text() == "10"
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url(f"{site}/ui/segments/seniors")
    assert _tile(page, "size") == 10
    shot(page, "segment")
    # A segment another rule uses cannot go, and the page says why (a 409 is shown).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.wait_for_url(f"{site}/ui/segments")
    page.get_by_label("Name").fill("rich-seniors")
    page.locator("textarea#rule").fill("in_segment('seniors') and balance > 6000")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url(f"{site}/ui/segments/rich-seniors")
    page.goto(f"{site}/ui/segments/seniors")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete segment").click()
    page.wait_for_selector("p.error[role=alert]")
    assert "rich-seniors" in page.locator("p.error[role=alert]").inner_text()

    page.get_by_role("link", name="Programs").click()
    page.wait_for_url(f"{site}/ui/programs")
    page.get_by_label("Name").fill("winter")
    page.get_by_label("Budget").fill("500")
    page.get_by_role("button", name="Create program").click()
    page.wait_for_url(f"{site}/ui/programs/winter")
    assert "Cannot run yet" in page.locator("#problems").inner_text()
    page.get_by_label("Campaign name").fill("seniors-gold")
    page.get_by_label("Target segment").select_option("seniors")
    page.get_by_role("checkbox", name="GOLD").check()
    page.get_by_role("checkbox", name="sms").check()
    page.get_by_label("Cost per contact").fill("0.10")
    page.get_by_role("button", name="Add campaign").click()
    page.wait_for_selector("text=Campaign added.")
    assert page.locator('#campaigns tr[data-campaign="seniors-gold"]').count() == 1

    page.get_by_role("button", name="Dry run").click()
    page.wait_for_selector("#preview")
    planned = int(
        page.locator('#preview tr[data-campaign="seniors-gold"] [data-contacts]').inner_text()
    )
    assert 0 < planned <= 10
    shot(page, "dry-run")

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(f"{site}/ui/runs/*")
    page.wait_for_selector("#run-status:has-text('completed')", timeout=60_000)
    assert _tile(page, "contacts") == planned
    shot(page, "run")

    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{site}/ui/dashboard*")
    assert _tile(page, "planned") == planned
    row = page.locator('tr[data-campaign="winter/seniors-gold"]')
    assert row.count() == 1
    assert page.errors == []
