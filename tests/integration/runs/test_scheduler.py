"""The scheduler: due slots, once and cron, end dates, each slot run once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import yaml

from tactica.domain.programs import Schedule
from tactica.services import programs, scheduler
from tactica.store.db import Store
from tactica.store.models import Contact, Program, Run
from tests.integration.runs.conftest import NOW

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def test_due_slot_takes_the_latest_missed_slot_within_a_day() -> None:
    weekly = Schedule.cron("0 9 * * 1")
    last_week = MONDAY_9 - timedelta(days=7)
    assert scheduler.due_slot(weekly, MONDAY_9 + timedelta(minutes=5), last_week) == MONDAY_9
    assert scheduler.due_slot(weekly, MONDAY_9 - timedelta(minutes=1), last_week) is None
    # Ran already: nothing more until next Monday.
    assert scheduler.due_slot(weekly, MONDAY_9 + timedelta(hours=2), MONDAY_9) is None
    # Missed by two days: too old to run now.
    assert scheduler.due_slot(weekly, MONDAY_9 + timedelta(days=2), last_week) is None
    hourly = Schedule.cron("0 * * * *")
    got = scheduler.due_slot(
        hourly, MONDAY_9 + timedelta(minutes=30), MONDAY_9 - timedelta(hours=5)
    )
    assert got == MONDAY_9  # 04:00 .. 09:00 missed: only 09:00 runs
    once = Schedule.once(MONDAY_9)
    assert scheduler.due_slot(once, MONDAY_9, MONDAY_9 - timedelta(hours=1)) == MONDAY_9
    assert scheduler.due_slot(once, MONDAY_9, MONDAY_9) is None


def _schedule(store: Store, apply_yaml: Callable[[str], None], schedule: str, **extra: str) -> None:
    with store.session() as s:
        doc = programs.program_data(s, programs.get_program(s, "spring"))
    doc["schedule"] = yaml.safe_load(schedule)
    doc.update(extra)
    apply_yaml(yaml.safe_dump({"kind": "Program", **doc}))
    with store.session() as s:
        programs.set_status(s, "spring", "scheduled", actor="t")
        s.execute(
            sa.update(Program)
            .where(Program.name == "spring")
            .values(activated_at=MONDAY_9 - timedelta(hours=2))
        )
        s.commit()


def _runs(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as s:
        return [
            (r.trigger, r.scheduled_for.isoformat() if r.scheduled_for else "", r.status)
            for r in s.scalars(sa.select(Run).order_by(Run.id))
        ]


def test_a_daily_program_runs_once_per_slot(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    _schedule(program_store, apply_yaml, '{cron: "0 9 * * *"}')
    assert scheduler.tick(program_store, now=MONDAY_9 - timedelta(minutes=1)).runs == []
    first = scheduler.tick(program_store, now=MONDAY_9 + timedelta(minutes=1))
    assert [r.status for r in first.runs] == ["completed"]
    assert scheduler.tick(program_store, now=MONDAY_9 + timedelta(minutes=2)).runs == []
    tuesday = scheduler.tick(program_store, now=MONDAY_9 + timedelta(days=1, minutes=3))
    assert len(tuesday.runs) == 1
    assert _runs(program_store) == [
        ("schedule", MONDAY_9.isoformat(), "completed"),
        ("schedule", (MONDAY_9 + timedelta(days=1)).isoformat(), "completed"),
    ]
    with program_store.session() as s:
        assert programs.get_program(s, "spring").status == "running"
        # Tuesday's run read Monday's contacts: gap 48 h and 3 in 30 days still hold.
        pairs = s.execute(
            sa.select(Contact.customer_id, sa.func.count())
            .where(Contact.status == "queued")
            .group_by(Contact.customer_id)
        ).all()
        assert all(n == 1 for _, n in pairs)


def test_a_once_program_completes_and_an_ended_one_is_completed(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    _schedule(program_store, apply_yaml, f"{{once: '{MONDAY_9.isoformat()}'}}")
    report = scheduler.tick(program_store, now=MONDAY_9 + timedelta(minutes=10))
    assert len(report.runs) == 1
    with program_store.session() as s:
        assert programs.get_program(s, "spring").status == "completed"
    assert scheduler.tick(program_store, now=MONDAY_9 + timedelta(hours=1)).runs == []


def test_end_date_completes_a_running_program(
    program_store: Store, apply_yaml: Callable[[str], None]
) -> None:
    _schedule(program_store, apply_yaml, '{cron: "0 9 * * *"}', end="2026-11-23")
    assert len(scheduler.tick(program_store, now=MONDAY_9 + timedelta(minutes=1)).runs) == 1
    report = scheduler.tick(program_store, now=MONDAY_9 + timedelta(days=1, minutes=1))
    assert report.runs == [] and report.completed == ["spring"]
    with program_store.session() as s:
        assert programs.get_program(s, "spring").status == "completed"


def test_now_fixture_is_monday() -> None:
    assert NOW.date() == MONDAY_9.date() and MONDAY_9.weekday() == 0
