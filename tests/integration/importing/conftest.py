"""Helpers for the import tests: small files in tmp_path, and looking at what landed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tactica.store.db import Store

BANK = Path(__file__).parents[2] / "data" / "bank-marketing.csv.gz"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def scalar(store: Store, sql: str) -> Any:
    """The single value of a query."""
    with store.engine.connect() as c:
        return c.execute(sa.text(sql)).scalar_one()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    """Every row of a query, as tuples."""
    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def customer_columns(store: Store) -> set[str]:
    """The columns the customers table really has."""
    return {c["name"] for c in sa.inspect(store.engine).get_columns("customers")}


def snapshot(store: Store) -> dict[str, Any]:
    """Everything an import may touch, to compare before and after a failed one."""
    return {
        "columns": customer_columns(store),
        "fields": rows(store, "SELECT name FROM customer_fields ORDER BY name"),
        "customers": rows(store, "SELECT id, updated_at FROM customers ORDER BY id"),
        "jobs": scalar(store, "SELECT count(*) FROM import_jobs"),
        "audit": scalar(store, "SELECT count(*) FROM audit_log"),
    }


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store, for checks that do not depend on the database."""
    s = Store(f"sqlite:///{tmp_path / 'one.db'}")
    s.upgrade()
    try:
        yield s
    finally:
        s.dispose()
