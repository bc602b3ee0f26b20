"""A shop with customers in three regions, two offers, two programs and a sales team.

No run is needed to open leads: the tests open them as a reply would, through
``sales.open_lead``, at fixed times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, sales
from tactica.services.sales import Acting
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import Lead

# The API client fixture, with a user and a token per role, for test_api.py.
from tests.integration.api.conftest import api  # noqa: F401

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

DOCS = """\
kind: ContactPolicy
name: gentle
per_run: 1
rules: []
---
kind: Offer
code: GOLD
name: Gold card
product: Cards
price: 120
value: 100
discount_max: 10
---
kind: Offer
code: HOME
name: Home loan
product: loans
price: 1000
value: 300
---
kind: Program
name: north
owner: ana
policy: gentle
sales: {assignment: territory, sla_hours: 8}
campaigns:
  - name: gold
    offers: [GOLD]
    channels: [sms]
---
kind: Program
name: mortgages
owner: ana
policy: gentle
sales: {assignment: skill, sla_hours: 4}
campaigns:
  - name: home
    offers: [HOME]
    channels: [sms]
"""

#: Customer -> region: two in Lisboa (spelt two ways), two in Porto, one in Faro.
REGIONS = {"c1": "Lisboa", "c2": "lisboa", "c3": "Porto", "c4": "Porto", "c5": "Faro"}

ADMIN = Acting("boss", "admin", "user:boss")
MARKETER = Acting("mia", "marketer", "user:mia")
ANALYST = Acting("ann", "analyst", "user:ann")


def rep(name: str) -> Acting:
    """A sales rep acting as themself."""
    return Acting(name, "sales_rep", f"user:{name}")


def seed(store: Store) -> Store:
    """Customers with a region and a district, the offers and programs, no reps yet."""
    with store.session() as s:
        add_fields(s, [FieldDef("region", FieldType.TEXT), FieldDef("district", FieldType.TEXT)])
        table = customer_table(load_schema(s))
        s.execute(
            sa.insert(table),
            [{"id": c, "region": r, "district": f"d-{c}"} for c, r in REGIONS.items()],
        )
        as_code.apply_documents(s, list(yaml.safe_load_all(DOCS)), source="t", actor="t")
        s.commit()
    return store


@pytest.fixture
def shop(store: Store) -> Store:
    """The shop with rita (Lisboa, cards; manager mia) and paulo (Porto, loans; no manager)."""
    seed(store)
    with store.session() as s:
        sales.add_rep(s, "rita", territory="Lisboa", skills=["cards"], manager="mia", actor="t")
        sales.add_rep(s, "paulo", territory="porto", skills=["Loans"], actor="t")
        s.commit()
    return store


def lead_for(s: Session, customer: str, program: str = "north", now: datetime = NOW) -> Lead:
    """Open a lead as an interested reply to ``program`` would."""
    offer = {"north": "GOLD", "mortgages": "HOME"}.get(program)
    return sales.open_lead(
        s, customer_id=customer, reply="tell me more", program=program, offer=offer, now=now
    )
