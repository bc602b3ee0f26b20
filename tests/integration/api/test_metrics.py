"""``/metrics`` and ``/healthz``: what a scrape shows is what was decided and stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tactica.api.app import create_app
from tactica.config import Settings
from tactica.realtime import metrics
from tactica.services import lists
from tactica.services.events import take_events
from tactica.store.db import Store
from tests.integration.api.conftest import Api
from tests.integration.events import conftest as events_setup
from tests.integration.events.conftest import NOW, top_up

# The events' store (customers, an event type, a running triggered campaign) is a
# fixture of another folder: bound here so these tests can ask for it.
events_store = events_setup.events_store

CAMPAIGN = ("moments", "top-up-bonus")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(api: Api) -> Samples:
    r = api.client.get("/metrics", headers=api.as_("analyst"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _parse(r.text)


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _campaign(samples: Samples, name: str) -> dict[tuple[str, ...], float]:
    """The samples of one per-campaign family for the test campaign, by their other labels."""
    out = {}
    for (sample, labels), value in samples.items():
        got = dict(labels)
        if sample == name and (got.pop("program"), got.pop("campaign")) == CAMPAIGN:
            out[tuple(v for _, v in sorted(got.items()))] = value
    return out


def test_a_scrape_shows_the_decisions_taken(api: Api, events_store: Store) -> None:
    with events_store.session() as s:
        lists.add_entry(s, "opt_out", lists.EntryInput("c06", channel="sms"), actor="t")
        s.commit()
    # The process figures are this process's since it started: compare before and after.
    before = _scrape(api)
    first = take_events(
        events_store,
        [
            top_up("e1", "c05"),  # 21 months, 60: contacted
            top_up("e2", "c01"),  # 9 months: the campaign's rule does not hold
            top_up("e3", "c06"),  # opted out of SMS
            {"id": "e4", "type": "top_up"},  # no customer, no time: rejected
        ],
        source="stream",
        now=NOW,
    )
    again = take_events(events_store, [top_up("e1", "c05")], source="stream", now=NOW)
    assert (first.accepted, len(first.rejected), again.duplicates) == (3, 1, ["e1"])
    after = _scrape(api)

    # Per campaign: exactly what the decisions said (the figures count a reason by its
    # key, the few words of it), summed over reasons and days.
    decided = Counter(
        (o.outcome, o.key) for d in first.decided for o in d.outcomes if o.campaign == CAMPAIGN[1]
    )
    by_outcome = Counter({"matched": sum(decided.values())})
    for (outcome, _), n in decided.items():
        by_outcome[outcome] += n
    events = _campaign(after, "tactica_campaign_events_total")
    suppressed = _campaign(after, "tactica_campaign_suppressed_total")
    assert events == {(outcome,): float(n) for outcome, n in by_outcome.items()}
    assert suppressed == {
        (outcome, key): float(n) for (outcome, key), n in decided.items() if outcome != "contacted"
    }
    assert events == {
        ("matched",): 3.0,
        ("contacted",): 1.0,
        ("not_eligible",): 1.0,
        ("excluded",): 1.0,
    }
    # Labels sort as outcome, reason; the opt-out is named by its list.
    assert sorted(suppressed) == [
        ("excluded", "opted out (list 'opt_out')"),
        ("not_eligible", next(k for o, k in decided if o == "not_eligible")),
    ]

    # Per process: one latency per stored event, one count per status.
    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("tactica_event_decision_seconds_count", source="stream") == first.accepted
    assert delta("tactica_event_decision_seconds_bucket", source="stream", le="+Inf") == 3
    assert delta("tactica_event_decision_seconds_sum", source="stream") > 0
    buckets = {
        dict(labels)["le"]
        for name, labels in after
        if name == "tactica_event_decision_seconds_bucket" and dict(labels)["source"] == "stream"
    }
    assert buckets == {"+Inf", *(str(b) for b in metrics.BUCKETS)}
    assert {
        status: delta("tactica_events_total", source="stream", status=status)
        for status in metrics.STATUSES
    } == {
        "contacted": 1,
        "no_contact": 2,
        "no_match": 0,
        "unattributed": 0,
        "duplicate": 1,
        "rejected": 1,
    }
    # Every source and status is there from the start, at zero when nothing came.
    assert ("tactica_events_total", (("source", "lifecycle"), ("status", "no_match"))) in before


def test_metrics_need_a_token_that_may_read_events(api: Api) -> None:
    r = api.client.get("/metrics")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    for role in ("sales_rep", "integration"):
        assert api.client.get("/metrics", headers=api.as_(role)).status_code == 403, role
    for role in ("analyst", "marketer", "admin"):
        assert api.client.get("/metrics", headers=api.as_(role)).status_code == 200, role


def test_healthz_is_open_and_checks_the_store(api: Api) -> None:
    r = api.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok", "database": "ok"})


def test_healthz_says_503_when_the_store_does_not_answer() -> None:
    # Nothing listens on port 1: refused at once, as a stopped database server is.
    gone = Store("postgresql+psycopg://tactica@127.0.0.1:1/tactica")
    with TestClient(create_app(Settings(secret_key="test"), gone)) as client:
        r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "database": "SELECT 1 failed (OperationalError)"}
    gone.dispose()


_TAKE = """
import json, sys
from datetime import datetime
from tactica.realtime import metrics
from tactica.services.events import take_events
from tactica.store.db import Store
assert metrics.multiprocess_dir(), "not in multiprocess mode"
store = Store(sys.argv[1])
events = json.loads(sys.argv[2])
taken = take_events(store, events, source="cli", now=datetime.fromisoformat(sys.argv[3]))
print(taken.accepted)
"""

_SCRAPE = """
import sys
from tactica.realtime import metrics
from tactica.store.db import Store
with Store(sys.argv[1]).session() as s:
    sys.stdout.write(metrics.exposition(s).decode())
