"""Reading the store as Arrow: typed columns, and no harm to other open connections."""

from __future__ import annotations

import pyarrow as pa
import sqlalchemy as sa

from tactica.store.arrow import fetch_arrow
from tactica.store.db import Store


def test_columns_are_typed_even_when_empty_or_null(store: Store) -> None:
    kinds = {"id": "text", "msisdn": "text", "consent_sms": "int"}
    empty = fetch_arrow(store, "SELECT id, msisdn, consent_sms FROM customers", kinds)
    assert empty.num_rows == 0
    assert empty.schema.types == [pa.string(), pa.string(), pa.int64()]
    with store.engine.begin() as c:
        c.execute(
            sa.text("INSERT INTO customers (id, msisdn, consent_sms) VALUES ('a', NULL, NULL)")
        )
        c.execute(
            sa.text("INSERT INTO customers (id, msisdn, consent_sms) VALUES ('b', '+1', true)")
        )
    t = fetch_arrow(store, "SELECT id, msisdn, consent_sms FROM customers ORDER BY id", kinds)
    assert t.to_pydict() == {"id": ["a", "b"], "msisdn": [None, "+1"], "consent_sms": [None, 1]}


def test_reading_leaves_open_connections_working(store: Store) -> None:
    """A second SQLite library in the process once deleted the WAL under open connections."""
    with store.engine.connect() as held:
        held.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar_one()
        for _ in range(3):
            fetch_arrow(store, "SELECT id FROM customers", {"id": "text"})
        with store.engine.begin() as c:
            c.execute(sa.text("INSERT INTO customers (id) VALUES ('x')"))
        held.commit()  # end the held snapshot, then read again on the same connection
        assert held.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar_one() == 1
    fresh = Store(store.url)
    with fresh.engine.connect() as c:
        assert c.execute(sa.text("SELECT id FROM customers")).scalars().all() == ["x"]
    fresh.dispose()
