"""Connecting to the store: engine, sessions, migrations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from tactica.config import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The stdlib driver opens transactions lazily and not before DDL; take control so that
    # ALTER TABLE (new customer fields) and the rows of an import commit or roll back together.
    dbapi_conn.isolation_level = None
    # WAL lets the API read while an import writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The API serves from up to 40 threads: connections beyond the pool are opened
        # and closed per use (four pragmas each), so keep enough of them.
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=20, max_overflow=20
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A PostgreSQL connection is a server process: opening one per request beyond the
    # pool costs milliseconds, so the pool keeps what a busy API uses.
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


#: A pooled connection given back less than this long ago is taken as alive.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has sat idle a while.

    A connection the server has closed (a restart, an idle timeout) must never reach a
    caller, so one taken from the pool is tried first with a round trip. On a busy
    API that round trip would come before every transaction (a decision on an event
    is a dozen); a connection given back a moment ago is alive, so only one idle for
    :data:`PING_AFTER_IDLE_SECONDS` or more is tried. A dead one is replaced by the
    pool, as SQLAlchemy's own pre-ping would.
    """

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # any failure: the pool opens another connection
            raise DisconnectionError(f"pooled connection is gone: {e}") from e


class Store:
    """The database of one workspace: an engine and a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store the settings point at (SQLite in the workspace by default)."""
        if settings.is_sqlite:
            settings.ensure_home()
        return cls(settings.db_url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; rolled back unless the code inside commits."""
        with self._sessions() as s:
            try:
                yield s
            except BaseException:
                s.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision`` (default: the newest)."""
        with self.engine.begin() as conn:
            cfg = alembic_config(self.url, conn)
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision``."""
        with self.engine.begin() as conn:
            command.downgrade(alembic_config(self.url, conn), revision)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def alembic_config(url: str, connection: Any = None) -> Config:
    """An Alembic config for the packaged migrations, without an alembic.ini on disk."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg
