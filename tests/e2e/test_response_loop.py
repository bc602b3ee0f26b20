"""The whole loop: run, dispatch, reply, order / lead / opt-out, and the next run obeys.

Real peers all the way: the local SMTP server and SMS gateway take the messages, the
gateway posts the customers' replies, signed, to the API served over HTTP, and the
next run and its dispatch leave out whoever said STOP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.channels.local_peers import LocalSmsGateway, LocalSmtpSink
from tactica.config import Settings
from tactica.services import dispatch, explain, runs
from tactica.store.db import Store
from tactica.store.models import Contact, Lead, Order, SalesRep
from tests.integration.dispatch.conftest import NOW, add_channel, outbox_store

SECRET = "replies-secret"


@pytest.fixture
def api_url(store: Store) -> Iterator[str]:
    """The API over ``store`` on a free local port."""
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield url


def _sms_to(gateway: LocalSmsGateway) -> list[str]:
    return sorted({str(m["to"]) for m in gateway.messages})


def test_run_dispatch_reply_outcomes_and_the_next_run_obeys(store: Store, api_url: str) -> None:
    outbox_store(store)
    with store.session() as s:
        s.add_all(
            [SalesRep(username=n, capacity=10, skills=[], role="hunter") for n in ("rita", "sam")]
        )
        s.commit()
    options = dispatch.WorkerOptions(batch_size=50, secret="test", public_url=api_url)
    with (
        LocalSmtpSink() as smtp,
        LocalSmsGateway(
            api_key="k", replies_url=f"{api_url}/responses/inbound/gw", replies_secret=SECRET
        ) as gateway,
    ):
        add_channel(
            store,
            "gw",
            "sms_http",
            "sms",
            settings={"url": gateway.url, "api_key": "k", "inbound_token": SECRET},
        )
        add_channel(
            store,
            "mail",
            "smtp",
            "email",
            settings={"host": smtp.host, "port": smtp.port, "sender": "offers@bank.example"},
        )
        dispatch.run_dispatch(store, options, drain=True)
        texted = _sms_to(gateway)
        assert len(texted) == 24 and len(smtp.messages) == 16  # every third has no e-mail

        answers = ["YES", "tell me more", "STOP", "退订", "Да", "подробнее", "СТОП", "what?"]
        got = gateway.replies([(n, a, None) for n, a in zip(texted, answers, strict=False)])
        assert got.status_code == 200, got.text
        assert {k: got.json()[k] for k in ("orders", "leads", "opt_outs", "review")} == {
            "orders": 2,
            "leads": 2,
            "opt_outs": 3,
            "review": 1,
        }
        with store.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Order)) == 2
            assert sorted(s.scalars(sa.select(Lead.rep))) == ["rita", "sam"]

        # The next day's run: whoever said STOP is not texted, and explain says why.
        stopped = ["c02", "c03", "c06"]  # the numbers are c00.. in order
        nxt = runs.run_program(store, "autumn", actor="ana", now=NOW + timedelta(days=1))
        assert nxt is not None and nxt.run_id is not None
        with store.session() as s:
            texted_again = set(
                s.scalars(
                    sa.select(Contact.customer_id).where(
                        Contact.run_id == nxt.run_id, Contact.channel == "sms"
                    )
                )
            )
        assert texted_again and not texted_again & set(stopped)
        why = explain.explain_customer(store, "c03", run_id=nxt.run_id)
        sms = next(c for c in why.campaigns if c.campaign == "gold-sms")
        assert sms.outcome == "excluded: opted out (list 'opt_out')"
        before = len(gateway.messages)
        dispatch.run_dispatch(store, options, names=["gw"], drain=True)
        sent_now = {str(m["to"]) for m in gateway.messages[before:]}
        assert sent_now and not sent_now & {texted[i] for i in (2, 3, 6)}
