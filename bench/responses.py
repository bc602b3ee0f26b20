"""Response ingestion over HTTP: a gateway's signed replies, taken by the real server.

    python -m bench.responses [--replies 50000] [--batch 100] [--single 2000]
        [--clients 4] [--customers 100000] [--history 100000] [--signed 0.3]
        [--repeat 3] [--db-url URL] [--server serve|uvicorn] [--server-workers 1]
        [--profile]

Builds (untimed) a fresh store: ``--customers`` customers with msisdn and language
(en/zh/ru), an offer, a program of one SMS campaign (response window 7 days, leads
assigned round robin), run with the real ``runs.run_program`` and every contact
marked sent an hour ago; 20 sales reps with room for every lead; an SMS channel
``bench-gw`` with an ``inbound_token``; and ``--history`` replies of the month
before, written straight into ``responses`` (a store in use is not empty: its table,
indexes and, on PostgreSQL, analysed statistics are those of a table with rows).

Then starts the server as an operator would, in a child process on a free port:
``tactica serve --no-dispatch --no-sla --workers N`` (the default, N = 1 unless
``--server-workers``), or ``--server uvicorn``: ``uvicorn --factory
tactica.api.app:create_app --workers N``, the same app without the CLI around it.
Both read the store from ``TACTICA_DATABASE_URL``.

Each repeat sends ``--replies`` replies as a gateway would: ``POST
/responses/inbound/bench-gw``, signed with the channel's token (``X-Tactica-Timestamp``,
``X-Tactica-Signature``), ``--batch`` replies per request, from ``--clients``
concurrent keep-alive connections (threads, each taking the next request from a
shared queue). The mix: about 40 % order words, 30 % interest, 10 % opt-out and 20 %
other, in English, Chinese and Russian (the customer's language), a stock reply each
(YES, 退订, подробнее...), of which a share ``--signed`` (30 %) are written out with
the sender's name and a number, so that no two of those are the same text; 3 % from
numbers no customer has, 10 % of numbers written without the ``+``; 2 % of the
replies are sent a second time, in a later request (a gateway retrying). A request that gets
any answer but 200, or none, is sent again after a short pause (up to 10 times), as a
gateway would, and counted with the answers it got.
Replies/s = unique replies / seconds from the first request sent to the last one
acknowledged. Then ``--single`` replies are sent one per request, the same way (the
second figure).

After each repeat the bench counts the rows in ``responses`` against the unique
message ids sent, compares the two sets, checks the duplicates the server reported,
and stops loudly if any reply was lost. Between repeats (untimed) responses, leads,
orders, the opt-out entries and their audit rows are deleted (the history stays) and
the database tidied (SQLite: WAL checkpoint; PostgreSQL: ``VACUUM (ANALYZE)``).
Each repeat prints the
request latencies (p50, p99), the CPU seconds of the server's processes and of this
one (the gateway's connections), and how many cores the whole machine kept busy
meanwhile (from ``/proc/stat``: the database server's work, and anyone else's).

``--profile`` adds one pass of the batches through ``responses.take_responses`` in
this process under cProfile (no HTTP; not in the figures) and prints the top of it.

SQLite in a temporary folder unless ``--db-url``; for PostgreSQL the schema named by
the URL's ``search_path`` option is dropped and created first, and dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import queue
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import httpx
import sqlalchemy as sa
import yaml

from bench.common import (
    cpu_seconds,
    free_port,
    machine_busy,
    pct,
    process_tree,
    recreate_schema,
    wait_ready,
)
from tactica.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tactica.services import as_code, responses, runs
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import (
    AuditEntry,
    ChannelConfig,
    Contact,
    Lead,
    Order,
    Response,
    SalesRep,
    SpecialList,
    SpecialListEntry,
)

CHANNEL = "bench-gw"
SECRET = "bench-inbound-secret"
LANGUAGES = ["en", "zh", "ru"]
REPS = 20

PROGRAM = """\
kind: ContactPolicy
name: bench
per_run: 1
rules: []
---
kind: Offer
code: GOLD
name: Gold card
price: 120
value: 100
discount_max: 10
---
kind: Program
name: bench
owner: bench
policy: bench
sales: {assignment: round_robin, sla_hours: 4}
campaigns:
  - name: gold-sms
    offers: [GOLD]
    channels: [sms]
    response_window_days: 7
