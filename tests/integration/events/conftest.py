"""A store with customers, two event types and a running program with a triggered campaign."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, programs
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

DOCS = """\
kind: EventType
name: top_up
description: prepaid balance topped up
fields: {amount: float, shop: text}
required: [amount]
---
kind: EventType
name: bill_paid
fields: {amount: float}
---
kind: Offer
code: DATA-5GB
name: 5 GB of data
value: 5
---
kind: Offer
code: ROAM
name: Roaming pack
value: 8
eligibility: "tenure_months >= 24"
---
kind: ContactPolicy
name: gentle
per_run: 1
rules:
  - {type: cap, name: one-a-month, max: 1, days: 30}
---
kind: Program
name: moments
owner: ana
policy: gentle
campaigns:
  - name: top-up-bonus
    kind: triggered
    events: [top_up]
    eligibility: "event.amount >= 50 and tenure_months > 12"
    offers: [DATA-5GB, ROAM]
    channels: [sms]
    priority: 10
    cost_per_contact: 0.05
  - name: monthly
    offers: [DATA-5GB]
    channels: [sms]
"""


def _customers(n: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i:02d}",
            "tenure_months": 6 + 3 * i,
            "msisdn": None if i == 7 else f"+35191{i:07d}",
            "consent_sms": i != 8,
        }
        for i in range(n)
    ]


@pytest.fixture
def events_store(store: Store) -> Store:
    """Customers c00..c11 (tenure 6..39 months), two event types, a running program."""
    return seed_events(store)


def seed_events(store: Store) -> Store:
    """Seed ``store`` as :func:`events_store` has it."""
    with store.session() as s:
        add_fields(s, [FieldDef("tenure_months", FieldType.INT)])
        s.execute(sa.insert(customer_table(load_schema(s))), _customers())
        as_code.apply_documents(s, list(yaml.safe_load_all(DOCS)), source="test", actor="t")
        programs.set_status(s, "moments", "running", actor="t")
        s.commit()
    return store


def top_up(
    eid: str, customer: str, amount: Any = 60.0, shop: str = "online", **over: Any
) -> dict[str, Any]:
    """A ``top_up`` event as a producer sends it, five seconds before NOW."""
    return {
        "id": eid,
        "type": "top_up",
        "customer_id": customer,
        "time": (NOW - timedelta(seconds=5)).isoformat(),
        "payload": {"amount": amount, "shop": shop},
        **over,
    }


@pytest.fixture
def apply_docs(events_store: Store) -> Callable[[str], None]:
    """Apply documents to the events store (a running program is paused, changed, resumed)."""

    def apply(text: str) -> None:
        with events_store.session() as s:
            programs.set_status(s, "moments", "paused", actor="t")
            as_code.apply_documents(s, list(yaml.safe_load_all(text)), source="t", actor="t")
            programs.set_status(s, "moments", "running", actor="t")
            s.commit()

    return apply
