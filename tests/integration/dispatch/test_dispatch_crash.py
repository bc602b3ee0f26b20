"""A dispatch worker killed with SIGKILL mid-batch: after a restart, every contact once.

The real ``tactica dispatch`` runs in a child process against a real local SMS
gateway started here; it is killed at a named point (see ``tactica.failpoints``)
after the gateway took a batch and before the worker recorded it. The restarted
worker sends that batch again when its lease ends, with the same idempotency keys:
the gateway keeps one message per key, so what it received is each contact once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tactica.channels.local_peers import LocalSmsGateway
from tactica.store.db import Store
from tactica.store.models import Contact
from tests.integration.dispatch.conftest import add_channel, outbox_size, outbox_store, statuses


def _env(db_url: str, home: Path, failpoint: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TACTICA_HOME": str(home), "TACTICA_DATABASE_URL": db_url, "COLUMNS": "200"})
    env.pop("TACTICA_FAILPOINTS", None)
    if failpoint:
        env["TACTICA_FAILPOINTS"] = failpoint
    return env


def _dispatch(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tactica", "dispatch", "--drain", "--batch", "5", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_at(proc: subprocess.Popen[str], point: str, timeout: float = 60.0) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if f"failpoint {point} reached" in line:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return
    proc.kill()
    raise AssertionError(f"never reached {point}: {''.join(seen)}")


@pytest.mark.parametrize("point", ["dispatch.claimed", "dispatch.sent"])
def test_a_killed_worker_leaves_every_contact_sent_exactly_once(
    store: Store, db_url: str, tmp_path: Path, point: str
) -> None:
    outbox_store(store)
    with LocalSmsGateway(api_key="k") as gateway:
        add_channel(store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"})
        _kill_at(_dispatch(_env(db_url, tmp_path, point), "--lease", "1"), point)
        # Killed holding a claimed batch: nothing recorded, nothing lost.
        assert statuses(store, "sms") == {"queued": 24}
        assert outbox_size(store, "sms") == 24
        before = len(gateway.messages)
        assert before == (5 if point == "dispatch.sent" else 0)
        time.sleep(1.2)  # the dead worker's lease runs out
        done = _dispatch(_env(db_url, tmp_path), "--channel", "gw")
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err
        assert "gw: 24 sent, 0 failed" in out
        keys = [m["idempotency_key"] for m in gateway.messages]
        assert len(keys) == len(set(keys)) == 24
        if point == "dispatch.sent":
            assert gateway.requests == 6  # the killed batch went twice, one message each
    assert statuses(store, "sms") == {"sent": 24}
    assert outbox_size(store, "sms") == 0
    with store.session() as s:
        tries = set(s.scalars(sa.select(Contact.attempts).where(Contact.channel == "sms")))
    assert tries == {1}