"""

#: What customers answer, by what the rules should read and by language.
TEXTS: dict[str, dict[str, list[str]]] = {
    "order": {
        "en": ["YES", "Yes please", "yes!", "Y", "ok sign me up", "I'll take it", "BUY"],
        "zh": ["是", "好的", "要", "我要办理", "可以", "确认", "好的，谢谢！"],
        "ru": ["ДА", "да", "Да, хочу", "беру", "согласен", "оформите", "да, подключайте"],
    },
    "interest": {
        "en": ["tell me more", "how much is it?", "call me", "more info please", "details?"],
        "zh": ["了解一下", "多少钱", "请联系我", "详情", "能介绍一下吗"],
        "ru": ["подробнее", "сколько стоит?", "перезвоните мне", "расскажите подробнее"],
    },
    "opt_out": {
        "en": ["STOP", "stop", "Unsubscribe", "remove me from your list", "don't text me again"],
        "zh": ["退订", "TD", "不要再发了", "取消订阅", "别再发了"],
        "ru": ["СТОП", "стоп", "отписаться", "не пишите мне больше", "хватит"],
    },
    "other": {
        "en": ["who is this?", "wrong number", "thanks", "what?", "I already have one"],
        "zh": ["你是谁？", "打错了", "谢谢", "什么意思", "我已经办过了"],
        "ru": ["кто это?", "спасибо", "вы ошиблись номером", "что это?", "у меня уже есть"],
    },
}
MIX = [("order", 0.40), ("interest", 0.30), ("opt_out", 0.10), ("other", 0.20)]
#: A reply written in full rather than a stock word: the stock text, then who writes.
SIGNED = {
    "en": ", this is {name} ({n})",
    "zh": "，我是{name}（{n}）",
    "ru": ", это {name} ({n})",
}
NAMES = {
    "en": ["Maria", "John", "Ana", "Peter", "Sofia", "Luis"],
    "zh": ["王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊"],
    "ru": ["Мария", "Иван", "Анна", "Пётр", "Ольга", "Сергей"],
}
UNKNOWN_SHARE = 0.03
NO_PLUS_SHARE = 0.10
RESENT_SHARE = 0.02
#: The replies sent by the repeats (not the history, whose ids start with h-).
_timed = Response.message_id.not_like("h-%")


# ---------------------------------------------------------------------- set-up (untimed)


def _msisdn(i: int) -> str:
    return f"+35191{i:07d}"


def build(store: Store, customers: int, sent: datetime) -> int:
    """Customers, the program run and its contacts sent at ``sent``, reps, the channel.

    Returns how many contacts went out.
    """
    store.upgrade()
    with store.session() as s:
        table = customer_table(load_schema(s))
        for start in range(0, customers, 10_000):
            rows = [
                {
                    "id": f"c{i:07d}",
                    "msisdn": _msisdn(i),
                    "consent_sms": True,
                    "language": LANGUAGES[i % 3],
                }
                for i in range(start, min(start + 10_000, customers))
            ]
            s.execute(sa.insert(table), rows)
        as_code.apply_documents(s, list(yaml.safe_load_all(PROGRAM)), source="bench", actor="bench")
        for k in range(REPS):
            s.add(SalesRep(username=f"rep{k:02d}", capacity=5_000, skills=[], role="hunter"))
        s.add(
            ChannelConfig(
                name=CHANNEL,
                channel="sms",
                kind="sms_http",
                settings={"url": "http://127.0.0.1:9", "inbound_token": SECRET},
                tokens=0.0,
            )
        )
        s.commit()
    done = runs.run_program(store, "bench", actor="bench", now=sent - timedelta(minutes=1))
    if done is None or done.status != "completed" or done.contacts != customers:
        raise SystemExit(f"the run did not contact every customer: {done}")
    with store.session() as s:
        s.execute(sa.update(Contact).values(status="sent", sent_at=sent))
        s.commit()
    return done.contacts


def history(store: Store, n: int, customers: int, before: datetime) -> None:
    """``n`` replies taken over the month before ``before``, straight into ``responses``.

    A store in use has its replies of the past: the table, its indexes and (on
    PostgreSQL, analysed here as autovacuum would have) the planner's statistics are
    those of a table that is not empty. Their orders and leads are left out.
    """
    rnd = random.Random(0)
    kinds, weights = zip(*MIX, strict=True)
    done = {"order": "order", "interest": "lead", "opt_out": "opt_out", "other": "review"}
    table = cast(sa.Table, Response.__table__)
    with store.session() as s:
        for start in range(0, n, 10_000):
            rows = []
            for k in range(start, min(start + 10_000, n)):
                who = rnd.randrange(customers)
                kind = rnd.choices(kinds, weights)[0]
                language = LANGUAGES[who % 3]
                rows.append(
                    {
                        "source": CHANNEL,
                        "message_id": f"h-{k:07d}",
                        "channel": "sms",
                        "kind": "reply",
                        "received_at": before - timedelta(seconds=rnd.randrange(30 * 86_400)),
                        "sender": _msisdn(who),
                        "text": rnd.choice(TEXTS[kind][language]),
                        "customer_id": f"c{who:07d}",
                        "attributed_by": "window",
                        "language": language,
                        "outcome": kind,
                        "confidence": 1.0,
                        "result": done[kind],
                        "review": "done" if kind == "other" else None,
                        "data": {},
                    }
                )
            s.execute(sa.insert(table), rows)
        s.commit()
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")


def reset(store: Store) -> None:
    """What the previous repeat took, gone (the history stays); the database tidied."""
    with store.session() as s:
        opt_out = s.scalar(sa.select(SpecialList.id).where(SpecialList.kind == "opt_out"))
        s.execute(sa.delete(Lead))
        s.execute(sa.delete(Order))
        s.execute(sa.delete(Response).where(_timed))
        s.execute(sa.delete(SpecialListEntry).where(SpecialListEntry.list_id == opt_out))
        s.execute(sa.delete(AuditEntry).where(AuditEntry.actor == f"channel:{CHANNEL}"))
        s.execute(sa.update(SalesRep).values(last_assigned_at=None))
        s.commit()
    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in ("responses", "leads", "orders", "special_list_entries", "audit_log"):
                c.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


# ---------------------------------------------------------------------- the replies


@dataclass
class Load:
    """The requests of one repeat: bodies ready to sign, and what they should do."""

    bodies: list[bytes]
    unique: set[str]
    resent: int
    expected: Counter[str]  # the outcome each unique reply's text was picked for


def replies(
    n: int, customers: int, tag: str, seed: int, signed: float
) -> tuple[list[dict[str, str]], Counter[str]]:
    """``n`` unique replies (and the mix they were drawn from), each with a fresh id.

    A share ``signed`` of them are written out (a stock reply, then the sender's name
    and a number), so that no two of those texts are the same.
    """
    rnd = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    out: list[dict[str, str]] = []
    picked: Counter[str] = Counter()
    for i in range(n):
        kind = rnd.choices(kinds, weights)[0]
        if rnd.random() < UNKNOWN_SHARE:
            sender, language = f"+35199{rnd.randrange(10**7):07d}", rnd.choice(LANGUAGES)
        else:
            who = rnd.randrange(customers)
            sender, language = _msisdn(who), LANGUAGES[who % 3]
        if rnd.random() < NO_PLUS_SHARE:
            sender = sender.lstrip("+")
        picked[kind] += 1
        text = rnd.choice(TEXTS[kind][language])
        if rnd.random() < signed:
            text += SIGNED[language].format(name=rnd.choice(NAMES[language]), n=i)
        out.append({"id": f"{tag}-{i:07d}", "from": sender, "text": text})
    return out, picked


def load(n: int, per_request: int, customers: int, tag: str, seed: int, signed: float) -> Load:
    """The unique replies, plus 2 % sent again later, cut into request bodies."""
    items, picked = replies(n, customers, tag, seed, signed)
    rnd = random.Random(seed + 1)
    sends: list[dict[str, str]] = list(items)
    again = rnd.sample(range(n), int(n * RESENT_SHARE))
    for i in again:
        # Re-sent somewhere after the original (a gateway retrying a callback).
        sends.insert(rnd.randrange(i + 1, len(sends) + 1), items[i])
    bodies = [
        json.dumps({"replies": sends[k : k + per_request]}, ensure_ascii=False).encode("utf-8")
        for k in range(0, len(sends), per_request)
    ]
    return Load(bodies, {r["id"] for r in items}, len(again), picked)


# ---------------------------------------------------------------------- the server


class Server:
    """The API in a child process: ``tactica serve --no-dispatch``, or uvicorn's workers."""

    def __init__(self, url: str, home: Path, kind: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            TACTICA_DATABASE_URL=url,
            TACTICA_HOME=str(home),
            TACTICA_SECRET_KEY="bench",
            PYTHONUNBUFFERED="1",
        )
        if kind == "serve":
            cmd = [sys.executable, "-m", "tactica", "serve", "--no-dispatch", "--no-sla"]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        else:
            cmd = [sys.executable, "-m", "uvicorn", "--factory", "tactica.api.app:create_app"]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        self.command = " ".join(cmd[1:])
        self.log_path = home / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the server answers."""
        wait_ready(self.proc, f"{self.base}/openapi.json", self.log_path, timeout)

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers)."""
        return process_tree(self.proc.pid)

    def cpu(self) -> float:
        """CPU seconds used so far by the server's processes."""
        return cpu_seconds(self.pids())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------------- the gateway


