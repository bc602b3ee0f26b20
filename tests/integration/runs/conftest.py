"""A store with customers, segments, lists, offers and a two-campaign program."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, lists, segments
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

PROGRAM = """\
kind: Offer
code: GOLD
name: Gold card
value: 100
---
kind: Offer
code: SAVER
name: Savings account
value: 50
eligibility: "balance > 1000"
---
kind: Program
name: spring
owner: ana
policy: default
campaigns:
  - name: young-sms
    segment: young
    offers: [GOLD, SAVER]
    channels: [sms]
    score: "balance / 1000"
    priority: 10
    capacity: 10
    control_share: 0.2
    cost_per_contact: 0.05
  - name: all-email
    offers: [GOLD]
    channels: [email]
    priority: 1
    cost_per_contact: 0.01
"""


def customers(n: int = 40) -> list[dict[str, Any]]:
    """Customers c00..: ages 20..59, balances 0..7800, most reachable by SMS and e-mail."""
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"c{i:02d}",
                "age": 20 + i,
                "balance": float(i * 200),
                "msisdn": None if i % 9 == 4 else f"+35191{i:07d}",
                "consent_sms": i % 7 != 3,
                "email": f"c{i:02d}@example.com" if i % 2 == 0 else None,
                "consent_email": True,
            }
        )
    return out


@pytest.fixture
def program_store(store: Store, tmp_path: Any) -> Store:
    """The store, with 40 customers, a 'young' segment, an opt-out and the 'spring' program."""
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT), FieldDef("balance", FieldType.FLOAT)])
        s.execute(sa.insert(customer_table(load_schema(s))), customers())
        segments.create_segment(s, "young", rule="age < 40", actor="t")
        lists.add_entry(s, "opt_out", lists.EntryInput("c05", channel="sms"), actor="t")
        as_code.apply_documents(s, list(yaml.safe_load_all(PROGRAM)), source="test", actor="t")
        s.commit()
    return store


@pytest.fixture
def apply_yaml(program_store: Store) -> Callable[[str], None]:
    """Apply more documents to the program store."""

    def apply(text: str) -> None:
        with program_store.session() as s:
            as_code.apply_documents(s, list(yaml.safe_load_all(text)), source="test", actor="t")
            s.commit()

    return apply
