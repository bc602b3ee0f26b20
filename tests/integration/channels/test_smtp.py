"""SmtpAdapter against a real SMTP server (aiosmtpd, via LocalSmtpSink) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email.utils
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509  # in the test extra: the STARTTLS test must run, not skip
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tactica.channels import (
    LocalSmtpSink,
    OutboundMessage,
    SendOutcome,
    SmtpAdapter,
    message_id_for,
)

SENDER = "Tactica Bank <news@bank.example>"


def mail(
    contact_id: int, to: str, subject: str = "Hello", body: str = "Hi there"
) -> OutboundMessage:
    return OutboundMessage(
        contact_id=contact_id,
        idempotency_key=f"tactica-{contact_id}",
        channel="email",
        to=to,
        subject=subject,
        body=body,
        headers={
            "List-Unsubscribe": f"<https://bank.example/u/{contact_id}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        metadata={"campaign": "spring"},
    )


@pytest.fixture
def sink() -> Iterator[LocalSmtpSink]:
    with LocalSmtpSink() as s:
        yield s


def adapter_for(
    sink: LocalSmtpSink,
    *,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> SmtpAdapter:
    return SmtpAdapter(
        sink.host,
        sink.port,
        sender=SENDER,
        username=username,
        password=password,
        starttls=starttls,
        ssl_context=ssl_context,
        helo_name="localhost",  # skip the FQDN lookup
        timeout=5,
    )


def test_utf8_mail_with_headers_arrives(sink: LocalSmtpSink) -> None:
    texts = [
        ("en@example.com", "Your spring offer", "Dear customer,\nsave 10% this week."),
        ("zh@example.com", "您的春季优惠", "尊敬的客户：\n本周节省百分之十。"),
        (
            "ru@example.com",
            "Ваше весеннее предложение",
            "Уважаемый клиент,\nскидка 10% на этой неделе.",
        ),
    ]
    msgs = [mail(i, to, subj, body) for i, (to, subj, body) in enumerate(texts, start=1)]
    adapter = adapter_for(sink)
    try:
        results = adapter.send_batch(msgs)
    finally:
        adapter.close()

    assert [r.outcome for r in results] == [SendOutcome.SENT] * 3
    assert [r.contact_id for r in results] == [1, 2, 3]
    got = {str(m["To"]): m for m in sink.messages}
    for msg, result, (to, subject, body) in zip(msgs, results, texts, strict=True):
        em = got[to]
        assert em["Subject"] == subject
        assert em.get_content().replace("\r\n", "\n").rstrip("\n") == body
        assert em["From"] == SENDER
        assert em["X-Tactica-Idempotency-Key"] == msg.idempotency_key
        assert em["List-Unsubscribe"] == msg.headers["List-Unsubscribe"]
        assert em["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert em["Message-ID"] == result.provider_id
        assert result.provider_id == message_id_for(msg.idempotency_key, "bank.example")
        sent_at = email.utils.parsedate_to_datetime(str(em["Date"]))
        assert abs(sent_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert {m.mail_from for m in sink.received} == {"news@bank.example"}


def test_connection_is_reused_across_batches(sink: LocalSmtpSink) -> None:
    adapter = adapter_for(sink)
    try:
        for batch in range(3):
            results = adapter.send_batch(
                [mail(batch * 10 + i, f"c{i}@example.com") for i in range(4)]
            )
            assert all(r.outcome is SendOutcome.SENT for r in results)
    finally:
        adapter.close()
    assert len(sink.messages) == 12
    assert sink.sessions == 1


def test_550_is_permanent_and_the_rest_of_the_batch_goes(sink: LocalSmtpSink) -> None:
    sink.reject_recipient("gone@example.com")
    adapter = adapter_for(sink)
    try:
        results = adapter.send_batch(
            [mail(1, "a@example.com"), mail(2, "gone@example.com"), mail(3, "b@example.com")]
        )
    finally:
        adapter.close()
    assert [r.outcome for r in results] == [
        SendOutcome.SENT,
        SendOutcome.PERMANENT,
        SendOutcome.SENT,
    ]
    assert results[1].error is not None and results[1].error.startswith("550 5.1.1")
    assert "User unknown" in results[1].error
    assert results[1].provider_id is None
    assert sorted(sink.count_by_idempotency_key()) == ["tactica-1", "tactica-3"]
    assert sink.sessions == 1  # the refusal did not cost the connection


def test_451_is_temporary_then_goes_on_retry(sink: LocalSmtpSink) -> None:
    sink.tempfail_recipient("busy@example.com", attempts=1)
    adapter = adapter_for(sink)
    try:
        first = adapter.send_batch([mail(7, "busy@example.com")])
        second = adapter.send_batch([mail(7, "busy@example.com")])
    finally:
        adapter.close()
    assert first[0].outcome is SendOutcome.TEMPORARY
    assert first[0].error is not None and first[0].error.startswith("451")
    assert second[0].outcome is SendOutcome.SENT
    assert sink.count_by_idempotency_key() == {"tactica-7": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_temporary_for_the_whole_batch() -> None:
    adapter = SmtpAdapter("127.0.0.1", free_port(), sender=SENDER, helo_name="localhost", timeout=2)
    try:
        results = adapter.send_batch([mail(1, "a@example.com"), mail(2, "b@example.com")])
    finally:
        adapter.close()
    assert [r.outcome for r in results] == [SendOutcome.TEMPORARY] * 2
    assert all(r.error and "cannot connect" in r.error for r in results)


def test_reconnects_after_the_server_dropped_the_connection() -> None:
    with LocalSmtpSink() as first:
        port = first.port
        adapter = SmtpAdapter("127.0.0.1", port, sender=SENDER, helo_name="localhost")
        assert adapter.send_batch([mail(1, "a@example.com")])[0].outcome is SendOutcome.SENT
    # The old connection is dead now; a new server takes the same port.
    with LocalSmtpSink(port=port) as second:
        try:
            results = adapter.send_batch([mail(2, "b@example.com")])
        finally:
            adapter.close()
        assert results[0].outcome is SendOutcome.SENT
        assert second.count_by_idempotency_key() == {"tactica-2": 1}


def test_bad_header_is_permanent_for_that_message_only(sink: LocalSmtpSink) -> None:
    bad = OutboundMessage(
        2, "tactica-2", "email", "b@example.com", "x", "y", {"X-Evil": "a\r\nBcc: z"}
    )
    own = OutboundMessage(3, "tactica-3", "email", "c@example.com", "x", "y", {"Subject": "spoof"})
    adapter = adapter_for(sink)
    try:
        results = adapter.send_batch([mail(1, "a@example.com"), bad, own, mail(4, "d@example.com")])
    finally:
        adapter.close()
    assert [r.outcome for r in results] == [
        SendOutcome.SENT,
        SendOutcome.PERMANENT,
        SendOutcome.PERMANENT,
        SendOutcome.SENT,
    ]
    assert results[2].error is not None and "set by the adapter" in results[2].error


def test_non_ascii_address_uses_smtputf8(sink: LocalSmtpSink) -> None:
    adapter = adapter_for(sink)
    try:
        results = adapter.send_batch([mail(1, "клиент@пример.рф", "Привет", "Тело")])
    finally:
        adapter.close()
    assert results[0].outcome is SendOutcome.SENT, results[0].error
    assert sink.received[0].rcpt_tos == ("клиент@пример.рф",)
    assert sink.messages[0]["Subject"] == "Привет"


def test_auth_login_and_refusals() -> None:
    # aiosmtpd offers AUTH without TLS when told to (auth_require_tls=False); the sink
    # then refuses MAIL from sessions that did not log in.
    with LocalSmtpSink(credentials=("mailer", "s3cret")) as sink:
        good = adapter_for(sink, username="mailer", password="s3cret")
        wrong = adapter_for(sink, username="mailer", password="nope")
        anonymous = adapter_for(sink)
        try:
            ok = good.send_batch([mail(1, "a@example.com")])
            refused = wrong.send_batch([mail(2, "b@example.com"), mail(3, "c@example.com")])
            unauth = anonymous.send_batch([mail(4, "d@example.com")])
        finally:
            for a in (good, wrong, anonymous):
                a.close()
    assert ok[0].outcome is SendOutcome.SENT
    assert [r.outcome for r in refused] == [SendOutcome.PERMANENT] * 2
    assert refused[0].error is not None and "535" in refused[0].error
    assert unauth[0].outcome is SendOutcome.PERMANENT
    assert unauth[0].error is not None and unauth[0].error.startswith("530")
    assert sink.count_by_idempotency_key() == {"tactica-1": 1}


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (EC key: fast to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_then_auth(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))  # verifies name and chain
    with LocalSmtpSink(tls_context=server_ctx, credentials=("mailer", "s3cret")) as sink:
        adapter = adapter_for(
            sink, starttls=True, ssl_context=client_ctx, username="mailer", password="s3cret"
        )
        untrusting = adapter_for(sink, starttls=True)  # system trust store: refuses the cert
        try:
            ok = adapter.send_batch([mail(1, "a@example.com")])
            refused = untrusting.send_batch([mail(2, "b@example.com")])
        finally:
            adapter.close()
            untrusting.close()
    assert ok[0].outcome is SendOutcome.SENT, ok[0].error
    assert refused[0].outcome is SendOutcome.TEMPORARY
    assert refused[0].error is not None and "SSLCertVerificationError" in refused[0].error
