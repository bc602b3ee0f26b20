"""The scheduler: runs programs when their schedule says, each slot exactly once.

Schedules live in the database. Each tick, for every scheduled or running program
with a ``once`` or ``cron`` schedule, the scheduler finds the latest slot that is due
(at or before now, after the program's last scheduled run and after it was
activated) and claims it with the run key ``<program>@<slot>``. The key is unique in
the ``runs`` table, so any number of schedulers, on any number of machines, can tick
at once: one claims the slot, the others find it taken. Slots missed while no
scheduler was running are not replayed one by one: only the latest runs (a marketer
does not want five days of Monday mailings at once), and none older than
:data:`CATCH_UP`.

A scheduled run whose process died is taken over by the next tick (see
:mod:`tactica.services.runs`). A running program whose end date has passed is
completed. Each tick also runs the sales SLA timer: leads still new past their
due time are escalated to their rep's manager.

Once a day (the first tick of each UTC day, or the next one after a failure), the
day's lifecycle events are generated: see :mod:`tactica.services.lifecycle`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tactica.domain.programs import ProgramStatus, Schedule, ScheduleKind
from tactica.errors import TacticaError
from tactica.services import audit, sales
from tactica.services.lifecycle import LifecycleResult, run_daily
from tactica.services.runs import RunResult, RunStatus, has_live_process, run_program
from tactica.store.db import Store
from tactica.store.models import Program, Run

#: How far back a missed slot is still run.
CATCH_UP = timedelta(days=1)
#: Cap on cron slots walked per program per tick (a per-minute cron over a day is 1,440).
_MAX_STEPS = 10_000

ACTOR = "scheduler"
log = logging.getLogger(__name__)


@dataclass
class TickReport:
    """What one tick did: runs executed (or resumed), programs completed, errors,
    and leads escalated for missing their SLA."""

    runs: list[RunResult]
    completed: list[str]
    errors: list[str]
    escalated: int = 0
    #: The day's lifecycle events, on the tick that generated them (else None).
    lifecycle: LifecycleResult | None = None


def _schedule(p: Program) -> Schedule | None:
    if p.schedule_kind == ScheduleKind.ONCE.value and p.schedule_at is not None:
        return Schedule.once(p.schedule_at)
    if p.schedule_kind == ScheduleKind.CRON.value and p.schedule_cron:
        return Schedule.cron(p.schedule_cron)
    return None


def due_slot(
    schedule: Schedule,
    now: datetime,
    after: datetime,
) -> datetime | None:
    """The latest slot of ``schedule`` in ``(after, now]``, or None.

    ``after`` is the last slot already run (or when the program was activated);
    slots older than :data:`CATCH_UP` before ``now`` are skipped.
    """
    after = max(after, now - CATCH_UP)
    if schedule.kind is ScheduleKind.ONCE:
        slot = schedule.next_after(after)
        return slot if slot is not None and slot <= now else None
    latest = None
    t = after
    for _ in range(_MAX_STEPS):
        nxt = schedule.next_after(t)
        if nxt is None or nxt > now:
            break
        latest = t = nxt
    return latest


def _in_dates(p: Program, slot: datetime) -> bool:
    day = slot.astimezone(UTC).date()
    return (p.start_date is None or day >= p.start_date) and (
        p.end_date is None or day <= p.end_date
    )


def due_runs(store: Store, now: datetime) -> tuple[list[tuple[str, datetime]], list[str]]:
    """(program, slot) pairs due now, interrupted scheduled runs first; programs to complete."""
    due: list[tuple[str, datetime]] = []
    finished: list[str] = []
    active = (ProgramStatus.SCHEDULED.value, ProgramStatus.RUNNING.value)
    with store.session() as s:
        for run in s.scalars(
            sa.select(Run).where(Run.status == RunStatus.RUNNING, Run.trigger == "schedule")
        ):
            if run.scheduled_for is not None and not has_live_process(run, now):
                due.append((run.program, run.scheduled_for))
        for p in s.scalars(sa.select(Program).where(Program.status.in_(active))):
            schedule = _schedule(p)
            if schedule is None:
                continue
            if (
                p.end_date is not None
                and now.astimezone(UTC).date() > p.end_date
                and p.status == ProgramStatus.RUNNING.value
            ):
                finished.append(p.name)
                continue
            last = s.scalar(
                sa.select(sa.func.max(Run.scheduled_for)).where(
                    Run.program_id == p.id, Run.trigger == "schedule"
                )
            )
            after = last or p.activated_at or p.updated_at
            slot = due_slot(schedule, now, after)
            if slot is not None and _in_dates(p, slot) and (p.name, slot) not in due:
                due.append((p.name, slot))
    return due, finished


def _complete(store: Store, name: str) -> None:
    with store.session() as s:
        p = s.scalar(sa.select(Program).where(Program.name == name))
        if p is None or p.status != ProgramStatus.RUNNING.value:
            return
        p.status = ProgramStatus.COMPLETED.value
        audit.record(
            s, ACTOR, "status", "program", name, {"status": "running"}, {"status": "completed"}
        )
        s.commit()


def tick(
    store: Store,
    now: datetime | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> TickReport:
    """Run everything that is due now; one program's failure does not stop the others."""
    now = now or datetime.now(UTC)
    due, finished = due_runs(store, now)
    report = TickReport([], [], [])
    for name, slot in due:
        try:
            result = run_program(store, name, actor=ACTOR, now=now, scheduled_for=slot)
        except TacticaError as e:
            report.errors.append(f"{name} @ {slot.isoformat()}: {e.detail}")
            continue
        except Exception as e:  # the run is marked failed; keep serving the other programs
            report.errors.append(f"{name} @ {slot.isoformat()}: {type(e).__name__}: {e}")
            continue
        if result is not None:
            report.runs.append(result)
            if on_run is not None:
                on_run(result)
    for name in finished:
        _complete(store, name)
        report.completed.append(name)
    try:
        report.escalated = escalate_leads(store, now)
    except Exception as e:  # the timer retries next tick; runs must not stop for it
        report.errors.append(f"lead SLA: {type(e).__name__}: {e}")
    _lifecycle_events(store, now, report)
    return report


def _lifecycle_events(store: Store, now: datetime, report: TickReport) -> None:
    """Generate today's lifecycle events if no tick has finished them yet."""
    try:
        report.lifecycle = run_daily(store, now)
    except TacticaError as e:  # the day is not marked done: the next tick tries again
        report.errors.append(f"lifecycle events: {e.detail}")
    except Exception as e:
        report.errors.append(f"lifecycle events: {type(e).__name__}: {e}")
    if report.lifecycle is not None:
        report.errors += [f"lifecycle events: {p}" for p in report.lifecycle.problems]


def escalate_leads(store: Store, now: datetime | None = None) -> int:
    """Escalate the leads past their SLA in one transaction; returns how many."""
    with store.session() as s:
        done = sales.escalate_overdue(s, now or datetime.now(UTC))
        s.commit()
    return len(done)


def sla_timer(store: Store, stop: threading.Event, every: float = 60.0) -> None:
    """Escalate overdue leads every ``every`` seconds until ``stop`` is set (a thread's loop)."""
    while True:
        try:
            escalate_leads(store)
        except Exception:  # a database hiccup: try again next time
            log.exception("lead SLA timer")
        if stop.wait(every):
            return
