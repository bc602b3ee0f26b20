"""Programs, policies and offers as YAML: apply, re-apply, export, errors, life cycle."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tactica.domain.schema import FieldDef, FieldType
from tactica.errors import Conflict, InvalidInput
from tactica.services import as_code, offers, programs, segments
from tactica.store.customer_table import add_fields
from tactica.store.db import Store
from tests.conftest import Tactica

PROGRAM = """\
kind: Offer
code: TD-12M
name: 12-month term deposit
value: 180
margin: 95
eligibility: "age >= 18"
---
kind: ContactPolicy
name: gentle
per_run: 2
rules:
  - {type: cap, name: global-30d, max: 3, days: 30}
  - {type: cap, name: sms-week, max: 1, calendar: week, channel: sms}
  - {type: gap, name: gap-48h, hours: 48}
  - {type: no_repeat, name: offer-14d, days: 14}
daily_capacity: {phone: 400}
timezone: Europe/Lisbon
---
kind: Program
name: spring-deposits
owner: ana
budget: 5000
start: 2026-03-01
end: 2026-05-31
policy: gentle
schedule: {cron: "0 9 * * 1"}
campaigns:
  - name: young-td
    segment: young
    eligibility: "consent_sms and msisdn is not null"
    offers: [TD-12M]
    channels: [sms]
    score: "age / 10"
    priority: 10
    capacity: 2000
    control_share: 0.1
    cost_per_contact: 0.05
    budget: 1000
