"""Import of a CSV of N customers × 20 attributes into a fresh store.

    python -m bench.import_customers --rows 1000000 [--db-url URL] [--no-reimport]

Generates (once, deterministically, with DuckDB) ``bench/data/customers-N.csv``: an
``id`` column and 20 attributes of mixed types (8 int, 5 float, 3 category, 1 text,
1 bool, 1 date, 1 timestamp), some values empty. Then times ``import_customers`` —
what ``tactica customers import`` runs — into a fresh SQLite workspace and into a
fresh PostgreSQL schema (``TACTICA_TEST_PG_URL`` or the local server), and again
into the now full table (every row an update). ``--db-url`` times one database only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import sqlalchemy as sa

from tactica.services.importing import ImportReport, import_customers
from tactica.store.db import Store

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("TACTICA_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def generate(rows: int) -> Path:
    """Write the benchmark CSV (set-based, in DuckDB) unless it exists; return its path."""
    path = DATA / f"customers-{rows}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    jobs = "['admin.','technician','services','management','retired','student','blue-collar']"
    cols = [
        "'c' || lpad(x::VARCHAR, 8, '0') AS id",
        "18 + (x * 7) % 70 AS age",
        *(f"(x * {i + 3}) % 10007 AS n{i}" for i in range(7)),
        *(f"round(((x * {i + 11}) % 99991) / 7.0, 4) AS f{i}" for i in range(5)),
        f"{jobs}[1 + x % 7] AS job",
        "'r' || (x * 13) % 12 AS region",
        "CASE WHEN x % 10 = 0 THEN NULL ELSE 'seg' || (x * 17) % 5 END AS segment",
        "'note ' || md5(x::VARCHAR) AS note",
        "CASE WHEN x % 3 = 0 THEN 'yes' ELSE 'no' END AS newsletter",
        "strftime(DATE '2026-01-01' - (x % 3650)::INTEGER, '%Y-%m-%d') AS opened",
        "strftime(TIMESTAMP '2026-01-01 00:00:00' - to_seconds((x * 7919) % 31536000), "
        "'%Y-%m-%d %H:%M:%S') AS last_seen",
    ]
    query = f"SELECT {', '.join(cols)} FROM range(1, {rows} + 1) AS r(x)"
    con = duckdb.connect()
    con.execute(f"COPY ({query}) TO '{path}' (HEADER, DELIMITER ',')")
    con.close()
    return path


def _time(store: Store, path: Path) -> tuple[float, ImportReport]:
    t0 = time.perf_counter()
    starts: dict[str, float] = {}

    def progress(phase: str, _done: int, _total: int) -> None:
        starts.setdefault(phase, time.perf_counter() - t0)

    report = import_customers(store, path, actor="bench", progress=progress)
    seconds = time.perf_counter() - t0
    phases = [*starts.items(), ("end", seconds)]
    spans = ", ".join(f"{p} {b - a:.1f}" for (p, a), (_n, b) in itertools.pairwise(phases))
    print(f"{'':>12}phases (s): {spans}", flush=True)
    return seconds, report


def run(url: str, path: Path, reimport: bool) -> None:
    """Migrate the store at ``url``, import the file, optionally import it again."""
    store = Store(url)
    store.upgrade()
    try:
        seconds, r = _time(store, path)
        print(
            f"{store.dialect:>10}: first import {seconds:6.1f} s "
            f"({r.inserted:,} inserted, {len(r.new_fields)} new fields)",
            flush=True,
        )
        if reimport:
            seconds, r = _time(store, path)
            print(
                f"{store.dialect:>10}: re-import    {seconds:6.1f} s "
                f"({r.updated:,} updated, {r.unchanged:,} unchanged)",
                flush=True,
            )
    finally:
        store.dispose()


def run_postgresql(base_url: str, path: Path, reimport: bool) -> None:
    """Run in a fresh schema of the PostgreSQL database at ``base_url``, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url)
    try:
        with admin.begin() as c:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as e:
        print(f"postgresql: skipped, not reachable at {base_url} ({e.__class__.__name__})")
        return
    sep = "&" if "?" in base_url else "?"
    try:
        run(f"{base_url}{sep}options=-csearch_path%3D{schema}", path, reimport)
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> None:
    """Generate the file, then time the imports."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db-url", default=None, help="Only this database (default: both)")
    ap.add_argument("--no-reimport", action="store_true", help="Skip the second import")
    args = ap.parse_args()
    t0 = time.perf_counter()
    path = generate(args.rows)
    size = path.stat().st_size / 1e6
    ready = time.perf_counter() - t0
    print(f"file: {path} ({args.rows:,} rows, {size:.0f} MB, ready in {ready:.1f} s)")
    reimport = not args.no_reimport
    if args.db_url is None or args.db_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            run(args.db_url or f"sqlite:///{Path(tmp) / 'tactica.db'}", path, reimport)
    if args.db_url is None or not args.db_url.startswith("sqlite"):
        run_postgresql(args.db_url or PG_URL, path, reimport)


if __name__ == "__main__":
    main()
