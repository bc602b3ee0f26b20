"""Event decisions in real time: events over HTTP at a fixed rate, and from a Redis stream.

    python -m bench.events [--mode http] [--rate 500] [--seconds 60] [--per-request 1]
        [--connections 32] [--campaigns 1] [--server-workers 1[,2]] [--customers 100000]
        [--history 100000] [--repeat 3] [--db-url URL] [--profile]
    python -m bench.events --mode stream [--events 100000] [--campaigns 10]
        [--consumers 1] [--batch 500] [--redis-url URL] [--repeat 3] [--db-url URL]

Builds (untimed) a fresh store: ``--customers`` customers (tenure_months, balance,
language; msisdn for 90 % of them and SMS consent for 85 %, e-mail for 60 % and
e-mail consent for half); a contact policy ``bench`` (per event and program one
contact; at most 2 contacts in 30 days, 1 SMS in 7 days, 24 hours between two
contacts, no offer again within 30 days); three event types — ``top_up`` {amount:
float, channel: category}, ``bill_paid`` {amount: float}, ``usage_threshold``
{percent: int}; nine offers (two with eligibility rules of their own); and a running
program of ``--campaigns`` triggered campaigns (default 1 over HTTP, 10 from a
stream), taken in turn from ten: each listens to one or two of the types, with an
eligibility rule reading the profile and the event (``event.amount >= 20 and
tenure_months > 6``...), one or two channels (SMS, e-mail), its priority and a score
rule; two have a control group. A store in use is not empty: ``--history`` earlier
contacts (half of them from this program's campaigns and offers) spread over the
last 30 days — so the policy checks read real history, about one contact a customer
— and as many earlier events; on PostgreSQL the schema is then analysed, as
autovacuum would have. Tokens: an ``integration`` user (events:write) sends, an
``analyst`` (events:read) reads ``/metrics``.

Each event of the load picks a type (60 % top_up, 25 % bill_paid, 15 %
usage_threshold) and a random customer; 2 % name a customer the store does not know
(kept as unattributed), and 2 % of the events are sent a second time, later (a
producer retrying: over HTTP at least two seconds after the first, in a stream at
least 1,000 entries after): those must be answered as duplicates.
Amounts, shops and thresholds are drawn so that many events are not eligible.

**HTTP** (the default): the server is started as an operator would, in a child
process on a free port — ``tactica serve --no-dispatch --no-sla --workers N``, for
each N of ``--server-workers`` (a comma list; same store, the server restarted).
Each repeat sends ``--rate`` events/s for ``--seconds`` as ``POST /events``,
``--per-request`` events a request, **open loop**: request k is due at ``k ×
per-request / rate`` seconds from the start and is sent then whatever the answers
to the earlier ones (asyncio, ``bench.http_client``, up to ``--connections`` keep-alive
connections; a request due while all of them are busy waits for one, and that
wait counts). A request answered with anything but 200, or not at all, is sent
again after a short pause (up to 10 times), as a producer would, and counted.
Measured:

* client side, every request: from the moment it was due to its answer (p50, p95,
  p99, max) — an upper bound of the server's figure, with the HTTP stack, the
  client and any queueing in it;
* server side: the histogram ``tactica_event_decision_seconds{source="http"}`` of
  ``/metrics`` (from the request's arrival in the route to the commit of its
  decision, per stored event), read before and after the repeat: the share of
  events decided within 5 ms and within 25 ms (exact, those are bucket bounds), and
  the p50 and p99 interpolated within the buckets as Prometheus'
  ``histogram_quantile`` does;
* events answered / seconds from the first request due to the last one answered.

**Stream** (``--mode stream``): each repeat publishes ``--events`` events to a fresh
Redis stream (pipelined XADD, untimed), then starts ``--consumers`` processes of
``tactica events consume --once --batch B`` in one group, as an operator would, and
times from the first entry read (the group's last-delivered id moves) to the last
one acknowledged (the group's pending count back at zero with every entry
delivered), polling ``XINFO GROUPS`` every 5 ms; events/s = entries / seconds.

After each repeat the bench checks, and stops loudly otherwise: every unique event id
sent is in ``events`` exactly once and no other; every id sent twice was answered
as a duplicate (over HTTP; from a stream, nothing is left pending and nothing
dead-lettered); no event made more than one contact per campaign; the contacts the
answers reported are those in the store. Between repeats (untimed) the events,
contacts, outbox entries and figures of the previous repeat are deleted (the
history stays) and the database tidied (SQLite: WAL checkpoint; PostgreSQL:
``VACUUM (ANALYZE)``). Each repeat prints its figures, the CPU seconds of the
server's (or consumers') processes and of this one, and how many cores the whole
machine kept busy meanwhile (``/proc/stat``: the database server's work, and anyone
else's). The medians of the repeats come last.

``--profile`` adds two passes of the same events through ``events.take_events`` in
this process, one timed and one under cProfile (``--per-request`` events a call over
HTTP, ``--batch`` from a stream; no HTTP, no Redis; not in the figures), and prints
the top of the profile.

SQLite in a temporary folder unless ``--db-url``; for PostgreSQL the schema named by
the URL's ``search_path`` option is dropped and created first, and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import redis
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    cpu_seconds,
    free_port,
    machine_busy,
    pct,
    process_tree,
    recreate_schema,
    wait_ready,
)
from bench.http_client import HttpError, KeepAliveConnection
from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, events, programs, users
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import Contact, EventFigure, EventRow, OutboxEntry

PROGRAM = "bench"
LANGUAGES = ["en", "pt", "es", "fr"]
PASSWORD = "bench-password-123"
UNKNOWN_SHARE = 0.02
RESENT_SHARE = 0.02
#: A resent event goes out at least this many seconds after its first sending.
RESENT_AFTER = 2.0
TYPES = [("top_up", 0.60), ("bill_paid", 0.25), ("usage_threshold", 0.15)]
#: The earlier events and contacts (not the repeats') have ids starting with h-.
HISTORY_PREFIX = "h-"
HISTOGRAM = "tactica_event_decision_seconds"
#: A producer gives up on a request after this many seconds, and sends it again.
REQUEST_TIMEOUT = 10.0

TYPES_AND_POLICY = """\
kind: EventType
name: top_up
description: prepaid balance topped up
fields: {amount: float, channel: category}
required: [amount, channel]
---
kind: EventType
name: bill_paid
description: a monthly bill paid
fields: {amount: float}
required: [amount]
---
kind: EventType
name: usage_threshold
description: the month's data allowance used up to a share
fields: {percent: int}
required: [percent]
---
kind: ContactPolicy
name: bench
per_run: 1
rules:
  - {type: cap, name: two-a-month, max: 2, days: 30}
  - {type: cap, name: sms-a-week, max: 1, days: 7, channel: sms}
  - {type: gap, name: gap-24h, hours: 24}
  - {type: no_repeat, name: offer-30d, days: 30}
