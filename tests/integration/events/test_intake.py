"""Requests arriving together are decided together, and each gets its own answer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tactica.services import events
from tactica.services.event_intake import EventIntake
from tactica.services.events import EventsTaken
from tactica.store.db import Store
from tactica.store.models import Contact, EventRow
from tests.integration.events.conftest import top_up


def _send_together(intake: EventIntake, requests: list[list[Any]]) -> list[EventsTaken]:
    start = threading.Barrier(len(requests))
    out: list[EventsTaken | None] = [None] * len(requests)

    def send(k: int) -> None:
        start.wait()
        future = intake.submit(requests[k], arrived=datetime.now(UTC), started=time.perf_counter())
        out[k] = future.result(timeout=60)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_each_request_gets_its_own_answer_from_a_shared_transaction(
    events_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    take = events.take_events

    def counting(store: Store, raw: Any, **kw: Any) -> EventsTaken:
        calls.append(len(raw))
        time.sleep(0.05)  # a slow commit: the requests behind it pile up
        return take(store, raw, **kw)

    monkeypatch.setattr("tactica.services.event_intake.take_events", counting)
    requests: list[list[Any]] = [[top_up(f"e{k}", f"c{k:02d}")] for k in range(12)]
    requests.append([top_up("e3", "c03")])  # the same event as request 3: taken once
    requests.append([top_up("bad", "c05", amount="lots"), top_up("e99", "ghost")])
    intake = EventIntake(events_store)
    try:
        answers = _send_together(intake, requests)
    finally:
        intake.close()

    # Fewer transactions than requests, and every event in exactly one of them.
    assert len(calls) < len(requests) and sum(calls) == sum(len(r) for r in requests)
    stored = {a.decided[0].event_id for a in answers[:13] if a.decided}
    duplicates = [d for a in answers[:13] for d in a.duplicates]
    assert len(stored) + len(duplicates) == 13 and sorted(stored | set(duplicates)) == sorted(
        f"e{k}" for k in range(12)
    )
    last = answers[13]
    assert [r.index for r in last.rejected] == [0]
    assert last.rejected[0].problems == ("payload.amount: must be a number, got 'lots'",)
    assert [(d.index, d.event_id, d.status) for d in last.decided] == [(1, "e99", "unattributed")]
    with events_store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(EventRow)) == 13
        per_event = s.execute(
            sa.select(Contact.event_id, sa.func.count()).group_by(Contact.event_id)
        ).all()
    assert all(n == 1 for _, n in per_event)


def test_a_failing_transaction_fails_every_request_in_it(
    events_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(store: Store, raw: Any, **kw: Any) -> EventsTaken:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("tactica.services.event_intake.take_events", broken)
    intake = EventIntake(events_store)
    try:
        future = intake.submit([top_up("x", "c05")], arrived=datetime.now(UTC), started=0.0)
        with pytest.raises(RuntimeError, match="the database went away"):
            future.result(timeout=30)
        # The intake goes on: the next request is taken (and fails the same way here).
        again = intake.submit([top_up("y", "c05")], arrived=datetime.now(UTC), started=0.0)
        with pytest.raises(RuntimeError):
            again.result(timeout=30)
    finally:
        intake.close()
    with pytest.raises(RuntimeError, match="closed"):
        intake.submit([], arrived=datetime.now(UTC), started=0.0)
