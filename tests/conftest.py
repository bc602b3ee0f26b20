"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL.

PostgreSQL is the local server (``TACTICA_TEST_PG_URL``, default
``postgresql+psycopg://127.0.0.1:5432/test``). Each test gets its own schema, so
tests never see each other's rows. Outside CI a missing server skips the
PostgreSQL half; with ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import settings

from tactica.cli import main
from tactica.services.users import use_password_hasher
from tactica.store.db import Store

PG_URL = os.environ.get("TACTICA_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# CI replays the same examples every run (a red CI must be a real regression, not a new
# random draw); developers' runs explore. No deadlines: CI machines are shared.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if IN_CI else "dev")

# Real argon2id, with parameters cheap enough for hundreds of test users.
use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


_pg_checked: dict[str, str | None] = {}


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (checked once)."""
    if "why" not in _pg_checked:
        try:
            eng = sa.create_engine(PG_URL)
            with eng.connect() as c:
                c.execute(sa.text("SELECT 1"))
            eng.dispose()
            _pg_checked["why"] = None
        except Exception as e:  # any connection failure means "not here"
            _pg_checked["why"] = f"PostgreSQL not reachable at {PG_URL}: {e.__class__.__name__}"
    return _pg_checked["why"]


def require_pg() -> None:
    """Skip (or fail in CI) when PostgreSQL is not there."""
    why = pg_unavailable()
    if why:
        if IN_CI:
            pytest.fail(f"{why} (CI=true: PostgreSQL is required)")
        pytest.skip(why)


def _with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema, dropped on the way out."""
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield _with_schema(PG_URL, schema)
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema, dropped after the test."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: SQLite in a temp folder, then PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tactica.db'}"
    else:
        yield request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each database."""
    s = Store(db_url)
    s.upgrade()
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def workspace(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace folder with the environment pointing at it (and at ``db_url``)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("TACTICA_HOME", str(home))
    monkeypatch.setenv("TACTICA_SECRET_KEY", "test-secret")
    if db_url.startswith("sqlite"):
        monkeypatch.delenv("TACTICA_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("TACTICA_DATABASE_URL", db_url)
    yield home


@dataclass
class Run:
    """What a command printed and its exit code."""

    code: int
    out: str
    err: str


Tactica = Callable[..., Run]


@pytest.fixture
def tactica(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Tactica:
    """``tactica(*args)`` runs the CLI against the test workspace (migrated first)."""
    monkeypatch.setenv("COLUMNS", "200")  # wide tables, so assertions see whole cells

    def run(*args: str) -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tactica", *args])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = int(e.code or 0)
        got = capsys.readouterr()
        return Run(code, got.out, got.err)

    first = run("db", "upgrade")
    assert first.code == 0, first.err
    return run
