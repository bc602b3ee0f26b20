"""A run killed with SIGKILL at any point resumes without contacting anyone twice.

Each test starts the real ``tactica`` command in a child process, stops it at a named
point (see ``tactica.failpoints``), kills it with SIGKILL there, and runs again.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tactica.services import runs
from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut, Program, Run
from tests.child_process import kill_at, start_tactica, tactica_env

POINTS = ["run.claimed", "run.decided", "run.persisting", "run.committing"]


def _state(store: Store) -> tuple[list[tuple[int, str, int]], int, int]:
    with store.session() as s:
        rs = [(r.id, r.status, r.attempts) for r in s.scalars(sa.select(Run).order_by(Run.id))]
        # A customer is in a campaign's control group or contacted by it, never both.
        both = sa.union_all(
            sa.select(Contact.customer_id, Contact.campaign),
            sa.select(HeldOut.customer_id, HeldOut.campaign),
        ).subquery()
        total = s.scalar(sa.select(sa.func.count()).select_from(both)) or 0
        distinct = (
            s.scalar(
                sa.select(sa.func.count()).select_from(
                    sa.select(both.c.customer_id, both.c.campaign).distinct().subquery()
                )
            )
            or 0
        )
    return rs, int(total), int(distinct)


@pytest.fixture
def child_env(program_store: Store, db_url: str) -> Iterator[tuple[Store, str]]:
    """The program store and its URL, for the child processes."""
    yield program_store, db_url


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_manual_run_resumes_once(
    child_env: tuple[Store, str], tmp_path: Path, point: str
) -> None:
    store, url = child_env
    expected = runs.preview(store, "spring")
    kill_at(start_tactica(["run", "spring"], tactica_env(url, tmp_path, point)), point)
    (killed,), contacts, _ = _state(store)
    assert killed[1] == "running" and contacts == 0  # nothing half-written
    again = subprocess.run(
        [sys.executable, "-m", "tactica", "run", "spring"],
        env=tactica_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert f"run {killed[0]} resumed and completed" in again.stdout
    rs, total, distinct = _state(store)
    assert rs == [(killed[0], "completed", 2)]
    # Every contact once: as many as a clean run makes, none twice.
    assert total == distinct == expected.contacts + expected.held_out


def test_a_killed_scheduled_run_is_finished_by_the_next_tick(
    child_env: tuple[Store, str], tmp_path: Path
) -> None:
    store, url = child_env
    _make_due(store)
    kill_at(
        start_tactica(["scheduler", "--once"], tactica_env(url, tmp_path, "run.committing")),
        "run.committing",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tactica", "scheduler", "--once"],
        env=tactica_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "resumed" in done.stdout
    rs, total, distinct = _state(store)
    assert [(status, attempts) for _, status, attempts in rs] == [("completed", 2)]
    assert total == distinct > 0


def _make_due(store: Store) -> None:
    """Schedule 'spring' once, a minute ago, activated ten minutes ago."""
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(
            sa.update(Program)
            .where(Program.name == "spring")
            .values(
                schedule_kind="once",
                schedule_at=now - timedelta(minutes=1),
                status="scheduled",
                activated_at=now - timedelta(minutes=10),
            )
        )
        s.commit()


def test_two_schedulers_started_at_once_run_the_slot_once(
    child_env: tuple[Store, str], tmp_path: Path
) -> None:
    store, url = child_env
    _make_due(store)
    procs = [start_tactica(["scheduler", "--once"], tactica_env(url, tmp_path)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ran = [out for out, _ in outs if "run " in out and "completed" in out]
    assert len(ran) == 1, outs
    rs, total, distinct = _state(store)
    assert [status for _, status, _ in rs] == ["completed"]
    assert total == distinct > 0
