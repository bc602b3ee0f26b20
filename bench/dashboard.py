"""Server time of the monitoring dashboard and the customer page over a big contact history.

    python -m bench.dashboard --contacts 10000000 [--db-url URL] [--workspace DIR] [--repeat 5]

Builds (once per workspace, set-based SQL) a year of history ending today: N
contacts of N/10 customers (at most 1,000,000) over 20 campaigns of 4 programs,
3 channels and 6 offers, 95 % of them sent and 90 % delivered, a control group
of N/10, a response for one contact in 50, an order and a lead for one in 200.
Then asks the web application for the dashboard (today, 7 days, 30 days, the
year) and for one customer's page, each ``--repeat`` times through the app in
process (no network), and prints the median server time of each. ``--db-url``
takes a PostgreSQL URL whose ``search_path`` names a schema to (re)build;
without it, SQLite in the workspace.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.common import recreate_schema
from tactica.api.app import create_app
from tactica.config import Settings
from tactica.domain.access import Role
from tactica.services import users
from tactica.store import daily_figures
from tactica.store.db import Store
from tactica.store.models import Campaign, Program, Run
from tactica.web.session import SESSION_COOKIE

DAYS = 365
CUSTOMERS = 1_000_000
CAMPAIGNS = 20
PROGRAMS = 4
CHANNELS = ("sms", "email", "phone")
OFFERS = 6


def _series(store: Store, n: int, select: str) -> str:
    """``select`` (over x = 1..n) as a set-based source for this dialect."""
    if store.dialect == "sqlite":
        return (
            f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) "
            f"{select} FROM s"
        )
    return f"{select} FROM generate_series(1, {n}) AS g(x)"


def _at(store: Store, days_back: str, seconds: str) -> str:
    """A timestamp ``days_back`` days before today's midnight (UTC) plus ``seconds``."""
    today = datetime.now(UTC).date().isoformat()
    if store.dialect == "sqlite":
        # The text SQLAlchemy writes for a UTC time on SQLite.
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', '{today}', '-' || ({days_back}) || ' days', "
            f"'+' || ({seconds}) || ' seconds') || '.000000'"
        )
    return (
        f"(TIMESTAMPTZ '{today} 00:00:00+00' - ({days_back}) * INTERVAL '1 day' "
        f"+ ({seconds}) * INTERVAL '1 second')"
    )


