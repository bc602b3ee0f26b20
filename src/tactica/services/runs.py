"""Running a program: claim a run, decide, and persist every contact, all or nothing.

A run goes through three steps, and a crash at any moment leaves the store in a state
the next attempt can finish from:

1. **Claim** (one short transaction): a ``runs`` row with a unique run key, the
   decision time ``as_of`` and a snapshot of the definitions, status ``running``.
2. **Decide** (no writes): read customers, history and lists; the engine decides.
3. **Persist** (one transaction): every contact, every held-out member, the funnel per
   campaign, the suppression log, and the run marked ``completed``.

A process killed before step 3 commits has written no contact; its run stays
``running`` with a dead process behind it, and the next attempt (``tactica run`` again,
or the scheduler's next tick for a scheduled run) takes the run over and decides
again from the same snapshot at the same ``as_of``. A process killed after the commit
left a completed run that no scheduler will run again (its key is taken). Contacts
are unique per (run, customer, campaign) besides.

The ledger lock (:mod:`tactica.store.locks`) is held from reading the history to the
commit, so runs that overlap in time still never push a customer past a cap.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tactica.config import get_settings
from tactica.domain.policy import ContactStatus
from tactica.domain.programs import ProgramStatus, ScheduleKind
from tactica.engine.decide import decide_batch
from tactica.engine.plan import BatchDecision, FunnelRow
from tactica.engine.suppression_log import read_log
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.failpoints import failpoint
from tactica.services import audit
from tactica.services.programs import get_program, runnable_problems
from tactica.services.run_inputs import read_inputs, run_limits, take_snapshot
from tactica.store.db import Store
from tactica.store.locks import ledger_lock
from tactica.store.models import Contact, Program, Run, RunCampaign, RunLog
from tactica.store.outbox import enqueue_run
from tactica.store.run_writes import insert_contacts, insert_held_out

#: A running run whose heartbeat is older than this has lost its process.
LEASE = timedelta(seconds=60)
#: How often a live run says so.
HEARTBEAT_EVERY = 5.0

#: Program statuses a run may start from (a paused program waits, a finished one is done).
RUNNABLE = frozenset(
    {ProgramStatus.DRAFT.value, ProgramStatus.SCHEDULED.value, ProgramStatus.RUNNING.value}
)


class RunStatus:
    """The statuses a run goes through."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"  # the program was paused or cancelled before the run committed
    FAILED = "failed"


@dataclass
class RunResult:
    """What a run (or a dry run, with ``run_id`` None) decided."""

    program: str
    as_of: datetime
    funnel: list[FunnelRow]
    run_id: int | None = None
    status: str = "dry-run"
    resumed: bool = False
    contacts: int = 0
    held_out: int = 0
    cost: Decimal = Decimal("0")
    notes: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _host() -> str:
    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def has_live_process(run: Run, now: datetime | None = None) -> bool:
    """True when the process running ``run`` is (as far as can be told) still at it."""
    now = now or _now()
    if run.host == _host() and not _pid_alive(run.pid):
        return False
    return now - run.heartbeat_at < LEASE


def _check_runnable(session: Session, p: Program) -> None:
    if p.status not in RUNNABLE:
        raise Conflict(f"program {p.name!r} is {p.status}: it cannot run now")
    problems = runnable_problems(session, p)
    if problems:
        raise InvalidInput(f"program {p.name!r} cannot run:\n- " + "\n- ".join(problems))


def preview(store: Store, program: str, *, now: datetime | None = None) -> RunResult:
    """Decide ``program`` as a run would now, and write nothing (``--dry-run``)."""
    now = now or _now()
    with store.session() as s:
        p = get_program(s, program)
        problems = runnable_problems(s, p)
        if problems:
            raise InvalidInput(f"program {p.name!r} cannot run:\n- " + "\n- ".join(problems))
        snapshot = take_snapshot(s, p)
        inputs = replace(read_inputs(store, s, snapshot, now), limits=run_limits(s, snapshot, now))
        decision = decide_batch(
            inputs, suppression_log=False, memory_limit=get_settings().engine_memory
        )
    return _result(program, now, decision)


def _result(program: str, as_of: datetime, decision: BatchDecision) -> RunResult:
    return RunResult(
        program=program,
        as_of=as_of,
        funnel=decision.funnel,
        contacts=decision.contacts.num_rows,
        held_out=decision.held_out.num_rows,
        cost=sum((f.cost for f in decision.funnel), Decimal("0")),
    )


