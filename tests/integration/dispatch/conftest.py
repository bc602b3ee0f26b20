"""A store with a run's contacts in the outbox, configured channels and a steerable clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tactica.channels.local_peers import LocalSmsGateway, LocalSmtpSink
from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, runs
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import ChannelConfig, Contact, MessageTemplate, OutboxEntry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ZONES = ["Europe/Lisbon", "America/New_York", "Asia/Shanghai", None]

PROGRAM = """\
kind: ContactPolicy
name: two-a-run
per_run: 2
rules: []
---
kind: Offer
code: GOLD
name: Gold card
value: 100
---
kind: Program
name: autumn
owner: ana
policy: two-a-run
campaigns:
  - name: gold-sms
    offers: [GOLD]
    channels: [sms]
    template: gold
    cost_per_contact: 0.05
    priority: 10
  - name: gold-email
    offers: [GOLD]
    channels: [email]
    template: gold
    cost_per_contact: 0.01
"""


def customers(n: int) -> list[dict[str, Any]]:
    """c00..: every third has no e-mail; languages en/zh/ru; four time zones."""
    return [
        {
            "id": f"c{i:02d}",
            "age": 20 + i,
            "msisdn": f"+35191{i:07d}",
            "consent_sms": True,
            "email": None if i % 3 == 2 else f"c{i:02d}@example.com",
            "consent_email": True,
            "language": ["en", "zh", "ru"][i % 3],
            "timezone": ZONES[i % 4],
        }
        for i in range(n)
    ]


TEMPLATES = [
    ("sms", "en", None, "Hi {{ customer.id }}, {{ offer.name }} is yours. Reply YES."),
    ("sms", "zh", None, "您好 {{ customer.id }}，{{ offer.name }}。回复 YES。"),
    ("sms", "ru", None, "Здравствуйте, {{ customer.id }}! {{ offer.name }}. Ответьте YES."),
    ("email", "en", "Your {{ offer.name }}", "Dear {{ customer.id }}: {{ unsubscribe_url }}"),
]


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def outbox_store(store: Store, n: int = 24) -> Store:
    """Customers, templates and the 'autumn' program, run once: its contacts are queued."""
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT)])
        s.execute(sa.insert(customer_table(load_schema(s))), customers(n))
        as_code.apply_documents(s, list(yaml.safe_load_all(PROGRAM)), source="t", actor="t")
        for channel, language, subject, body in TEMPLATES:
            s.add(
                MessageTemplate(
                    name="gold", channel=channel, language=language, subject=subject, body=body
                )
            )
        s.commit()
    done = runs.run_program(store, "autumn", actor="ana", now=NOW - timedelta(minutes=1))
    assert done is not None and done.status == "completed"
    return store


@pytest.fixture
def dispatch_store(store: Store) -> Store:
    return outbox_store(store)


@pytest.fixture
def gateway() -> Iterator[LocalSmsGateway]:
    with LocalSmsGateway(api_key="k") as g:
        yield g


@pytest.fixture
def smtp() -> Iterator[LocalSmtpSink]:
    with LocalSmtpSink() as sink:
        yield sink


def add_channel(store: Store, name: str, kind: str, channel: str, **fields: Any) -> None:
    """Configure a channel directly in the store."""
    settings = fields.pop("settings", {})
    with store.session() as s:
        s.add(
            ChannelConfig(
                name=name,
                kind=kind,
                channel=channel,
                settings=settings,
                enabled=True,
                timezone=fields.pop("timezone", "UTC"),
                max_attempts=fields.pop("max_attempts", 5),
                retry_base_seconds=fields.pop("retry_base_seconds", 30.0),
                retry_cap_seconds=fields.pop("retry_cap_seconds", 3600.0),
                tokens=0.0,
                **fields,
            )
        )
        s.commit()


def statuses(store: Store, channel: str) -> dict[str, int]:
    """Contacts of a channel by status."""
    with store.session() as s:
        rows = s.execute(
            sa.select(Contact.status, sa.func.count())
            .where(Contact.channel == channel)
            .group_by(Contact.status)
        ).all()
    return {st: int(n) for st, n in rows}


def outbox_size(store: Store, channel: str) -> int:
    """Entries still in the outbox for a channel."""
    with store.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).where(OutboxEntry.channel == channel)) or 0)