"""


@pytest.fixture
def ready(store: Store) -> Store:
    """A store with an age field and a 'young' segment."""
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT)])
        segments.create_segment(s, "young", rule="age < 30", actor="t")
        s.commit()
    return store


def _apply(store: Store, path: Path) -> list[as_code.Applied]:
    with store.session() as s:
        done = as_code.apply_file(s, path, actor="t")
        s.commit()
        return done


def test_apply_reapply_and_export_round_trip(ready: Store, tmp_path: Path) -> None:
    path = tmp_path / "spring.yaml"
    path.write_text(PROGRAM)
    first = _apply(ready, path)
    assert [(a.kind, a.name, a.result) for a in first] == [
        ("Offer", "TD-12M", "created"),
        ("ContactPolicy", "gentle", "created"),
        ("Program", "spring-deposits", "created"),
    ]
    assert {a.result for a in _apply(ready, path)} == {"unchanged"}
    with ready.session() as s:
        exported = as_code.export_documents(s)
        p = programs.get_program(s, "spring-deposits")
        assert (p.status, p.schedule_cron, p.policy) == ("draft", "0 9 * * 1", "gentle")
    again = tmp_path / "export.yaml"
    again.write_text(exported)
    assert {a.result for a in _apply(ready, again)} == {"unchanged"}
    assert "kind: ContactPolicy\nname: default" in exported


def test_every_problem_is_named_and_nothing_is_saved(ready: Store, tmp_path: Path) -> None:
    bad = PROGRAM.replace('"consent_sms and msisdn is not null"', '"consent_sms and agee > 3"')
    bad = bad.replace("capacity: 2000", "capacity: -5").replace(
        "[TD-12M]\n    channels", "[TD-12M, NOPE]\n    channels"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with ready.session() as s, pytest.raises(InvalidInput) as err:
        as_code.apply_file(s, path, actor="t")
    text = str(err.value)
    assert text.startswith(f"{path}, document 3 (Program): program 'spring-deposits' has problems")
    assert "campaigns[0] 'young-td'.eligibility: line 1, col 17: unknown attribute 'agee'" in text
    assert "campaigns[0] 'young-td'.capacity" in text and "-5" in text
    assert "campaigns[0] 'young-td'.offers[1]: unknown offer 'NOPE'" in text
    with ready.session() as s:
        # The offer in the same file was not saved either: one transaction.
        assert offers.list_offers(s) == []
        assert programs.list_programs(s) == []


def test_yaml_errors_name_the_line(ready: Store, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: Program\nname: x\ncampaigns: [unclosed\n")
    with ready.session() as s, pytest.raises(InvalidInput, match=r"line 4, col 1: not valid YAML"):
        as_code.apply_file(s, path, actor="t")
    path.write_text("kind: Campaign\nname: x\n")
    with ready.session() as s, pytest.raises(InvalidInput, match="document 1: needs 'kind: Offer'"):
        as_code.apply_file(s, path, actor="t")


def test_life_cycle(ready: Store, tmp_path: Path) -> None:
    path = tmp_path / "spring.yaml"
    path.write_text(PROGRAM)
    _apply(ready, path)
    with ready.session() as s:
        programs.set_status(s, "spring-deposits", "running", actor="t")
        s.commit()
        # The same document again changes nothing and is accepted; a change is not.
        assert {a.result for a in as_code.apply_file(s, path, actor="t")} == {"unchanged"}
        path.write_text(PROGRAM.replace("capacity: 2000", "capacity: 2001"))
        with pytest.raises(Conflict, match="pause it before changing it"):
            as_code.apply_file(s, path, actor="t")
        s.rollback()
        programs.set_status(s, "spring-deposits", "completed", actor="t")
        with pytest.raises(Conflict, match="a completed program cannot become running"):
            programs.set_status(s, "spring-deposits", "running", actor="t")


def test_an_invalid_program_never_starts(ready: Store, tmp_path: Path) -> None:
    empty = "kind: Program\nname: empty\nowner: ana\ncampaigns: []\n"
    path = tmp_path / "empty.yaml"
    path.write_text(empty)
    _apply(ready, path)
    with ready.session() as s, pytest.raises(InvalidInput, match="at least one campaign"):
        programs.set_status(s, "empty", "running", actor="t")


def test_cli_apply_export_status(tactica: Tactica, tmp_path: Path) -> None:
    assert tactica("customers", "add-field", "age", "int").code == 0
    assert tactica("segments", "create", "young", "--rule", "age < 30").code == 0
    path = tmp_path / "spring.yaml"
    path.write_text(PROGRAM)
    r = tactica("apply", "-f", str(path), "--dry-run")
    assert r.code == 0, r.err
    assert "Program spring-deposits created" in r.out and "Dry run" in r.out
    assert tactica("programs", "list").out.count("spring-deposits") == 0
    r = tactica("apply", "-f", str(path))
    assert r.code == 0, r.err
    r = tactica("programs", "status", "spring-deposits", "scheduled")
    assert r.code == 0 and "now scheduled" in r.out
    r = tactica("programs", "status", "spring-deposits", "draft")
    assert r.code == 0
    r = tactica("programs", "status", "spring-deposits", "completed")
    assert r.code == 5 and "from draft: scheduled, running, cancelled" in r.err
    out = tmp_path / "all.yaml"
    assert tactica("export", "-o", str(out)).code == 0
    assert "name: spring-deposits" in out.read_text()
    listed = tactica("policies", "list").out
    assert "gentle" in listed and "phone: 400" in listed and "Europe/Lisbon" in listed
    exported = yaml.safe_load_all(out.read_text())
    gentle = next(d for d in exported if d.get("name") == "gentle")
    assert (gentle["daily_capacity"], gentle["timezone"]) == ({"phone": 400}, "Europe/Lisbon")


def test_programs_over_the_api(ready: Store) -> None:
    from fastapi.testclient import TestClient

    from tactica.api.app import create_app
    from tactica.config import Settings
    from tactica.services import users

    with ready.session() as s:
        u = users.create_user(s, "ana", "long-enough-pw", "marketer", actor="t")
        token, _ = users.create_token(s, u, actor="t")
        a = users.create_user(s, "al", "long-enough-pw", "analyst", actor="t")
        atoken, _ = users.create_token(s, a, actor="t")
        offers.create_offer(s, offers.OfferInput(code="TD-12M", name="Deposit"), actor="t")
        s.commit()
    h = {"Authorization": f"Bearer {token}"}
    doc = {
        "name": "p1",
        "owner": "ana",
        "policy": "default",
        "campaigns": [
            {
                "name": "c1",
                "segment": "young",
                "offers": ["TD-12M"],
                "channels": ["sms"],
                "capacity": 10,
            }
        ],
    }
    with TestClient(create_app(Settings(secret_key="x"), ready)) as client:
        r = client.put("/programs", json=doc, headers=h)
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "p1", "result": "created"}
        bad = client.put(
            "/programs",
            json={**doc, "campaigns": [{"name": "c1", "offers": ["X"], "channels": ["fax"]}]},
            headers=h,
        )
        assert bad.status_code == 422
        assert "campaigns[0] 'c1'.offers[0]: unknown offer 'X'" in bad.json()["detail"]
        moved = client.post("/programs/p1/status", json={"status": "running"}, headers=h)
        assert moved.json()["status"] == "running"
        assert moved.json()["can_become"] == ["paused", "completed", "cancelled"]
        again = client.post("/programs/p1/status", json={"status": "draft"}, headers=h)
        assert again.status_code == 409
        ah = {"Authorization": f"Bearer {atoken}"}
        assert client.get("/programs", headers=ah).json()[0]["name"] == "p1"
        assert client.put("/programs", json=doc, headers=ah).status_code == 403
