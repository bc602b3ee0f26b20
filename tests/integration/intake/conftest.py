"""Runs whose messages went out through real peers (a local SMTP server, a call-centre
folder), and the app to click in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tactica.api.app import create_app
from tactica.channels.call_centre import read_call_list
from tactica.channels.local_peers import LocalSmtpSink
from tactica.config import Settings
from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.services import as_code, runs
from tactica.services.dispatch import ChannelWorker, WorkerOptions
from tactica.store.customer_table import add_fields
from tactica.store.db import Store
from tactica.store.models import Contact, MessageTemplate, OutboxEntry, Response
from tests.integration.dispatch.conftest import Clock, add_channel, outbox_store
from tests.integration.responses.conftest import SENT, ran_store

SECRET = "s3cret"
PUBLIC_URL = "https://mkt.example.com"
OPTIONS = WorkerOptions(batch_size=100, secret=SECRET, public_url=PUBLIC_URL)
EMAIL_BODY = (
    "Dear {{ customer.id }},\n\n"
    'See your {{ offer.name }}: {{ track("https://shop.example/gold?from=mail") }}\n\n'
    "Reply YES to take it.\n"
    "Unsubscribe: {{ unsubscribe_url }}\n"
)


def send_emails(store: Store, smtp: LocalSmtpSink, **settings: str) -> Store:
    """The dispatch run's e-mails, with a tracked link, sent to ``smtp`` (extra settings)."""
    outbox_store(store)
    with store.session() as s:
        s.execute(
            sa.update(MessageTemplate)
            .where(MessageTemplate.channel == "email")
            .values(body=EMAIL_BODY)
        )
        s.commit()
    add_channel(
        store,
        "mail",
        "smtp",
        "email",
        settings={
            "host": smtp.host,
            "port": smtp.port,
            "sender": "offers@bank.example",
            **settings,
        },
    )
    # Sent now, by the real clock: replies are taken at the real time, within the window.
    worker = ChannelWorker(store, "mail", OPTIONS, clock=Clock(datetime.now(UTC)))
    try:
        assert worker.step().sent == 16
    finally:
        worker.close()
    return store


@pytest.fixture
def smtp() -> Iterator[LocalSmtpSink]:
    with LocalSmtpSink() as sink:
        yield sink


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    """The API over ``store``, signing with the key dispatch used."""
    app = create_app(Settings(secret_key=SECRET, public_url=PUBLIC_URL), store)
    with TestClient(app) as c:
        yield c


def responses(store: Store) -> list[Response]:
    """Every stored response, oldest first."""
    with store.session() as s:
        rows = list(s.scalars(sa.select(Response).order_by(Response.id)))
        s.expunge_all()
        return rows


def contact_to(store: Store, customer_id: str, channel: str = "email") -> Contact:
    """The customer's contact on ``channel``."""
    with store.session() as s:
        c = s.scalar(
            sa.select(Contact).where(Contact.customer_id == customer_id, Contact.channel == channel)
        )
        assert c is not None
        s.expunge(c)
        return c


CALLS_PROGRAM = """\
kind: Program
name: calls
owner: ana
policy: one-a-run
campaigns:
  - name: gold-call
    offers: [GOLD]
    channels: [phone]
"""


def called_store(
    store: Store, folder: Path, timezone: str = "Europe/Lisbon"
) -> list[dict[str, str]]:
    """The responses' run, then a call-centre campaign whose list the 'lisbon' centre got.

    Returns the call list's rows (contact_id, customer_id, phone, campaign, offer, script).
    """
    ran_store(store)
    with store.session() as s:
        as_code.apply_documents(s, list(yaml.safe_load_all(CALLS_PROGRAM)), source="t", actor="t")
        add_fields(s, [FieldDef("phone", FieldType.TEXT, FieldKind.CONTACT_POINT, "phone")])
        s.execute(sa.text("UPDATE customers SET phone = msisdn, consent_phone = true"))
        s.commit()
    done = runs.run_program(store, "calls", actor="ana", now=SENT)
    assert done is not None and done.status == "completed"
    # The outbox takes a run's contacts as due when the run really ran; this run is
    # for SENT, so they are due then (the test's clock must not depend on the real one).
    with store.session() as s:
        s.execute(sa.update(OutboxEntry).values(due_at=SENT))
        s.commit()
    add_channel(
        store,
        "lisbon",
        "call_centre",
        "phone",
        settings={"folder": str(folder), "script": "Offer the Gold card"},
        timezone=timezone,
    )
    clock = Clock(SENT + timedelta(minutes=5))
    worker = ChannelWorker(store, "lisbon", WorkerOptions(batch_size=100), clock=clock)
    try:
        assert worker.step().sent == 20
    finally:
        worker.close()
    return read_call_list(folder / f"lisbon-{clock.now:%Y-%m-%d}.csv")
