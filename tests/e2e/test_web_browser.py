"""The web application in a real browser (Debian's Chromium, driven by Playwright).

The API and its pages are served over HTTP on a free port; the browser signs in
through the form, reads the dashboard, watches its numbers change as dispatch sends
the run's messages, and a sales rep finds the admin pages closed. With
``TACTICA_SCREENSHOTS=DIR`` the main pages are saved there (the README's images).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.channels.local_peers import LocalSmsGateway
from tactica.config import Settings
from tactica.services.dispatch import ChannelWorker, WorkerOptions
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over
from tests.integration.dispatch.conftest import NOW, Clock, add_channel, outbox_store

DAY = NOW.date().isoformat()


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The app over ``store`` (a user per role, the 'autumn' run queued), served over HTTP."""
    outbox_store(store)
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def _tile(page: Any, measure: str) -> str:
    return str(page.locator(f'.tile[data-measure="{measure}"] .value').inner_text())


def test_a_marketer_sees_the_run_and_its_numbers_move_as_dispatch_sends(
    browser: Any, site: str, store: Store
) -> None:
    page = sign_in(browser, site, "marketer", f"/ui/dashboard?from={DAY}&to={DAY}")
    planned = int(_tile(page, "planned").replace(",", ""))
    assert planned > 0 and _tile(page, "sent") == "0"
    row = page.locator('tr[data-campaign="autumn/gold-sms"]')
    assert row.locator(".status").inner_text() == "running"
    # Chart.js drew every chart (a drawn canvas has its own pixel size set).
    page.wait_for_function(
        "document.querySelectorAll('canvas').length === 3 && "
        "[...document.querySelectorAll('canvas')].every(c => Chart.getChart(c))"
    )
    shot(page, "dashboard-before")

    with LocalSmsGateway(api_key="k") as gateway:
        add_channel(store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"})
        worker = ChannelWorker(store, "gw", WorkerOptions(batch_size=100), clock=Clock(NOW))
        worker.step()
        worker.close()
        texted = len(gateway.messages)
    assert texted > 0

    page.reload()
    assert int(_tile(page, "sent").replace(",", "")) == texted
    sms = page.locator("#channels tbody tr", has_text="sms")
    assert sms.locator("td").nth(1).inner_text() == f"{texted:,}"  # executed
    # The range form keeps what the user typed and names a bad range by its field.
    page.get_by_label("From", exact=True).fill("2026-11-30")
    page.get_by_label("To", exact=True).fill("2026-11-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#to-error")
    assert "before it starts" in page.locator("#to-error").inner_text()
    assert page.get_by_label("From", exact=True).input_value() == "2026-11-30"
    # A campaigns CSV downloads with what the table shows.
    page.goto(f"{site}/ui/dashboard?from={DAY}&to={DAY}")
    shot(page, "dashboard")
    with page.expect_download() as download:
        page.locator("a", has_text="CSV").first.click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("Program,Campaign,Status,Budget,Planned,Executed")
    assert page.errors == []


def test_a_sales_rep_cannot_reach_the_admin_pages(browser: Any, site: str) -> None:
    page = sign_in(browser, site, "sales_rep")
    assert page.get_by_role("link", name="Admin").count() == 0
    response = page.goto(site + "/ui/admin/users")
    assert response.status == 403
    assert "may not manage users" in page.locator("main").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site + "/ui/login")
    # Signed out for good: the pages ask for a sign-in again.
    page.goto(site + "/ui/dashboard")
    assert page.url.startswith(site + "/ui/login")


def test_an_admin_adds_a_user_after_fixing_what_the_form_refused(browser: Any, site: str) -> None:
    page = sign_in(browser, site, "admin", "/ui/admin/users")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Full name").fill("Rita Reis")
    page.get_by_label("Password").fill("short")
    page.get_by_label("Role").select_option("sales_rep")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_selector("#password-error")
    assert "at least 8 characters" in page.locator("#password-error").inner_text()
    assert page.get_by_label("Full name").input_value() == "Rita Reis"
    assert page.get_by_label("Role").input_value() == "sales_rep"
    shot(page, "users-error")
    page.get_by_label("Password").fill("long enough")
    page.get_by_role("button", name="Add user").click()
    page.wait_for_selector("text=User rita added.")
    assert page.locator("#users tbody tr", has_text="rita").locator("td").nth(2).inner_text() == (
        "sales rep"
    )
    assert page.errors == []