def build(store: Store, contacts: int) -> None:
    """Programs, campaigns and a year of contacts, control group, responses, orders, leads."""
    now = datetime.now(UTC)
    with store.session() as s:
        for p in range(PROGRAMS):
            s.add(Program(name=f"p{p}", owner="bench", status="running"))
        s.flush()
        ids = {name: id_ for name, id_ in s.execute(sa.select(Program.name, Program.id))}
        for k in range(CAMPAIGNS):
            s.add(
                Campaign(
                    program_id=ids[f"p{k % PROGRAMS}"],
                    name=f"k{k}",
                    position=k,
                    offers=[f"O{k % OFFERS}"],
                    channels=[CHANNELS[k % 3]],
                    cost_per_contact=Decimal("0.05"),
                    budget=Decimal("100000"),
                )
            )
        # The control group's rows belong to a run.
        s.add(
            Run(
                id=1,
                run_key="bench",
                program="p0",
                as_of=now,
                status="completed",
                started_at=now,
                heartbeat_at=now,
            )
        )
        s.commit()
    # History loaded in bulk, as an operator would: the rollup's triggers stand aside
    # and the rollup is recounted once at the end.
    with store.engine.begin() as c:
        for stmt in daily_figures.drop_triggers(store.dialect):
            c.execute(sa.text(stmt))
    camp = f"'k' || (x % {CAMPAIGNS})"
    prog = f"'p' || ((x % {CAMPAIGNS}) % {PROGRAMS})"
    chan = "CASE x % 3 WHEN 0 THEN 'sms' WHEN 1 THEN 'email' ELSE 'phone' END"
    offer = f"'O' || (x % {OFFERS})"
    cust = f"'c' || (x % {min(CUSTOMERS, max(contacts // 10, 10_000))})"
    decided = _at(store, f"x % {DAYS}", "x % 80000")
    sent = _at(store, f"x % {DAYS}", "x % 80000 + 60")
    delivered = _at(store, f"x % {DAYS}", "x % 80000 + 120")
    status = "CASE WHEN x % 20 = 0 THEN 'failed' WHEN x % 10 = 1 THEN 'sent' ELSE 'delivered' END"
    with store.engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO customers (id) "
                + _series(store, min(CUSTOMERS, max(contacts // 10, 10_000)), "SELECT 'c' || x")
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO contacts (id, program, campaign, campaign_kind, customer_id, offer, "
                "channel, score, cost, rank, status, decided_at, sent_at, delivered_at) "
                + _series(
                    store,
                    contacts,
                    f"SELECT x, {prog}, {camp}, 'outbound', {cust}, {offer}, {chan}, 0.5, "
                    f"0.05, 1, {status}, {decided}, "
                    f"CASE WHEN x % 20 = 0 THEN NULL ELSE {sent} END, "
                    f"CASE WHEN x % 20 = 0 OR x % 10 = 1 THEN NULL ELSE {delivered} END",
                )
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO held_out (run_id, customer_id, campaign, program, offer, channel, "
                "score, decided_at) "
                + _series(
                    store,
                    contacts // 10,
                    f"SELECT 1, {cust}, {camp}, {prog}, {offer}, {chan}, 0.5, {decided}",
                )
            )
        )
        received = _at(store, f"x % {DAYS}", "x % 80000 + 3600")
        c.execute(
            sa.text(
                "INSERT INTO responses (id, source, message_id, channel, kind, received_at, "
                "text, customer_id, contact_id, program, campaign, offer, attributed_by, "
                "outcome, confidence, result, data) "
                + _series(
                    store,
                    contacts // 50,
                    f"SELECT x, 'bench', 'm' || x, {chan}, 'reply', {received}, 'yes', "
                    f"{cust}, x * 50, {prog}, {camp}, {offer}, 'token', 'order', 1.0, "
                    "'order', '{}'",
                )
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO orders (id, customer_id, contact_id, program, campaign, offer, "
                "currency, price, discount, amount, status, requested_by, note, created_at) "
                + _series(
                    store,
                    contacts // 200,
                    f"SELECT x, {cust}, x * 200, {prog}, {camp}, {offer}, 'EUR', 100, 0, 100, "
                    f"'booked', 'bench', '', {received}",
                )
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO leads (id, customer_id, contact_id, program, campaign, offer, "
                "reply, status, created_at) "
                + _series(
                    store,
                    contacts // 200,
                    f"SELECT x, {cust}, x * 200 + 1, {prog}, {camp}, {offer}, 'call me', "
                    f"'new', {received}",
                )
            )
        )
        for stmt in daily_figures.rebuild_sql(store.dialect):
            c.execute(sa.text(stmt))
        for stmt in daily_figures.create_triggers(store.dialect):
            c.execute(sa.text(stmt))
        c.execute(sa.text("ANALYZE"))


def _client(store: Store) -> TestClient:
    """The app over ``store`` as an admin: the session cookie for the pages, the same
    token as a bearer header for the API."""
    with store.session() as s:
        user = users.create_user(s, "bench-admin", "bench-password", Role.ADMIN.value, actor="b")
        token, _ = users.create_token(s, user, name="web session", ttl_days=1, actor="b")
        s.commit()
    client = TestClient(create_app(Settings(secret_key="bench"), store))
    client.cookies.set(SESSION_COOKIE, token)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _median_ms(client: TestClient, path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return statistics.median(times)


def main() -> None:
    """Build the history if the workspace has none, then time the pages."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--contacts", type=int, default=10_000_000)
    ap.add_argument("--db-url", default=None, help="PostgreSQL URL with a search_path schema")
    ap.add_argument("--workspace", default="/tmp/tactica-bench-dashboard")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true", help="Build the history again")
    args = ap.parse_args()
    folder = Path(args.workspace)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"built-{args.contacts}-{'pg' if args.db_url else 'sqlite'}"
    url = args.db_url or f"sqlite:///{folder / 'bench.db'}"
    if args.rebuild or not marker.exists():
        if args.db_url:
            recreate_schema(args.db_url)
        else:
            (folder / "bench.db").unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        store = Store(url)
        store.upgrade()
        start = time.perf_counter()
        build(store, args.contacts)
        print(f"built {args.contacts:,} contacts in {time.perf_counter() - start:.0f} s")
        marker.touch()
    else:
        store = Store(url)
        store.upgrade()  # a workspace built by an older version
        with store.session() as s:
            s.execute(sa.text("DELETE FROM api_tokens"))
            s.execute(sa.text("DELETE FROM users WHERE username = 'bench-admin'"))
            s.commit()
    client = _client(store)
    today = datetime.now(UTC).date()
    pages = {
        "dashboard, today": "/ui/dashboard?preset=today",
        "dashboard, 7 days": "/ui/dashboard?preset=7d",
        "dashboard, 30 days": "/ui/dashboard?preset=30d",
        "dashboard, 365 days": (
            f"/ui/dashboard?from={(today - timedelta(days=DAYS - 1)).isoformat()}"
            f"&to={today.isoformat()}"
        ),
        "customer page": "/ui/customers/c4242",
    }
    for name, path in pages.items():
        print(f"{name:22s} median {_median_ms(client, path, args.repeat):8.1f} ms")
    store.dispose()


if __name__ == "__main__":
    main()
