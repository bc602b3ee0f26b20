"""A store where the 'autumn' program has run and its contacts went out an hour ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, runs
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import Contact, SalesRep

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SENT = NOW - timedelta(hours=1)

PROGRAM = """\
kind: ContactPolicy
name: one-a-run
per_run: 1
rules: []
---
kind: Offer
code: GOLD
name: Gold card
price: 120
value: 100
discount_max: 10
---
kind: Program
name: autumn
owner: ana
policy: one-a-run
sales: {assignment: round_robin, sla_hours: 4}
campaigns:
  - name: gold-sms
    offers: [GOLD]
    channels: [sms]
    priority: 10
    response_window_days: 7
    eligibility: "age < 40"
  - name: gold-email
    offers: [GOLD]
    channels: [email]
"""


def customers(n: int) -> list[dict[str, Any]]:
    """c00..: under-40s are reached by SMS, the others by e-mail."""
    return [
        {
            "id": f"c{i:02d}",
            "age": 20 + 2 * i,
            "msisdn": f"+35191{i:07d}",
            "consent_sms": True,
            "email": f"c{i:02d}@example.com",
            "consent_email": True,
        }
        for i in range(n)
    ]


def ran_store(
    store: Store, n: int = 20, reps: tuple[str, ...] = ("rita", "sam"), sent: datetime = SENT
) -> Store:
    """Customers, the program run a minute before ``sent``, every contact sent then, two reps."""
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT)])
        s.execute(sa.insert(customer_table(load_schema(s))), customers(n))
        as_code.apply_documents(s, list(yaml.safe_load_all(PROGRAM)), source="t", actor="t")
        for name in reps:
            s.add(SalesRep(username=name, capacity=50, skills=[], role="hunter"))
        s.commit()
    done = runs.run_program(store, "autumn", actor="ana", now=sent - timedelta(minutes=1))
    assert done is not None and done.status == "completed"
    with store.session() as s:
        s.execute(sa.update(Contact).values(status="sent", sent_at=sent))
        s.commit()
    return store


@pytest.fixture
def ran(store: Store) -> Store:
    return ran_store(store)


def contact_of(store: Store, customer_id: str) -> Contact:
    """The customer's contact from the run."""
    with store.session() as s:
        c = s.scalar(sa.select(Contact).where(Contact.customer_id == customer_id))
        assert c is not None
        s.expunge(c)
        return c
