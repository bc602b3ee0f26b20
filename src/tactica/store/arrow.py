"""Reading query results from the store as Arrow tables.

Arrow is how data leaves the store for columnar work (profiles now, the batch
engine later). PostgreSQL is read through ADBC, straight into columns.

SQLite is read through the same SQLite library SQLAlchemy uses, never through
ADBC's: two copies of SQLite in one process must not open the same database.
POSIX file locks belong to the process, so one copy closing its file drops the
other's locks, and on close it may delete the WAL the other still uses ("disk
I/O error", or worse, a damaged database). Large reads (a whole run's inputs) go
through ADBC's SQLite in child processes instead (:mod:`tactica.store.sqlite_reader`),
where that cannot happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from tactica.store.db import Store
from tactica.store.sqlite_reader import ArrowQuery, read_in_children

#: Arrow type per column kind.
ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "text": pa.string()}

_BATCH_ROWS = 100_000
#: From about this many rows, a read is worth a child process (half a second to start).
LARGE_READ_ROWS = 100_000


def _adbc_postgres(url: str) -> Any:
    import adbc_driver_postgresql.dbapi as pg_dbapi

    # libpq wants a plain postgresql:// URI; the search_path option travels as a query string.
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return pg_dbapi.connect(plain)


def _sqlite_arrow(store: Store, sql: str, kinds: dict[str, str] | None) -> pa.Table:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            schema = (
                pa.schema([(n, ARROW_TYPES[kinds[n]]) for n in names])
                if kinds and all(n in kinds for n in names)
                else None
            )
            batches: list[pa.RecordBatch] = []
            while rows := cur.fetchmany(_BATCH_ROWS):
                columns = list(zip(*rows, strict=True))
                if schema is None:
                    batches.append(
                        pa.RecordBatch.from_arrays([pa.array(c) for c in columns], names=names)
                    )
                else:
                    batches.append(
                        pa.RecordBatch.from_arrays(
                            [
                                pa.array(c, type=f.type)
                                for c, f in zip(columns, schema, strict=True)
                            ],
                            schema=schema,
                        )
                    )
            if not batches:
                empty = schema or pa.schema([(n, pa.string()) for n in names])
                return empty.empty_table()
            if schema is None:
                return pa.Table.from_batches(batches).combine_chunks()
            return pa.Table.from_batches(batches, schema=schema)
        finally:
            cur.close()
    finally:
        raw.close()


def fetch_arrow(store: Store, sql: str, kinds: dict[str, str] | None = None) -> pa.Table:
    """Run ``sql`` (rendered for the store's dialect) and return the rows as Arrow.

    ``kinds`` names each selected column's kind (``int``, ``float`` or ``text``) so
    that every column is typed even when all its values are missing.
    """
    if store.dialect == "sqlite":
        return _sqlite_arrow(store, sql, kinds)
    conn = _adbc_postgres(store.url)
    try:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            table: pa.Table = cur.fetch_arrow_table()
            if kinds:
                table = table.cast(
                    pa.schema(
                        [
                            (n, ARROW_TYPES.get(kinds.get(n, ""), t))
                            for n, t in zip(table.column_names, table.schema.types, strict=True)
                        ]
                    )
                )
            return table
        finally:
            cur.close()
    finally:
        conn.close()


def _sqlite_file(store: Store) -> str | None:
    path = store.engine.url.database
    return path if path and path != ":memory:" else None


def fetch_arrow_many(
    store: Store,
    queries: Sequence[tuple[str, Mapping[str, str]]],
    *,
    large: bool = False,
) -> list[pa.Table]:
    """Run several queries, one after the other, and return their rows as Arrow tables.

    Each query comes with the kinds of the columns it selects (``int``, ``float`` or
    ``text``), as :func:`fetch_arrow` takes them. With ``large`` on a SQLite file the
    queries run in a child process through ADBC's SQLite, two to three times faster
    than Python's driver; the child costs about half a second to start, worth it from
    some :data:`LARGE_READ_ROWS` rows, and needs the kind of every column. Calls from
    several threads read at once.
    """
    if not queries:
        return []
    path = _sqlite_file(store) if store.dialect == "sqlite" else None
    if large and path is not None:
        return read_in_children(path, [[ArrowQuery(sql, kinds) for sql, kinds in queries]])[0]
    return [fetch_arrow(store, sql, dict(kinds)) for sql, kinds in queries]
