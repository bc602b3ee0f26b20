"""Runs over HTTP: preview, run, list, show, explain; roles and errors."""

from __future__ import annotations

from tactica.store.db import Store
from tests.integration.api.conftest import Api
from tests.integration.runs.conftest import program_store  # noqa: F401  (fixture)


def test_preview_run_read_and_explain(api: Api, program_store: Store) -> None:  # noqa: F811
    c = api.client
    dry = c.post("/programs/spring/runs?dry_run=true", headers=api.as_("marketer"))
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["id"] is None and body["status"] == "dry-run"
    assert [f["campaign"] for f in body["campaigns"]] == ["young-sms", "all-email"]
    assert c.get("/runs", headers=api.as_("marketer")).json() == []

    done = c.post("/programs/spring/runs", headers=api.as_("marketer"))
    assert done.status_code == 201, done.text
    run = done.json()
    assert run["status"] == "completed" and run["contacts"] == body["contacts"]
    listed = c.get("/runs?program=spring", headers=api.as_("analyst")).json()
    assert [r["id"] for r in listed] == [run["id"]]
    shown = c.get(f"/runs/{run['id']}", headers=api.as_("analyst")).json()
    assert shown["campaigns"][0]["excluded"]["no msisdn"] == 2

    why = c.get(f"/runs/{run['id']}/customers/c05/explain", headers=api.as_("analyst"))
    assert why.status_code == 200, why.text
    young = next(x for x in why.json()["campaigns"] if x["campaign"] == "young-sms")
    assert young["outcome"] == "excluded: opted out (list 'opt_out')"
    assert {
        "step": "sms: special lists",
        "passed": False,
        "detail": "opted out (list 'opt_out')",
    } in young["steps"]
    now = c.get("/programs/spring/customers/c16/explain", headers=api.as_("analyst"))
    assert now.status_code == 200 and now.json()["run_id"] is None


def test_roles_and_errors(api: Api, program_store: Store) -> None:  # noqa: F811
    c = api.client
    assert c.post("/programs/spring/runs", headers=api.as_("analyst")).status_code == 403
    missing = c.post("/programs/nope/runs", headers=api.as_("marketer"))
    assert missing.status_code == 404 and "no program 'nope'" in missing.json()["detail"]
    assert c.get("/runs/77", headers=api.as_("analyst")).status_code == 404
    nobody = c.get("/programs/spring/customers/zz/explain", headers=api.as_("analyst"))
    assert nobody.status_code == 404 and "no customer 'zz'" in nobody.json()["detail"]
    c.post("/programs/spring/status", json={"status": "running"}, headers=api.as_("marketer"))
    c.post("/programs/spring/status", json={"status": "paused"}, headers=api.as_("marketer"))
    paused = c.post("/programs/spring/runs", headers=api.as_("marketer"))
    assert paused.status_code == 409 and "is paused" in paused.json()["detail"]
