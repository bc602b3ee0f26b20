"""Plans and actions in the web application: a director makes a plan and breaks it into
actions, the rep who owns one marks it done from "my actions", their manager evaluates
it; a slogan is shown as one, and every form answers bad input next to its field."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tactica.services import organisation
from tactica.store.db import Store
from tactica.web.render import today
from tests.integration.web.conftest import post_form, sign_in


def _row(page: str, key: str) -> str:
    m = re.search(rf'<tr data-action="{re.escape(key)}">(.*?)</tr>', page, re.S)
    assert m, page
    return m.group(1)


def _org(store: Store) -> None:
    """The sales rep reports to the marketer, who evaluates their work."""
    with store.session() as s:
        organisation.add_team(
            s,
            organisation.TeamInput("sales", "Sales", function="sales", lead="marketer"),
            actor="t",
        )
        organisation.put_member(s, "sales", organisation.MemberInput("sales_rep", "Rep"), actor="t")
        s.commit()


def test_a_plan_is_made_broken_into_actions_done_and_evaluated(
    client: TestClient, store: Store
) -> None:
    _org(store)
    day = today()
    year = str(day.year)
    sign_in(client, "marketer")
    r = post_form(
        client,
        "/ui/plan",
        "/ui/plans",
        {"plan_name": "plan-x", "plan_kind": "quarterly", "plan_period": year},
    )
    assert r.status_code == 422
    assert 'id="plan_period-error">a quarterly plan covers a quarter' in r.text
    assert 'value="plan-x"' in r.text  # what was typed is kept
    r = post_form(
        client,
        "/ui/plan",
        "/ui/plans",
        {
            "plan_name": "plan-x",
            "plan_kind": "annual",
            "plan_period": year,
            "plan_strategy": "Grow gold",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/plans/plan-x")
    page = client.get("/ui/plans/plan-x").text
    assert 'id="slogan"' in page and "no actions" in page
    assert "Grow gold" in page
    assert "slogan" in client.get(f"/ui/plan?period={year}").text

    # Committing without a due day: refused next to the field, what was typed kept.
    action = {
        "name": "calls",
        "subject": "Call the gold customers",
        "owner": "sales_rep",
        "criteria": "every gold customer called once",
        "status": "committed",
    }
    r = post_form(client, "/ui/plans/plan-x", "/ui/plans/plan-x/actions", action)
    assert r.status_code == 422
    assert 'id="due_on-error">a committed action needs due_on (or keep it as a draft)' in r.text
    assert "Call the gold customers" in r.text
    r = post_form(
        client,
        "/ui/plans/plan-x",
        "/ui/plans/plan-x/actions",
        {**action, "due_on": day.isoformat()},
    )
    assert r.status_code == 303, r.text
    page = client.get("/ui/plans/plan-x").text
    assert 'id="slogan"' not in page
    row = _row(page, "plan-x/calls")
    assert "at risk" in row and "marketer" in row  # evaluated by the rep's team lead

    # The rep sees it among their actions of today and marks it done.
    client.cookies.clear()
    sign_in(client, "sales_rep")
    mine = client.get(f"/ui/actions?period={day.isoformat()}").text
    assert "Call the gold customers" in mine and ">Done</button>" in _row(mine, "plan-x/calls")
    assert "Add an action" not in client.get("/ui/plans/plan-x").text
    r = post_form(
        client,
        "/ui/actions",
        "/ui/plans/plan-x/actions/calls/progress",
        {"status": "done", "back": "/ui/actions"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/actions?done=")
    row = _row(client.get(f"/ui/actions?period={day.isoformat()}").text, "plan-x/calls")
    assert "done on time" in row and "Evaluate" not in row  # not their own
    # A rep cannot make plans.
    r = post_form(client, "/ui/actions", "/ui/plans", {"plan_name": "p", "plan_period": year})
    assert r.status_code == 403

    # The manager evaluates it from their teams' view.
    client.cookies.clear()
    sign_in(client, "marketer")
    teams = client.get(f"/ui/actions?period={day.isoformat()}&whose=my+teams").text
    assert "Evaluate</button>" in _row(teams, "plan-x/calls")
    assert (
        "Call the gold customers" not in client.get(f"/ui/actions?period={day.isoformat()}").text
    )  # not the marketer's own
    r = post_form(
        client,
        "/ui/actions",
        "/ui/plans/plan-x/actions/calls/evaluation",
        {"result": "met", "quality": "7", "back": "/ui/actions?whose=my+teams"},
    )
    assert r.status_code == 303 and "problem=" in r.headers["location"]
    assert "quality of 1 to 5" in client.get(r.headers["location"]).text
    r = post_form(
        client,
        "/ui/actions",
        "/ui/plans/plan-x/actions/calls/evaluation",
        {
            "result": "met",
            "quality": "4",
            "note": "two complaints",
            "back": "https://evil.example/",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/plans/plan-x?")
    row = _row(client.get("/ui/plans/plan-x").text, "plan-x/calls")
    assert "met, quality 4/5 (marketer): two complaints" in row


def test_bad_windows_and_missing_plans(client: TestClient, store: Store) -> None:
    sign_in(client, "analyst")
    r = client.get("/ui/actions?period=2026-13")
    assert r.status_code == 422 and 'id="period-error"' in r.text
    r = client.get("/ui/actions?whose=theirs")
    assert r.status_code == 422 and 'id="whose-error"' in r.text
    assert client.get("/ui/plans/nope").status_code == 404
    r = post_form(client, "/ui/actions", "/ui/plans/nope/actions/x/progress", {"status": "done"})
    assert r.status_code == 404
