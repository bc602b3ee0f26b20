"""The customer table as it really is: built-in columns plus one column per declared field.

Declaring a field is a schema change the tool applies (``ALTER TABLE customers ADD
COLUMN``) in the caller's transaction, so an import that learns new columns either
lands whole, new columns included, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from tactica.domain.schema import CustomerSchema, FieldDef, FieldKind, FieldType
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.store.models import CustomerField

SQL_TYPES: dict[FieldType, TypeEngine[Any]] = {
    FieldType.INT: sa.BigInteger(),
    FieldType.FLOAT: sa.Float(precision=53),
    FieldType.TEXT: sa.Text(),
    FieldType.BOOL: sa.Boolean(),
    FieldType.DATE: sa.Date(),
    FieldType.TIMESTAMP: sa.DateTime(),
    FieldType.CATEGORY: sa.Text(),
}


def contact_point_index(field: str) -> str:
    """The name of the index every contact-point column has."""
    return f"ix_customers_{field}"


def to_field_def(row: CustomerField) -> FieldDef:
    """The domain definition of a stored field row."""
    return FieldDef(
        name=row.name,
        type=FieldType(row.type),
        kind=FieldKind(row.kind),
        channel=row.channel,
        categories=tuple(row.categories or ()),
        description=row.description,
    )


def load_schema(session: Session) -> CustomerSchema:
    """The declared customer schema, in declaration order."""
    rows = session.scalars(
        sa.select(CustomerField).order_by(CustomerField.position, CustomerField.id)
    )
    return CustomerSchema(tuple(to_field_def(r) for r in rows))


def customer_table(schema: CustomerSchema, metadata: sa.MetaData | None = None) -> sa.Table:
    """A Core table for ``customers`` with every declared field as a typed column."""
    md = metadata if metadata is not None else sa.MetaData()
    cols: list[sa.Column[Any]] = [
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("timezone", sa.String(64)),
        sa.Column("language", sa.String(16)),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    ]
    cols += [sa.Column(f.name, SQL_TYPES[f.type]) for f in schema.fields]
    return sa.Table("customers", md, *cols)


def add_fields(session: Session, fields: Iterable[FieldDef]) -> list[FieldDef]:
    """Declare new fields: add their columns and record them. Raises on any bad definition."""
    schema = load_schema(session)
    new = list(fields)
    problems: list[str] = []
    seen: set[str] = set()
    for f in new:
        problems += f.problems()
        if schema.get(f.name) is not None or f.name in seen:
            problems.append(f"field {f.name!r} exists already")
        seen.add(f.name)
    if problems:
        raise InvalidInput("; ".join(problems), where="customer schema")
    position = len(schema.fields)
    dialect = session.get_bind().dialect
    for i, f in enumerate(new):
        type_sql = SQL_TYPES[f.type].compile(dialect=dialect)
        # The name passed validate_field_name, so quoting is belt and braces.
        quoted = dialect.identifier_preparer.quote(f.name)
        session.execute(sa.text(f"ALTER TABLE customers ADD COLUMN {quoted} {type_sql}"))
        if f.kind == FieldKind.CONTACT_POINT:
            # Replies name their sender by address: finding the customer must not scan.
            index = dialect.identifier_preparer.quote(contact_point_index(f.name))
            session.execute(sa.text(f"CREATE INDEX {index} ON customers ({quoted})"))
        session.add(
            CustomerField(
                name=f.name,
                type=f.type.value,
                kind=f.kind.value,
                channel=f.channel,
                categories=list(f.categories),
                description=f.description,
                position=position + i,
            )
        )
    session.flush()
    return new


def update_categories(session: Session, name: str, categories: Iterable[str]) -> FieldDef:
    """Replace the allowed values of a category field."""
    row = session.scalar(sa.select(CustomerField).where(CustomerField.name == name))
    if row is None:
        raise NotFound(f"no customer field {name!r}")
    if row.type != FieldType.CATEGORY.value:
        raise Conflict(f"field {name!r} is {row.type}, not a category")
    row.categories = sorted(set(categories))
    session.flush()
    return to_field_def(row)


def drop_field(session: Session, name: str) -> None:
    """Remove a declared field and its column (its values are lost)."""
    row = session.scalar(sa.select(CustomerField).where(CustomerField.name == name))
    if row is None:
        raise NotFound(f"no customer field {name!r}")
    preparer = session.get_bind().dialect.identifier_preparer
    quoted = preparer.quote(name)
    if row.kind == FieldKind.CONTACT_POINT.value:
        index = preparer.quote(contact_point_index(name))
        session.execute(sa.text(f"DROP INDEX IF EXISTS {index}"))
    session.execute(sa.text(f"ALTER TABLE customers DROP COLUMN {quoted}"))
    session.delete(row)
    session.flush()
