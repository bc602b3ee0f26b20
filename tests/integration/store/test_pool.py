"""A pooled PostgreSQL connection the server dropped never reaches a caller."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tactica.store import db
from tactica.store.db import Store


def test_a_connection_killed_while_idle_is_replaced(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.2)
    store = Store(pg_schema_url)
    try:
        with store.engine.connect() as c:
            pid = c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        # The server ends the pooled connection (a restart, an idle timeout).
        other = sa.create_engine(pg_schema_url)
        with other.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.dispose()
        time.sleep(0.3)
        with store.session() as s:
            assert s.execute(sa.text("SELECT 1")).scalar_one() == 1
            assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        store.dispose()


def test_a_connection_in_use_a_moment_ago_is_not_tried_again(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(pg_schema_url)
    pings: list[object] = []
    monkeypatch.setattr(store.engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    try:
        for _ in range(20):
            with store.session() as s:
                s.execute(sa.text("SELECT 1"))
        assert pings == []  # back-to-back transactions: no extra round trip
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.05)
        time.sleep(0.1)
        with store.session() as s:
            s.execute(sa.text("SELECT 1"))
        assert len(pings) == 1
    finally:
        store.dispose()
