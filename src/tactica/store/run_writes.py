"""Bulk writes of a run's contacts and held-out members, inside the caller's transaction.

A run writes up to millions of contacts, and they must commit or roll back together
with the run's record. The ORM would spend seconds per million rows building
objects; here the rows go to the driver in bulk on the session's own connection:
``executemany`` on SQLite, ``COPY ... FROM STDIN`` as CSV on PostgreSQL.

On SQLite the cost is in Python binding every value and in SQLite's B-trees, so the
rows go in sorted as the contact indexes are (each index then grows along, instead
of at a million random places), columns with one value for all rows go into the
statement once instead of into every row, and the connection's page cache is made
large enough for the indexes' pages while the rows go in.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy.orm import Session

from tactica.store import daily_figures

#: The contact columns a run writes, in this order.
CONTACT_COLUMNS = (
    "run_id",
    "program",
    "campaign",
    "campaign_kind",
    "customer_id",
    "offer",
    "channel",
    "score",
    "cost",
    "rank",
    "status",
    "decided_at",
)

_CONTACTS_ARROW = pa.schema(
    [
        ("run_id", pa.int64()),
        ("program", pa.string()),
        ("campaign", pa.string()),
        ("campaign_kind", pa.string()),
        ("customer_id", pa.string()),
        ("offer", pa.string()),
        ("channel", pa.string()),
        ("score", pa.float64()),
        ("cost", pa.string()),
        ("rank", pa.int64()),
        ("status", pa.string()),
        ("decided_at", pa.string()),
    ]
)

#: The held-out member columns a run writes, in this order.
HELD_OUT_COLUMNS = (
    "run_id",
    "customer_id",
    "campaign",
    "program",
    "offer",
    "channel",
    "score",
    "decided_at",
)

_HELD_OUT_ARROW = pa.schema([_CONTACTS_ARROW.field(name) for name in HELD_OUT_COLUMNS])


#: Rows bound per ``executemany`` call (bounds the Python objects alive at once).
_SQLITE_BATCH = 100_000
#: The page cache, in KiB, while contacts go in on SQLite (the default is 2 MiB).
_SQLITE_CACHE_KIB = 256 * 1024


def _driver_connection(session: Session) -> Any:
    return session.connection().connection.driver_connection


def insert_contacts(session: Session, rows: pa.Table, decided_at: datetime | None) -> int:
    """Insert ``rows`` into ``contacts``, all decided at ``decided_at``; returns the count.

    ``rows`` has every column of :data:`CONTACT_COLUMNS` but ``decided_at`` (others are
    ignored); ``cost`` may be any type that casts to decimal text. With ``decided_at``
    None, ``rows`` carries its own ``decided_at`` as a timestamp column (history loaded
    in bulk). Runs in the session's transaction.
    """
    return _insert(session, "contacts", _CONTACTS_ARROW, rows, decided_at)


def insert_held_out(session: Session, rows: pa.Table, decided_at: datetime) -> int:
    """Insert a run's control-group members into ``held_out``; returns the count.

    ``rows`` has every column of :data:`HELD_OUT_COLUMNS` but ``decided_at`` (others are
    ignored). Runs in the session's transaction.
    """
    return _insert(session, "held_out", _HELD_OUT_ARROW, rows, decided_at)


def _insert(
    session: Session,
    table_name: str,
    schema: pa.Schema,
    rows: pa.Table,
    decided_at: datetime | None,
) -> int:
    sqlite = session.get_bind().dialect.name == "sqlite"
    # SQLite keeps UTC text with six fraction digits (%S prints them for microsecond
    # timestamps); PostgreSQL gets the offset spelt out.
    offset = "" if sqlite else "+00:00"
    if decided_at is not None:
        # One moment for every row: formatted once (Arrow's strftime costs about a
        # second per million rows).
        if decided_at.tzinfo is None:
            decided_at = decided_at.replace(tzinfo=UTC)
        stamp = decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + offset
        text = pa.chunked_array([pa.repeat(pa.scalar(stamp, pa.string()), rows.num_rows)])
        rows = rows.append_column("decided_at", text)
    else:
        utc = rows["decided_at"].cast(pa.timestamp("us", tz="UTC"))
        text = pc.strftime(utc, "%Y-%m-%d %H:%M:%S")
        if offset:
            text = pc.binary_join_element_wise(text, offset, "")
        rows = rows.set_column(rows.schema.get_field_index("decided_at"), "decided_at", text)
    table = rows.select(schema.names)
    table = table.cast(schema)
    if table.num_rows == 0:
        return 0
    raw = _driver_connection(session)
    if sqlite:
        return _sqlite_insert(raw, table_name, table)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    copy_sql = f"COPY {table_name} ({', '.join(schema.names)}) FROM STDIN WITH (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(buf.getbuffer())
    return int(table.num_rows)


def _sql_literal(column: pa.ChunkedArray) -> str | None:
    """The SQL literal of a text or integer column holding one value in every row, or None.

    A literal is stored exactly as the same value bound would be (column affinity
    applies to both).
    """
    if column.null_count or len(column) == 0:
        return None
    if not (pa.types.is_string(column.type) or pa.types.is_integer(column.type)):
        return None
    low, high = pc.min_max(column).values()
    if low != high:
        return None
    value = low.as_py()
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if "\x00" in text:
        return None  # SQL text literals end at a NUL; bound values do not
    return "'" + text.replace("'", "''") + "'"


def _sqlite_insert(raw: Any, table_name: str, table: pa.Table) -> int:
    """Insert ``table`` into ``table_name`` (same column names) with the stdlib driver."""
    # The indexes on contacts and the key of held_out lead with (run_id, customer_id,
    # campaign) and customer_id; one run's rows share the run_id.
    table = table.sort_by([("customer_id", "ascending"), ("campaign", "ascending")])
    values: list[str] = []
    bound: list[str] = []
    for name in table.column_names:
        # customer_id is always bound: with no value bound, executemany inserts nothing.
        literal = None if name == "customer_id" else _sql_literal(table[name])
        values.append("?" if literal is None else literal)
        if literal is None:
            bound.append(name)
    names = ", ".join(table.column_names)
    sql = f"INSERT INTO {table_name} ({names}) VALUES ({', '.join(values)})"
    cur = raw.cursor()
    try:
        (cache,) = cur.execute("PRAGMA cache_size").fetchone()
        cur.execute(f"PRAGMA cache_size = {-_SQLITE_CACHE_KIB}")
        # The rollup's row triggers would cost more than the insert itself: they stand
        # aside, and the rows' figures go in grouped (see tactica.store.daily_figures).
        try:
            with daily_figures.triggers_aside(cur, table_name):
                for batch in table.select(bound).to_batches(max_chunksize=_SQLITE_BATCH):
                    columns = [c.to_pylist() for c in batch.columns]
                    cur.executemany(sql, zip(*columns, strict=True))
        finally:
            cur.execute(f"PRAGMA cache_size = {int(cache)}")
        daily_figures.add_bulk_rows(cur, table_name, table)
    finally:
        cur.close()
    return int(table.num_rows)
