"""Taking events: checked, stored once, decided under the same contact policy as runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tactica.services import explain, lists, programs, runs
from tactica.services.events import take_events
from tactica.store.db import Store
from tactica.store.models import Contact, EventFigure, EventRow, OutboxEntry
from tests.integration.events.conftest import DOCS, NOW, top_up


def _contacts(store: Store) -> list[Contact]:
    with store.session() as s:
        return list(s.scalars(sa.select(Contact).order_by(Contact.id)))


def test_an_eligible_event_becomes_a_queued_contact_in_the_ledger_and_the_outbox(
    events_store: Store,
) -> None:
    taken = take_events(events_store, [top_up("e1", "c05")], now=NOW)

    assert taken.accepted == 1 and taken.contacts == 1
    (d,) = taken.decided
    assert d.status == "contacted"
    (o,) = d.outcomes
    # c05 has 21 months: the roaming pack asks for 24.
    assert (o.campaign, o.outcome, o.offer, o.channel) == (
        "top-up-bonus",
        "contacted",
        "DATA-5GB",
        "sms",
    )
    (c,) = _contacts(events_store)
    assert (c.customer_id, c.campaign_kind, c.status, c.run_id) == (
        "c05",
        "triggered",
        "queued",
        None,
    )
    assert c.cost == Decimal("0.05")
    with events_store.session() as s:
        row = s.scalar(sa.select(EventRow))
        assert row is not None and c.event_id == row.id
        assert (row.status, row.contacts, row.customer_id) == ("contacted", 1, "c05")
        assert row.payload == {"amount": 60.0, "shop": "online"}
        assert [e.contact_id for e in s.scalars(sa.select(OutboxEntry))] == [c.id]
        figures = {(f.outcome, f.reason): f.count for f in s.scalars(sa.select(EventFigure))}
    assert figures == {("matched", ""): 1, ("contacted", ""): 1}


def test_a_replayed_event_is_accepted_and_not_decided_twice(events_store: Store) -> None:
    first = take_events(events_store, [top_up("e1", "c05")], now=NOW)
    again = take_events(
        events_store, [top_up("e1", "c05"), top_up("e1", "c05")], now=NOW + timedelta(seconds=1)
    )

    assert first.contacts == 1
    assert again.accepted == 0 and again.duplicates == ["e1", "e1"]
    assert len(_contacts(events_store)) == 1


def test_each_campaign_says_why_it_did_not_contact(events_store: Store) -> None:
    with events_store.session() as s:
        lists.add_entry(s, "opt_out", lists.EntryInput("c06", channel="sms"), actor="t")
        s.commit()
    taken = take_events(
        events_store,
        [
            top_up("small", "c05", amount=10),  # the rule: amount below 50
            top_up("new", "c01"),  # tenure 9 months
            top_up("optout", "c06"),
            top_up("nomsisdn", "c07"),
            top_up("noconsent", "c08"),
        ],
        now=NOW,
    )

    said = {
        d.event_id: (d.status, d.outcomes[0].outcome, d.outcomes[0].reason) for d in taken.decided
    }
    assert said == {
        "small": ("no_contact", "not_eligible", "the campaign's rule does not hold"),
        "new": ("no_contact", "not_eligible", "the campaign's rule does not hold"),
        "optout": ("no_contact", "excluded", "opted out (list 'opt_out')"),
        "nomsisdn": ("no_contact", "excluded", "no msisdn"),
        "noconsent": ("no_contact", "excluded", "no consent for sms"),
    }
    assert _contacts(events_store) == []


def test_bad_events_are_reported_by_index_and_the_good_ones_taken(events_store: Store) -> None:
    taken = take_events(
        events_store,
        [
            top_up("good", "c05"),
            top_up("bad-amount", "c06", payload={"amount": "lots"}),
            {"id": "no-type", "customer_id": "c06", "time": NOW.isoformat()},
            top_up("naive-time", "c06", time="2026-11-24T09:00:00"),
            top_up("typo", "c06", payload={"amount": 70, "shopp": "x"}),
            "not an object",
        ],
        now=NOW,
    )

    assert [d.event_id for d in taken.decided] == ["good"]
    problems = {r.index: r.problems for r in taken.rejected}
    assert problems[1] == ("payload.amount: must be a number, got 'lots'",)
    assert problems[2] == ("type: is required",)
    assert "time: must be a time with its offset" in problems[3][0]
    assert problems[4][0].startswith("payload.shopp: not a field of event type 'top_up'")
    assert "an event is an object" in problems[5][0]
    with events_store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(EventRow)) == 1


def test_an_unknown_customer_is_kept_unattributed(events_store: Store) -> None:
    taken = take_events(events_store, [top_up("ghost", "nobody")], now=NOW)

    assert taken.unattributed == ["ghost"]
    with events_store.session() as s:
        row = s.scalar(sa.select(EventRow))
        assert row is not None and row.status == "unattributed"


def test_only_running_programs_decide(events_store: Store) -> None:
    with events_store.session() as s:
        programs.set_status(s, "moments", "paused", actor="t")
        s.commit()
    paused = take_events(events_store, [top_up("p1", "c05")], now=NOW)
    with events_store.session() as s:
        programs.set_status(s, "moments", "running", actor="t")
        s.commit()
    running = take_events(events_store, [top_up("p2", "c05")], now=NOW)

    assert [d.status for d in paused.decided] == ["no_match"]
    assert [d.status for d in running.decided] == ["contacted"]


def test_events_and_runs_share_one_ledger(events_store: Store) -> None:
    # A run's queued contact counts for the event...
    runs.run_program(events_store, "moments", actor="t", now=NOW - timedelta(hours=1))
    ran = {c.customer_id for c in _contacts(events_store)}
    assert "c05" in ran
    taken = take_events(events_store, [top_up("after-run", "c05")], now=NOW)
    (o,) = taken.decided[0].outcomes
    assert o.outcome == "policy"
    assert "contacted 1 time in the last 30 days, limit 1 (policy 'one-a-month')" in o.reason
    # ...and an event's contact counts for the next run.
    with events_store.session() as s:
        s.execute(sa.delete(OutboxEntry))
        s.execute(sa.delete(Contact))
        s.commit()
    take_events(events_store, [top_up("before-run", "c09")], now=NOW)
    result = runs.run_program(events_store, "moments", actor="t", now=NOW + timedelta(hours=1))
    assert result is not None
    with events_store.session() as s:
        batch = set(
            s.scalars(sa.select(Contact.customer_id).where(Contact.campaign_kind == "outbound"))
        )
    assert "c09" not in batch and "c10" in batch


def test_two_events_of_one_customer_in_one_batch_respect_the_cap(events_store: Store) -> None:
    taken = take_events(events_store, [top_up("a", "c05"), top_up("b", "c05")], now=NOW)

    assert [d.status for d in taken.decided] == ["contacted", "no_contact"]
    assert taken.decided[1].outcomes[0].outcome == "policy"


def test_a_campaign_capacity_counts_the_day(
    events_store: Store, apply_docs: Callable[[str], None]
) -> None:
    apply_docs(DOCS.replace("    priority: 10\n", "    priority: 10\n    capacity: 2\n"))
    taken = take_events(events_store, [top_up(f"e{i}", f"c{i:02d}") for i in (5, 6, 9)], now=NOW)

    assert [d.outcomes[0].outcome for d in taken.decided] == ["contacted", "contacted", "capacity"]
    assert taken.decided[2].outcomes[0].reason == (
        "campaign capacity reached: 2 contacts today, capacity 2"
    )


def test_an_event_older_than_the_campaign_answers_is_left_alone(
    events_store: Store, apply_docs: Callable[[str], None]
) -> None:
    apply_docs(
        DOCS.replace("    priority: 10\n", "    priority: 10\n    max_event_age_minutes: 60\n")
    )
    late = (NOW - timedelta(hours=3)).isoformat()
    taken = take_events(
        events_store, [top_up("late", "c05", time=late), top_up("fresh", "c06")], now=NOW
    )

    assert [d.outcomes[0].outcome for d in taken.decided] == ["not_eligible", "contacted"]
    assert taken.decided[0].outcomes[0].reason == (
        "the event is 3 h 00 min old, the campaign answers events up to 1 h 00 min old"
    )


def test_budgets_are_spent_by_events_and_runs_alike(
    events_store: Store, apply_docs: Callable[[str], None]
) -> None:
    # The triggered campaign costs 0.05 a contact and may spend 0.10.
    apply_docs(DOCS.replace("    priority: 10\n", "    priority: 10\n    budget: 0.10\n"))
    taken = take_events(events_store, [top_up(f"e{i}", f"c{i:02d}") for i in (5, 6, 9)], now=NOW)

    assert [d.outcomes[0].outcome for d in taken.decided] == ["contacted", "contacted", "capacity"]
    assert taken.decided[2].outcomes[0].reason == (
        "campaign budget 0.1 reached (0.1 spent, 0.05 a contact)"
    )

    # A program budget of 0.12: the events spent 0.10, so the run can afford nobody at 0.05.
    apply_docs(
        DOCS.replace("owner: ana\n", "owner: ana\nbudget: 0.12\n").replace(
            "  - name: monthly\n", "  - name: monthly\n    cost_per_contact: 0.05\n"
        )
    )
    done = runs.run_program(events_store, "moments", actor="t", now=NOW + timedelta(hours=1))
    assert done is not None and done.run_id is not None
    with events_store.session() as s:
        by_run = s.scalar(
            sa.select(sa.func.count()).select_from(Contact).where(Contact.run_id == done.run_id)
        )
    assert by_run == 0
    why = explain.explain_customer(events_store, "c10", run_id=done.run_id)
    (camp,) = why.campaigns
    assert "program budget 0.12 (0.1 spent before this run)" in camp.outcome


def test_concurrent_events_of_one_customer_never_both_pass_the_cap(events_store: Store) -> None:
    """Eight takers at once, each with an event of the same customer: one contact."""
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def taker(k: int) -> None:
        try:
            start.wait()
            take_events(events_store, [top_up(f"race-{k}", "c05")], now=NOW)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=taker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert [c.customer_id for c in _contacts(events_store)] == ["c05"]
    with events_store.session() as s:
        statuses = sorted(s.scalars(sa.select(EventRow.status)))
    assert statuses == ["contacted"] + ["no_contact"] * 7


@pytest.mark.parametrize("customers", [["c05"] * 6, [f"c{k:02d}" for k in range(4, 10)]])
def test_one_event_id_sent_by_takers_at_once_is_decided_once(
    events_store: Store, customers: list[str]
) -> None:
    """Six takers at once with the same event id (a producer retrying on several
    connections; and, as a producer's bug, naming six customers): one decision, the
    others answered as duplicates, whoever waited on whom."""
    start = threading.Barrier(len(customers))
    answers: list[Any] = []
    errors: list[BaseException] = []

    def taker(customer: str) -> None:
        try:
            start.wait()
            answers.append(take_events(events_store, [top_up("once", customer)], now=NOW))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=taker, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(len(a.decided) for a in answers) == [0] * (len(customers) - 1) + [1]
    assert sum(a.duplicates == ["once"] for a in answers) == len(customers) - 1
    with events_store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(EventRow)) == 1
    assert len(_contacts(events_store)) <= 1


def test_a_type_declared_a_moment_ago_is_taken_by_the_next_batch(
    events_store: Store, apply_docs: Callable[[str], None]
) -> None:
    # The first batch leaves this process's catalog cached; the type declared next
    # must not be refused by it (on PostgreSQL the cached catalog is used without
    # reading the stamp first, and the stamp that comes back says it moved).
    take_events(events_store, [top_up("warm", "c05")], now=NOW)
    apply_docs(DOCS + "---\nkind: EventType\nname: churn_alert\nfields: {score: float}\n")
    alert = {
        "id": "a1",
        "type": "churn_alert",
        "customer_id": "c06",
        "time": NOW.isoformat(),
        "payload": {"score": 0.9},
    }
    taken = take_events(events_store, [alert], now=NOW)

    assert taken.rejected == []
    assert [(d.event_id, d.status) for d in taken.decided] == [("a1", "no_match")]
