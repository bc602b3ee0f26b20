"""E-mail through a real local SMTP server: templates, unsubscribe links that work, bounces."""

from __future__ import annotations

import re

from tactica.channels.local_peers import LocalSmtpSink
from tactica.services import unsubscribe
from tactica.services.dispatch import ChannelWorker, WorkerOptions, dead_letters
from tactica.store.db import Store
from tests.integration.dispatch.conftest import Clock, add_channel, statuses

OPTS = WorkerOptions(batch_size=5, secret="s3cret", public_url="https://mkt.example.com")


def _email(store: Store, smtp: LocalSmtpSink) -> None:
    add_channel(
        store,
        "mail",
        "smtp",
        "email",
        settings={"host": smtp.host, "port": smtp.port, "sender": "offers@bank.example"},
    )


def test_emails_carry_the_offer_and_a_working_unsubscribe_link(
    dispatch_store: Store, smtp: LocalSmtpSink, clock: Clock
) -> None:
    _email(dispatch_store, smtp)
    worker = ChannelWorker(dispatch_store, "mail", OPTS, clock=clock)
    assert worker.step().sent == 5
    got = smtp.messages
    assert len(got) == 5
    first = got[0]
    assert first["Subject"] == "Your Gold card"
    assert first["From"] == "offers@bank.example"
    link = re.search(r"<(https://mkt\.example\.com/unsubscribe/[^>]+)>", first["List-Unsubscribe"])
    assert link is not None and first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.group(1) in first.get_content()
    # c03 clicks the link in their e-mail; their next e-mail is not sent.
    c03 = next(m for m in got if m["To"] == "c03@example.com")
    token = re.search(r"/unsubscribe/(\S+)>", c03["List-Unsubscribe"])
    assert token is not None
    with dispatch_store.session() as s:
        assert unsubscribe.unsubscribe(s, token.group(1), secret="s3cret") == "c03"
        s.commit()
    for _ in range(5):
        worker.step()
    worker.close()
    assert statuses(dispatch_store, "email") == {"sent": 16}  # c03's went before the click
    assert len({m["To"] for m in smtp.messages}) == 16


def test_an_opt_out_after_the_run_stops_the_queued_email(
    dispatch_store: Store, smtp: LocalSmtpSink, clock: Clock
) -> None:
    _email(dispatch_store, smtp)
    token = unsubscribe.unsubscribe_token("s3cret", "c00", "email")
    with dispatch_store.session() as s:
        unsubscribe.unsubscribe(s, token, secret="s3cret")
        s.commit()
    smtp.reject_recipient("c01@example.com")  # a hard bounce
    worker = ChannelWorker(dispatch_store, "mail", WorkerOptions(batch_size=100), clock=clock)
    r = worker.step()
    worker.close()
    assert (r.sent, r.failed) == (14, 2)
    assert "c00@example.com" not in {m["To"] for m in smtp.messages}
    with dispatch_store.session() as s:
        dead = {d["customer_id"]: d["error"] for d in dead_letters(s, channel="email")}
    assert dead["c00"] == "not sent: on the opt_out list since the run"
    assert "550" in dead["c01"]
