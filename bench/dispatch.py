"""Dispatch throughput: a run's contacts from a full outbox to a local peer, drained.

    python -m bench.dispatch --channel sms --messages 50000 [--workers 1] [--batch 200]
        [--repeat 3] [--db-url URL] [--peer process|thread] [--profile]
    python -m bench.dispatch --channel email --messages 5000

Builds (untimed) a fresh store with N customers (msisdn, e-mail, language en/zh/ru,
four time zones), an offer, a one-campaign program whose campaign sends template
``bench`` (SMS or e-mail, one variant per language) on the channel, and runs it with
the real ``runs.run_program``: its N contacts are queued in the outbox. The channel is
configured like a real one: the local SMS gateway (``LocalSmsGateway``, bulk JSON API,
one request per claimed batch) with a price per message, or the local SMTP sink
(``LocalSmtpSink``, one SMTP transaction per message on one connection). The peer runs
in a child process by default (``--peer process``), so its Python does not share the
GIL with the workers; ``--peer thread`` serves it from a thread of this process.

Times ``run_dispatch(store, options, drain=True)`` — what ``tactica dispatch --drain``
does — from a full outbox to an empty one; with ``--workers N`` (N > 1), N processes
each run it on the same channel (claims are shared through the outbox), started and
connected before the clock starts. messages/s = N / seconds. After each repeat it
checks that the peer received exactly N distinct idempotency keys, those of the run's
contacts, that every contact is ``sent`` and that the outbox is empty, and stops
loudly otherwise. Between repeats (untimed): contacts back to ``queued``, the outbox
refilled with ``enqueue_run``, cost bookings cleared, a fresh peer, and the database
tidied (SQLite: WAL checkpoint; PostgreSQL: ``VACUUM (ANALYZE)`` of contacts and
outbox). Prints each repeat (with the CPU seconds of the dispatcher and of the peer),
the medians, and the peak RSS of this process (after the set-up, which includes the
run, and at the end), of the peer's process and of the worker processes. With one
worker it also prints where the wall time went (claim, prepare, send, record);
``--profile`` adds one cProfile'd run of the worker in the main thread (not in the
medians) and prints the top of the profile.

SQLite in a temporary folder unless ``--db-url``; for PostgreSQL the schema named by
the URL's ``search_path`` option is dropped and created first, and dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import pstats
import queue
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import recreate_schema
from tactica.channels.local_sms_gateway import LocalSmsGateway
from tactica.channels.local_smtp import LocalSmtpSink
from tactica.channels.sms_http import HttpSmsAdapter
from tactica.channels.smtp import IDEMPOTENCY_HEADER, SmtpAdapter
from tactica.services import as_code, runs
from tactica.services.dispatch import ChannelWorker, WorkerOptions, idempotency_key, run_dispatch
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import ChannelConfig, Contact, CostBooking, MessageTemplate, OutboxEntry
from tactica.store.outbox import enqueue_run

API_KEY = "bench-key"
ZONES = ["Europe/Lisbon", "America/New_York", "Asia/Shanghai", None]
LANGUAGES = ["en", "zh", "ru"]
CHANNEL_NAME = {"sms": "bench-sms", "email": "bench-mail"}
SECRET, PUBLIC_URL = "bench-secret", "https://mkt.example.com"  # e-mails' unsubscribe links

TEMPLATES: dict[str, list[tuple[str, str | None, str]]] = {
    "sms": [
        ("en", None, "Hi {{ customer.id }}, {{ offer.name }} is yours. Reply YES."),
        ("zh", None, "您好 {{ customer.id }}，{{ offer.name }}。回复 YES。"),
        ("ru", None, "Здравствуйте, {{ customer.id }}! {{ offer.name }}. Ответьте YES."),
    ],
    "email": [
        (
            "en",
            "Your {{ offer.name }}",
            "Dear {{ customer.id }},\n\n{{ offer.name }} is waiting for you.\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
        ),
        (
            "zh",
            "您的{{ offer.name }}",
            "尊敬的 {{ customer.id }}：\n\n{{ offer.name }}。\n\n退订：{{ unsubscribe_url }}",
        ),
        (
            "ru",
            "Ваша {{ offer.name }}",
            "Здравствуйте, {{ customer.id }}!\n\n{{ offer.name }} ждёт вас.\n\n"
            "Отписаться: {{ unsubscribe_url }}",
        ),
    ],
}


# ---------------------------------------------------------------------- set-up (untimed)


def _documents(channel: str) -> list[dict[str, object]]:
    return [
        {"kind": "ContactPolicy", "name": "bench", "per_run": 1, "rules": []},
        {"kind": "Offer", "code": "GOLD", "name": "Gold card", "value": 100},
        {
            "kind": "Program",
            "name": "bench",
            "owner": "bench",
            "policy": "bench",
            "campaigns": [
                {
                    "name": f"gold-{channel}",
                    "offers": ["GOLD"],
                    "channels": [channel],
                    "template": "bench",
                    "cost_per_contact": 0.05,
                }
            ],
        },
    ]


def _customers(start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i:07d}",
            "msisdn": f"+35191{i:07d}",
            "consent_sms": True,
            "email": f"c{i:07d}@example.com",
            "consent_email": True,
            "language": LANGUAGES[i % 3],
            "timezone": ZONES[i % 4],
        }
        for i in range(start, stop)
    ]


def build(store: Store, n: int, channel: str) -> tuple[int, set[str]]:
    """Customers, templates, the program, and its run: N contacts queued in the outbox.

    Returns the run's id and the idempotency keys of its contacts.
    """
    store.upgrade()
    with store.session() as s:
        table = customer_table(load_schema(s))
        for start in range(0, n, 10_000):
            s.execute(sa.insert(table), _customers(start, min(start + 10_000, n)))
        as_code.apply_documents(s, _documents(channel), source="bench", actor="bench")
        for language, subject, body in TEMPLATES[channel]:
            s.add(
                MessageTemplate(
                    name="bench", channel=channel, language=language, subject=subject, body=body
                )
            )
        s.commit()
    done = runs.run_program(store, "bench", actor="bench")
    if done is None or done.run_id is None or done.status != "completed" or done.contacts != n:
        raise SystemExit(f"the run did not queue {n} contacts: {done}")
    with store.session() as s:
        ids = s.scalars(sa.select(Contact.id).where(Contact.run_id == done.run_id)).all()
    return done.run_id, {idempotency_key(cid) for cid in ids}


def configure(store: Store, channel: str, host: str, port: int, batch: int) -> str:
    """Point the bench's channel at the peer (created the first time); returns its name."""
    name = CHANNEL_NAME[channel]
    settings: dict[str, Any]
    if channel == "sms":
        kind = "sms_http"
        # One gateway request per claimed batch (the gateway takes at most 1,000).
        settings = {"url": f"http://{host}:{port}", "api_key": API_KEY}
        settings["batch_size"] = min(batch, 1000)
        price = Decimal("0.04")
    else:
        kind = "smtp"
        settings = {"host": host, "port": port, "sender": "offers@bank.example"}
        price = None
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == name))
        if config is None:
            config = ChannelConfig(
                name=name,
                kind=kind,
                channel=channel,
                enabled=True,
                timezone="UTC",
                max_attempts=5,
                retry_base_seconds=30.0,
                retry_cap_seconds=3600.0,
                cost_per_message=price,
                tokens=0.0,
            )
            s.add(config)
        config.settings = settings
        s.commit()
    return name


