"""A whole batch run, end to end, through the store: read, decide, persist.

    python -m bench.run_program --rows 1000000 --campaigns 20 [--repeat 3] [--db-url URL]
        [--workspace DIR]

Builds (untimed) a workspace with N customers (age, region, balance, contact points,
consents, time zone), 3 contacts per customer in the history over the last 40 days,
1 % opted out, 1 % VIP, C offers and a program of C campaigns under the DESIGN §5
policy (fewer than 3 contacts in 30 days, none within 48 hours, not the same offer
within 14 days), the same shapes as ``bench.decide_batch``. Then times
``run_program`` — what ``tactica run`` does: read customers, history and lists from
the store, decide in DuckDB, persist contacts, held-out members, funnel and
suppression log in one transaction. Each repeat deletes the previous run first. Also
times ``preview`` (``tactica run --dry-run``: everything but the writes). Prints
medians of the whole run and of its steps (read, decide, persist) and the peak RSS.
SQLite in a temporary workspace unless ``--db-url``; ``--workspace DIR`` keeps the
SQLite workspace in DIR and reuses it when it was built with the same sizes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, lists, runs
from tactica.services.importing import import_customers
from tactica.store.customer_table import add_fields
from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut, OutboxEntry, Run, RunCampaign, RunLog
from tactica.store.run_writes import insert_contacts

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REGIONS = ["north", "south", "east", "west"]


def _customers(rows: int, folder: Path) -> Path:
    path = folder / "customers.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'c' || range AS id, 18 + (range * 7) % 70 AS age, "
        "['north', 'south', 'east', 'west'][1 + range % 4] AS region, "
        "((range * 37) % 10000) / 2.0 AS balance, "
        "CASE WHEN range % 10 = 0 THEN NULL ELSE '+351' || range END AS msisdn, "
        "CASE WHEN range % 5 = 0 THEN NULL ELSE 'c' || range || '@x.org' END AS email, "
        "range % 13 <> 0 AS consent_sms, range % 17 <> 0 AS consent_email, "
        "['Europe/Lisbon', 'America/New_York', 'Asia/Shanghai'][1 + range % 3] AS timezone "
        f"FROM range({rows})) TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def _history(rows: int, campaigns: int) -> pa.Table:
    con = duckdb.connect()
    table = con.sql(
        "SELECT CAST(NULL AS BIGINT) AS run_id, 'history' AS program, "
        f"'k' || (range % {campaigns}) AS campaign, 'outbound' AS campaign_kind, "
        "'c' || (range // 3) AS customer_id, "
        f"'O' || (range % {campaigns}) AS offer, "
        "CASE WHEN range % 2 = 0 THEN 'sms' ELSE 'email' END AS channel, 0.0 AS score, "
        "'0.05' AS cost, 1 AS rank, "
        "CASE WHEN range % 11 = 0 THEN 'failed' ELSE 'sent' END AS status, "
        "TIMESTAMPTZ '2026-11-23 12:00:00+00' "
        "- to_microseconds(((range * 7919) % 40000) * 86400000) AS decided_at "
        f"FROM range({rows * 3})"
    ).to_arrow_table()
    con.close()
    return table


def _program(campaigns: int) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = [
        {"kind": "Offer", "code": f"O{i}", "name": f"Offer {i}", "value": 10 + i}
        for i in range(campaigns)
    ]
    docs.append(
        {
            "kind": "ContactPolicy",
            "name": "bench",
            "per_run": 1,
            "rules": [
                {"type": "cap", "name": "global-30d", "max": 3, "days": 30},
                {"type": "gap", "name": "gap-48h", "hours": 48},
                {"type": "no_repeat", "name": "no-repeat-14d", "days": 14},
            ],
        }
    )
    camps = []
    for i in range(campaigns):
        lo = 18 + (i * 3) % 50
        camp: dict[str, object] = {
            "name": f"k{i}",
            "eligibility": f"age between {lo} and {lo + 25} and region != '{REGIONS[i % 4]}'",
            "offers": [f"O{i}"],
            "channels": ["sms", "email"] if i % 3 == 0 else ["sms"],
            "score": "balance / 1000",
            "priority": i % 3,
            "control_share": 0.1,
            "cost_per_contact": "0.05",
        }
        if i % 4 == 0:
            camp["capacity"] = 20_000
        camps.append(camp)
    docs.append(
        {
            "kind": "Program",
            "name": "bench",
            "owner": "bench",
            "policy": "bench",
            "campaigns": camps,
        }
    )
    return docs


def build(store: Store, rows: int, campaigns: int, folder: Path) -> None:
    """The workspace: customers, history, lists, offers and the program (untimed)."""
    store.upgrade()
    with store.session() as s:
        add_fields(
            s,
            [
                FieldDef("age", FieldType.INT),
                FieldDef("region", FieldType.CATEGORY),
                FieldDef("balance", FieldType.FLOAT),
            ],
        )
        s.commit()
    import_customers(store, _customers(rows, folder), id_column="id", actor="bench")
    with store.session() as s:
        insert_contacts(s, _history(rows, campaigns), None)
        lists.add_entries(
            s, "opt_out", [lists.EntryInput(f"c{i}") for i in range(0, rows, 100)], actor="bench"
        )
        lists.add_entries(
            s, "vip", [lists.EntryInput(f"c{i}") for i in range(7, rows, 100)], actor="bench"
        )
        as_code.apply_documents(s, _program(campaigns), source="bench", actor="bench")
        s.commit()


def _forget_runs(store: Store) -> None:
    with store.session() as s:
        s.execute(sa.delete(OutboxEntry))
        s.execute(sa.delete(Contact).where(Contact.run_id.is_not(None)))
        s.execute(sa.delete(HeldOut))
        s.execute(sa.delete(RunLog))
        s.execute(sa.delete(RunCampaign))
        s.execute(sa.delete(Run))
        s.commit()


@contextmanager
def _step_timers(steps: dict[str, list[float]]) -> Iterator[None]:
    """Time the steps of ``run_program`` (read, decide, persist) by wrapping them."""
    names = {"read_inputs": "read", "decide_batch": "decide", "_persist": "persist"}
    saved = {name: getattr(runs, name) for name in names}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                steps[names[name]].append(time.perf_counter() - t)

        return wrapper

    for name, fn in saved.items():
        setattr(runs, name, timed(name, fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(runs, name, fn)


def _workspace(args: argparse.Namespace, folder: Path) -> Store:
    """The store to time, built unless ``--workspace`` holds one of the same sizes."""
    if args.db_url:
        store = Store(args.db_url)
    else:
        store = Store(f"sqlite:///{folder / 'tactica.db'}")
        stamp = folder / "built.txt"
        sizes = f"{args.rows} {args.campaigns}"
        if stamp.exists() and stamp.read_text() == sizes:
            print(f"reusing the workspace in {folder}")
            store.upgrade()  # a workspace kept from an older version
            return store
    t = time.perf_counter()
    build(store, args.rows, args.campaigns, folder)
    print(f"built the workspace in {time.perf_counter() - t:.1f} s")
    if not args.db_url:
        (folder / "built.txt").write_text(f"{args.rows} {args.campaigns}")
    return store


def _fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s" if xs else "-"


def main() -> None:
    """Build the workspace, time ``run_program`` and ``preview``; print medians and RSS."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--workspace", default=None, help="keep (and reuse) the SQLite workspace here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.workspace or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        store = _workspace(args, folder)
        _forget_runs(store)
        previews, full = [], []
        steps: dict[str, list[float]] = {"read": [], "decide": [], "persist": []}
        result = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            runs.preview(store, "bench", now=NOW)
            previews.append(time.perf_counter() - t)
            _forget_runs(store)
            with _step_timers(steps):
                t = time.perf_counter()
                result = runs.run_program(store, "bench", actor="bench", now=NOW)
                full.append(time.perf_counter() - t)
        _forget_runs(store)
        store.dispose()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result is not None
    print(
        f"run_program: {args.rows:,} customers × {args.campaigns} campaigns on "
        f"{store.dialect}: median {statistics.median(full):.2f} s "
        f"(runs {', '.join(f'{x:.2f}' for x in full)}); dry run median "
        f"{statistics.median(previews):.2f} s; {result.contacts:,} contacts, "
        f"{result.held_out:,} held out; peak RSS {rss_mib:,.0f} MiB"
    )
    print(
        f"steps of the run (medians): read {_fmt(steps['read'])}, decide "
        f"{_fmt(steps['decide'])}, persist {_fmt(steps['persist'])}"
    )


if __name__ == "__main__":
    main()
