"""Plan against actual over a year of big history: the annual-plan control's server time.

    python -m bench.plan [--contacts 10000000] [--orders 1000000] [--activities 100000]
                         [--db-url URL] [--workspace DIR] [--repeat 5]

Builds (once per workspace) the dashboard benchmark's year of history (see
``bench.dashboard``: N contacts over 20 campaigns, replies, leads), then as many
booked orders and sales activities as asked, set-based; sets one goal per KPI of
the catalog for the year (some scoped to a channel, an offer, a product or a rep)
plus quarterly and monthly ones; and times ``GET /plan?period=YEAR`` through the
app in process, ``--repeat`` times, printing the median. ``--db-url`` takes a
PostgreSQL URL whose ``search_path`` names a schema to (re)build.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.common import recreate_schema
from bench.dashboard import CAMPAIGNS, DAYS, OFFERS, PROGRAMS, _at, _client, _series, build
from tactica.domain.kpis import KPIS
from tactica.domain.periods import PeriodKind, period_of
from tactica.services import objectives, organisation
from tactica.store import daily_figures
from tactica.store.db import Store
from tactica.store.models import Offer


def build_plan(store: Store, contacts: int, orders: int, activities: int) -> None:
    """The dashboard's history, then orders and activities up to the counts asked, goals."""
    build(store, contacts)
    have = contacts // 200
    customers = min(1_000_000, max(contacts // 10, 10_000))
    received = _at(store, f"x % {DAYS}", "x % 80000 + 7200")
    with store.engine.begin() as c:
        for stmt in daily_figures.drop_triggers(store.dialect):
            c.execute(sa.text(stmt))
        if orders > have:
            c.execute(
                sa.text(
                    "INSERT INTO orders (id, customer_id, contact_id, program, campaign, offer, "
                    "currency, price, discount, amount, status, requested_by, note, created_at) "
                    + _series(
                        store,
                        orders - have,
                        f"SELECT {have} + x, 'c' || ((x * 7) % {customers}), NULL, "
                        f"'p' || ((x % {CAMPAIGNS}) % {PROGRAMS}), 'k' || (x % {CAMPAIGNS}), "
                        f"'O' || (x % {OFFERS}), 'EUR', 80, 0, 80, 'booked', 'bench', '', "
                        f"{received}",
                    )
                )
            )
        c.execute(sa.text("UPDATE leads SET rep = CASE WHEN id % 2 = 0 THEN 'rita' ELSE 'rob' END"))
        c.execute(
            sa.text(
                "INSERT INTO activities (lead_id, rep, kind, at, minutes, cost, result, notes) "
                + _series(
                    store,
                    activities,
                    f"SELECT 1 + (x % {max(have, 1)}), CASE WHEN x % 2 = 0 THEN 'rita' "
                    f"ELSE 'rob' END, 'call', {received}, 5, 2.5, 'done', ''",
                )
            )
        )
        for stmt in daily_figures.rebuild_sql(store.dialect):
            c.execute(sa.text(stmt))
        for stmt in daily_figures.create_triggers(store.dialect):
            c.execute(sa.text(stmt))
        c.execute(sa.text("ANALYZE"))
    year = period_of(PeriodKind.YEAR, datetime.now(UTC).date())
    quarter = period_of(PeriodKind.QUARTER, datetime.now(UTC).date())
    month = period_of(PeriodKind.MONTH, datetime.now(UTC).date())
    with store.session() as s:
        for k in range(OFFERS):
            s.add(Offer(code=f"O{k}", name=f"O{k}", product="cards" if k % 2 else "loans"))
        organisation.add_team(s, organisation.TeamInput("marketing"), actor="bench")
        goals: list[objectives.ObjectiveInput] = []
        for name in KPIS:
            goals.append(
                objectives.ObjectiveInput(
                    f"{name}-{year.label}", year.label, 1000, kpi=name, owner_team="marketing"
                )
            )
        for i, scope in enumerate(
            ({"channel": "sms"}, {"offer": "O1"}, {"product": "cards"}, {"rep": "rita"})
        ):
            for name in ("revenue", "new_customers", "profit"):
                goals.append(
                    objectives.ObjectiveInput(
                        f"{name}-{i}-{quarter.label}",
                        quarter.label,
                        100,
                        kpi=name,
                        scope=scope,
                        owner_team="marketing",
                    )
                )
        goals.append(
            objectives.ObjectiveInput(
                f"orders-{month.label}", month.label, 100, kpi="sales", owner_team="marketing"
            )
        )
        for g in goals:
            objectives.create_objective(s, g, actor="bench")
        objectives.put_market_size(s, year.label, 50_000_000, actor="bench")
        s.commit()


def _median_ms(client: TestClient, path: str, repeat: int) -> tuple[float, int]:
    times, lines = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
        lines = len(r.json()) if path.startswith("/plan") else 0
    return statistics.median(times), lines


def main() -> None:
    """Build the history and the goals if the workspace has none, then time the plan."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--contacts", type=int, default=10_000_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--activities", type=int, default=100_000)
    ap.add_argument("--db-url", default=None, help="PostgreSQL URL with a search_path schema")
    ap.add_argument("--workspace", default="/tmp/tactica-bench-plan")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.workspace)
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{args.contacts}-{args.orders}-{args.activities}-{'pg' if args.db_url else 'sqlite'}"
    marker = folder / f"built-{key}"
    url = args.db_url or f"sqlite:///{folder / 'bench.db'}"
    if not marker.exists():
        if args.db_url:
            recreate_schema(args.db_url)
        else:
            (folder / "bench.db").unlink(missing_ok=True)
        store = Store(url)
        store.upgrade()
        start = time.perf_counter()
        build_plan(store, args.contacts, args.orders, args.activities)
        print(f"built in {time.perf_counter() - start:.0f} s")
        marker.touch()
    else:
        store = Store(url)
        with store.session() as s:
            s.execute(sa.text("DELETE FROM api_tokens"))
            s.execute(sa.text("DELETE FROM users WHERE username = 'bench-admin'"))
            s.commit()
    client = _client(store)
    year = period_of(PeriodKind.YEAR, datetime.now(UTC).date()).label
    ms, lines = _median_ms(client, f"/plan?period={year}", args.repeat)
    print(f"GET /plan?period={year}: {lines} goals, median {ms:.0f} ms of {args.repeat}")
    ms, _ = _median_ms(client, f"/ui/plan?period={year}", args.repeat)
    print(f"GET /ui/plan?period={year}: median {ms:.0f} ms of {args.repeat}")


if __name__ == "__main__":
    main()