# --------------------------------------------------------------------------- claim


def _take_over(session: Session, run: Run) -> bool:
    """Make a run whose process died ours; False if another process was quicker."""
    taken = session.execute(
        sa.update(Run)
        .where(Run.id == run.id, Run.status == RunStatus.RUNNING)
        .where(Run.heartbeat_at == run.heartbeat_at, Run.attempts == run.attempts)
        .values(
            host=_host(),
            pid=os.getpid(),
            heartbeat_at=_now(),
            attempts=run.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(cast("CursorResult[Any]", taken).rowcount)


def claim_run(
    store: Store,
    program: str,
    *,
    actor: str,
    now: datetime | None = None,
    scheduled_for: datetime | None = None,
) -> tuple[int, bool] | None:
    """Claim a run of ``program``: (run id, resumed), or None when there is nothing to do.

    A manual run (``scheduled_for`` None) takes over the program's interrupted run if
    it has one, else starts a new run. A scheduled run is keyed by its time: claiming
    a key that is already taken returns None, unless that run was interrupted, in
    which case it is taken over. A run still alive elsewhere raises Conflict (manual)
    or returns None (scheduled).
    """
    now = now or _now()
    with store.session() as s:
        p = get_program(s, program)
        _check_runnable(s, p)
        if scheduled_for is None:
            open_runs = s.scalars(
                sa.select(Run)
                .where(Run.program == p.name, Run.status == RunStatus.RUNNING)
                .order_by(Run.id)
            ).all()
            for run in open_runs:
                if has_live_process(run, now):
                    raise Conflict(
                        f"program {p.name!r} is being run right now (run {run.id}, "
                        f"process {run.pid} on {run.host})"
                    )
                if _take_over(s, run):
                    s.commit()
                    return run.id, True
            key = f"{p.name}@manual-{uuid.uuid4().hex[:12]}"
        else:
            key = f"{p.name}@{scheduled_for.astimezone(UTC).isoformat()}"
            existing = s.scalar(sa.select(Run).where(Run.run_key == key))
            if existing is not None:
                if existing.status != RunStatus.RUNNING or has_live_process(existing, now):
                    return None
                if _take_over(s, existing):
                    s.commit()
                    return existing.id, True
                return None
        run = Run(
            run_key=key,
            program_id=p.id,
            program=p.name,
            trigger="manual" if scheduled_for is None else "schedule",
            scheduled_for=scheduled_for,
            as_of=now,
            status=RunStatus.RUNNING,
            actor=actor,
            started_at=now,
            heartbeat_at=_now(),
            host=_host(),
            pid=os.getpid(),
            attempts=1,
            policy=p.policy,
            snapshot=take_snapshot(s, p),
            candidates=0,
            contacts=0,
            held_out=0,
            cost=Decimal("0"),
        )
        s.add(run)
        try:
            s.commit()
        except IntegrityError:
            # Another scheduler claimed the same key a moment earlier.
            s.rollback()
            return None
        return run.id, False


# --------------------------------------------------------------------------- execute


@contextmanager
def _heartbeat(store: Store, run_id: int) -> Iterator[None]:
    """Keep the run's heartbeat fresh while the block runs (in a thread)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY):
            try:
                with store.session() as s:
                    s.execute(
                        sa.update(Run)
                        .where(Run.id == run_id, Run.pid == os.getpid(), Run.host == _host())
                        .values(heartbeat_at=_now())
                    )
                    s.commit()
            except sa.exc.OperationalError:
                # The store is busy (our own commit, say): the next beat will do.
                continue

    thread = threading.Thread(target=beat, name=f"run-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def execute_run(store: Store, run_id: int, *, resumed: bool = False) -> RunResult:
    """Decide a claimed run and persist it; marks the run failed if deciding fails."""
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        snapshot, as_of, program = run.snapshot, run.as_of, run.program
    failpoint("run.claimed")
    try:
        with _heartbeat(store, run_id), ledger_lock(store):
            with store.session() as s:
                inputs = read_inputs(store, s, snapshot, as_of)
                inputs = replace(inputs, limits=run_limits(s, snapshot, as_of))
            decision = decide_batch(inputs, memory_limit=get_settings().engine_memory)
            failpoint("run.decided")
            result = _result(program, as_of, decision)
            result.run_id, result.resumed = run_id, resumed
            result.status = _persist(store, run_id, snapshot, decision, result)
    except Exception as exc:
        _fail(store, run_id, exc)
        raise
    return result


def run_program(
    store: Store,
    program: str,
    *,
    actor: str,
    now: datetime | None = None,
    scheduled_for: datetime | None = None,
) -> RunResult | None:
    """Claim and execute a run of ``program`` (None: a scheduled run already taken)."""
    claimed = claim_run(store, program, actor=actor, now=now, scheduled_for=scheduled_for)
    if claimed is None:
        return None
    run_id, resumed = claimed
    return execute_run(store, run_id, resumed=resumed)


def _fail(store: Store, run_id: int, exc: Exception) -> None:
    with store.session() as s:
        s.execute(
            sa.update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.RUNNING)
            .values(status=RunStatus.FAILED, error=str(exc)[:4000], finished_at=_now())
        )
        s.commit()


def _suppression_log(decision: BatchDecision) -> bytes:
    """The compact suppression log the engine wrote (see tactica.engine.suppression_log)."""
    return decision.suppression_log


def _with_run(rows: pa.Table, run_id: int, program: str, **constants: str) -> pa.Table:
    """The engine's ``rows`` with the run's id, program and any other constant columns.

    The bulk writes take the columns their table has and ignore the rest.
    """
    n = rows.num_rows
    rows = rows.append_column("run_id", pa.repeat(pa.scalar(run_id, pa.int64()), n))
    for name, value in {"program": program, **constants}.items():
        rows = rows.append_column(name, pa.repeat(pa.scalar(value, pa.string()), n))
    return rows


def _persist(
    store: Store,
    run_id: int,
    snapshot: dict[str, Any],
    decision: BatchDecision,
    result: RunResult,
) -> str:
    """Write the run's outcome in one transaction; returns the run's final status."""
    with store.session() as s:
        # Write first: on SQLite a transaction that reads and then writes fails at once
        # ("database is locked") when another connection, such as this run's own
        # heartbeat, committed in between; a first write waits for the lock instead.
        # On PostgreSQL it locks the run's row, as FOR UPDATE would.
        s.execute(
            sa.update(Run)
            .where(Run.id == run_id)
            .values(heartbeat_at=_now())
            .execution_options(synchronize_session=False)
        )
        run = s.get(Run, run_id, with_for_update=True)
        if run is None or run.status != RunStatus.RUNNING or run.pid != os.getpid():
            raise Conflict(f"run {run_id} was taken over by another process")
        program = s.get(Program, run.program_id) if run.program_id is not None else None
        if program is None or program.status not in RUNNABLE:
            # Paused or cancelled while deciding: stop here, at the clean boundary.
            status = program.status if program is not None else "deleted"
            run.status, run.finished_at = RunStatus.STOPPED, _now()
            run.error = f"program was {status} before the run committed; nothing was written"
            result.notes.append(run.error)
            s.commit()
            return RunStatus.STOPPED
        failpoint("run.persisting")
        queued = ContactStatus.QUEUED.value
        contacts = _with_run(decision.contacts, run_id, run.program, status=queued)
        insert_contacts(s, contacts, run.as_of)
        insert_held_out(s, _with_run(decision.held_out, run_id, run.program), run.as_of)
        # Due at once, and no later than the run's own moment: a run decided for a
        # past time (a back-dated or resumed one) is due from then, so a worker
        # that sends "as of" that time finds it; one decided ahead is sent now.
        enqueue_run(s, run_id, min(run.as_of, _now()))
        for i, f in enumerate(decision.funnel):
            s.add(
                RunCampaign(
                    run_id=run_id,
                    campaign=f.campaign,
                    position=i,
                    candidates=f.candidates,
                    excluded=dict(f.excluded),
                    held_out=f.held_out,
                    after_policy=f.after_policy,
                    after_arbitration=f.after_arbitration,
                    after_capacity=f.after_capacity,
                    contacts=f.after_capacity,
                    cost=f.cost,
                )
            )
        s.add(
            RunLog(
                run_id=run_id,
                suppressed=_suppression_log(decision),
                rows=decision.suppressed_rows,
            )
        )
        run.candidates = sum(f.candidates for f in decision.funnel)
        run.contacts, run.held_out, run.cost = result.contacts, result.held_out, result.cost
        run.status, run.finished_at = RunStatus.COMPLETED, _now()
        before = program.status
        if run.trigger == "schedule" and program.schedule_kind == ScheduleKind.ONCE.value:
            program.status = ProgramStatus.COMPLETED.value
        elif program.status != ProgramStatus.RUNNING.value:
            program.status = ProgramStatus.RUNNING.value
        if program.status != before:
            audit.record(
                s,
                run.actor or "system",
                "status",
                "program",
                program.name,
                {"status": before},
                {"status": program.status},
            )
        failpoint("run.committing")
        s.commit()
    return RunStatus.COMPLETED


# --------------------------------------------------------------------------- read


def get_run(session: Session, run_id: int) -> Run:
    """The run with this id."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def list_runs(session: Session, program: str | None = None, limit: int = 50) -> list[Run]:
    """The latest runs, newest first, optionally of one program."""
    q = sa.select(Run).order_by(Run.id.desc()).limit(limit)
    if program is not None:
        q = q.where(Run.program == program)
    return list(session.scalars(q))


def run_funnel(session: Session, run_id: int) -> list[RunCampaign]:
    """A run's funnel, one row per campaign in the program's order."""
    return list(
        session.scalars(
            sa.select(RunCampaign)
            .where(RunCampaign.run_id == run_id)
            .order_by(RunCampaign.position)
        )
    )


def delivery(session: Session, run_id: int) -> dict[str, dict[str, int]]:
    """Where the run's contacts are now, per campaign: status → contacts.

    ``queued`` (in the outbox), ``sent``, ``delivered``, ``failed``, as dispatch and the
    gateways' receipts move them.
    """
    rows = session.execute(
        sa.select(Contact.campaign, Contact.status, sa.func.count())
        .where(Contact.run_id == run_id)
        .group_by(Contact.campaign, Contact.status)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for campaign, status, n in rows:
        out.setdefault(campaign, {})[status] = int(n)
    return out


def responses_of(session: Session, run_id: int) -> dict[str, dict[str, Any]]:
    """What came back for the run's contacts, per campaign.

    ``responses`` in all, then how many became each result (``order``, ``lead``,
    ``opt_out``, ``review``...), and ``revenue``: the booked orders' amount.
    """
    from tactica.store.models import Order, Response

    out: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        sa.select(Contact.campaign, Response.result, sa.func.count())
        .join(Contact, Contact.id == Response.contact_id)
        .where(Contact.run_id == run_id)
        .group_by(Contact.campaign, Response.result)
    ).all()
    for campaign, result, n in rows:
        got = out.setdefault(campaign, {"responses": 0, "revenue": "0"})
        got["responses"] += int(n)
        got[result] = int(n)
    for campaign, amount in session.execute(
        sa.select(Contact.campaign, sa.func.sum(Order.amount))
        .join(Contact, Contact.id == Order.contact_id)
        .where(Contact.run_id == run_id, Order.status == "booked")
        .group_by(Contact.campaign)
    ):
        got = out.setdefault(campaign, {"responses": 0})
        got["revenue"] = format(Decimal(str(amount or 0)).quantize(Decimal("0.01")), "f")
    return out


def run_view(session: Session, run: Run) -> dict[str, Any]:
    """A run as the API and ``tactica runs show`` present it."""
    now = delivery(session, run.id)
    came_back = responses_of(session, run.id)
    return {
        "id": run.id,
        "program": run.program,
        "run_key": run.run_key,
        "trigger": run.trigger,
        "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
        "as_of": run.as_of.isoformat(),
        "status": run.status,
        "actor": run.actor,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "attempts": run.attempts,
        "policy": run.policy,
        "error": run.error,
        "contacts": run.contacts,
        "held_out": run.held_out,
        "cost": format(run.cost, "f"),
        "campaigns": [
            {
                "campaign": f.campaign,
                "candidates": f.candidates,
                "excluded": dict(f.excluded),
                "held_out": f.held_out,
                "after_policy": f.after_policy,
                "after_arbitration": f.after_arbitration,
                "after_capacity": f.after_capacity,
                "contacts": f.contacts,
                "cost": format(f.cost, "f"),
                "delivery": now.get(f.campaign, {}),
                "responses": came_back.get(f.campaign, {}),
            }
            for f in run_funnel(session, run.id)
        ],
    }


def suppressions_of(session: Session, run_id: int, customer_id: str) -> list[dict[str, Any]]:
    """Why run ``run_id`` left ``customer_id`` out of each campaign it was a candidate of."""
    log = session.get(RunLog, run_id)
    if log is None:
        return []
    return list(read_log(log.suppressed, customer_id).to_pylist())
