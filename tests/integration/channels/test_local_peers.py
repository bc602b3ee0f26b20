"""The local peers leave nothing behind, and the shared status/Retry-After rules."""

from __future__ import annotations

import email.utils
import socket
import threading

import httpx
import pytest

from tactica.channels import (
    HttpSmsAdapter,
    LocalSmsGateway,
    LocalSmtpSink,
    LocalWebhookReceiver,
    OutboundMessage,
    SendOutcome,
    SmtpAdapter,
    outcome_for_http_status,
    parse_retry_after,
)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_peers_stop_cleanly_with_clients_still_connected() -> None:
    before = set(threading.enumerate())
    msg = OutboundMessage(1, "tactica-1", "sms", "+4470", None, "hi")
    with (
        LocalWebhookReceiver() as receiver,
        LocalSmsGateway("k", receipts_url=receiver.url, receipts_interval=0.05) as gateway,
        LocalSmtpSink() as sink,
    ):
        ports = [receiver.port, gateway.port, sink.port]
        assert all(p > 0 for p in ports)
        # Keep-alive connections left open on purpose: stop() must still finish.
        sms = HttpSmsAdapter(gateway.url, "k")
        mail = SmtpAdapter(sink.host, sink.port, sender="a@example.com", helo_name="localhost")
        assert sms.send_batch([msg])[0].outcome is SendOutcome.SENT
        email_msg = OutboundMessage(2, "tactica-2", "email", "b@example.com", "s", "b")
        assert mail.send_batch([email_msg])[0].outcome is SendOutcome.SENT
    assert all(refused(p) for p in ports)
    assert set(threading.enumerate()) - before == set()
    # The adapters notice on their next use and say so without raising.
    assert sms.send_batch([msg])[0].outcome is SendOutcome.TEMPORARY
    assert mail.send_batch([email_msg])[0].outcome is SendOutcome.TEMPORARY
    sms.close()
    mail.close()


def test_gateway_answers_http_errors() -> None:
    with LocalSmsGateway("k") as gw, httpx.Client(base_url=gw.url) as client:
        auth = {"Authorization": "Bearer k"}
        assert client.post("/messages", content=b"{}", headers=auth).status_code == 400
        assert client.post("/nowhere", json={"messages": []}, headers=auth).status_code == 404
        assert client.get("/messages").status_code == 405
        answer = client.post(
            "/messages", json={"messages": [{"to": "+1", "text": "x"}]}, headers=auth
        )
        assert answer.json()["results"][0]["status"] == "rejected"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, SendOutcome.SENT),
        (202, SendOutcome.SENT),
        (400, SendOutcome.PERMANENT),
        (401, SendOutcome.PERMANENT),
        (404, SendOutcome.PERMANENT),
        (408, SendOutcome.TEMPORARY),
        (429, SendOutcome.TEMPORARY),
        (500, SendOutcome.TEMPORARY),
        (503, SendOutcome.TEMPORARY),
        (302, SendOutcome.TEMPORARY),
    ],
)
def test_http_status_outcomes(status: int, outcome: SendOutcome) -> None:
    assert outcome_for_http_status(status) is outcome


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(90.0)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
