"""HttpSmsAdapter against LocalSmsGateway (a real HTTP server), and delivery receipts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tactica.channels import (
    DeliveryReceipt,
    HttpSmsAdapter,
    LocalSmsGateway,
    LocalWebhookReceiver,
    OutboundMessage,
    ReceiptError,
    SendOutcome,
    parse_receipts,
)

KEY = "test-api-key"


def sms(contact_id: int, to: str, text: str = "Your offer: 10% off") -> OutboundMessage:
    return OutboundMessage(
        contact_id=contact_id,
        idempotency_key=f"tactica-{contact_id}",
        channel="sms",
        to=to,
        subject=None,
        body=text,
        metadata={"campaign": "spring"},
    )


def many(n: int, start: int = 0) -> list[OutboundMessage]:
    return [sms(i, f"+4470{i:08d}") for i in range(start, start + n)]


@pytest.fixture
def gateway() -> Iterator[LocalSmsGateway]:
    with LocalSmsGateway(KEY) as gw:
        yield gw


@pytest.fixture
def adapter(gateway: LocalSmsGateway) -> Iterator[HttpSmsAdapter]:
    a = HttpSmsAdapter(gateway.url, KEY, sender="TACTICA", batch_size=100, timeout=5)
    yield a
    a.close()


def test_bulk_send_splits_into_requests_on_one_connection(
    gateway: LocalSmsGateway, adapter: HttpSmsAdapter
) -> None:
    msgs = [*many(249), sms(249, "+79990000000", "Скидка 10% — 您的优惠")]
    results = adapter.send_batch(msgs)

    assert [r.contact_id for r in results] == list(range(250))
    assert all(r.outcome is SendOutcome.SENT for r in results)
    assert len({r.provider_id for r in results}) == 250
    assert gateway.requests == 3  # 100 + 100 + 50
    assert gateway.connections == 1  # keep-alive
    stored = gateway.messages
    assert len(stored) == 250
    assert stored[-1]["text"] == "Скидка 10% — 您的优惠"
    assert stored[0]["sender"] == "TACTICA"
    assert gateway.delivered_count() == 250


def test_same_batch_twice_gives_one_message_per_key(
    gateway: LocalSmsGateway, adapter: HttpSmsAdapter
) -> None:
    msgs = many(150)
    first = adapter.send_batch(msgs)
    again = adapter.send_batch(msgs)
    assert [r.provider_id for r in again] == [r.provider_id for r in first]
    assert all(r.outcome is SendOutcome.SENT for r in again)
    keys = [m["idempotency_key"] for m in gateway.messages]
    assert sorted(keys) == sorted(m.idempotency_key for m in msgs)


def test_wrong_key_is_permanent(gateway: LocalSmsGateway) -> None:
    with HttpSmsAdapter(gateway.url, "wrong", batch_size=2) as bad:
        results = bad.send_batch(many(3))
    assert [r.outcome for r in results] == [SendOutcome.PERMANENT] * 3
    assert all(r.error and r.error.startswith("HTTP 401") for r in results)
    assert gateway.messages == []


def test_503_with_retry_after_is_temporary_and_stops_the_batch(
    gateway: LocalSmsGateway, adapter: HttpSmsAdapter
) -> None:
    gateway.fail_next(1, status=503, retry_after=30)
    results = adapter.send_batch(many(250))
    assert all(r.outcome is SendOutcome.TEMPORARY for r in results)
    assert {r.retry_after for r in results} == {30.0}
    assert results[0].error is not None and results[0].error.startswith("HTTP 503")
    assert gateway.requests == 1  # the gateway asked us to wait: no more requests
    # Later, the retry goes through.
    assert all(r.outcome is SendOutcome.SENT for r in adapter.send_batch(many(250)))


def test_429_without_retry_after(gateway: LocalSmsGateway, adapter: HttpSmsAdapter) -> None:
    gateway.fail_next(1, status=429, retry_after=None)
    results = adapter.send_batch(many(2))
    assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 2
    assert [r.retry_after for r in results] == [None, None]


def test_rejected_prefix_is_permanent_for_just_those(
    gateway: LocalSmsGateway, adapter: HttpSmsAdapter
) -> None:
    gateway.reject_prefix("+1900", "premium-rate numbers are blocked")
    msgs = [sms(1, "+447000000001"), sms(2, "+19005550100"), sms(3, "+447000000003")]
    results = adapter.send_batch(msgs)
    assert [r.outcome for r in results] == [
        SendOutcome.SENT,
        SendOutcome.PERMANENT,
        SendOutcome.SENT,
    ]
    assert results[1].error == "premium-rate numbers are blocked"
    assert [m["to"] for m in gateway.messages] == ["+447000000001", "+447000000003"]


def test_unreachable_gateway_is_temporary() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with HttpSmsAdapter(f"http://127.0.0.1:{port}", KEY, batch_size=2, timeout=2) as a:
        results = a.send_batch(many(5))
    assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 5
    assert results[0].error is not None and "ConnectError" in results[0].error


def test_receipts_arrive_signed_and_parse() -> None:
    secret = "receipts-secret"
    with (
        LocalWebhookReceiver(secret) as receiver,
        LocalSmsGateway(
            KEY,
            receipts_url=f"{receiver.url}/receipts",
            receipts_secret=secret,
            receipts_interval=0.05,
            undeliverable_prefixes=["+4471"],
        ) as gateway,
        HttpSmsAdapter(gateway.url, KEY) as adapter,
    ):
        msgs = [sms(1, "+447000000001"), sms(2, "+447100000002"), sms(3, "+447000000003")]
        sent = adapter.send_batch(msgs)
        deadline = time.monotonic() + 5
        while gateway.receipts_sent < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(req.path == "/receipts" for req in receiver.requests)
        assert all(req.signature_ok is True for req in receiver.requests)
        receipts = [r for req in receiver.requests for r in parse_receipts(req.json)]
        assert gateway.receipts_sent == 3
        assert gateway.delivered_count() == 2

    by_key = {r.idempotency_key: r for r in receipts}
    assert set(by_key) == {"tactica-1", "tactica-2", "tactica-3"}
    assert by_key["tactica-1"].status == "delivered"
    assert by_key["tactica-2"].status == "failed"
    assert by_key["tactica-2"].error == "handset unreachable"
    assert [by_key[m.idempotency_key].message_id for m in msgs] == [r.provider_id for r in sent]
    assert all(r.at.tzinfo is UTC for r in receipts)


def receipt(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "idempotency_key": "tactica-1",
        "message_id": "sms-1",
        "status": "delivered",
        "at": "2026-03-01T10:00:00Z",
    }
    item.update(over)
    return {k: v for k, v in item.items() if v is not ...}


def test_parse_receipts_reads_times_into_utc() -> None:
    got = parse_receipts(
        {
            "receipts": [
                receipt(),
                receipt(
                    idempotency_key="tactica-2",
                    message_id=17,
                    status="failed",
                    error="absent subscriber",
                    at="2026-03-01T12:00:00+02:00",
                ),
            ]
        }
    )
    assert got == [
        DeliveryReceipt(
            "tactica-1", "sms-1", "delivered", None, datetime(2026, 3, 1, 10, tzinfo=UTC)
        ),
        DeliveryReceipt(
            "tactica-2", "17", "failed", "absent subscriber", datetime(2026, 3, 1, 10, tzinfo=UTC)
        ),
    ]
    assert parse_receipts({"receipts": []}) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "payload: expected an object, got a list"),
        ({}, "receipts: missing"),
        ({"receipts": {}}, "receipts: expected a list, got an object"),
        (
            {"receipts": [receipt(), receipt(), receipt(status="ok")]},
            "receipts[2].status: expected 'delivered' or 'failed', got 'ok'",
        ),
        (
            {"receipts": [receipt(status=...)]},
            "receipts[0].status: expected 'delivered' or 'failed', got nothing",
        ),
        ({"receipts": [receipt(), "x"]}, "receipts[1]: expected an object, got 'x'"),
        ({"receipts": [receipt(idempotency_key=...)]}, "receipts[0].idempotency_key: missing"),
        (
            {"receipts": [receipt(message_id="")]},
            "receipts[0].message_id: expected a non-empty string, got ''",
        ),
        ({"receipts": [receipt(error=5)]}, "receipts[0].error: expected a string or null, got 5"),
        (
            {"receipts": [receipt(at="yesterday")]},
            "receipts[0].at: expected an ISO 8601 time, got 'yesterday'",
        ),
        (
            {"receipts": [receipt(at="2026-03-01T10:00:00")]},
            "receipts[0].at: expected a time with a UTC offset, got '2026-03-01T10:00:00'",
        ),
        ({"receipts": [receipt(at=...)]}, "receipts[0].at: missing"),
    ],
)
def test_parse_receipts_names_the_bad_item(payload: Any, message: str) -> None:
    with pytest.raises(ReceiptError) as err:
        parse_receipts(payload)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)
