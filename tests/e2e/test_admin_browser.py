"""The admin pages in a real browser: an admin issues a token, copies it once, sees it
open the API, revokes it, and finds both in the audit log.

With ``TACTICA_SCREENSHOTS=DIR`` the tokens page and the audit log are saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over


@pytest.fixture
def site(store: Store) -> Iterator[str]:
    """The app over ``store`` with a user per role, served over HTTP."""
    with api_over(store):
        pass
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def _me(site: str, secret: str) -> int:
    return httpx.get(f"{site}/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_an_admin_issues_a_token_sees_it_once_and_revokes_it(browser: Any, site: str) -> None:
    page = sign_in(browser, site, "admin", "/ui/admin/tokens")
    page.get_by_label("User it acts as").select_option("integration")
    page.get_by_label("Days valid").fill("90")
    page.get_by_role("button", name="Issue token").click()
    # A token needs a name: said next to it, the rest kept as typed.
    page.wait_for_selector("#name-error")
    assert "what the token is for" in page.locator("#name-error").inner_text()
    assert page.get_by_label("Days valid").input_value() == "90"
    assert page.get_by_label("User it acts as").input_value() == "integration"
    page.get_by_label("Name", exact=True).fill("billing system")
    page.get_by_role("button", name="Issue token").click()
    secret = page.locator("#new-secret").input_value(timeout=10_000)
    assert secret.startswith("tct_")
    assert "shown only this once" in page.get_by_role("status").inner_text()
    assert _me(site, secret) == 200
    row = page.locator("#tokens tbody tr", has_text="billing system")
    assert "integration" in row.inner_text() and "live" in row.inner_text()
    shot(page, "admin-tokens")

    # Never shown again: the page opened afresh has the prefix only.
    page.goto(site + "/ui/admin/tokens")
    assert page.locator("#new-secret").count() == 0
    assert secret not in page.content()
    row = page.locator("#tokens tbody tr", has_text="billing system")
    assert secret[:10] in row.inner_text()
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=Token revoked")
    row = page.locator("#tokens tbody tr", has_text="billing system")
    assert "revoked" in row.inner_text() and row.get_by_role("button").count() == 0
    assert _me(site, secret) == 401

    # Both are in the audit log, by the admin, newest first.
    page.get_by_role("navigation", name="Admin pages").get_by_role("link", name="Audit log").click()
    page.wait_for_url(site + "/ui/admin/audit")
    page.get_by_label("Subject").select_option("api_token")
    page.get_by_label("Actor").fill("user:admin")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/ui/admin/audit?*type=api_token*")
    actions = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[:2] == ["revoke", "create"]
    shot(page, "audit")
    assert page.errors == []