@dataclass
class Sent:
    """One timed send: seconds, what the server answered, how it went."""

    seconds: float
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # answers other than 200
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    busy: float = 0.0  # cores the whole machine kept busy meanwhile (ours, the database's, others')


def send(base: str, bodies: list[bytes], clients: int, server: Server) -> Sent:
    """POST every body, signed, from ``clients`` connections; wall time first to last."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for b in bodies:
        work.put(b)
    lock = threading.Lock()
    out = Sent(0.0)
    url = f"{base}/responses/inbound/{CHANNEL}"
    start = threading.Barrier(clients + 1)

    def gateway() -> None:
        mine: list[float] = []
        counts: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        retries = failed = 0
        with httpx.Client(timeout=60) as client:
            client.get(f"{base}/openapi.json")  # connected before the clock starts
            start.wait()
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    break
                for attempt in range(10):
                    ts = int(time.time())
                    headers = {
                        "Content-Type": "application/json",
                        TIMESTAMP_HEADER: str(ts),
                        SIGNATURE_HEADER: sign(SECRET, ts, body),
                    }
                    t = time.perf_counter()
                    try:
                        got = client.post(url, content=body, headers=headers)
                    except httpx.HTTPError:
                        got = None
                    if got is not None and got.status_code == 200:
                        mine.append(time.perf_counter() - t)
                        counts.update(got.json())
                        break
                    if got is not None:
                        refused[f"{got.status_code} {got.text[:200]}"] += 1
                    retries += 1
                    time.sleep(0.05 * (attempt + 1))
                else:
                    failed += 1
        with lock:
            out.latencies += mine
            out.results.update(counts)
            out.retries += retries
            out.failed += failed
            out.refused.update(refused)

    threads = [threading.Thread(target=gateway) for _ in range(clients)]
    for th in threads:
        th.start()
    server_cpu = server.cpu()
    cpu = time.process_time()
    busy = machine_busy()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    out.seconds = time.perf_counter() - t0
    out.client_cpu = time.process_time() - cpu
    out.server_cpu = server.cpu() - server_cpu
    out.busy = (machine_busy() - busy) / out.seconds
    out.accepted, out.duplicates = out.results["accepted"], out.results["duplicates"]
    return out


def verify(store: Store, work: Load, sent: Sent) -> dict[str, int]:
    """Stop loudly unless every unique reply sent is stored once; the results by kind."""
    with store.session() as s:
        stored = list(
            s.scalars(sa.select(Response.message_id).where(Response.source == CHANNEL, _timed))
        )
        results = dict(
            s.execute(
                sa.select(Response.result, sa.func.count())
                .where(Response.source == CHANNEL, _timed)
                .group_by(Response.result)
            ).all()
        )
    ids = set(stored)
    lost = work.unique - ids
    problems = []
    if lost:
        problems.append(f"{len(lost):,} replies lost (e.g. {sorted(lost)[:3]})")
    if len(stored) != len(ids) or ids - work.unique:
        problems.append(
            f"{len(stored):,} rows for {len(ids):,} ids, {len(ids - work.unique):,} not sent"
        )
    if sent.accepted != len(work.unique) or sent.duplicates != work.resent:
        problems.append(
            f"the server answered {sent.accepted:,} accepted and {sent.duplicates:,} duplicates; "
            f"sent {len(work.unique):,} unique and {work.resent:,} again"
        )
    print(
        f"  sent {len(work.unique):,} unique replies (+{work.resent:,} again), stored "
        f"{len(stored):,} rows, {len(ids & work.unique):,} of the ids sent: "
        + ("none lost" if not lost else f"{len(lost):,} LOST"),
        flush=True,
    )
    if problems:
        raise SystemExit("responses bench: verification failed: " + "; ".join(problems))
    return results


# ---------------------------------------------------------------------- the store


# ---------------------------------------------------------------------- main


def _one(
    store: Store, server: Server, args: argparse.Namespace, per: int, n: int, tag: str
) -> Sent:
    reset(store)
    work = load(n, per, args.customers, tag, zlib.crc32(tag.encode()), args.signed)
    sent = send(server.base, work.bodies, args.clients, server)
    if sent.retries or sent.failed:
        errors = Counter(
            line.strip()
            for line in server.log_path.read_text(errors="replace").splitlines()
            if re.match(r"^\w+(\.\w+)*(Error|Exception)\b", line.strip())
        )
        print(f"  server errors: {dict(errors.most_common(5))}", flush=True)
        print(f"  answers other than 200: {dict(sent.refused.most_common(5))}", flush=True)
    results = verify(store, work, sent)
    rate = len(work.unique) / sent.seconds
    p50, p99 = pct(sent.latencies, 0.5) * 1000, pct(sent.latencies, 0.99) * 1000
    print(
        f"  {tag}: {len(work.unique):,} replies in {len(work.bodies):,} requests of {per} "
        f"in {sent.seconds:.2f} s = {rate:,.0f} replies/s; request p50 "
        f"{p50:.0f} ms, p99 {p99:.0f} ms; "
        f"{sent.retries} retried, {sent.failed} failed; server CPU {sent.server_cpu:.1f} s, "
        f"client CPU {sent.client_cpu:.1f} s; machine busy {sent.busy:.1f} of "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    print(f"  results {dict(sorted(results.items()))}; mix sent {dict(work.expected)}", flush=True)
    return sent


def profile(store: Store, n: int, per: int, args: argparse.Namespace) -> str:
    """``n`` replies, ``per`` at a time, through take_responses in this process, cProfile'd."""
    reset(store)
    items, _ = replies(n, args.customers, f"prof{per}", 7, args.signed)
    inbound = [
        responses.Inbound(message_id=r["id"], channel="sms", text=r["text"], sender=r["from"])
        for r in items
    ]
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    for k in range(0, len(inbound), per):
        responses.take_responses(store, CHANNEL, inbound[k : k + per], actor="bench")
    profiler.disable()
    seconds = time.perf_counter() - t
    buf = io.StringIO()
    buf.write(
        f"profiled: {len(inbound):,} replies, {per} per call, through take_responses in "
        f"{seconds:.2f} s = {len(inbound) / seconds:,.0f} replies/s "
        "(with the profiler's overhead)\n"
    )
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    return buf.getvalue()