"""

OFFERS = [
    {"code": "DATA-5GB", "name": "5 GB of data", "value": 5},
    {"code": "DATA-10GB", "name": "10 GB of data", "value": 9},
    {"code": "UNLIMITED", "name": "Unlimited week", "value": 15},
    {"code": "LOYAL-PTS", "name": "Loyalty points", "value": 3},
    {"code": "TOPUP-BONUS", "name": "Top-up bonus", "value": 4},
    {"code": "WELCOME", "name": "Welcome pack", "value": 6},
    {"code": "ROAM", "name": "Roaming pack", "value": 8, "eligibility": "tenure_months >= 24"},
    {"code": "INSTALMENT", "name": "Pay in instalments", "value": 7},
    {"code": "VIP-LINE", "name": "Priority line", "value": 12, "eligibility": "balance >= 40"},
]

#: The triggered campaigns, taken in turn (a suffix when more than ten are asked).
CAMPAIGNS: list[dict[str, Any]] = [
    {
        "name": "top-up-bonus",
        "events": ["top_up"],
        "eligibility": "event.amount >= 20 and tenure_months > 6",
        "offers": ["DATA-5GB", "DATA-10GB"],
        "channels": ["sms", "email"],
        "priority": 50,
        "score": "event.amount / 10 + tenure_months / 12",
    },
    {
        "name": "bill-thanks",
        "events": ["bill_paid"],
        "eligibility": "event.amount >= 30 and tenure_months > 3",
        "offers": ["LOYAL-PTS"],
        "channels": ["email", "sms"],
        "priority": 30,
        "score": "balance / 20",
    },
    {
        "name": "usage-upsell",
        "events": ["usage_threshold"],
        "eligibility": "event.percent >= 80",
        "offers": ["DATA-10GB", "UNLIMITED"],
        "channels": ["sms"],
        "priority": 60,
        "score": "event.percent / 10",
    },
    {
        "name": "big-top-up",
        "events": ["top_up"],
        "eligibility": "event.amount >= 50 and event.channel = 'app'",
        "offers": ["UNLIMITED", "VIP-LINE"],
        "channels": ["sms"],
        "priority": 70,
        "score": "event.amount / 5",
        "control_share": 0.1,
    },
    {
        "name": "low-balance",
        "events": ["usage_threshold"],
        "eligibility": "balance < 10 and event.percent >= 50",
        "offers": ["TOPUP-BONUS"],
        "channels": ["sms"],
        "priority": 40,
        "score": "10 - balance",
    },
    {
        "name": "newcomer",
        "events": ["top_up", "bill_paid"],
        "eligibility": "tenure_months <= 6 and event.amount >= 10",
        "offers": ["WELCOME"],
        "channels": ["email"],
        "priority": 20,
        "score": "6 - tenure_months",
    },
    {
        "name": "roaming",
        "events": ["top_up"],
        "eligibility": "language != 'en' and event.channel in ('app', 'web')",
        "offers": ["ROAM"],
        "channels": ["sms", "email"],
        "priority": 35,
        "score": "tenure_months / 12",
    },
    {
        "name": "shop-loyalty",
        "events": ["top_up"],
        "eligibility": "event.channel in ('shop', 'kiosk') and tenure_months > 12",
        "offers": ["LOYAL-PTS", "DATA-5GB"],
        "channels": ["sms"],
        "priority": 25,
        "score": "event.amount / 20 + balance / 50",
    },
    {
        "name": "instalments",
        "events": ["bill_paid"],
        "eligibility": "event.amount >= 80 and balance < 20",
        "offers": ["INSTALMENT"],
        "channels": ["email"],
        "priority": 45,
        "score": "event.amount / 40",
        "control_share": 0.1,
    },
    {
        "name": "heavy-user",
        "events": ["usage_threshold"],
        "eligibility": "event.percent >= 100 and tenure_months > 12",
        "offers": ["UNLIMITED", "VIP-LINE"],
        "channels": ["sms", "email"],
        "priority": 65,
        "score": "event.percent / 20 + balance / 100",
    },
]


# ---------------------------------------------------------------------- set-up (untimed)


def _customer(i: int) -> str:
    return f"c{i:07d}"


def campaigns_of(n: int) -> list[dict[str, Any]]:
    """``n`` triggered campaigns, from :data:`CAMPAIGNS` in turn."""
    out = []
    for k in range(n):
        c = dict(CAMPAIGNS[k % len(CAMPAIGNS)])
        if k >= len(CAMPAIGNS):
            c["name"] = f"{c['name']}-{k // len(CAMPAIGNS) + 1}"
            c["priority"] = c["priority"] - k // len(CAMPAIGNS)
        c["kind"] = "triggered"
        c["cost_per_contact"] = 0.02 if c["channels"] == ["email"] else 0.05
        out.append(c)
    return out


def documents(campaigns: int) -> list[dict[str, Any]]:
    docs = list(yaml.safe_load_all(TYPES_AND_POLICY))
    docs += [{"kind": "Offer", **o} for o in OFFERS]
    docs.append(
        {
            "kind": "Program",
            "name": PROGRAM,
            "owner": "bench",
            "policy": "bench",
            "campaigns": campaigns_of(campaigns),
        }
    )
    return docs


def build(store: Store, customers: int, campaigns: int) -> dict[str, str]:
    """Customers, event types, policy, offers, the running program; tokens by role."""
    store.upgrade()
    rnd = random.Random(1)
    with store.session() as s:
        add_fields(
            s,
            [
                FieldDef("tenure_months", FieldType.INT),
                FieldDef("balance", FieldType.FLOAT),
            ],
        )
        table = customer_table(load_schema(s))
        for start in range(0, customers, 10_000):
            rows = []
            for i in range(start, min(start + 10_000, customers)):
                has_email = rnd.random() < 0.6
                rows.append(
                    {
                        "id": _customer(i),
                        "language": LANGUAGES[i % len(LANGUAGES)],
                        "tenure_months": rnd.randrange(0, 121),
                        "balance": round(rnd.expovariate(1 / 25), 2),
                        "msisdn": f"+35191{i:07d}" if rnd.random() < 0.9 else None,
                        "consent_sms": rnd.random() < 0.85,
                        "email": f"c{i}@example.com" if has_email else None,
                        "consent_email": has_email and rnd.random() < 0.5,
                    }
                )
            s.execute(sa.insert(table), rows)
        as_code.apply_documents(s, documents(campaigns), source="bench", actor="bench")
        programs.set_status(s, PROGRAM, "running", actor="bench")
        tokens = {}
        for role in ("integration", "analyst"):
            u = users.create_user(s, f"bench-{role}", PASSWORD, role, actor="bench")
            tokens[role], _ = users.create_token(s, u, name="bench", actor="bench")
        s.commit()
    return tokens


def history(store: Store, n: int, customers: int, campaigns: int, now: datetime) -> None:
    """``n`` earlier contacts over the last 30 days, and ``n`` earlier events.

    Half the contacts are this program's (its campaigns and offers, so the no-repeat
    rule finds some), half an outbound newsletter's; sent or delivered.
    """
    rnd = random.Random(2)
    camps = campaigns_of(campaigns)
    contacts = cast(sa.Table, Contact.__table__)
    rows_events = cast(sa.Table, EventRow.__table__)
    with store.session() as s:
        for start in range(0, n, 10_000):
            rows = []
            for _ in range(start, min(start + 10_000, n)):
                if rnd.random() < 0.5:
                    c = rnd.choice(camps)
                    program, campaign, kind = PROGRAM, c["name"], "triggered"
                    offer, channel = rnd.choice(c["offers"]), rnd.choice(c["channels"])
                else:
                    program, campaign, kind = "newsletter", "monthly", "outbound"
                    offer, channel = rnd.choice(OFFERS)["code"], rnd.choice(["sms", "email"])
                at = now - timedelta(seconds=rnd.randrange(30 * 86_400))
                rows.append(
                    {
                        "run_id": None,
                        "program": program,
                        "campaign": campaign,
                        "campaign_kind": kind,
                        "customer_id": _customer(rnd.randrange(customers)),
                        "offer": offer,
                        "channel": channel,
                        "score": 1.0,
                        "cost": 0.05,
                        "rank": 1,
                        "status": rnd.choice(["sent", "delivered"]),
                        "decided_at": at,
                        "sent_at": at + timedelta(minutes=1),
                    }
                )
            s.execute(sa.insert(contacts), rows)
        for start in range(0, n, 10_000):
            rows = []
            for k in range(start, min(start + 10_000, n)):
                e = make_event(rnd, f"{HISTORY_PREFIX}{k:07d}", customers, now)
                at = now - timedelta(seconds=rnd.randrange(30 * 86_400))
                rows.append(
                    {
                        "event_id": e["id"],
                        "type": e["type"],
                        "customer_id": e["customer_id"],
                        "occurred_at": at,
                        "received_at": at,
                        "decided_at": at,
                        "source": "http",
                        "payload": e["payload"],
                        "status": rnd.choice(["no_contact", "no_contact", "contacted", "no_match"]),
                        "contacts": 0,
                        "decisions": [],
                    }
                )
            s.execute(sa.insert(rows_events), rows)
        s.commit()
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")


def reset(store: Store) -> None:
    """What the previous repeat took, gone (the history stays); the database tidied."""
    mine = sa.select(Contact.id).where(Contact.event_id.is_not(None))
    with store.session() as s:
        s.execute(sa.delete(OutboxEntry).where(OutboxEntry.contact_id.in_(mine)))
        s.execute(sa.delete(Contact).where(Contact.event_id.is_not(None)))
        s.execute(sa.delete(EventRow).where(EventRow.event_id.not_like(f"{HISTORY_PREFIX}%")))
        s.execute(sa.delete(EventFigure))
        s.commit()
    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in ("events", "contacts", "outbox", "event_figures"):
                c.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


# ---------------------------------------------------------------------- the events


def make_event(rnd: random.Random, eid: str, customers: int, at: datetime) -> dict[str, Any]:
    """One event of the mix: a type, a customer (2 % unknown), a payload."""
    kinds, weights = zip(*TYPES, strict=True)
    ty = rnd.choices(kinds, weights)[0]
    if rnd.random() < UNKNOWN_SHARE:
        who = f"x{rnd.randrange(10**7):07d}"
    else:
        who = _customer(rnd.randrange(customers))
    payload: dict[str, Any]
    if ty == "top_up":
        amount = rnd.choice([5, 10, 10, 15, 20, 20, 25, 30, 50, 100])
        payload = {"amount": float(amount), "channel": rnd.choice(["app", "web", "shop", "kiosk"])}
    elif ty == "bill_paid":
        payload = {"amount": round(rnd.uniform(8, 140), 2)}
    else:
        payload = {"percent": rnd.choice([50, 80, 90, 100])}
    return {
        "id": eid,
        "type": ty,
        "customer_id": who,
        "time": at.isoformat(),
        "payload": payload,
    }


@dataclass
class Load:
    """The events of one repeat, in sending order, and what they should do."""

    sends: list[dict[str, Any]]
    unique: set[str]
    resent: set[str]


def load(n: int, customers: int, tag: str, gap: int) -> Load:
    """``n`` sendings: unique events, 2 % of them sent again at least ``gap`` places later."""
    rnd = random.Random(zlib.crc32(tag.encode()))
    at = datetime.now(UTC) - timedelta(seconds=5)
    resends = int(n * RESENT_SHARE)
    gap = min(gap, n // 4)
    items = [make_event(rnd, f"{tag}-{k:07d}", customers, at) for k in range(n - resends)]
    sends: list[dict[str, Any]] = list(items)
    # Each picked among the events early enough that its second sending fits after ``gap``.
    candidates = range(max(1, len(items) - gap - resends))
    again = rnd.sample(candidates, min(resends, len(candidates)))
    for i in sorted(again, reverse=True):
        sends.insert(rnd.randrange(i + gap, len(sends) + 1), items[i])
    return Load(sends, {e["id"] for e in items}, {items[i]["id"] for i in again})


# ---------------------------------------------------------------------- the server


def _env(url: str, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # tactica serve --workers N makes its own
    env.update(
        TACTICA_DATABASE_URL=url,
        TACTICA_HOME=str(home),
        TACTICA_SECRET_KEY="bench",
        PYTHONUNBUFFERED="1",
    )
    return env


#: The server running now, stopped on SIGTERM even when the bench is stuck.
_RUNNING: list[Server] = []


def _stopped(*_: Any) -> None:
    for server in _RUNNING:
        server.proc.terminate()
    sys.exit(143)


class Server:
    """The API in a child process: ``tactica serve --no-dispatch --no-sla --workers N``."""

    def __init__(self, url: str, home: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "tactica", "serve", "--no-dispatch", "--no-sla"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        self.command = " ".join(cmd[1:])
        self.log_path = home / f"server-{workers}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=_env(url, home), stdout=self._log, stderr=subprocess.STDOUT
        )
        _RUNNING.append(self)

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the server answers."""
        wait_ready(self.proc, f"{self.base}/healthz", self.log_path, timeout)

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers)."""
        return process_tree(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds used so far by the server's processes."""
        return cpu_seconds(self.pids())

    def errors(self) -> dict[str, int]:
        """The exceptions the server logged, most frequent first."""
        found = Counter(
            line.strip()
            for line in self.log_path.read_text(errors="replace").splitlines()
            if re.match(r"^\w+(\.\w+)*(Error|Exception)\b", line.strip())
        )
        return dict(found.most_common(5))

    def stop(self) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------- server-side figures


