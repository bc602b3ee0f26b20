"""The inbound SMTP listener over a real connection: what it answers, what it hands over."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tactica.channels.inbound_smtp import InboundMail, InboundSmtpListener, MailRefused


def _mail(text: str = "Yes please", to: str = "replies+abc@bank.example") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "c01@example.com"
    m["To"] = to
    m["Subject"] = "Re: Gold"
    m["Message-ID"] = "<r1@mail.example>"
    m.set_content(f"{text}\n\nOn Mon, Bank wrote:\n> Reply YES")
    return m


def _send(listener: InboundSmtpListener, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(listener.host, listener.port) as c:
        return c.send_message(mail)


def test_a_message_is_read_and_handed_over_then_answered_250() -> None:
    got: list[InboundMail] = []
    with InboundSmtpListener(got.append, domains=["bank.example"]) as listener:
        refused = _send(listener, _mail())
    assert refused == {}
    (mail,) = got
    assert (mail.message_id, mail.sender, mail.text) == (
        "<r1@mail.example>",
        "c01@example.com",
        "Yes please",
    )
    assert mail.recipients == ("replies+abc@bank.example",)


def test_recipients_of_other_domains_are_refused_at_rcpt() -> None:
    got: list[InboundMail] = []
    with (
        InboundSmtpListener(got.append, domains=["bank.example"]) as listener,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        _send(listener, _mail(to="someone@elsewhere.example"))
    (code, reason) = refused.value.recipients["someone@elsewhere.example"]
    assert code == 550 and b"not a domain this server takes mail for" in reason
    assert got == []


def test_a_refused_message_gets_550_and_a_failure_451() -> None:
    def refuse(mail: InboundMail) -> None:
        raise MailRefused("no sender")

    def fail(mail: InboundMail) -> None:
        raise RuntimeError("database down")

    for deliver, code in ((refuse, 550), (fail, 451)):
        with (
            InboundSmtpListener(deliver) as listener,
            pytest.raises(smtplib.SMTPDataError) as err,
        ):
            _send(listener, _mail())
        assert err.value.smtp_code == code
