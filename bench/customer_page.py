"""The customer page (``GET /ui/customers/{id}``) over a big contact history.

    python -m bench.customer_page [--customers 1000000] [--contacts 10000000]
        [--heavy 20] [--heavy-contacts 3000] [--pages 300] [--db-url URL] [--explain]
        [--keep]

Builds (untimed, set-based SQL) a store with ``--customers`` customers (age, region,
balance, msisdn, e-mail, consents) and ``--contacts`` contacts spread evenly over
them, one run a day (each customer has ``contacts / customers`` contacts, sent,
delivered or failed), a control group row for one customer in ten per run, 200,000
responses, 50,000 orders and 50,000 leads, 50,000 special-list entries (opt-out,
VIP with an expiry...), two static segments of 100,000 members and five dynamic
segments (on fields, on a list, on a static segment). ``--heavy`` customers get
``--heavy-contacts`` more contacts each (triggered ones): the long histories the
page limits. PostgreSQL tables are analysed after the build.

Then serves the app in this process (no network: the figures are the server's
work, page rendering included), signs an analyst in through the form and opens
``--pages`` customer pages of customers drawn at random, then each heavy customer's
page and its "show 100 more", then searches by e-mail. Prints the median, p95 and
worst time of each. ``--explain`` prints the database's plan of each read of a
heavy customer's page first.

SQLite in a temporary folder unless ``--db-url``; for PostgreSQL the schema named by
the URL's ``search_path`` option is dropped and created first, and dropped at the end.
``--keep`` keeps the store (a SQLite file named by ``--db-url``, or the schema) and,
when it holds customers already, times the pages without building again.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.common import pct, recreate_schema
from tactica.api.app import create_app
from tactica.config import Settings
from tactica.domain.schema import FieldDef, FieldType
from tactica.services import customers, segments, users
from tactica.store.customer_table import add_fields
from tactica.store.db import Store

PASSWORD = "bench-password-1"
#: The first day of the history; run ``r`` decided on day ``r``.
START = "2026-01-01 09:00:00"
DYNAMIC = {
    "young": "age < 30",
    "rich-texters": "balance > 4000 and consent_sms",
    "vips": "on_list('vip')",
    "picked-older": "in_segment('picked-a') and age > 40",
    "north-south": "region in ('north', 'south')",
}


def _series(store: Store, n: int) -> str:
    """A row source of ``x`` = 1..n in the store's SQL."""
    if store.dialect == "sqlite":
        return f"(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) SELECT x FROM s) AS g"  # noqa: E501
    return f"generate_series(1, {n}) AS g(x)"


def _at(store: Store, days: str, minutes: str = "0") -> str:
    """The time ``days`` days and ``minutes`` minutes after START, in the store's SQL."""
    if store.dialect == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%f000', '{START}', '+' || ({days}) || ' days', '+' || ({minutes}) || ' minutes')"  # noqa: E501
    return f"TIMESTAMPTZ '{START}+00' + ({days}) * INTERVAL '1 day' + ({minutes}) * INTERVAL '1 minute'"  # noqa: E501


