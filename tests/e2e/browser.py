"""What the browser tests share: signing in, screenshots.

The ``browser`` fixture (one headless Chromium per module) is in this folder's
conftest; a test serves its app with ``tactica.api.local_server.serving``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.integration.api.conftest import PASSWORD


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as ``name``.png when TACTICA_SCREENSHOTS names a folder."""
    folder = os.environ.get("TACTICA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(browser: Any, site: str, username: str, going_to: str = "/ui/dashboard") -> Any:
    """A new page signed in as ``username`` (password: the test users'), opened at
    ``going_to``; ``page.errors`` collects the page's JavaScript errors."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(site + going_to)
    assert page.url.startswith(site + "/ui/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}{going_to}*")
    return page
