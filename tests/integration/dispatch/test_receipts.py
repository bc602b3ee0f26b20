"""Delivery receipts, from a real local gateway to the API served over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.channels.local_peers import LocalSmsGateway
from tactica.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tactica.config import Settings
from tactica.services.dispatch import ChannelWorker, WorkerOptions
from tactica.store.db import Store
from tests.integration.dispatch.conftest import Clock, add_channel, statuses

SECRET = "receipts-secret"


@pytest.fixture
def api_url(dispatch_store: Store) -> Iterator[str]:
    """The app, served by uvicorn on a free local port, in a thread."""
    with serving(create_app(Settings(secret_key="test"), dispatch_store)) as url:
        yield url


def _post(url: str, body: bytes, secret: str = SECRET) -> httpx.Response:
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }
    return httpx.post(url, content=body, headers=headers)


def test_receipts_from_the_gateway_mark_contacts_delivered_or_failed(
    dispatch_store: Store, api_url: str, clock: Clock
) -> None:
    with LocalSmsGateway(
        api_key="k",
        receipts_url=f"{api_url}/receipts/gw",
        receipts_secret=SECRET,
        undeliverable_prefixes=("+35191000000",),  # c00..c09 never reach a handset
    ) as gateway:
        add_channel(
            dispatch_store,
            "gw",
            "sms_http",
            "sms",
            settings={"url": gateway.url, "api_key": "k", "receipts_token": SECRET},
        )
        worker = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
        assert worker.step().sent == 24
        worker.close()
        deadline = time.monotonic() + 10
        while statuses(dispatch_store, "sms").get("sent") and time.monotonic() < deadline:
            gateway.flush_receipts()
            time.sleep(0.05)
    assert statuses(dispatch_store, "sms") == {"delivered": 14, "failed": 10}


def test_bad_receipts_change_nothing(dispatch_store: Store, api_url: str) -> None:
    add_channel(
        dispatch_store,
        "gw",
        "sms_http",
        "sms",
        settings={"url": "http://127.0.0.1:9", "api_key": "k", "receipts_token": SECRET},
    )
    good = (
        b'{"receipts": [{"idempotency_key": "tactica-1", "message_id": "m1", '
        b'"status": "delivered", "at": "2026-11-24T12:00:00Z"}]}'
    )
    # A wrong signature: 401.
    assert _post(f"{api_url}/receipts/gw", good, secret="wrong").status_code == 401
    # Malformed: 400 naming the item, nothing applied (the first item is fine).
    bad = (
        b'{"receipts": [{"idempotency_key": "tactica-1", "message_id": "m1", '
        b'"status": "delivered", "at": "2026-11-24T12:00:00Z"}, '
        b'{"idempotency_key": "tactica-2", "message_id": "m2", "status": "ok", '
        b'"at": "2026-11-24T12:00:00Z"}]}'
    )
    r = _post(f"{api_url}/receipts/gw", bad)
    assert r.status_code == 400 and "receipts[1].status" in r.text
    assert _post(f"{api_url}/receipts/gw", b"not json").status_code == 400
    assert statuses(dispatch_store, "sms") == {"queued": 24}
    # Unknown contacts and foreign keys are ignored, never an error.
    unknown = (
        b'{"receipts": [{"idempotency_key": "tactica-999999", "message_id": "x", '
        b'"status": "delivered", "at": "2026-11-24T12:00:00Z"}, '
        b'{"idempotency_key": "someone-else-7", "message_id": "y", '
        b'"status": "failed", "at": "2026-11-24T12:00:00Z"}]}'
    )
    r = _post(f"{api_url}/receipts/gw", unknown)
    assert r.status_code == 200 and r.json() == {"delivered": 0, "failed": 0, "ignored": 2}
    assert _post(f"{api_url}/receipts/nope", good).status_code == 404
