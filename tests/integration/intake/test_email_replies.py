"""E-mail replies: a customer answers a delivered e-mail, over real SMTP, and it lands."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from tactica.channels.inbound_smtp import InboundSmtpListener
from tactica.channels.local_peers import LocalSmtpSink
from tactica.services import links
from tactica.services.links import email_deliverer
from tactica.store.db import Store
from tactica.store.models import Order, SpecialListEntry
from tests.integration.intake.conftest import SECRET, contact_to, responses, send_emails


@pytest.fixture
def sent(store: Store, smtp: LocalSmtpSink) -> Store:
    """The run's e-mails went out replying to replies+<token>@bank.example."""
    return send_emails(store, smtp, reply_to="Bank <replies@bank.example>")


@pytest.fixture
def listener(store: Store) -> Iterator[InboundSmtpListener]:
    with InboundSmtpListener(
        email_deliverer(store, secret=SECRET), domains=["bank.example"]
    ) as running:
        yield running


def delivered_to(smtp: LocalSmtpSink, address: str) -> EmailMessage:
    return next(m for m in smtp.messages if m["To"] == address)


def reply_to(
    original: EmailMessage,
    text: str,
    *,
    sender: str | None = None,
    to: str | None = None,
    threaded: bool = True,
    message_id: str = "<reply-1@mail.example>",
) -> EmailMessage:
    """What a mail client sends when the customer presses Reply and writes ``text``."""
    m = EmailMessage()
    m["From"] = sender or str(original["To"])
    m["To"] = to or str(original["Reply-To"])
    m["Subject"] = f"Re: {original['Subject']}"
    m["Message-ID"] = message_id
    if threaded:
        m["In-Reply-To"] = str(original["Message-ID"])
        m["References"] = str(original["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in original.get_content().splitlines())
    m.set_content(
        f"{text}\n\nOn Tue, 24 Nov 2026 at 12:00, Bank <offers@bank.example> wrote:\n{quoted}\n"
    )
    return m


def send(listener: InboundSmtpListener, mail: EmailMessage) -> None:
    with smtplib.SMTP(listener.host, listener.port) as c:
        assert c.send_message(mail) == {}


def test_a_yes_sent_to_the_reply_address_books_the_order(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    original = delivered_to(smtp, "c04@example.com")
    send(listener, reply_to(original, "Yes please, I'll take it!"))
    (r,) = responses(sent)
    contact = contact_to(sent, "c04")
    assert (r.source, r.channel, r.kind, r.message_id) == (
        "email",
        "email",
        "reply",
        "<reply-1@mail.example>",
    )
    assert (r.contact_id, r.customer_id, r.attributed_by) == (contact.id, "c04", "token")
    assert r.data["matched_by"] == "reply address"
    assert r.text == "Yes please, I'll take it!"  # the quoted offer is not part of it
    assert (r.outcome, r.result, r.campaign, r.offer) == ("order", "order", "gold-email", "GOLD")
    with sent.session() as s:
        order = s.scalar(sa.select(Order))
    assert order is not None and (order.customer_id, order.response_id) == ("c04", r.id)


def test_the_same_reply_delivered_twice_is_taken_once(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    mail = reply_to(delivered_to(smtp, "c04@example.com"), "YES")
    send(listener, mail)
    send(listener, mail)
    assert len(responses(sent)) == 1


def test_a_stop_in_chinese_puts_the_customer_on_the_opt_out_list_for_email(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    send(listener, reply_to(delivered_to(smtp, "c07@example.com"), "退订，谢谢"))
    (r,) = responses(sent)
    assert (r.customer_id, r.outcome, r.result, r.language) == ("c07", "opt_out", "opt_out", "zh")
    with sent.session() as s:
        entry = s.scalar(sa.select(SpecialListEntry).where(SpecialListEntry.customer_id == "c07"))
    assert entry is not None and entry.channel == "email"


def test_a_reply_from_another_mailbox_to_the_bare_address_is_matched_by_in_reply_to(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    original = delivered_to(smtp, "c06@example.com")
    mail = reply_to(
        original, "Tell me more please", sender="ana@work.example", to="replies@bank.example"
    )
    send(listener, mail)
    (r,) = responses(sent)
    assert (r.contact_id, r.customer_id) == (contact_to(sent, "c06").id, "c06")
    assert r.data["matched_by"] == "in-reply-to"
    assert (r.outcome, r.result) == ("interest", "lead")


def test_a_reply_with_neither_is_matched_by_its_sender_within_the_window(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    original = delivered_to(smtp, "c06@example.com")
    send(listener, reply_to(original, "Tell me more", to="replies@bank.example", threaded=False))
    (r,) = responses(sent)
    assert (r.customer_id, r.contact_id, r.attributed_by) == (
        "c06",
        contact_to(sent, "c06").id,
        "window",
    )


def test_a_forged_token_from_a_stranger_is_kept_for_review_and_acts_on_nobody(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    victim = contact_to(sent, "c04")
    forged = f"replies+{links.reply_token('not our key', victim.id)}@bank.example"
    original = delivered_to(smtp, "c04@example.com")
    send(listener, reply_to(original, "STOP", sender="x@evil.example", to=forged, threaded=False))
    (r,) = responses(sent)
    assert (r.contact_id, r.customer_id, r.result, r.review) == (
        None,
        None,
        "unattributed",
        "pending",
    )
    with sent.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SpecialListEntry)) == 0


def test_an_out_of_office_reply_is_accepted_and_not_taken(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    mail = reply_to(delivered_to(smtp, "c04@example.com"), "I am away. Please stop by Monday.")
    mail["Auto-Submitted"] = "auto-replied"
    send(listener, mail)
    assert responses(sent) == []


def test_mail_for_another_domain_is_refused(
    sent: Store, smtp: LocalSmtpSink, listener: InboundSmtpListener
) -> None:
    mail = reply_to(delivered_to(smtp, "c04@example.com"), "YES", to="someone@elsewhere.example")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(listener, mail)
    assert responses(sent) == []


def test_finding_a_contact_by_message_id_reads_the_index_not_the_ledger(store: Store) -> None:
    """The In-Reply-To lookup can use the partial index on provider_id (no scan)."""
    query = (
        "SELECT id FROM contacts WHERE channel = 'email' AND provider_id IN "
        "('<tactica.x@bank.example>', '<tactica.y@bank.example>')"
    )
    with store.engine.connect() as c:
        if c.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in c.execute(sa.text(f"EXPLAIN QUERY PLAN {query}")))
        else:
            c.execute(sa.text("SET enable_seqscan = off"))  # a tiny table: make it choose
            plan = " ".join(str(r[0]) for r in c.execute(sa.text(f"EXPLAIN {query}")))
    assert "ix_contacts_provider" in plan, plan