def main() -> None:
    """Build the store, start the server, send replies ``--repeat`` times; print medians."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--replies", type=int, default=50_000, help="unique replies, batched")
    ap.add_argument("--batch", type=int, default=100, help="replies per request (≤ 1,000)")
    ap.add_argument("--single", type=int, default=2_000, help="replies sent one per request")
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--history", type=int, default=100_000, help="earlier replies in the store")
    ap.add_argument(
        "--signed", type=float, default=0.3, help="share of replies written out (unique texts)"
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--server", choices=["serve", "uvicorn"], default="serve")
    ap.add_argument("--server-workers", type=int, default=1, help="API processes")
    ap.add_argument("--profile", action="store_true", help="one in-process pass under cProfile")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = args.db_url or f"sqlite:///{home / 'tactica.db'}"
        if args.db_url:
            recreate_schema(args.db_url)
        store = Store(url)
        server = None
        try:
            t = time.perf_counter()
            sent_at = datetime.now(UTC) - timedelta(hours=1)
            contacts = build(store, args.customers, sent_at)
            history(store, args.history, args.customers, sent_at - timedelta(days=8))
            print(
                f"built the store: {args.customers:,} customers, {contacts:,} contacts sent, "
                f"{REPS} reps, {args.history:,} earlier replies, "
                f"in {time.perf_counter() - t:.1f} s",
                flush=True,
            )
            server = Server(url, home, args.server, args.server_workers)
            server.wait_ready()
            print(f"server: {server.command} on port {server.port}", flush=True)
            batched: list[Sent] = []
            single: list[Sent] = []
            for i in range(args.repeat):
                if args.replies:
                    batched.append(_one(store, server, args, args.batch, args.replies, f"b{i}"))
                if args.single:
                    single.append(_one(store, server, args, 1, args.single, f"s{i}"))
            dialect = store.dialect
            server.stop()
            server = None
            profile_text = ""
            if args.profile:
                if args.replies:
                    profile_text += profile(store, args.replies, args.batch, args)
                if args.single:
                    profile_text += profile(store, args.single, 1, args)
        finally:
            if server is not None:
                server.stop()
            store.dispose()
            if args.db_url:
                recreate_schema(args.db_url, drop_only=True)
    how = f"{args.server}" + (f" ×{args.server_workers}" if args.server == "uvicorn" else "")
    for name, runs_, n, per in (
        ("batched", batched, args.replies, args.batch),
        ("single", single, args.single, 1),
    ):
        if not runs_:
            continue
        rates = [n / r.seconds for r in runs_]
        print(
            f"response ingestion on {dialect}, server {how}, {args.clients} clients, {name} "
            f"({per} per request): median {statistics.median(rates):,.0f} replies/s "
            f"(runs {', '.join(f'{x:,.0f}' for x in rates)}); {n:,} replies, none lost"
        )
    if profile_text:
        print(profile_text)


if __name__ == "__main__":
    main()