def reset(store: Store, run_id: int) -> None:
    """Contacts back to queued, the outbox refilled, bookings cleared; the database tidied."""
    with store.session() as s:
        s.execute(
            sa.update(Contact)
            .where(Contact.run_id == run_id)
            .values(
                status="queued",
                channel_name=None,
                attempts=None,
                sent_at=None,
                delivered_at=None,
                provider_id=None,
                error=None,
                spent=None,
            )
            .execution_options(synchronize_session=False)
        )
        s.execute(sa.delete(OutboxEntry))
        s.execute(sa.delete(CostBooking))
        enqueue_run(s, run_id, datetime.now(UTC))
        s.commit()
    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM (ANALYZE) contacts")
            c.exec_driver_sql("VACUUM (ANALYZE) outbox")


def verify(store: Store, run_id: int, expected: set[str], received: list[str]) -> None:
    """Fail loudly unless the peer got each key exactly once and every contact is sent."""
    n = len(expected)
    problems = []
    if len(received) != n or set(received) != expected:
        problems.append(
            f"the peer received {len(received):,} messages with {len(set(received)):,} "
            f"distinct keys ({len(set(received) - expected):,} not ours, "
            f"{len(expected - set(received)):,} missing); expected {n:,}"
        )
    with store.session() as s:
        by_status = dict(
            s.execute(
                sa.select(Contact.status, sa.func.count())
                .where(Contact.run_id == run_id)
                .group_by(Contact.status)
            ).all()
        )
        left = s.scalar(sa.select(sa.func.count()).select_from(OutboxEntry))
        booked = s.scalar(sa.select(sa.func.sum(CostBooking.sent)))
    if by_status != {"sent": n}:
        problems.append(f"contacts by status {by_status}, expected {{'sent': {n}}}")
    if left:
        problems.append(f"{left:,} entries left in the outbox")
    if booked != n:
        problems.append(f"cost bookings count {booked} sent, expected {n:,}")
    if problems:
        raise SystemExit("dispatch bench: verification failed: " + "; ".join(problems))