@dataclass
class Histogram:
    """Cumulative bucket counts (upper bound in seconds → events) and the count."""

    buckets: dict[float, float]
    count: float

    def minus(self, before: Histogram) -> Histogram:
        return Histogram(
            {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.count - before.count,
        )

    def share_within(self, seconds: float) -> float:
        """The share of events at or under ``seconds`` (a bucket bound)."""
        return self.buckets.get(seconds, float("nan")) / self.count if self.count else float("nan")

    def quantile(self, q: float) -> float:
        """As Prometheus' ``histogram_quantile``: linear within the bucket holding the rank."""
        if not self.count:
            return float("nan")
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le in sorted(self.buckets):
            n = self.buckets[le]
            if n >= rank:
                if le == float("inf"):
                    return lower  # beyond the last finite bound: that bound, at least
                return lower + (le - lower) * ((rank - below) / (n - below) if n > below else 1)
            lower, below = le, n
        return lower


def scrape(base: str, token: str, source: str) -> Histogram:
    """The decision-latency histogram of ``source`` from ``/metrics``."""
    got = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if got.status_code != 200:
        raise SystemExit(f"/metrics answered {got.status_code}: {got.text[:300]}")
    buckets: dict[float, float] = {}
    count = 0.0
    for family in text_string_to_metric_families(got.text):
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            if sample.labels.get("source") != source:
                continue
            if sample.name == f"{HISTOGRAM}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
            elif sample.name == f"{HISTOGRAM}_count":
                count += sample.value
    if not buckets:
        raise SystemExit(f"/metrics has no {HISTOGRAM} for source {source!r}")
    return Histogram(buckets, count)


# ---------------------------------------------------------------------- the producer


@dataclass
class Sent:
    """One timed repeat over HTTP: what was sent, what the server answered, how it went."""

    seconds: float = 0.0
    requests: int = 0
    events: int = 0  # events in requests answered 200
    accepted: int = 0
    contacts: int = 0
    retries: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)  # due → answered, per request
    late: list[float] = field(default_factory=list)  # due → taken by a connection
    queued: int = 0  # most requests due and waiting for a connection at once
    duplicates: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # answers other than 200
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    busy: float = 0.0  # cores the whole machine kept busy meanwhile
    server: Histogram | None = None


