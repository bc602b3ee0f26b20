"""E-mails carry a Reply-To that names their contact when the channel has a reply_to."""

from __future__ import annotations

from datetime import UTC, datetime

from tactica.channels.local_peers import LocalSmtpSink
from tactica.services import links
from tactica.services.dispatch import ChannelWorker, dead_letters
from tactica.store.db import Store
from tests.integration.dispatch.conftest import Clock, add_channel, outbox_store
from tests.integration.intake.conftest import OPTIONS, SECRET, contact_to, send_emails


def test_each_email_replies_to_its_own_contacts_address(store: Store, smtp: LocalSmtpSink) -> None:
    send_emails(store, smtp, reply_to="Bank <replies@bank.example>")
    for mail in smtp.messages:
        customer = str(mail["To"]).split("@")[0]
        contact = contact_to(store, customer)
        reply_to = str(mail["Reply-To"])
        assert reply_to.startswith("Bank <replies+") and reply_to.endswith("@bank.example>")
        assert links.contact_of_address(reply_to, secret=SECRET) == contact.id


def test_without_reply_to_there_is_no_reply_to_header(store: Store, smtp: LocalSmtpSink) -> None:
    send_emails(store, smtp)
    assert all(m["Reply-To"] is None for m in smtp.messages)


def test_a_reply_to_that_is_no_address_fails_the_emails_naming_the_setting(
    store: Store, smtp: LocalSmtpSink
) -> None:
    outbox_store(store)
    add_channel(
        store,
        "mail",
        "smtp",
        "email",
        settings={
            "host": smtp.host,
            "port": smtp.port,
            "sender": "o@bank.example",
            "reply_to": "replies",
        },
    )
    # The run's contacts are due from when it really ran: the real clock sends them.
    worker = ChannelWorker(store, "mail", OPTIONS, clock=Clock(datetime.now(UTC)))
    try:
        assert worker.step().failed == 16
    finally:
        worker.close()
    assert smtp.messages == []
    with store.session() as s:
        (error,) = {d["error"] for d in dead_letters(s, channel="email")}
    assert error == "channel 'mail': reply_to: 'replies' is not an e-mail address"