# ---------------------------------------------------------------------- the peer


def _peak_rss() -> float:
    """This process's peak resident set so far, MiB.

    VmHWM where there is one: a spawned child's ``ru_maxrss`` starts at its parent's
    peak (Linux keeps the forked copy's high-water mark across exec), VmHWM does not.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start_peer(channel: str) -> LocalSmsGateway | LocalSmtpSink:
    peer: LocalSmsGateway | LocalSmtpSink
    peer = LocalSmsGateway(api_key=API_KEY) if channel == "sms" else LocalSmtpSink()
    peer.start()
    return peer


def _keys(peer: LocalSmsGateway | LocalSmtpSink) -> list[str]:
    if isinstance(peer, LocalSmsGateway):
        return [m["idempotency_key"] for m in peer.messages]
    return [str(m.get(IDEMPOTENCY_HEADER)) for m in peer.messages]


def _serve_peer(channel: str, conn: Connection) -> None:
    """Child process: serve the peer, answer ``keys`` (with its CPU time and RSS)."""
    peer = _start_peer(channel)
    try:
        conn.send((peer.host, peer.port))
        while (cmd := conn.recv()) != "stop":
            if cmd == "keys":
                use = resource.getrusage(resource.RUSAGE_SELF)
                conn.send((_keys(peer), use.ru_utime + use.ru_stime, _peak_rss()))
    finally:
        peer.stop()


class Peer:
    """The local gateway or SMTP sink, in a child process or in a thread of this one."""

    def __init__(self, channel: str, in_process: bool) -> None:
        self.channel = channel
        self.in_process = in_process
        self._local: LocalSmsGateway | LocalSmtpSink | None = None
        self._proc: Any = None
        self._conn: Connection | None = None
        self.host, self.port = "", 0

    def __enter__(self) -> Peer:
        if self.in_process:
            self._local = _start_peer(self.channel)
            self.host, self.port = self._local.host, self._local.port
        else:
            ctx = mp.get_context("spawn")
            self._conn, theirs = ctx.Pipe()
            self._proc = ctx.Process(target=_serve_peer, args=(self.channel, theirs), daemon=True)
            self._proc.start()
            theirs.close()  # so a peer that dies shows here as EOFError, not a hang
            self.host, self.port = self._conn.recv()
        return self

    def received(self) -> tuple[list[str], float | None, float | None]:
        """The idempotency keys received, in order; the child's CPU seconds and peak RSS
        (MiB) so far (None for a peer in this process)."""
        if self._local is not None:
            return _keys(self._local), None, None
        assert self._conn is not None
        self._conn.send("keys")
        keys, cpu, rss = self._conn.recv()
        return keys, cpu, rss

    def __exit__(self, *exc: object) -> None:
        if self._local is not None:
            self._local.stop()
        if self._conn is not None:
            self._conn.send("stop")
            self._proc.join(10)
            self._conn.close()


# ---------------------------------------------------------------------- the workers


def _work(url: str, name: str, options: WorkerOptions, ready: Any, go: Any, out: Any) -> None:
    """Child process: one drain-mode dispatcher, connected before the clock starts."""
    store = Store(url)
    with store.session() as s:  # open the pool's first connection now
        s.execute(sa.select(1))
    ready.release()
    go.wait()
    cpu = time.process_time()
    run_dispatch(store, options, names=[name], drain=True)
    out.put((time.monotonic(), time.process_time() - cpu, _peak_rss()))
    store.dispose()


def dispatch_processes(
    store: Store, name: str, options: WorkerOptions, workers: int
) -> tuple[float, float, float]:
    """Seconds for ``workers`` processes, each draining the channel, to empty the outbox;
    the CPU seconds they spent meanwhile (summed) and the largest peak RSS (MiB)."""
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_work, args=(store.url, name, options, ready, go, out))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=120):
            raise SystemExit("a worker process did not start")
    start = time.monotonic()
    go.set()
    ends: list[tuple[float, float, float]] = []
    while len(ends) < workers:
        try:
            ends.append(out.get(timeout=5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise SystemExit("a worker process failed") from None
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a worker process failed (exit code {p.exitcode})")
    seconds = max(end for end, _, _ in ends) - start
    return seconds, sum(cpu for _, cpu, _ in ends), max(rss for _, _, rss in ends)


@contextmanager
def step_timers(totals: dict[str, float]) -> Iterator[None]:
    """Add the wall time of each step of ``ChannelWorker.step`` to ``totals``."""
    targets: list[tuple[Any, str, str]] = [
        (ChannelWorker, "_claim", "claim"),
        (ChannelWorker, "_prepare", "prepare"),
        (HttpSmsAdapter, "send_batch", "send"),
        (SmtpAdapter, "send_batch", "send"),
        (ChannelWorker, "_record", "record"),
    ]
    saved = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in targets]

    def timed(fn: Callable[..., Any], step: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[step] = totals.get(step, 0.0) + time.perf_counter() - t

        return wrapper

    for owner, attr, step in targets:
        setattr(owner, attr, timed(owner.__dict__[attr], step))
    try:
        yield
    finally:
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)


# ---------------------------------------------------------------------- the store


# ---------------------------------------------------------------------- main


@dataclass
class Timed:
    """One timed repeat."""

    seconds: float
    cpu: float | None  # CPU seconds of this process (all threads) while timed
    peer_cpu: float | None
    peer_rss: float | None  # MiB, the peer's process
    worker_rss: float | None  # MiB, the largest worker process (--workers > 1)
    steps: dict[str, float]


def _one(
    args: argparse.Namespace,
    store: Store,
    run_id: int,
    expected: set[str],
    options: WorkerOptions,
    profiler: cProfile.Profile | None = None,
) -> Timed:
    reset(store, run_id)
    with Peer(args.channel, args.peer == "thread") as peer:
        name = configure(store, args.channel, peer.host, peer.port, args.batch)
        _, cpu_before, _ = peer.received()
        steps: dict[str, float] = {}
        cpu = worker_rss = None
        if args.workers > 1:
            seconds, cpu, worker_rss = dispatch_processes(store, name, options, args.workers)
        else:
            with step_timers(steps):
                c, t = time.process_time(), time.perf_counter()
                if profiler is None:
                    run_dispatch(store, options, names=[name], drain=True)
                else:
                    # cProfile sees one thread: run run_dispatch's worker in this one.
                    worker = ChannelWorker(store, name, options)
                    profiler.enable()
                    worker.run(threading.Event(), drain=True)
                    profiler.disable()
                seconds, cpu = time.perf_counter() - t, time.process_time() - c
        keys, cpu_after, peer_rss = peer.received()
    verify(store, run_id, expected, keys)
    peer_cpu = None if cpu_after is None or cpu_before is None else cpu_after - cpu_before
    return Timed(seconds, cpu, peer_cpu, peer_rss, worker_rss, steps)


def main() -> None:
    """Build the store, drain the outbox ``--repeat`` times; print medians and RSS."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--channel", choices=["sms", "email"], default="sms")
    ap.add_argument("--messages", type=int, default=None, help="default: sms 50,000, email 5,000")
    ap.add_argument("--workers", type=int, default=1, help="> 1: that many processes")
    ap.add_argument("--batch", type=int, default=200, help="entries per claim")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--peer", choices=["process", "thread"], default="process")
    ap.add_argument("--profile", action="store_true", help="one more run under cProfile")
    args = ap.parse_args()
    n = args.messages or (50_000 if args.channel == "sms" else 5_000)
    options = WorkerOptions(batch_size=args.batch, secret=SECRET, public_url=PUBLIC_URL)
    with tempfile.TemporaryDirectory() as tmp:
        if args.db_url:
            recreate_schema(args.db_url)
            store = Store(args.db_url)
        else:
            store = Store(f"sqlite:///{Path(tmp) / 'tactica.db'}")
        try:
            t = time.perf_counter()
            run_id, expected = build(store, n, args.channel)
            print(f"built the store and ran the program in {time.perf_counter() - t:.1f} s")
            rss_set_up = _peak_rss()
            timed: list[Timed] = []
            for i in range(args.repeat):
                r = _one(args, store, run_id, expected, options)
                timed.append(r)
                cpu = "" if r.cpu is None else f"; dispatcher CPU {r.cpu:.1f} s"
                peer_cpu = "" if r.peer_cpu is None else f"; peer CPU {r.peer_cpu:.1f} s"
                print(
                    f"repeat {i + 1}: {n:,} {args.channel} in {r.seconds:.2f} s = "
                    f"{n / r.seconds:,.0f} msg/s{cpu}{peer_cpu}",
                    flush=True,
                )
            rss_end = _peak_rss()
            profile_text = ""
            if args.profile and args.workers == 1:
                profiler = cProfile.Profile()
                _one(args, store, run_id, expected, options, profiler)
                buf = io.StringIO()
                stats = pstats.Stats(profiler, stream=buf).strip_dirs()
                stats.sort_stats("cumulative").print_stats(45)
                stats.sort_stats("tottime").print_stats(30)
                profile_text = buf.getvalue()
            dialect = store.dialect
        finally:
            store.dispose()
            if args.db_url:
                recreate_schema(args.db_url, drop_only=True)
    rates = [n / r.seconds for r in timed]
    where = "in a child process" if args.peer == "process" else "in a thread of this process"
    print(
        f"dispatch {args.channel} on {dialect}: {n:,} messages, {args.workers} worker(s), "
        f"batch {args.batch}, peer {where}: median {statistics.median(rates):,.0f} msg/s "
        f"(runs {', '.join(f'{x:,.0f}' for x in rates)}); median "
        f"{statistics.median(r.seconds for r in timed):.2f} s"
    )
    rss = [f"this process {rss_end:,.0f} MiB (after the set-up {rss_set_up:,.0f} MiB)"]
    workers_rss = [r.worker_rss for r in timed if r.worker_rss is not None]
    if workers_rss:
        rss.append(f"largest worker process {max(workers_rss):,.0f} MiB")
    peer_rss = [r.peer_rss for r in timed if r.peer_rss is not None]
    if peer_rss:
        rss.append(f"peer process {max(peer_rss):,.0f} MiB")
    print("peak RSS: " + ", ".join(rss))
    if args.workers == 1 and timed:
        wall = statistics.median(r.seconds for r in timed)
        parts = []
        for step in ("claim", "prepare", "send", "record"):
            x = statistics.median(r.steps.get(step, 0.0) for r in timed)
            parts.append(f"{step} {x:.2f} s ({x / wall:.0%})")
        print("where the time goes (medians): " + ", ".join(parts))
    if profile_text:
        print(profile_text)


if __name__ == "__main__":
    main()
