"""Plans and actions over HTTP: a director breaks the plan into actions, the rep who owns
one reports it done, the named evaluator evaluates it, and the tracking views say
where everything stands."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.api.conftest import Api


def test_plan_actions_progress_evaluation_and_tracking(api: Api) -> None:
    m, rep, analyst = api.as_("marketer"), api.as_("sales_rep"), api.as_("analyst")
    c = api.client
    today = datetime.now(UTC).date()
    year = today.year
    r = c.post("/plans", json={"name": "year", "period": str(year), "strategy": "Grow"}, headers=m)
    assert r.status_code == 201, r.text
    # Nobody has said how yet: a slogan.
    assert c.get("/plans/year", headers=rep).json()["slogan"] == "no actions"

    r = c.post(
        "/plans/year/actions",
        json={"name": "calls", "subject": "Call the gold customers", "owner": "sales_rep"},
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "due_on"
    assert "draft" in r.json()["detail"]
    r = c.post(
        "/plans/year/actions",
        json={
            "name": "calls",
            "subject": "Call the gold customers",
            "owner": "sales_rep",
            "due_on": today.isoformat(),
            "criteria": "every gold customer called once",
            "evaluator": "marketer",
        },
        headers=m,
    )
    assert r.status_code == 201, r.text
    assert r.json()["tracking"] == "at risk" and r.json()["evaluates"] == "marketer"
    r = c.post(
        "/plans/year/actions",
        json={"name": "idea", "subject": "Something on social media", "status": "draft"},
        headers=m,
    )
    assert r.status_code == 201 and r.json()["missing"] == ["owner", "due_on", "criteria"]
    detail = c.get("/plans/year", headers=analyst).json()
    assert detail["slogan"] is None
    assert detail["tracking"] == {"at risk": 1, "slogan": 1}

    # The rep cannot write plans, but reports on what is theirs.
    r = c.post(
        "/plans/year/actions",
        json={"name": "x", "subject": "x", "status": "draft"},
        headers=rep,
    )
    assert r.status_code == 403
    r = c.post("/plans/year/actions/idea/progress", json={"status": "cancelled"}, headers=rep)
    assert r.status_code == 403
    r = c.post("/plans/year/actions/calls/progress", json={"status": "done"}, headers=rep)
    assert r.status_code == 200 and r.json()["tracking"] == "done on time"
    assert r.json()["done_on"] == today.isoformat()

    # The owner does not evaluate their own work; the named evaluator does.
    ev = {"result": "met", "quality": 4, "note": "all called, two complaints"}
    r = c.post("/plans/year/actions/calls/evaluation", json=ev, headers=rep)
    assert r.status_code == 403 and "marketer" in r.json()["detail"]
    r = c.post("/plans/year/actions/calls/evaluation", json={**ev, "quality": 9}, headers=m)
    assert r.status_code == 422
    r = c.post("/plans/year/actions/calls/evaluation", json=ev, headers=m)
    assert r.status_code == 200 and (r.json()["result"], r.json()["quality"]) == ("met", 4)
    r = c.post("/plans/year/actions/calls/progress", json={"status": "in_progress"}, headers=rep)
    assert r.status_code == 409 and "evaluated" in r.json()["detail"]

    # Tracking: today's view, mine, and a week's.
    r = c.get("/actions", params={"period": today.isoformat(), "owner": "me"}, headers=rep)
    assert r.status_code == 200 and [a["name"] for a in r.json()] == ["calls"]
    assert (
        c.get("/actions", params={"period": today.isoformat(), "owner": "me"}, headers=m).json()
        == []
    )
    r = c.get("/actions", params={"period": today.isoformat()}, headers=m)
    # An undated draft shows every day of its plan.
    assert r.status_code == 200 and [a["name"] for a in r.json()] == ["calls", "idea"]
    assert c.get("/actions", params={"period": "2026-13-45"}, headers=m).status_code == 422
    assert c.get("/actions", params={"period": "2026-11-2"}, headers=m).status_code == 422
    assert (
        c.get("/actions", params={"period": str(year)}, headers=api.as_("integration")).status_code
        == 403
    )

    # Work recorded keeps the plan and the action from being removed.
    assert c.delete("/plans/year/actions/calls", headers=m).status_code == 409
    assert c.delete("/plans/year", headers=m).status_code == 409
    assert c.delete("/plans/year/actions/idea", headers=m).status_code == 204
    assert c.get("/plans/year/actions/idea", headers=m).status_code == 404


def test_plans_break_down_by_period_and_answer_bad_input_by_field(api: Api) -> None:
    m = api.as_("marketer")
    c = api.client
    assert c.post("/plans", json={"name": "y", "period": "2026"}, headers=m).status_code == 201
    r = c.post(
        "/plans",
        json={"name": "q", "kind": "quarterly", "period": "2026-11", "parent": "y"},
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "period"
    r = c.post(
        "/plans",
        json={"name": "q", "kind": "quarterly", "period": "2026-Q4", "parent": "y"},
        headers=m,
    )
    assert r.status_code == 201
    r = c.put(
        "/plans/q",
        json={
            "name": "ignored",
            "kind": "quarterly",
            "period": "2026-Q3",
            "parent": "y",
            "owner_team": "nope",
        },
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "owner_team"
    r = c.post(
        "/plans/q/actions",
        json={
            "name": "a",
            "subject": "s",
            "owner": "marketer",
            "due_on": "2026-09-30",
            "criteria": "c",
        },
        headers=m,
    )
    assert r.status_code == 422 and r.json()["where"] == "due_on"
    assert [p["name"] for p in c.get("/plans", params={"period": "2026-Q4"}, headers=m).json()] == [
        "y",
        "q",
    ]
    assert c.get("/plans", params={"period": "2026-Q1"}, headers=m).json()[0]["name"] == "y"
    assert c.delete("/plans/y", headers=m).status_code == 409
