"""Reading query results from the store as Arrow tables, through ADBC.

Arrow is how data leaves the store for columnar work (profiles now, the batch
engine later): ADBC reads a million SQLite or PostgreSQL rows straight into
columns, without a Python object per value.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from tactica.store.db import Store


def _adbc_connect(url: str) -> Any:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        return sqlite_dbapi.connect(u.database or ":memory:")
    import adbc_driver_postgresql.dbapi as pg_dbapi

    # libpq wants a plain postgresql:// URI; the search_path option travels as a query string.
    plain = u.set(drivername="postgresql").render_as_string(hide_password=False)
    return pg_dbapi.connect(plain)


#: A typed, non-null value per Arrow kind, for the SQLite sentinel row (see fetch_arrow).
_SENTINELS = {"int": "0", "float": "0.5", "text": "''"}


def fetch_arrow(store: Store, sql: str, kinds: dict[str, str] | None = None) -> pa.Table:
    """Run ``sql`` (rendered for the store's dialect) and return the rows as Arrow.

    ``kinds`` names each selected column's kind (``int``, ``float`` or ``text``). On
    SQLite it is needed: the ADBC driver guesses a column's type from its first
    values and takes a leading NULL for an integer, then fails on text. A typed
    sentinel row is put first and dropped afterwards, so every column is typed.
    """
    conn = _adbc_connect(store.url)
    query = sql
    sentinel = store.dialect == "sqlite" and bool(kinds)
    if sentinel and kinds:
        first = ", ".join(f'{_SENTINELS[k]} AS "{c}"' for c, k in kinds.items())
        query = f"SELECT {first} UNION ALL SELECT * FROM ({sql})"
    try:
        cur = conn.cursor()
        try:
            cur.execute(query)
            table: pa.Table = cur.fetch_arrow_table()
            return table.slice(1) if sentinel else table
        finally:
            cur.close()
    finally:
        conn.close()
