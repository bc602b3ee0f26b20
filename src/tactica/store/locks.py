"""The ledger lock: one run at a time reads the contact history and writes contacts.

A run reads the contact history, decides for minutes, then writes its contacts. Two
runs doing that at once would each see the other's customers as uncontacted, and
together they could push a customer past a cap. Runs therefore hold this lock from
reading the history to committing their contacts. On PostgreSQL it is a session
advisory lock (every process, every host); on SQLite a file lock beside the database
(every process on the machine, the only ones that can open the file).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tactica.store.db import Store

#: The advisory-lock key of the ledger (an arbitrary constant: 'tactica' in ASCII, truncated).
LEDGER_LOCK_KEY = 0x7461637469636100


def _sqlite_path(store: Store) -> str | None:
    path = store.engine.url.database
    return path if path and path != ":memory:" else None


@contextmanager
def ledger_lock(store: Store) -> Iterator[None]:
    """Hold the ledger lock for the duration of the block (waits for it)."""
    if store.dialect == "sqlite":
        path = _sqlite_path(store)
        if path is None:
            yield
            return
        fd = os.open(path + ".ledger-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the file releases the lock, also when the process dies
        return
    with store.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LEDGER_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LEDGER_LOCK_KEY})
            conn.commit()
