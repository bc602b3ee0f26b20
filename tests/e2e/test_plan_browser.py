"""The plan in a real browser: the director sets a goal from the plan page and reads it
against the orders booked; the reviewer scores a qualitative goal; a rep reads the plan
but finds no form to change it.

With ``TACTICA_SCREENSHOTS=DIR`` the plan page is saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.domain.periods import PeriodKind, period_of
from tactica.services import objectives, organisation
from tactica.store.db import Store
from tactica.store.models import Order
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over


@pytest.fixture
def served(store: Store) -> Iterator[tuple[str, Store]]:
    """The app over a store with users of every role, two teams and a few orders."""
    with api_over(store):
        pass
    today = datetime.now(UTC).date()
    quarter = period_of(PeriodKind.QUARTER, today).label
    with store.session() as s:
        organisation.add_team(
            s, organisation.TeamInput("marketing", "Marketing", lead="marketer"), actor="t"
        )
        organisation.add_team(
            s,
            organisation.TeamInput("sales", "Sales", function="sales", parent="marketing"),
            actor="t",
        )
        organisation.put_member(
            s,
            "sales",
            organisation.MemberInput("sales_rep", "Rep", reports_to="marketer"),
            actor="t",
        )
        objectives.create_objective(
            s,
            objectives.ObjectiveInput(
                "brand-launch",
                quarter,
                4,
                kind="qualitative",
                title="Brand launch on time",
                reviewer="analyst",
                owner_team="marketing",
            ),
            actor="t",
        )
        for i, amount in enumerate(("250.00", "120.00", "80.00")):
            s.add(
                Order(
                    customer_id=f"c{i}",
                    offer="GOLD",
                    price=Decimal(amount),
                    amount=Decimal(amount),
                    status="booked",
                    created_at=datetime.now(UTC) - timedelta(minutes=i),
                )
            )
        s.commit()
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url, store


def test_the_director_sets_a_goal_and_the_reviewer_scores_one(
    browser: Any, served: tuple[str, Store]
) -> None:
    site, _ = served
    month = period_of(PeriodKind.MONTH, datetime.now(UTC).date()).label
    page = sign_in(browser, site, "marketer")
    page.get_by_role("link", name="Plan").click()
    page.wait_for_url(f"{site}/ui/plan")
    page.get_by_label("Name", exact=True).fill("revenue-month")
    page.get_by_label("Title", exact=True).fill("Revenue this month")
    page.get_by_label("KPI", exact=True).select_option("revenue")
    page.locator("#goal_period").fill(month)
    page.get_by_label("Target").fill("1000")
    page.get_by_label("Owning team").select_option("marketing")
    page.get_by_role("button", name="Set goal").click()
    page.wait_for_selector("text=Goal revenue-month set.")
    row = page.locator('#plan tr[data-goal="revenue-month"]')
    assert row.locator("[data-actual]").inner_text() == "450"  # the three orders booked
    assert page.locator('#org tr[data-team="sales"]').inner_text().count("→ marketer") == 1
    # A bad definition is refused next to its field, what was typed kept.
    page.get_by_label("Name", exact=True).fill("odd")
    page.get_by_label("KPI", exact=True).select_option("custom")
    page.get_by_label("Definition (custom KPI)").fill("orders / (responses")
    page.locator("#goal_period").fill(month)
    page.get_by_label("Target").fill("1")
    page.get_by_label("Owning team").select_option("marketing")
    page.get_by_role("button", name="Set goal").click()
    page.wait_for_selector("#definition-error")
    assert "expected ')'" in page.locator("#definition-error").inner_text()
    assert page.get_by_label("Definition (custom KPI)").input_value() == "orders / (responses"
    assert page.errors == []

    reviewer = sign_in(browser, site, "analyst", going_to="/ui/plan")
    reviewer.get_by_label("Score of brand-launch").fill("5")
    reviewer.get_by_label("Note on brand-launch").fill("launched a week early")
    reviewer.get_by_role("button", name="Score").click()
    reviewer.wait_for_selector("text=Goal brand-launch scored.")
    scored = reviewer.locator('#plan tr[data-goal="brand-launch"] [data-status]').inner_text()
    assert "achieved" in scored and "launched a week early" in scored
    shot(reviewer, "plan")

    rep = sign_in(browser, site, "sales_rep", going_to="/ui/plan")
    assert rep.locator('#plan tr[data-goal="revenue-month"]').count() == 1
    assert rep.locator("#goal-form").count() == 0
