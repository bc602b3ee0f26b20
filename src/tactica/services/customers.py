"""Customers: the declared fields (the schema) and looking customers up.

Importing customers lives in :mod:`tactica.services.importing`. Like the other
services these functions work in the caller's session; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.schema import FieldDef
from tactica.errors import NotFound
from tactica.services import audit
from tactica.store.customer_table import add_fields, customer_table, load_schema


def field_view(f: FieldDef) -> dict[str, Any]:
    """A field as shown to people and recorded in the audit log."""
    return {
        "name": f.name,
        "type": f.type.value,
        "kind": f.kind.value,
        "channel": f.channel,
        "categories": list(f.categories),
        "description": f.description,
    }


def declare_fields(session: Session, fields: Iterable[FieldDef], actor: str) -> list[FieldDef]:
    """Add fields to the customer schema, each a new typed column; audited one by one.

    Raises InvalidInput (nothing added) when any definition is bad or exists already.
    """
    added = add_fields(session, list(fields))
    for f in added:
        audit.record(session, actor, "declare", "customer_field", f.name, after=field_view(f))
    return added


def list_fields(session: Session) -> list[FieldDef]:
    """Every declared customer field, in declaration order."""
    return list(load_schema(session).fields)


def _row(row: sa.RowMapping) -> dict[str, Any]:
    return dict(row)


def get_customer(session: Session, customer_id: str) -> dict[str, Any]:
    """Every column of one customer (built-ins and declared fields); NotFound if absent."""
    table = customer_table(load_schema(session))
    row = session.execute(sa.select(table).where(table.c.id == customer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no customer {customer_id!r}")
    return _row(row)


def count_customers(session: Session) -> int:
    """How many customers there are."""
    return int(session.execute(sa.text("SELECT count(*) FROM customers")).scalar_one())


def search_customers(session: Session, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """A page of customers with every column, ordered by id."""
    table = customer_table(load_schema(session))
    q = sa.select(table).order_by(table.c.id).limit(limit).offset(offset)
    return [_row(r) for r in session.execute(q).mappings()]
