"""WebhookAdapter against LocalWebhookReceiver, and the signature helpers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tactica.channels import (
    LocalWebhookReceiver,
    OutboundMessage,
    SendOutcome,
    WebhookAdapter,
    sign,
    verify,
    webhook_body,
)

SECRET = "whsec-test"


def hook(contact_id: int) -> OutboundMessage:
    return OutboundMessage(
        contact_id=contact_id,
        idempotency_key=f"tactica-{contact_id}",
        channel="webhook",
        to="crm-lead",
        subject="New lead",
        body="Клиент хочет кредит — 客户",
        metadata={"campaign": "spring", "offer": "loan", "customer_id": "C42"},
    )


@pytest.fixture
def receiver() -> Iterator[LocalWebhookReceiver]:
    with LocalWebhookReceiver(SECRET) as r:
        yield r


def test_signed_post_verifies_on_the_receiver(receiver: LocalWebhookReceiver) -> None:
    with WebhookAdapter(f"{receiver.url}/hooks/tactica", SECRET) as adapter:
        results = adapter.send_batch([hook(1), hook(2)])
    assert [r.outcome for r in results] == [SendOutcome.SENT] * 2
    assert [r.provider_id for r in results] == ["wh-1", "wh-2"]
    assert receiver.connections == 1  # keep-alive

    req = receiver.requests[0]
    assert req.path == "/hooks/tactica"
    assert req.signature_ok is True
    assert req.json == {
        "contact_id": 1,
        "idempotency_key": "tactica-1",
        "channel": "webhook",
        "to": "crm-lead",
        "subject": "New lead",
        "body": "Клиент хочет кредит — 客户",
        "metadata": {"campaign": "spring", "offer": "loan", "customer_id": "C42"},
    }
    assert req.body == webhook_body(hook(1))
    assert req.headers["x-tactica-idempotency-key"] == "tactica-1"
    ts = int(req.headers["x-tactica-timestamp"])
    assert abs(ts - time.time()) < 60
    assert req.headers["x-tactica-signature"] == sign(SECRET, ts, req.body)
    assert receiver.count_by_idempotency_key() == {"tactica-1": 1, "tactica-2": 1}


def test_verify_refuses_tampering_staleness_and_wrong_secrets() -> None:
    body = json.dumps({"contact_id": 1, "body": "hi"}).encode()
    ts = 1_800_000_000
    sig = sign(SECRET, ts, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify(SECRET, ts, body, sig, now=ts + 10)
    assert verify(SECRET.encode(), str(ts), body, sig, now=ts)  # bytes secret, header text
    assert not verify(SECRET, ts, body.replace(b"hi", b"ho"), sig, now=ts)  # tampered body
    assert not verify(SECRET, ts + 1, body, sig, now=ts)  # tampered timestamp
    assert not verify("other", ts, body, sig, now=ts)
    assert not verify(SECRET, ts, body, sig, now=ts + 301)  # stale
    assert not verify(SECRET, ts, body, sig, now=ts - 301)  # from the future
    assert verify(SECRET, ts, body, sig, now=ts + 1000, tolerance=3600)
    assert not verify(SECRET, "17e8", body, sig, now=ts)
    assert not verify(SECRET, ts, body, "sha256=" + "0" * 64, now=ts)
    assert not verify(SECRET, ts, body, "sha256=nöt-hex", now=ts)


def test_wrong_secret_is_refused_by_the_receiver(receiver: LocalWebhookReceiver) -> None:
    with WebhookAdapter(receiver.url, "not-the-secret") as adapter:
        results = adapter.send_batch([hook(1), hook(2)])
    assert [r.outcome for r in results] == [SendOutcome.PERMANENT] * 2
    assert results[0].error is not None and results[0].error.startswith("HTTP 401")
    assert [r.signature_ok for r in receiver.requests] == [False, False]


def test_stale_timestamp_is_refused_by_the_receiver(receiver: LocalWebhookReceiver) -> None:
    with WebhookAdapter(receiver.url, SECRET, clock=lambda: time.time() - 3600) as adapter:
        results = adapter.send_batch([hook(1)])
    assert results[0].outcome is SendOutcome.PERMANENT
    assert receiver.requests[0].signature_ok is False


def test_503_is_temporary_and_the_rest_is_not_tried(receiver: LocalWebhookReceiver) -> None:
    receiver.respond_next(1, 503, retry_after=12)
    with WebhookAdapter(receiver.url, SECRET) as adapter:
        results = adapter.send_batch([hook(1), hook(2), hook(3)])
        assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 3
        assert [r.retry_after for r in results] == [12.0] * 3
        assert len(receiver.requests) == 1
        # A 4xx for one message does not stop the others.
        receiver.respond_next(1, 422)
        results = adapter.send_batch([hook(1), hook(2)])
    assert [r.outcome for r in results] == [SendOutcome.PERMANENT, SendOutcome.SENT]


def test_unreachable_endpoint_is_temporary_for_the_batch() -> None:
    with LocalWebhookReceiver(SECRET) as gone:
        url = gone.url
    with WebhookAdapter(url, SECRET, timeout=2) as adapter:
        results = adapter.send_batch([hook(1), hook(2)])
    assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 2
