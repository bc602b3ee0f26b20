"""Plans and actions in a real browser: the director makes the month's plan and gives a
rep an action; the rep finds it under Actions and marks it done; the rep's manager
evaluates it from their teams' view.

With ``TACTICA_SCREENSHOTS=DIR`` the plan's page is saved there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.config import Settings
from tactica.domain.periods import PeriodKind, period_of
from tactica.services import organisation
from tactica.store.db import Store
from tests.e2e.browser import shot, sign_in
from tests.integration.api.conftest import api_over


@pytest.fixture
def served(store: Store) -> Iterator[str]:
    """The app over a store with users of every role; the rep reports to the marketer."""
    with api_over(store):
        pass
    with store.session() as s:
        organisation.add_team(
            s, organisation.TeamInput("sales", "Sales", function="sales"), actor="t"
        )
        organisation.put_member(
            s,
            "sales",
            organisation.MemberInput("sales_rep", "Rep", reports_to="marketer"),
            actor="t",
        )
        s.commit()
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def test_a_plan_broken_into_an_action_done_by_the_rep_and_evaluated(
    browser: Any, served: str
) -> None:
    site = served
    today = datetime.now(UTC).date()
    month = period_of(PeriodKind.MONTH, today).label
    director = sign_in(browser, site, "marketer", going_to="/ui/plan")
    director.get_by_label("Plan name").fill("month-plan")
    director.get_by_label("Plan kind").select_option("monthly")
    director.locator("#plan_period").fill(month)
    director.get_by_label("Strategy").fill("Call every gold customer before the month ends")
    director.get_by_role("button", name="Make plan").click()
    director.wait_for_selector("#slogan")  # no actions yet
    director.get_by_label("Name", exact=True).fill("gold-calls")
    director.get_by_label("What is to be done").fill("Call the gold customers")
    director.get_by_label("Responsible person").select_option("sales_rep")
    director.get_by_label("Due").fill(today.isoformat())
    director.get_by_role("button", name="Add action").click()
    director.wait_for_selector("#criteria-error")  # committed needs criteria
    assert director.get_by_label("What is to be done").input_value() == "Call the gold customers"
    director.get_by_label("Evaluation criteria").fill("every gold customer called once")
    director.get_by_role("button", name="Add action").click()
    director.wait_for_selector("text=Action gold-calls added.")
    assert director.locator("#slogan").count() == 0
    row = director.locator('tr[data-action="month-plan/gold-calls"]')
    assert "marketer" in row.inner_text()  # the rep's line manager evaluates
    assert director.errors == []

    rep = sign_in(browser, site, "sales_rep")
    rep.get_by_role("link", name="Actions").click()
    rep.wait_for_url(f"{site}/ui/actions")
    rep.locator("#period").fill(today.isoformat())
    rep.get_by_role("button", name="Show").click()
    mine = rep.locator('tr[data-action="month-plan/gold-calls"]')
    mine.get_by_role("button", name="Done").click()
    rep.wait_for_selector("text=Gold-calls: done.")
    assert "done on time" in rep.locator('tr[data-action="month-plan/gold-calls"]').inner_text()
    assert rep.get_by_role("button", name="Evaluate").count() == 0  # not their own

    director.goto(f"{site}/ui/actions?period={today.isoformat()}&whose=my+teams")
    theirs = director.locator('tr[data-action="month-plan/gold-calls"]')
    theirs.get_by_label("Result of gold-calls").select_option("partly")
    theirs.get_by_label("Quality of gold-calls").fill("4")
    theirs.get_by_label("Note on gold-calls").fill("two customers not reached")
    theirs.get_by_role("button", name="Evaluate").click()
    director.wait_for_selector("text=Gold-calls evaluated.")
    assert (
        "partly, quality 4/5 (marketer)"
        in director.locator('tr[data-action="month-plan/gold-calls"]').inner_text()
    )
    director.goto(f"{site}/ui/plans/month-plan")
    shot(director, "actions")
    assert director.errors == [] and rep.errors == []
