"""Bulk writes of a run's contacts, inside the caller's transaction.

A run writes up to millions of contacts, and they must commit or roll back together
with the run's record. The ORM would spend seconds per million rows building
objects; here the rows go to the driver in bulk on the session's own connection:
``executemany`` on SQLite, ``COPY ... FROM STDIN`` as CSV on PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy.orm import Session

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


def _driver_connection(session: Session) -> Any:
    return session.connection().connection.driver_connection


def insert_contacts(session: Session, rows: pa.Table, decided_at: datetime | None) -> int:
    """Insert ``rows`` into ``contacts``, all decided at ``decided_at``; returns the count.

    ``rows`` has every column of :data:`CONTACT_COLUMNS` but ``decided_at``; ``cost``
    may be any type that casts to decimal text. With ``decided_at`` None, ``rows``
    carries its own ``decided_at`` as a timestamp column (history loaded in bulk).
    Runs in the session's transaction.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if decided_at is not None:
        stamps = pa.repeat(pa.scalar(decided_at, pa.timestamp("us", tz="UTC")), rows.num_rows)
        rows = rows.append_column("decided_at", stamps)
    utc = rows["decided_at"].cast(pa.timestamp("us", tz="UTC"))
    # SQLite keeps UTC text with six fraction digits (%S prints them for microsecond
    # timestamps); PostgreSQL gets the offset spelt out.
    text = pc.strftime(utc, "%Y-%m-%d %H:%M:%S")
    if not sqlite:
        text = pc.binary_join_element_wise(text, "+00:00", "")
    table = rows.set_column(rows.schema.get_field_index("decided_at"), "decided_at", text).select(
        list(CONTACT_COLUMNS)
    )
    table = table.cast(_CONTACTS_ARROW)
    if table.num_rows == 0:
        return 0
    raw = _driver_connection(session)
    names = ", ".join(CONTACT_COLUMNS)
    if sqlite:
        marks = ", ".join("?" for _ in CONTACT_COLUMNS)
        sql = f"INSERT INTO contacts ({names}) VALUES ({marks})"
        for batch in table.to_batches(max_chunksize=200_000):
            columns = [c.to_pylist() for c in batch.columns]
            raw.executemany(sql, zip(*columns, strict=True))
        return int(table.num_rows)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    copy_sql = f"COPY contacts ({names}) FROM STDIN WITH (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(buf.getbuffer())
    return int(table.num_rows)
