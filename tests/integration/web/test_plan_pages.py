"""The plan page: goals against actual as of a day, the teams, and the forms that set a
goal, enter a market size and score a qualitative goal — with the API's rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient

from tactica.services import objectives, organisation
from tactica.store.db import Store
from tactica.store.models import Objective, Order
from tests.integration.web.conftest import post_form, sign_in


def _row(page: str, goal: str) -> str:
    m = re.search(rf'<tr data-goal="{re.escape(goal)}">(.*?)</tr>', page, re.S)
    assert m, page
    return m.group(1)


def _seed(store: Store) -> None:
    with store.session() as s:
        organisation.add_team(
            s, organisation.TeamInput("marketing", "Marketing", lead="marketer"), actor="t"
        )
        organisation.put_member(
            s,
            "marketing",
            organisation.MemberInput(
                "analyst", "Analyst", "Reads the figures", reports_to="marketer"
            ),
            actor="t",
        )
        objectives.create_objective(
            s,
            objectives.ObjectiveInput(
                "rev-nov",
                "2026-11",
                1000,
                kpi="revenue",
                title="November revenue",
                owner_team="marketing",
            ),
            actor="t",
        )
        objectives.create_objective(
            s,
            objectives.ObjectiveInput(
                "launch", "2026-Q4", 4, kind="qualitative", reviewer="analyst", owner="marketer"
            ),
            actor="t",
        )
        s.add(
            Order(
                customer_id="c1",
                offer="GOLD",
                price=Decimal(600),
                amount=Decimal(600),
                status="booked",
                created_at=datetime(2026, 11, 3, tzinfo=UTC),
            )
        )
        s.commit()


def test_everyone_reads_the_plan_as_of_a_day(client: TestClient, store: Store) -> None:
    _seed(store)
    sign_in(client, "sales_rep")
    page = client.get("/ui/plan", params={"period": "2026-Q4", "as_of": "2026-11-15"})
    assert page.status_code == 200
    row = _row(page.text, "rev-nov")
    cells = re.findall(r'<td class="num"[^>]*>(.*?)</td>', row)
    assert cells[:5] == [
        "1,000",
        "600",
        "500",
        "100",
        "1,200",
    ]  # target, actual, expected, variance, projected
    assert "on track" in row and "60.0%" in row
    assert "Set a goal" not in page.text  # reps read, they do not set goals
    assert "Reads the figures" in page.text and "→ marketer" in page.text
    # A bad period is said next to the field, and this year is shown meanwhile.
    bad = client.get("/ui/plan", params={"period": "2026-Q7"})
    assert bad.status_code == 422 and 'id="period-error"' in bad.text


def test_a_marketer_sets_a_goal_and_bad_input_keeps_what_was_typed(
    client: TestClient, store: Store
) -> None:
    _seed(store)
    sign_in(client, "marketer")
    form = {
        "name": "sms-rr",
        "title": "SMS replies",
        "kpi": "custom",
        "definition": "responses / delivred",
        "goal_period": "2026-Q4",
        "target": "0.05",
        "owner_team": "marketing",
        "owner_person": "",
        "parent": "",
        "scope_key": "channel",
        "scope_value": "sms",
        "reviewer": "",
    }
    r = post_form(client, "/ui/plan", "/ui/plan/goals", form)
    assert r.status_code == 422
    assert 'id="definition-error"' in r.text and "unknown measure &#39;delivred&#39;" in r.text
    assert 'value="responses / delivred"' in r.text
    with store.session() as s:
        assert s.query(Objective).count() == 2  # nothing written
    form["definition"] = "responses / delivered"
    r = post_form(client, "/ui/plan", "/ui/plan/goals", {**form, "owner_team": ""})
    assert r.status_code == 422 and 'id="owner_person-error"' in r.text
    r = post_form(
        client, "/ui/plan", "/ui/plan/goals", {**form, "definition": "responses / delivered"}
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/plan?period=2026-Q4")
    page = client.get(r.headers["location"]).text
    assert "Goal sms-rr set." in page and "delivered is 0: nothing to divide by" in _row(
        page, "sms-rr"
    )

    r = post_form(
        client,
        "/ui/plan",
        "/ui/plan/market-sizes",
        {"market_period": "2026-11", "size": "-5", "market": "", "source": ""},
    )
    assert r.status_code == 422 and 'id="size-error"' in r.text
    r = post_form(
        client,
        "/ui/plan",
        "/ui/plan/market-sizes",
        {"market_period": "2026-11", "size": "50000", "market": "", "source": "report"},
    )
    assert r.status_code == 303
    assert "50,000.00" in client.get("/ui/plan").text


def test_only_the_reviewer_scores_a_qualitative_goal(client: TestClient, store: Store) -> None:
    _seed(store)
    sign_in(client, "marketer")
    page = client.get("/ui/plan", params={"period": "2026-Q4"}).text
    assert 'action="/ui/plan/goals/launch/assess"' not in page  # marketer is not its reviewer
    r = post_form(client, "/ui/plan", "/ui/plan/goals/launch/assess", {"score": "5", "note": ""})
    assert r.status_code == 403
    client.cookies.clear()
    sign_in(client, "analyst")
    page = client.get("/ui/plan", params={"period": "2026-Q4"}).text
    assert 'action="/ui/plan/goals/launch/assess"' in page
    r = post_form(client, "/ui/plan", "/ui/plan/goals/launch/assess", {"score": "9", "note": ""})
    assert r.status_code == 422 and "outside 1–5" in r.text
    r = post_form(
        client, "/ui/plan", "/ui/plan/goals/launch/assess", {"score": "4", "note": "on time"}
    )
    assert r.status_code == 303
    row = _row(client.get("/ui/plan", params={"period": "2026-Q4"}).text, "launch")
    assert "achieved" in row and "on time" in row