async def _produce(
    base: str, token: str, bodies: list[bytes], sizes: list[int], every: float, connections: int
) -> Sent:
    """Put each request on a queue when it is due; one worker per connection takes them.

    Open loop: the schedule never waits for answers. A request due while every
    connection is busy waits in the queue, and that wait is part of its latency.
    """
    out = Sent(requests=len(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    clients = [KeepAliveConnection(base, headers, REQUEST_TIMEOUT) for _ in range(connections)]
    due_requests: asyncio.Queue[tuple[bytes, int, float] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def worker(client: KeepAliveConnection) -> None:
        while (item := await due_requests.get()) is not None:
            body, size, due = item
            out.late.append(loop.time() - due)
            for attempt in range(10):
                try:
                    status, text = await client.request("POST", "/events", body)
                except HttpError as e:
                    status, text, why = 0, b"", str(e)
                if status == 200:
                    out.latencies.append(loop.time() - due)
                    answer = json.loads(text)
                    out.events += size
                    out.accepted += answer["accepted"]
                    out.contacts += answer["contacts"]
                    out.duplicates.update(answer["duplicates"])
                    out.statuses.update(d["status"] for d in answer["decided"])
                    break
                if status:
                    why = f"{status} {text[:200].decode(errors='replace')}"
                out.refused[why] += 1
                out.retries += 1
                await asyncio.sleep(0.05 * (attempt + 1))
            else:
                out.failed += 1

    try:
        # Every connection open before the clock starts.
        await asyncio.gather(*(c.request("GET", "/healthz") for c in clients))
        workers = [asyncio.create_task(worker(c)) for c in clients]
        start = loop.time() + 0.05
        for k, (body, size) in enumerate(zip(bodies, sizes, strict=True)):
            due = start + k * every
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            due_requests.put_nowait((body, size, due))
            out.queued = max(out.queued, due_requests.qsize())
        for _ in clients:
            due_requests.put_nowait(None)
        await asyncio.gather(*workers)
        out.seconds = loop.time() - start
    finally:
        for c in clients:
            await c.close()
    return out


def send(server: Server, tokens: dict[str, str], work: Load, args: argparse.Namespace) -> Sent:
    """Send the load open loop; the client's and the server's figures."""
    per = args.per_request
    chunks = [work.sends[k : k + per] for k in range(0, len(work.sends), per)]
    bodies = [json.dumps({"events": c}, separators=(",", ":")).encode() for c in chunks]
    before = scrape(server.base, tokens["analyst"], "http")
    server_cpu = server.cpu()
    cpu = time.process_time()
    busy = machine_busy()
    t = time.perf_counter()
    out = asyncio.run(
        _produce(
            server.base,
            tokens["integration"],
            bodies,
            [len(c) for c in chunks],
            per / args.rate,
            args.connections,
        )
    )
    wall = time.perf_counter() - t
    out.client_cpu = time.process_time() - cpu
    out.server_cpu = server.cpu() - server_cpu
    out.busy = (machine_busy() - busy) / wall
    out.server = scrape(server.base, tokens["analyst"], "http").minus(before)
    return out


# ---------------------------------------------------------------------- checks


def check_store(store: Store, tag: str, unique: set[str], contacts: int | None) -> Counter[str]:
    """Stop loudly unless every unique id is stored once, and no event contacted twice
    in one campaign; the events' statuses."""
    mine = EventRow.event_id.like(f"{tag}-%")
    with store.session() as s:
        stored = list(s.scalars(sa.select(EventRow.event_id).where(mine)))
        by_status = sa.select(EventRow.status, sa.func.count()).where(mine)
        statuses = Counter(dict(s.execute(by_status.group_by(EventRow.status)).all()))
        rows = sa.select(EventRow.id).where(mine)
        twice = s.execute(
            sa.select(Contact.event_id, Contact.campaign, sa.func.count())
            .where(Contact.event_id.in_(rows))
            .group_by(Contact.event_id, Contact.campaign)
            .having(sa.func.count() > 1)
            .limit(5)
        ).all()
        made = s.scalar(sa.select(sa.func.count()).where(Contact.event_id.in_(rows))) or 0
        outbox = (
            s.scalar(
                sa.select(sa.func.count()).where(
                    OutboxEntry.contact_id.in_(
                        sa.select(Contact.id).where(Contact.event_id.in_(rows))
                    )
                )
            )
            or 0
        )
    ids = set(stored)
    lost = unique - ids
    problems = []
    if lost:
        problems.append(f"{len(lost):,} events lost (e.g. {sorted(lost)[:3]})")
    if len(stored) != len(ids) or ids - unique:
        problems.append(
            f"{len(stored):,} rows for {len(ids):,} ids, {len(ids - unique):,} never sent"
        )
    if twice:
        problems.append(f"events contacted twice by one campaign: {twice}")
    if contacts is not None and made != contacts:
        problems.append(f"the answers reported {contacts:,} contacts, the store has {made:,}")
    if outbox != made:
        problems.append(f"{made:,} contacts but {outbox:,} outbox entries")
    print(
        f"  stored {len(stored):,} rows, {len(ids & unique):,} of the {len(unique):,} unique ids "
        f"sent: " + ("none lost" if not lost else f"{len(lost):,} LOST") + f"; {made:,} contacts, "
        f"none twice per campaign" * (not twice) + f"; statuses {dict(sorted(statuses.items()))}",
        flush=True,
    )
    if problems:
        raise SystemExit("events bench: verification failed: " + "; ".join(problems))
    return statuses


def check_duplicates(work: Load, sent: Sent) -> None:
    """Every id sent twice answered once as a duplicate; no other (unless a retry)."""
    missing = {i for i in work.resent if sent.duplicates[i] != 1}
    extra = {i for i in sent.duplicates if i not in work.resent}
    if missing or (extra and not sent.retries) or sent.failed:
        raise SystemExit(
            f"events bench: {len(missing):,} of {len(work.resent):,} resent ids not answered "
            f"once as duplicates (e.g. {sorted(missing)[:3]}), {len(extra):,} ids answered as "
            f"duplicates that were sent once, {sent.failed} requests failed"
        )
    print(
        f"  {len(work.resent):,} ids sent twice, each answered once as a duplicate"
        + (f" ({len(extra)} more after retries)" if extra else ""),
        flush=True,
    )


# ---------------------------------------------------------------------- HTTP mode


def _ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def http_repeat(
    store: Store, server: Server, tokens: dict[str, str], args: argparse.Namespace, tag: str
) -> Sent:
    reset(store)
    n = int(args.rate * args.seconds)
    work = load(n, args.customers, tag, int(args.rate * RESENT_AFTER))
    sent = send(server, tokens, work, args)
    if sent.retries or sent.failed:
        print(f"  server errors: {server.errors()}", flush=True)
        print(f"  answers other than 200: {dict(sent.refused.most_common(5))}", flush=True)
    check_store(store, tag, work.unique, sent.contacts)
    check_duplicates(work, sent)
    h = cast(Histogram, sent.server)
    if int(h.count) != sent.accepted:
        print(f"  NOTE: the histogram counted {h.count:,.0f} events, the answers {sent.accepted:,}")
    lat = sent.latencies
    print(
        f"  {tag}: {n:,} events asked at {args.rate:,.0f}/s in {sent.requests:,} requests of "
        f"{args.per_request}; {sent.events:,} answered in {sent.seconds:.2f} s = "
        f"{sent.events / sent.seconds:,.0f} events/s; server side (histogram): "
        f"{h.share_within(0.005):.1%} ≤ 5 ms, {h.share_within(0.025):.1%} ≤ 25 ms, p50 "
        f"{_ms(h.quantile(0.5))} ms, p99 {_ms(h.quantile(0.99))} ms; client round trip "
        f"p50 {_ms(pct(lat, 0.5))} ms, p95 {_ms(pct(lat, 0.95))}, p99 {_ms(pct(lat, 0.99))}, "
        f"max {_ms(max(lat))}; waited for a connection p99 {_ms(pct(sent.late, 0.99))} ms, "
        f"max {_ms(max(sent.late))} ({sent.queued} waiting at most); {sent.retries} retried, "
        f"{sent.failed} failed; server CPU "
        f"{sent.server_cpu:.1f} s, client CPU {sent.client_cpu:.1f} s; machine busy "
        f"{sent.busy:.1f} of {os.cpu_count()} cores",
        flush=True,
    )
    return sent


def http_summary(
    dialect: str, workers: int, args: argparse.Namespace, runs: list[Sent]
) -> list[str]:
    def med(f: Any) -> float:
        return statistics.median(f(r) for r in runs)

    def each(f: Any, fmt: str) -> str:
        return ", ".join(format(f(r), fmt) for r in runs)

    def h(r: Sent) -> Histogram:
        return cast(Histogram, r.server)

    rate = med(lambda r: r.events / r.seconds)
    return [
        f"events over HTTP on {dialect}, tactica serve --workers {workers}, {args.campaigns} "
        f"campaign(s), {args.per_request} per request, {args.connections} connections, asked "
        f"{args.rate:,.0f}/s for {args.seconds:.0f} s ({len(runs)} runs, medians):",
        f"  achieved {rate:,.0f} events/s ({each(lambda r: r.events / r.seconds, ',.0f')})",
        f"  server side ≤ 5 ms {med(lambda r: h(r).share_within(0.005)):.1%} "
        f"({each(lambda r: h(r).share_within(0.005), '.1%')}), ≤ 25 ms "
        f"{med(lambda r: h(r).share_within(0.025)):.1%} "
        f"({each(lambda r: h(r).share_within(0.025), '.1%')})",
        f"  server side p50 {_ms(med(lambda r: h(r).quantile(0.5)))} ms "
        f"({each(lambda r: h(r).quantile(0.5) * 1000, '.1f')}), p99 "
        f"{_ms(med(lambda r: h(r).quantile(0.99)))} ms "
        f"({each(lambda r: h(r).quantile(0.99) * 1000, '.1f')})",
        f"  client p50 {_ms(med(lambda r: pct(r.latencies, 0.5)))} ms, p99 "
        f"{_ms(med(lambda r: pct(r.latencies, 0.99)))} ms "
        f"({each(lambda r: pct(r.latencies, 0.99) * 1000, '.1f')}), max "
        f"{_ms(med(lambda r: max(r.latencies)))} ms",
        f"  retried {sum(r.retries for r in runs)}, failed {sum(r.failed for r in runs)}, none "
        f"lost; server CPU {med(lambda r: r.server_cpu):.1f} s, client CPU "
        f"{med(lambda r: r.client_cpu):.1f} s, machine busy {med(lambda r: r.busy):.2f} cores",
    ]


# ---------------------------------------------------------------------- stream mode


@dataclass
class Consumed:
    """One timed repeat from a stream."""

    seconds: float
    events: int
    wall: float  # from starting the consumers to their exit
    cpu: float  # the consumers' CPU seconds
    busy: float


def _group(client: redis.Redis, stream: str, group: str) -> dict[str, Any]:
    for g in client.xinfo_groups(stream):
        name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        if name == group:
            return cast(dict[str, Any], g)
    return {}


def stream_repeat(
    store: Store, url: str, home: Path, args: argparse.Namespace, tag: str
) -> Consumed:
    from tactica.services import event_stream

    reset(store)
    n = args.events
    work = load(n, args.customers, tag, 1000)
    stream, group = f"bench:events:{tag}:{os.getpid()}", "bench"
    client = event_stream.connect(args.redis_url)
    try:
        client.delete(stream, event_stream.dead_letter_stream(stream))
        event_stream.ensure_group(client, stream, group)
        event_stream.publish(args.redis_url, stream, work.sends)
        last = client.xrevrange(stream, count=1)[0][0]
        cmd = [sys.executable, "-m", "tactica", "events", "consume", "--once"]
        cmd += ["--stream", stream, "--group", group, "--batch", str(args.batch)]
        cmd += ["--redis-url", args.redis_url, "--report-every", "0"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy = machine_busy()
        t0 = time.perf_counter()
        logs = [(home / f"consumer-{tag}-{k}.log").open("wb") for k in range(args.consumers)]
        procs = [
            subprocess.Popen(
                [*cmd, "--consumer", f"bench-{k}"],
                env=_env(url, home),
                stdout=logs[k],
                stderr=subprocess.STDOUT,
            )
            for k in range(args.consumers)
        ]
        first = done = None
        while done is None:
            g = _group(client, stream, group)
            delivered = g.get("last-delivered-id", b"0-0")
            now = time.perf_counter()
            if first is None and delivered not in (b"0-0", "0-0"):
                first = now
            if delivered == last and g.get("pending") == 0:
                done = now
            elif all(p.poll() is not None for p in procs):
                break
            else:
                time.sleep(0.005)
        for p in procs:
            p.wait()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = (machine_busy() - busy) / wall
        for f in logs:
            f.close()
        bad = [p.returncode for p in procs if p.returncode]
        g = _group(client, stream, group)
        dead = client.xlen(event_stream.dead_letter_stream(stream))
        if first is None or done is None or bad or g.get("pending") or dead:
            text = (home / f"consumer-{tag}-0.log").read_text(errors="replace")[-2000:]
            raise SystemExit(
                f"events bench: the consumers did not take every entry (exit codes "
                f"{[p.returncode for p in procs]}, group {g}, {dead} dead-lettered):\n{text}"
            )
        summary = (home / f"consumer-{tag}-0.log").read_text(errors="replace").strip()
    finally:
        with contextlib.suppress(redis.RedisError):
            client.delete(stream, event_stream.dead_letter_stream(stream))
        client.close()
    check_store(store, tag, work.unique, None)
    print(
        f"  nothing pending in the group, nothing dead-lettered; {len(work.resent):,} entries "
        f"were a second sending (duplicates); consumer 0 said: {summary.splitlines()[-1:]}",
        flush=True,
    )
    seconds = done - first
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(
        f"  {tag}: {n:,} entries ({len(work.unique):,} unique events), {args.consumers} "
        f"consumer(s), batch {args.batch}: first read to last acknowledged {seconds:.2f} s = "
        f"{n / seconds:,.0f} events/s; with the consumers' start-up {wall:.2f} s; consumers' "
        f"CPU {cpu:.1f} s; machine busy {machine:.1f} of {os.cpu_count()} cores",
        flush=True,
    )
    return Consumed(seconds, n, wall, cpu, machine)


# ---------------------------------------------------------------------- profile


def profile(store: Store, args: argparse.Namespace) -> str:
    """The events of one repeat through take_events in this process, cProfile'd."""
    reset(store)
    per = args.per_request if args.mode == "http" else args.batch
    n = min(int(args.rate * args.seconds), 20_000) if args.mode == "http" else args.events
    work = load(n, args.customers, "prof", 1000)
    t = time.perf_counter()
    for k in range(0, len(work.sends), per):
        events.take_events(store, work.sends[k : k + per], source="cli")
    plain = time.perf_counter() - t
    reset(store)
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    for k in range(0, len(work.sends), per):
        events.take_events(store, work.sends[k : k + per], source="cli")
    profiler.disable()
    seconds = time.perf_counter() - t
    buf = io.StringIO()
    buf.write(
        f"without the profiler: {n:,} events, {per} per call, through take_events in "
        f"{plain:.2f} s = {n / plain:,.0f} events/s, {plain / (n / per) * 1000:.2f} ms a call\n"
    )
    buf.write(
        f"profiled: {n:,} events, {per} per call, through take_events in {seconds:.2f} s = "
        f"{n / seconds:,.0f} events/s, {seconds / (n / per) * 1000:.2f} ms a call "
        "(with the profiler's overhead)\n"
    )
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(30)
    return buf.getvalue()


# ---------------------------------------------------------------------- the store


# ---------------------------------------------------------------------- main


def main() -> None:
    """Build the store, then send or stream events ``--repeat`` times; print medians."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", choices=["http", "stream"], default="http")
    ap.add_argument("--rate", type=float, default=500, help="events/s asked (HTTP)")
    ap.add_argument("--seconds", type=float, default=60, help="how long each repeat sends (HTTP)")
    ap.add_argument("--per-request", type=int, default=1, help="events per request (HTTP)")
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections (HTTP)")
    ap.add_argument(
        "--server-workers",
        default="1",
        help="API processes (HTTP); a comma list runs each in turn on the same store",
    )
    ap.add_argument("--events", type=int, default=100_000, help="entries published (stream)")
    ap.add_argument("--consumers", type=int, default=1, help="consumer processes (stream)")
    ap.add_argument("--batch", type=int, default=500, help="entries a read (stream)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument(
        "--campaigns", type=int, default=None, help="triggered campaigns (default 1; stream 10)"
    )
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument(
        "--history", type=int, default=100_000, help="earlier contacts, and earlier events"
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--profile", action="store_true", help="one in-process pass under cProfile")
    args = ap.parse_args()
    # Stopped from outside (timeout, kill), still stop the server and drop the schema.
    signal.signal(signal.SIGTERM, _stopped)
    if args.campaigns is None:
        args.campaigns = 10 if args.mode == "stream" else 1
    workers = [int(w) for w in str(args.server_workers).split(",")]
    summary: list[str] = []
    profile_text = ""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = args.db_url or f"sqlite:///{home / 'tactica.db'}"
        if args.db_url:
            recreate_schema(args.db_url)
        store = Store(url)
        server = None
        try:
            t = time.perf_counter()
            tokens = build(store, args.customers, args.campaigns)
            history(store, args.history, args.customers, args.campaigns, datetime.now(UTC))
            print(
                f"built the store: {args.customers:,} customers, a running program of "
                f"{args.campaigns} triggered campaign(s), {args.history:,} earlier contacts "
                f"and events, in {time.perf_counter() - t:.1f} s",
                flush=True,
            )
            dialect = store.dialect
            if args.mode == "http":
                for w in workers:
                    server = Server(url, home, w)
                    server.wait_ready()
                    print(f"server: {server.command} on port {server.port}", flush=True)
                    runs = [
                        http_repeat(store, server, tokens, args, f"w{w}r{i}")
                        for i in range(args.repeat)
                    ]
                    server.stop()
                    server = None
                    summary += http_summary(dialect, w, args, runs)
            else:
                done = [stream_repeat(store, url, home, args, f"s{i}") for i in range(args.repeat)]
                rates = [c.events / c.seconds for c in done]
                summary.append(
                    f"events from a Redis stream on {dialect}, {args.campaigns} campaigns, "
                    f"{args.consumers} consumer(s) of tactica events consume --batch "
                    f"{args.batch}: median {statistics.median(rates):,.0f} events/s "
                    f"(runs {', '.join(f'{x:,.0f}' for x in rates)}); {args.events:,} entries, "
                    f"none lost; consumers' CPU {statistics.median(c.cpu for c in done):.1f} s, "
                    f"machine busy {statistics.median(c.busy for c in done):.2f} cores"
                )
            if args.profile:
                profile_text = profile(store, args)
        finally:
            if server is not None:
                server.stop()
            store.dispose()
            if args.db_url:
                recreate_schema(args.db_url, drop_only=True)
    print("\n".join(summary))
    if profile_text:
        print(profile_text)


if __name__ == "__main__":
    main()
