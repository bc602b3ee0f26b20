"""Writers that must not race: one at a time per SQLite database, retried when they lose.

SQLite has one write lock per database. A transaction that reads and then writes
can be refused at its first write ("database is locked") when another process wrote
in between; taking the lock with the transaction's first statement avoids that (the
taker waits up to the busy timeout instead), and within one process the takers wait
their turn on a lock of their own rather than in SQLite's busy handler, which polls.

On PostgreSQL writers run side by side; one that loses a race (a unique key another
wrote first, a deadlock PostgreSQL broke, a serialization failure) is tried again.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from tactica.store.db import Store

#: PostgreSQL's deadlock_detected and serialization_failure.
RACES = ("40P01", "40001")

#: Per SQLite database, the lock its writers in this process take turns on.
_sqlite_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def raced(e: DBAPIError) -> bool:
    """True when ``e`` is a race another writer won: a unique key it wrote first, or
    PostgreSQL breaking a deadlock or a serialization failure."""
    return isinstance(e, IntegrityError) or getattr(e.orig, "sqlstate", None) in RACES


@contextmanager
def one_writer(store: Store) -> Iterator[None]:
    """On SQLite, one writer at a time in this process; elsewhere, no wait."""
    if store.dialect != "sqlite":
        yield
        return
    with _writers_lock:
        lock = _sqlite_writers.setdefault(store.engine, threading.Lock())
    with lock:
        yield


def take_write_lock(session: Session, table: sa.Table) -> None:
    """On SQLite, take the database's write lock now, with a write that changes nothing
    (to ``table``), so no other process commits between this transaction's reads and
    its writes. Elsewhere, nothing."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().execute(_no_delete(table))


@functools.cache
def _no_delete(table: sa.Table) -> sa.Delete:
    return sa.delete(table).where(sa.false())