def _insert(store: Store, table: str, columns: dict[str, str], rows: int) -> None:
    cols = ", ".join(columns)
    exprs = ", ".join(columns.values())
    with store.engine.begin() as c:
        c.execute(
            sa.text(f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM {_series(store, rows)}")
        )


def build(store: Store, args: argparse.Namespace) -> None:
    """Fill the store: customers, runs, contacts, held-out rows, replies, orders, leads,
    list entries and segments (see the module's doc)."""
    n, per = args.customers, max(1, args.contacts // args.customers)
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
    _insert(
        store,
        "customers",
        {
            "id": "'c' || x",
            "age": "18 + (x * 7) % 70",
            "region": "CASE x % 4 WHEN 0 THEN 'north' WHEN 1 THEN 'south' WHEN 2 THEN 'east' ELSE 'west' END",  # noqa: E501
            "balance": "((x * 37) % 10000) / 2.0",
            "msisdn": "'+35191' || x",
            "email": "'c' || x || '@example.com'",
            "consent_sms": "x % 13 <> 0",
            "consent_email": "x % 17 <> 0",
        },
        n,
    )
    _insert(
        store,
        "runs",
        {
            "id": "x",
            "run_key": "'bench@' || x",
            "program": "'bench'",
            "trigger": "'manual'",
            "as_of": _at(store, "x"),
            "status": "'completed'",
            "actor": "'bench'",
            "started_at": _at(store, "x"),
            "finished_at": _at(store, "x"),
            "heartbeat_at": _at(store, "x"),
            "host": "'bench'",
            "pid": "0",
            "attempts": "1",
            "policy": "'default'",
            "snapshot": "'{}'",
            "candidates": "0",
            "contacts": "0",
            "held_out": "0",
            "cost": "0",
        },
        per,
    )
    # Contact x goes to customer 1 + x % n in run 1 + x / n: every customer, every run.
    run = f"(1 + (x - 1) / {n})"
    _insert(
        store,
        "contacts",
        {
            "run_id": run,
            "program": "'bench'",
            "campaign": "'camp-' || (x % 5)",
            "campaign_kind": "'outbound'",
            "customer_id": f"'c' || (1 + (x - 1) % {n})",
            "offer": "'O' || (x % 7)",
            "channel": "CASE WHEN x % 2 = 0 THEN 'sms' ELSE 'email' END",
            "score": "0.5",
            "cost": "0.05",
            "rank": "1",
            "status": "CASE WHEN x % 11 = 0 THEN 'failed' WHEN x % 3 = 0 THEN 'sent' ELSE 'delivered' END",  # noqa: E501
            "decided_at": _at(store, run),
            "sent_at": _at(store, run, "5"),
            "delivered_at": _at(store, run, "6"),
        },
        per * n,
    )
    heavy = args.heavy * args.heavy_contacts
    if heavy:
        _insert(
            store,
            "contacts",
            {
                "program": "'live'",
                "campaign": "'trig-' || (x % 3)",
                "campaign_kind": "'triggered'",
                "customer_id": f"'c' || (1 + (x - 1) % {args.heavy})",
                "offer": "'O1'",
                "channel": "'sms'",
                "score": "0",
                "cost": "0.05",
                "rank": "1",
                "status": "'delivered'",
                "decided_at": _at(store, "0", f"(x - 1) / {args.heavy}"),
            },
            heavy,
        )
    # One customer in ten held out by each run.
    held = n // 10
    _insert(
        store,
        "held_out",
        {
            "run_id": f"1 + (x - 1) / {held}",
            "customer_id": f"'c' || (10 * ((x - 1) % {held}) + 1)",
            "campaign": "'camp-ctl'",
            "program": "'bench'",
            "offer": "'O1'",
            "channel": "'sms'",
            "score": "0",
            "decided_at": _at(store, f"1 + (x - 1) / {held}"),
        },
        held * per,
    )
    who = f"'c' || (1 + (x * 13) % {n})"
    _insert(
        store,
        "responses",
        {
            "source": "'gw'",
            "message_id": "'m' || x",
            "channel": "'sms'",
            "kind": "'reply'",
            "received_at": _at(store, "x % 300"),
            "text": "'yes please ' || x",
            "customer_id": who,
            "attributed_by": "'window'",
            "outcome": "CASE WHEN x % 2 = 0 THEN 'order' ELSE 'interest' END",
            "confidence": "0.9",
            "result": "CASE WHEN x % 2 = 0 THEN 'order' ELSE 'lead' END",
            "data": "'{}'",
        },
        200_000,
    )
    _insert(
        store,
        "orders",
        {
            "customer_id": who,
            "offer": "'O1'",
            "currency": "'EUR'",
            "price": "120",
            "discount": "0",
            "amount": "120",
            "status": "'booked'",
            "requested_by": "'bench'",
            "note": "''",
        },
        50_000,
    )
    _insert(
        store,
        "leads",
        {"customer_id": who, "reply": "'tell me more'", "status": "'new'", "offer": "'O1'"},
        50_000,
    )
    lists = ["opt_out", "vip", "dnd", "blacklist", "complaints"]
    with store.engine.begin() as c:
        ids = dict(c.execute(sa.text("SELECT name, id FROM special_lists")).all())
    kinds = " ".join(f"WHEN {i} THEN {ids[x]}" for i, x in enumerate(lists))
    _insert(
        store,
        "special_list_entries",
        {
            "list_id": f"CASE x % 5 {kinds} END",
            "customer_id": "'c' || x",
            "channel": "'all'",
            "source": "'bench'",
            "reason": "'bench'",
            "expires_at": _at(store, "400"),
        },
        min(50_000, n),
    )
    with store.session() as s:
        for name in ("picked-a", "picked-b"):
            segments.create_segment(s, name, ids=[], actor="bench")
        for name, rule in DYNAMIC.items():
            segments.create_segment(s, name, rule=rule, actor="bench")
        users.create_user(s, "bench-analyst", PASSWORD, "analyst", actor="bench")
        s.commit()
        members = dict(s.execute(sa.text("SELECT name, id FROM segments")).all())
    for k, name in enumerate(("picked-a", "picked-b")):
        _insert(
            store,
            "segment_members",
            {"segment_id": str(members[name]), "customer_id": f"'c' || (2 * x - {k})"},
            min(100_000, n // 2),
        )
    with store.engine.begin() as c:
        c.execute(sa.text("ANALYZE"))


def sign_in(client: TestClient) -> None:
    """Sign the analyst in through the form, as a browser would."""
    page = client.get("/ui/login").text
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found is not None
    r = client.post(
        "/ui/login",
        data={"username": "bench-analyst", "password": PASSWORD, "csrf": found.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def timed(client: TestClient, paths: list[str]) -> list[float]:
    """Seconds each page took (each must answer 200)."""
    out = []
    for path in paths:
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code)
    return out


def show(label: str, xs: list[float]) -> None:
    """One line: how many pages, median, p95 and worst, in milliseconds."""
    print(
        f"{label:<44} {len(xs):>5} pages  median {statistics.median(xs) * 1000:6.1f} ms  "
        f"p95 {pct(xs, 0.95) * 1000:6.1f} ms  worst {max(xs) * 1000:6.1f} ms"
    )


def explain(store: Store, customer: str) -> None:
    """The database's plan of each of the page's reads, for one customer."""
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    reads = {
        "contacts": "SELECT * FROM contacts WHERE customer_id = :c "
        "ORDER BY decided_at DESC, id DESC LIMIT 101",
        "held out": "SELECT * FROM held_out WHERE customer_id = :c "
        "ORDER BY decided_at DESC, campaign LIMIT 101",
        "responses": "SELECT * FROM responses WHERE customer_id = :c ORDER BY id DESC LIMIT 101",
        "orders": "SELECT * FROM orders WHERE customer_id = :c ORDER BY id DESC LIMIT 101",
        "leads": "SELECT * FROM leads WHERE customer_id = :c "
        "ORDER BY created_at DESC, id DESC LIMIT 101",
    }
    with store.session() as s:
        for name, sql in reads.items():
            plan = s.execute(sa.text(prefix + sql), {"c": customer}).all()
            print(f"-- {name}: " + " | ".join(str(r[-1]) for r in plan))
        t0 = time.perf_counter()
        held = customers.segments_of(s, customer)
        print(f"-- segments ({time.perf_counter() - t0:.3f} s): {[x['name'] for x in held]}")


def _built(url: str) -> bool:
    """Whether the store at ``url`` holds customers already (a kept build)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            if not sa.inspect(c).has_table("customers"):
                return False
            return c.execute(sa.text("SELECT 1 FROM customers LIMIT 1")).first() is not None
    finally:
        engine.dispose()


def main() -> None:
    """Build, then time the pages."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--contacts", type=int, default=10_000_000)
    ap.add_argument("--heavy", type=int, default=20)
    ap.add_argument("--heavy-contacts", type=int, default=3_000)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--db-url", default=None, help="Default: SQLite in a temporary folder")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument(
        "--keep",
        action="store_true",
        help="Keep the store at the end, and reuse it when it holds customers already "
        "(with --db-url: a PostgreSQL schema, or a SQLite file)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        pg = url.startswith("postgresql")
        reuse = args.keep and _built(url)
        if pg and not reuse:
            recreate_schema(url)
        store = Store(url)
        store.upgrade()
        t0 = time.perf_counter()
        if not reuse:
            build(store, args)
        with store.engine.connect() as c:
            total = c.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()
        print(
            f"{store.dialect}: {'reused' if reuse else 'built'} {args.customers:,} customers, "
            f"{total:,} contacts in {time.perf_counter() - t0:.0f} s"
        )
        if args.explain:
            explain(store, "c1")
        rnd = random.Random(7)
        drawn = [f"/ui/customers/c{rnd.randint(1, args.customers)}" for _ in range(args.pages)]
        heavy = [f"/ui/customers/c{i}" for i in range(1, args.heavy + 1)]
        try:
            with TestClient(create_app(Settings(secret_key="bench"), store)) as client:
                sign_in(client)
                timed(client, drawn[:10])  # warm: templates compiled, pools filled
                show("customer page, customers drawn at random", timed(client, drawn))
                show(
                    f"customer page, {args.heavy_contacts:,}+ contacts (newest 100)",
                    timed(client, heavy),
                )
                show(
                    "... and 'show 100 more' (newest 200)",
                    timed(client, [f"{p}?decisions=200" for p in heavy]),
                )
                found = [
                    f"/ui/customers?q=c{rnd.randint(1, args.customers)}%40example.com"
                    for _ in range(args.pages)
                ]
                show("search by e-mail", timed(client, found))
        finally:
            store.dispose()
            if pg and not args.keep:
                recreate_schema(url, drop_only=True)


if __name__ == "__main__":
    main()
