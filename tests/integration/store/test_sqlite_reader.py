"""Reading SQLite through ADBC in child processes: same tables, clear errors, no harm."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tactica.store.arrow import fetch_arrow, fetch_arrow_many
from tactica.store.db import Store
from tactica.store.sqlite_reader import ArrowQuery, ChildReadError, read_in_children

KINDS = {"id": "text", "n": "int", "x": "float"}


@pytest.fixture
def db(tmp_path: Path) -> Store:
    """A SQLite store whose first 3,000 rows have only NULLs, as ADBC types from them."""
    store = Store(f"sqlite:///{tmp_path / 'tactica.db'}")
    with store.engine.begin() as c:
        c.execute(sa.text("CREATE TABLE t (id TEXT, n INTEGER, x REAL)"))
        c.execute(
            sa.text("INSERT INTO t VALUES (:id, :n, :x)"),
            [{"id": None, "n": None, "x": None}] * 3000
            + [
                {"id": "a'b", "n": 7, "x": 1.5},
                {"id": "", "n": 0, "x": 2},
                {"id": "ü\nz", "n": -(2**62), "x": None},
            ],
        )
    return store


def _path(store: Store) -> str:
    path = store.engine.url.database
    assert path is not None
    return path


def test_children_read_what_the_process_reads(db: Store) -> None:
    sql = "SELECT id, n, x FROM t ORDER BY rowid"
    (got, empty), (other,) = read_in_children(
        _path(db),
        [
            [ArrowQuery(sql, KINDS), ArrowQuery("SELECT id, n, x FROM t WHERE 0", KINDS)],
            [ArrowQuery("SELECT n FROM t WHERE n IS NOT NULL ORDER BY n", {"n": "int"})],
        ],
    )
    assert got.schema == pa.schema([("id", pa.string()), ("n", pa.int64()), ("x", pa.float64())])
    assert got.equals(fetch_arrow(db, sql, KINDS))
    assert got.num_rows == 3003
    assert got.slice(3000).to_pylist() == [
        {"id": "a'b", "n": 7, "x": 1.5},
        {"id": "", "n": 0, "x": 2.0},
        {"id": "ü\nz", "n": -(2**62), "x": None},
    ]
    assert empty.num_rows == 0 and empty.schema == got.schema
    assert other.column("n").to_pylist() == [-(2**62), 0, 7]


def test_fetch_arrow_many_large_matches_in_process(db: Store) -> None:
    queries = [
        ("SELECT id, n, x FROM t ORDER BY rowid", KINDS),
        ("SELECT count(*) AS c FROM t", {"c": "int"}),
    ]
    assert [t.to_pydict() for t in fetch_arrow_many(db, queries, large=True)] == [
        t.to_pydict() for t in fetch_arrow_many(db, queries)
    ]


def test_a_failing_query_names_itself(db: Store) -> None:
    with pytest.raises(ChildReadError, match=r"no such column: nope(.|\n)*query: SELECT nope"):
        read_in_children(_path(db), [[ArrowQuery("SELECT nope FROM t", {"nope": "int"})]])
    with pytest.raises(ChildReadError, match=r"no kind given for the columns \['x'\]"):
        read_in_children(_path(db), [[ArrowQuery("SELECT n, x FROM t", {"n": "int"})]])
    with pytest.raises(ValueError, match="unknown column kinds"):
        read_in_children(_path(db), [[ArrowQuery("SELECT n FROM t", {"n": "bool"})]])
    with pytest.raises(ChildReadError, match="no SQLite database at"):
        read_in_children(_path(db) + ".missing", [[ArrowQuery("SELECT 1 AS a", {"a": "int"})]])


def test_children_never_write(db: Store) -> None:
    # Read-only twice over: every query is wrapped in a SELECT, on a read-only connection.
    with pytest.raises(ChildReadError, match="syntax error"):
        read_in_children(
            _path(db),
            [[ArrowQuery("INSERT INTO t (id) VALUES ('w') RETURNING id", {"id": "text"})]],
        )
    with db.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM t WHERE id = 'w'")).scalar_one() == 0


def test_reading_in_children_leaves_open_connections_working(db: Store) -> None:
    with db.engine.connect() as held:
        assert held.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 3003
        for _ in range(3):
            fetch_arrow_many(db, [("SELECT id FROM t", {"id": "text"})], large=True)
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO t (id) VALUES ('after')"))
        held.commit()
        assert held.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 3004
    db.dispose()
    check = sqlite3.connect(_path(db))
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()


_SLOW = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT max(i) AS i FROM r"


def _readers_of(parent: int) -> list[int]:
    """Pids of the reading children of ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"tactica.store.sqlite_reader" in cmdline:
            found.append(int(entry.name))
    return found


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_timeout_stops_the_child(db: Store) -> None:
    started = time.monotonic()
    with pytest.raises(ChildReadError, match="more than 1 s"):
        read_in_children(_path(db), [[ArrowQuery(_SLOW, {"i": "int"})]], timeout=1)
    assert time.monotonic() - started < 10
    assert _readers_of(os.getpid()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_dies_with_its_parent(db: Store, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from tactica.store.sqlite_reader import ArrowQuery, read_in_children
            read_in_children({_path(db)!r}, [[ArrowQuery({_SLOW!r}, {{"i": "int"}})]])
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 30
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            children = _readers_of(parent.pid)
        assert children, "the parent never started its reading child"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert all(_gone(pid, within=10) for pid in children)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
