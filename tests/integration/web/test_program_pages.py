"""The programs pages: create a program, add campaigns, dry-run, run, move, explain."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tactica.services import as_code, programs, runs
from tactica.services.events import take_events
from tactica.store.db import Store
from tactica.store.models import Contact, Program, Run
from tests.integration.web.conftest import csrf_of, post_form, sign_in


def _program(store: Store, name: str) -> dict[str, object] | None:
    with store.session() as s:
        p = s.scalar(sa.select(Program).where(Program.name == name))
        return None if p is None else {"status": p.status, **programs.program_data(s, p)}


def _count(store: Store, model: type) -> int:
    with store.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert found is not None, html
    return found.group(1)


def test_a_marketer_creates_a_program_and_a_refused_form_saves_nothing(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    typed = {
        "name": "winter",
        "owner": "ana",
        "description": "Winter deposits",
        "budget": "lots",
        "start": "2026-12-01",
        "end": "2027-01-31",
        "policy": "default",
        "schedule": "cron",
        "schedule_value": "0 9 * * 1",
    }
    r = post_form(client, "/ui/programs", "/ui/programs", typed)
    assert r.status_code == 422
    assert "an amount" in _error(r.text, "budget")
    assert 'value="Winter deposits"' in r.text and 'value="0 9 * * 1"' in r.text
    assert _program(marketing, "winter") is None
    r = post_form(client, "/ui/programs", "/ui/programs", {**typed, "schedule_value": "bad"})
    assert r.status_code == 422 and "5 fields" in _error(r.text, "schedule_value")
    r = post_form(client, "/ui/programs", "/ui/programs", {**typed, "budget": "2500"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/programs/winter"
    saved = _program(marketing, "winter")
    assert saved is not None
    assert (saved["status"], saved["budget"], saved["schedule"]) == (
        "draft",
        "2500",
        {"cron": "0 9 * * 1"},
    )
    # The name is taken now.
    r = post_form(client, "/ui/programs", "/ui/programs", {**typed, "budget": "1"})
    assert r.status_code == 422 and "exists already" in _error(r.text, "name")
    listing = client.get("/ui/programs").text
    assert 'data-program="winter"' in listing and "draft" in listing


def test_campaigns_are_added_with_their_problems_named_and_removed(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    post_form(client, "/ui/programs", "/ui/programs", {"name": "winter", "owner": "ana"})
    page = client.get("/ui/programs/winter").text
    campaign = {
        "name": "young-gold",
        "segment": "young",
        "offers": "GOLD",
        "channels": "sms",
        "eligibility": "balance >",
        "score": "balance / 1000",
        "priority": "5",
        "capacity": "10",
        "control_share": "0.1",
        "cost_per_contact": "0.05",
        "csrf": csrf_of(page),
    }
    r = client.post("/ui/programs/winter/campaigns", data=campaign)
    assert r.status_code == 422
    assert "unexpected end of rule" in _error(r.text, "eligibility")
    assert '<mark class="rule-problem"' in r.text  # marked where it fails
    assert 'value="young-gold"' in r.text and 'value="GOLD" checked' in r.text
    assert _program(marketing, "winter")["campaigns"] == []  # type: ignore[index]
    # No offer ticked: said next to the offers.
    r = client.post("/ui/programs/winter/campaigns", data={**campaign, "offers": ""})
    assert r.status_code == 422 and "at least one offer" in _error(r.text, "offers")
    r = client.post(
        "/ui/programs/winter/campaigns",
        data={**campaign, "eligibility": "balance > 1000"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (saved,) = _program(marketing, "winter")["campaigns"]  # type: ignore[index]
    assert (saved["segment"], saved["offers"], saved["channels"], saved["capacity"]) == (
        "young",
        ["GOLD"],
        ["sms"],
        10,
    )
    assert saved["control_share"] == 0.1 and saved["eligibility"] == "balance > 1000"
    page = client.get("/ui/programs/winter").text
    assert 'data-campaign="young-gold"' in page
    r = post_form(
        client, "/ui/programs/winter", "/ui/programs/winter/campaigns/young-gold/remove", {}
    )
    assert r.status_code == 303
    assert _program(marketing, "winter")["campaigns"] == []  # type: ignore[index]


def test_a_dry_run_shows_the_funnel_and_writes_nothing(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/programs/spring", "/ui/programs/spring/dry-run", {})
    assert r.status_code == 200
    row = re.search(r'<table id="preview".*?<tr data-campaign="young-sms">(.*?)</tr>', r.text, re.S)
    assert row is not None
    contacts = re.search(r'<td class="num" data-contacts>([^<]*)</td>', row.group(1))
    # What the engine decides (up to its capacity of 10, after the control group).
    funnel = {f.campaign: f for f in runs.preview(marketing, "spring").funnel}
    assert contacts is not None and int(contacts.group(1)) == funnel["young-sms"].after_capacity
    assert 0 < funnel["young-sms"].after_capacity <= 10
    assert "opted out" in row.group(1) or "opt" in row.group(1)
    assert _count(marketing, Run) == 0 and _count(marketing, Contact) == 0


def _wait_done(client: TestClient, url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(url).text
        status = re.search(r'id="run-status">([^<]*)<', page)
        assert status is not None
        if status.group(1) != "running":
            return page
        time.sleep(0.2)
    raise AssertionError(f"{url} still running")


def test_run_now_follows_the_run_and_explains_a_customer(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    r = post_form(client, "/ui/programs/spring", "/ui/programs/spring/run", {})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/runs/")
    page = _wait_done(client, r.headers["location"])
    assert 'id="run-status">completed<' in page
    contacts = _count(marketing, Contact)
    assert contacts > 0
    tile = re.search(r'data-measure="contacts">.*?<span class="value">([^<]*)<', page, re.S)
    assert tile is not None and int(tile.group(1).replace(",", "")) == contacts
    # c05 opted out of SMS: the young-sms campaign says so for them.
    why = client.get(r.headers["location"] + "?customer=c05").text
    assert 'id="explanation"' in why
    young = re.search(r"<h3>young-sms: <span class=\"bad\">([^<]*)</span>", why)
    assert young is not None, why
    # An unknown customer is named next to the field.
    unknown = client.get(r.headers["location"] + "?customer=nobody")
    assert "nobody" in _error(unknown.text, "customer")


def test_a_program_moves_only_along_its_life(client: TestClient, marketing: Store) -> None:
    sign_in(client, "marketer")
    r = post_form(
        client, "/ui/programs/spring", "/ui/programs/spring/status", {"status": "running"}
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "The program is running now." in page
    assert "Add a campaign" not in page  # a running program cannot change
    assert ">Pause<" in page
    r = post_form(client, "/ui/programs/spring", "/ui/programs/spring/status", {"status": "paused"})
    assert _program(marketing, "spring")["status"] == "paused"  # type: ignore[index]
    assert ">Resume<" in client.get("/ui/programs/spring").text
    r = post_form(client, "/ui/programs/spring", "/ui/programs/spring/status", {"status": "draft"})
    assert r.status_code == 409 and "cannot become draft" in r.text
    assert _program(marketing, "spring")["status"] == "paused"  # type: ignore[index]


def test_an_analyst_reads_programs_but_may_not_change_or_run_them(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "analyst")
    page = client.get("/ui/programs/spring").text
    assert "young-sms" in page
    assert "Run now" not in page and "Add a campaign" not in page
    for action in ("run", "dry-run", "status", "campaigns"):
        r = client.post(f"/ui/programs/spring/{action}", data={"csrf": csrf_of(page)})
        assert r.status_code == 403, action
    assert _count(marketing, Run) == 0
    assert client.get("/ui/programs/nope").status_code == 404
    # A forged form is refused even for a marketer.
    client.cookies.clear()
    sign_in(client, "marketer")
    r = client.post("/ui/programs/spring/run", data={"csrf": "forged"})
    assert r.status_code == 403 and _count(marketing, Run) == 0


def test_the_campaign_form_checks_its_rules_as_they_are_typed(
    client: TestClient, marketing: Store
) -> None:
    sign_in(client, "marketer")
    page = client.get("/ui/programs/spring").text
    token = csrf_of(page)
    score = client.post(
        "/ui/segments/check", data={"field": "score", "score": "balance / 1000", "csrf": token}
    )
    assert score.status_code == 200
    assert "gives a float value" in score.text and "condition" not in score.text
    eligible = client.post(
        "/ui/segments/check",
        data={"field": "eligibility", "eligibility": "age >= 50", "csrf": token},
    )
    assert "<strong data-size>10</strong>" in eligible.text


TOP_UP = """\
kind: EventType
name: top_up
fields: {amount: float, shop: text}
required: [amount]
"""


def test_a_triggered_campaign_is_added_answers_events_and_shows_todays_figures(
    client: TestClient, marketing: Store
) -> None:
    with marketing.session() as s:
        as_code.apply_documents(s, list(yaml.safe_load_all(TOP_UP)), source="t", actor="t")
        s.commit()
    sign_in(client, "marketer")
    post_form(client, "/ui/programs", "/ui/programs", {"name": "moments", "owner": "ana"})
    page = client.get("/ui/programs/moments").text
    assert '<option value="triggered"' in page and 'value="top_up"' in page
    token = csrf_of(page)
    # As it is typed, the rule may read the event once the campaign is triggered by one.
    rule = "event.amount >= 50 and age > 30"
    typed = {"field": "eligibility", "eligibility": rule, "csrf": token}
    outbound = client.post("/ui/segments/check", data=typed)
    assert "are only available in real-time triggers" in outbound.text
    triggered = client.post(
        "/ui/segments/check", data={**typed, "kind": "triggered", "events": "top_up"}
    )
    assert "condition" in triggered.text and "data-size" not in triggered.text
    campaign = {
        "name": "top-up-bonus",
        "kind": "triggered",
        "offers": "GOLD",
        "channels": "sms",
        "eligibility": rule,
        "max_event_age_minutes": "60",
        "priority": "1",
        "control_share": "0",
        "cost_per_contact": "0.02",
        "csrf": token,
    }
    # Triggered with no event type ticked: said next to the events; nothing saved.
    r = client.post("/ui/programs/moments/campaigns", data={**campaign, "events": ""})
    assert r.status_code == 422 and "event types it answers" in _error(r.text, "events")
    assert _program(marketing, "moments")["campaigns"] == []  # type: ignore[index]
    r = client.post(
        "/ui/programs/moments/campaigns",
        data={**campaign, "events": "top_up"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (saved,) = _program(marketing, "moments")["campaigns"]  # type: ignore[index]
    assert saved["kind"] == "triggered" and saved["events"] == ["top_up"]
    assert saved["max_event_age_minutes"] == 60 and saved["eligibility"] == rule
    page = client.get("/ui/programs/moments").text
    assert "triggered: top_up" in page
    r = post_form(
        client, "/ui/programs/moments", "/ui/programs/moments/status", {"status": "running"}
    )
    assert r.status_code == 303 and _program(marketing, "moments")["status"] == "running"
    now = datetime.now(UTC)
    sent = [
        {
            "id": f"e{i}",
            "type": "top_up",
            "customer_id": c,
            "time": now.isoformat(),
            "payload": {"amount": amount},
        }
        for i, (c, amount) in enumerate([("c35", 80.0), ("c36", 20.0), ("c05", 90.0)])
    ]
    taken = take_events(marketing, sent, now=now)
    assert not taken.rejected
    row = re.search(
        r'<tr data-triggered="top-up-bonus">(.*?)</tr>',
        client.get("/ui/programs/moments").text,
        re.S,
    )
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    # c35 is contacted; c36 topped up too little; c05 (aged 25) is too young.
    assert cells == ["3", "1", "2"]
    assert "not eligible" in row.group(1)
