"""A dispatch worker killed with SIGKILL mid-batch: after a restart, every contact once.

The real ``tactica dispatch`` runs in a child process against a real local SMS
gateway started here; it is killed at a named point (see ``tactica.failpoints``)
after the gateway took a batch and before the worker recorded it. The restarted
worker sends that batch again when its lease ends, with the same idempotency keys:
the gateway keeps one message per key, so what it received is each contact once.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tactica.channels.local_peers import LocalSmsGateway
from tactica.store.db import Store
from tactica.store.models import Contact
from tests.child_process import kill_at, start_tactica, tactica_env
from tests.integration.dispatch.conftest import add_channel, outbox_size, outbox_store, statuses


def _dispatch(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return start_tactica(["dispatch", "--drain", "--batch", "5", *extra], env)


@pytest.mark.parametrize("point", ["dispatch.claimed", "dispatch.sent"])
def test_a_killed_worker_leaves_every_contact_sent_exactly_once(
    store: Store, db_url: str, tmp_path: Path, point: str
) -> None:
    outbox_store(store)
    with LocalSmsGateway(api_key="k") as gateway:
        add_channel(store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"})
        kill_at(_dispatch(tactica_env(db_url, tmp_path, point), "--lease", "1"), point)
        # Killed holding a claimed batch: nothing recorded, nothing lost.
        assert statuses(store, "sms") == {"queued": 24}
        assert outbox_size(store, "sms") == 24
        before = len(gateway.messages)
        assert before == (5 if point == "dispatch.sent" else 0)
        time.sleep(1.2)  # the dead worker's lease runs out
        done = _dispatch(tactica_env(db_url, tmp_path), "--channel", "gw")
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
