"""Size of a 3-clause segment over N customers on the embedded default (SQLite).

    python -m bench.segment_size --rows 1000000 [--db-url URL] [--repeat 7]

Builds a fresh workspace with N synthetic customers (20 typed attributes),
creates a segment with a three-clause rule and times ``segment_size`` — the
same call ``tactica segments size`` and the API make. Prints the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import segments
from tactica.store.customer_table import add_fields
from tactica.store.db import Store

RULE = "age between 30 and 50 and job in ('admin.', 'technician', 'services') and balance > 1000"

FIELDS = [
    FieldDef("age", FieldType.INT),
    FieldDef("job", FieldType.CATEGORY),
    FieldDef("balance", FieldType.FLOAT),
    *(FieldDef(f"n{i}", FieldType.INT) for i in range(8)),
    *(FieldDef(f"f{i}", FieldType.FLOAT) for i in range(4)),
    *(FieldDef(f"c{i}", FieldType.CATEGORY) for i in range(4)),
    FieldDef("last_seen", FieldType.DATE),
]
JOBS = ["admin.", "technician", "services", "management", "retired", "student", "blue-collar"]


def build(store: Store, rows: int) -> None:
    """Fill the customer table with ``rows`` synthetic customers, set-based."""
    with store.session() as s:
        add_fields(s, FIELDS)
        s.commit()
    jobs = "CASE x % 7 " + " ".join(f"WHEN {i} THEN '{j}'" for i, j in enumerate(JOBS)) + " END"
    cols = ["id", "age", "job", "balance"] + [f.name for f in FIELDS[3:]]
    exprs = [
        "'c' || x",
        "18 + (x * 7) % 70",
        jobs,
        "((x * 37) % 10000) / 2.0",
        *(f"(x * {i + 3}) % 1000" for i in range(8)),
        *(f"((x * {i + 11}) % 997) / 7.0" for i in range(4)),
        *(f"'v' || ((x * {i + 5}) % 12)" for i in range(4)),
    ]
    if store.dialect == "sqlite":
        exprs.append("date('2026-01-01', '-' || (x % 900) || ' days')")
        source = (
            f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {rows}) "
            f"SELECT {', '.join(exprs)} FROM s"
        )
    else:
        exprs.append("DATE '2026-01-01' - (x % 900)")
        source = f"SELECT {', '.join(exprs)} FROM generate_series(1, {rows}) AS g(x)"
    with store.engine.begin() as c:
        c.execute(sa.text(f"INSERT INTO customers ({', '.join(cols)}) {source}"))
        if store.dialect == "postgresql":
            c.execute(sa.text("ANALYZE customers"))


def main() -> None:
    """Build, then time the segment size."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db-url", default=None, help="Default: SQLite in a temporary folder")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store(url)
        store.upgrade()
        t0 = time.perf_counter()
        build(store, args.rows)
        print(f"built {args.rows:,} customers in {time.perf_counter() - t0:.1f} s")
        with store.session() as s:
            segments.create_segment(s, "bench", rule=RULE, actor="bench")
            s.commit()
        times = []
        for _ in range(args.repeat):
            with store.session() as s:
                t0 = time.perf_counter()
                size = segments.segment_size(s, "bench")
                times.append(time.perf_counter() - t0)
        print(f"rule: {RULE}")
        print(
            f"size {size:,}; segment_size median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeat} runs)"
        )
        store.dispose()


if __name__ == "__main__":
    main()