"""


def _child(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_several_processes_add_up_in_multiprocess_mode(events_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, metrics.MULTIPROCESS_ENV: str(folder)}
    batches = [
        [top_up("a1", "c05"), top_up("a2", "c01")],
        [top_up("b1", "c09"), top_up("b2", "c10"), top_up("b3", "c11", amount=5)],
    ]
    taken = [
        int(_child(_TAKE, env, events_store.url, json.dumps(b), NOW.isoformat())) for b in batches
    ]
    assert taken == [2, 3]
    assert len(list(folder.iterdir())) >= 2  # a file per process

    # A third process, the one scraped, sees every process's events.
    scraped = _parse(_child(_SCRAPE, env, events_store.url))
    assert _value(scraped, "tactica_event_decision_seconds_count", source="cli") == 5
    assert _value(scraped, "tactica_events_total", source="cli", status="contacted") == 3
    assert _value(scraped, "tactica_events_total", source="cli", status="no_contact") == 2
    assert _campaign(scraped, "tactica_campaign_events_total")[("matched",)] == 5


def test_serve_with_workers_shares_a_metrics_folder_it_removes_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tactica.cli import serve as serve_module
    from tactica.cli.serve import serve

    monkeypatch.setenv("TACTICA_HOME", str(tmp_path))
    monkeypatch.setenv("TACTICA_SECRET_KEY", "test-secret")
    monkeypatch.delenv("TACTICA_DATABASE_URL", raising=False)
    monkeypatch.delenv(metrics.MULTIPROCESS_ENV, raising=False)
    seen: list[str] = []

    def run(host: str, port: int, workers: int) -> None:
        folder = os.environ[metrics.MULTIPROCESS_ENV]
        assert workers == 3 and Path(folder).is_dir()
        seen.append(folder)

    monkeypatch.setattr(serve_module, "_serve_workers", run)
    serve(host="127.0.0.1", port=0, upgrade=False, dispatch=False, sla=False, workers=3)
    (folder,) = seen
    assert not Path(folder).exists()
    # ...and no longer named to anything this process starts next.
    assert metrics.MULTIPROCESS_ENV not in os.environ

    # A folder the operator chose is theirs: used as it is, and left in place.
    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.setenv(metrics.MULTIPROCESS_ENV, str(mine))
    seen.clear()
    serve(host="127.0.0.1", port=0, upgrade=False, dispatch=False, sla=False, workers=3)
    assert seen == [str(mine)] and mine.is_dir()
