"""Workers as they run for real: picked up when a channel is configured, two never collide."""

from __future__ import annotations

import threading
import time

from tactica.channels.local_peers import LocalSmsGateway
from tactica.services.dispatch import WorkerOptions, supervise
from tactica.store.db import Store
from tests.integration.dispatch.conftest import add_channel, outbox_size, statuses

FAST = WorkerOptions(batch_size=3, idle_seconds=0.05)


def _until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_two_supervisors_send_every_contact_once_including_a_channel_added_later(
    dispatch_store: Store, gateway: LocalSmsGateway
) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=supervise, args=(dispatch_store, FAST, stop), kwargs={"poll_seconds": 0.1}
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)  # running, with nothing configured yet
        assert gateway.messages == []
        add_channel(
            dispatch_store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"}
        )
        _until(lambda: outbox_size(dispatch_store, "sms") == 0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert statuses(dispatch_store, "sms") == {"sent": 24}
    keys = [m["idempotency_key"] for m in gateway.messages]
    assert len(keys) == len(set(keys)) == 24
    # With no crash and no lost lease, no batch went to the gateway twice.
    assert gateway.requests == 8
