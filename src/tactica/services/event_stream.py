"""Events from a Redis stream: read by a consumer group, taken, acknowledged after the commit.

Each stream entry holds one event as JSON in its ``event`` field. :func:`consume`
reads the stream as one consumer of a group (any number of consumers may share the
work) and hands everything one read returned to one :func:`take_events` call. An
entry is acknowledged (``XACK``) only once that call has committed, so a consumer
that dies — before, during or after the commit — leaves its entries pending in the
group; another consumer reclaims them (``XAUTOCLAIM``) once they have been idle for
``claim_idle_ms``. An entry taken twice that way is a duplicate: its event id is
stored once and decided once.

An entry that cannot be taken — not JSON, not an event, or an event its type
refuses — goes to the dead-letter stream ``<stream>:rejected`` with the reasons,
and is acknowledged: one bad entry never stops the stream. When the database
fails, nothing is acknowledged; the consumer waits (1 s, doubling up to 30 s) and
takes the same entries again.

Entries a consumer took and never acknowledged (it died on them) are taken again
one at a time, so that an entry that kills whoever takes it (a poison entry) dies
alone; one delivered more than ``max_deliveries`` times is dead-lettered unread
instead of killing consumers forever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import sqlalchemy as sa
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tactica.errors import InvalidInput, TacticaError
from tactica.failpoints import failpoint
from tactica.services.events import MAX_BATCH, EventsTaken, Rejected, take_events
from tactica.store.db import Store
from tactica.store.models import EventRow

log = logging.getLogger(__name__)

DEFAULT_STREAM = "tactica:events"
DEFAULT_GROUP = "tactica"
#: The field of a stream entry that holds the event's JSON.
EVENT_FIELD = "event"
#: First wait after a failure; it doubles on each failure in a row, up to :data:`MAX_BACKOFF`.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
#: Entries sent to Redis per round trip by :func:`publish`.
PUBLISH_CHUNK = 1000
#: Deliveries after which an entry nobody acknowledged is dead-lettered unread.
MAX_DELIVERIES = 5

# The database is down or busy: waiting helps. Any other error is the entry's own.
_PASSING_DB_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


@dataclass
class ConsumeStats:
    """What a consumer did: entries read and what became of their events."""

    read: int = 0
    #: Entries reclaimed from consumers that stopped without acknowledging them.
    claimed: int = 0
    #: Events stored and decided (contacted, not, or unattributed).
    decided: int = 0
    contacts: int = 0
    #: Events whose id was taken before: acknowledged, not decided again.
    duplicates: int = 0
    #: Entries sent to the dead-letter stream.
    rejected: int = 0
    #: Events stored for a customer the store does not know.
    unattributed: int = 0
    #: Times the database failed and a batch was taken again after a pause.
    retries: int = 0


def dead_letter_stream(stream: str) -> str:
    """The stream where the entries of ``stream`` that cannot be taken are kept."""
    return f"{stream}:rejected"


def default_consumer() -> str:
    """This process's name in the consumer group: ``<hostname>-<pid>``."""
    return f"{socket.gethostname()}-{os.getpid()}"


def safe_url(url: str) -> str:
    """``url`` with its password masked, fit for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connect(redis_url: str, *, read_timeout: float = 30.0) -> redis.Redis:
    """A client of the Redis at ``redis_url``, checked with a PING.

    ``read_timeout`` (seconds) bounds every reply, so a connection that died silently
    is noticed. Raises :class:`TacticaError` naming the URL when that Redis cannot be
    reached.
    """
    try:
        client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=5,
            socket_timeout=read_timeout,
            health_check_interval=30,
        )
    except ValueError as e:
        raise InvalidInput(f"{e}", where=f"Redis URL {safe_url(redis_url)!r}") from e
    try:
        client.ping()
    except RedisError as e:
        client.close()
        raise TacticaError(f"Redis not reachable at {safe_url(redis_url)}: {e}") from e
    return client


def publish(redis_url: str, stream: str, events: Iterable[Mapping[str, Any]]) -> int:
    """Add events to ``stream`` (one entry each, its ``event`` field the JSON); how many.

    For producers written in Python, scripts and tests. Entries are sent in
    pipelined chunks; an event that cannot be written as JSON stops the publishing
    with an error naming its place (the chunks before it are published).
    """
    client = connect(redis_url)
    try:
        sent = 0
        chunk: list[bytes] = []
        for i, event in enumerate(events):
            chunk.append(_to_json(event, i))
            if len(chunk) == PUBLISH_CHUNK:
                sent += _add_entries(client, stream, chunk)
                chunk = []
        return sent + _add_entries(client, stream, chunk)
    except _REDIS_DOWN as e:
        raise TacticaError(f"Redis not reachable at {safe_url(redis_url)}: {e}") from e
    finally:
        client.close()


def _to_json(event: Mapping[str, Any], index: int) -> bytes:
    try:
        return json.dumps(dict(event), separators=(",", ":"), default=_json_value).encode()
    except (TypeError, ValueError) as e:
        raise InvalidInput(str(e), where=f"event {index + 1}") from e


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"a {type(value).__name__} cannot be written as JSON")


def _add_entries(client: redis.Redis, stream: str, texts: Sequence[bytes]) -> int:
    if not texts:
        return 0
    pipe = client.pipeline(transaction=False)
    for text in texts:
        pipe.xadd(stream, {EVENT_FIELD: text})
    pipe.execute()
    return len(texts)


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) unless it exists.

    A new group starts at the stream's first entry, so nothing already in it is skipped.
    """
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def consume(
    store: Store,
    redis_url: str,
    *,
    stream: str = DEFAULT_STREAM,
    group: str = DEFAULT_GROUP,
    consumer: str | None = None,
    batch: int = 500,
    block_ms: int = 1000,
    claim_idle_ms: int = 30_000,
    stop: threading.Event | None = None,
    once: bool = False,
    progress: Callable[[ConsumeStats], None] | None = None,
    max_deliveries: int = MAX_DELIVERIES,
) -> ConsumeStats:
    """Take the events of a Redis stream as consumer ``consumer`` of ``group``, until stopped.

    Each read (at most ``batch`` entries, waiting up to ``block_ms`` for them) is
    taken in one transaction and acknowledged after its commit. Entries other
    consumers left pending for ``claim_idle_ms`` are reclaimed first. ``stop`` ends
    the loop after the current batch; with ``once`` it ends when a read comes back
    empty. ``progress`` is called with the running totals after each batch. Entries
    taken before and never acknowledged are taken one at a time, and dead-lettered
    unread once delivered more than ``max_deliveries`` times.
    Raises :class:`TacticaError` when, at the start, Redis cannot be reached or the
    store cannot take events (not reachable, not migrated).
    """
    if not 1 <= batch <= MAX_BATCH:
        raise InvalidInput(f"must be between 1 and {MAX_BATCH}, got {batch}", where="batch")
    # A blocked read waits block_ms before Redis answers: the reply timeout must be longer.
    client = connect(redis_url, read_timeout=block_ms / 1000 + 30)
    try:
        check_store(store)
        try:
            ensure_group(client, stream, group)
        except RedisError as e:
            raise TacticaError(
                f"cannot create consumer group {group!r} of stream {stream!r} "
                f"at {safe_url(redis_url)}: {e}"
            ) from e
        reader = _Consumer(
            store,
            client,
            stream=stream,
            group=group,
            consumer=consumer or default_consumer(),
            batch=batch,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            stop=stop or threading.Event(),
            progress=progress,
        )
        reader.max_deliveries = max_deliveries
        reader.run(once=once)
        return reader.stats
    finally:
        client.close()


def check_store(store: Store) -> None:
    """Raise :class:`TacticaError` unless the store can be read and holds the events table.

    Checked before the first read: a consumer on a database that is not migrated would
    otherwise fail every batch.
    """
    where = make_url(store.url).render_as_string(hide_password=True)
    try:
        with store.session() as s:
            s.execute(sa.select(EventRow.id).limit(1))
    except DBAPIError as e:
        raise TacticaError(
            f"the database at {where} cannot take events ({type(e.orig).__name__}: "
            f"{str(e.orig).strip()}); is it reachable and migrated (tactica db upgrade)?"
        ) from e


@dataclass
class _Entry:
    """One stream entry of a read: its id, its raw ``event`` text, and the event read from it."""

    entry_id: bytes
    raw: bytes
    event: Any = None
    problem: str | None = None


class _Consumer:
    """The loop of :func:`consume`, with its connection, names and totals."""

    def __init__(
        self,
        store: Store,
        client: redis.Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        batch: int,
        block_ms: int,
        claim_idle_ms: int,
        stop: threading.Event,
        progress: Callable[[ConsumeStats], None] | None,
    ) -> None:
        self.store, self.client = store, client
        self.stream, self.group, self.consumer = stream, group, consumer
        self.batch, self.block_ms, self.claim_idle_ms = batch, block_ms, claim_idle_ms
        self.stop, self.progress = stop, progress
        self.stats = ConsumeStats()
        self.backoff = FIRST_BACKOFF
        self.claim_cursor = "0-0"
        self.own_pending = True
        self.group_missing = False
        self.max_deliveries = MAX_DELIVERIES
        #: True when the last entries read were delivered before (and never acknowledged)
        self.redelivered = False

    def run(self, *, once: bool) -> None:
        """Read, take and acknowledge until stopped (or, with ``once``, until a read is empty)."""
        while not self.stop.is_set():
            try:
                entries = self._next_entries()
            except _REDIS_DOWN as e:
                self._pause(f"cannot read stream {self.stream!r}: {e}")
                continue
            except ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise
                # Redis lost the group (restarted without persistence, or it was deleted).
                log.warning(
                    "consumer group %r of %r is gone; creating it again", self.group, self.stream
                )
                self.group_missing = True
                continue
            self.backoff = FIRST_BACKOFF
            if entries:
                if self.redelivered:
                    self._handle_redelivered(entries)
                else:
                    self._handle(entries)
                if self.progress is not None:
                    self.progress(self.stats)
            elif once:
                break
        self._leave()

    def _next_entries(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """This consumer's own pending entries first, then reclaimed ones, then new ones."""
        if self.group_missing:
            ensure_group(self.client, self.stream, self.group)
            self.group_missing = False
        self.redelivered = True
        if self.own_pending:
            # Restarted under the same name, it first finishes what it was given before.
            entries = self._read("0", block_ms=None)
            self.own_pending = bool(entries)
            if entries:
                return entries
        claimed = self._claim()
        if claimed:
            return claimed
        self.redelivered = False
        return self._read(">", block_ms=self.block_ms)

    def _leave(self) -> None:
        """Leave the group when nothing is pending for this consumer, so names do not pile up."""
        try:
            mine = self.client.xpending_range(
                self.stream, self.group, min="-", max="+", count=1, consumername=self.consumer
            )
            if not mine:
                self.client.xgroup_delconsumer(self.stream, self.group, self.consumer)
        except RedisError as e:
            log.info("consumer %r stays in group %r: %s", self.consumer, self.group, e)

    def _read(
        self, from_id: str, *, block_ms: int | None
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        got = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: from_id},
            count=self.batch,
            block=block_ms or None,
        )
        return _entries_of(got)

    def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries left pending by other consumers for longer than ``claim_idle_ms``."""
        cursor, entries, *_deleted = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id=self.claim_cursor,
            count=self.batch,
        )
        self.claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if entries:
            log.info(
                "reclaimed %d entries of %r left pending by other consumers",
                len(entries),
                self.stream,
            )
            self.stats.claimed += len(entries)
        return list(entries)

    def _handle(self, raw_entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Take one read's events in one transaction, then dead-letter and acknowledge."""
        started = time.perf_counter()
        ids = [entry_id for entry_id, _ in raw_entries]
        # An entry without fields was deleted from the stream while pending: only acknowledge it.
        entries = [_read_entry(entry_id, fields) for entry_id, fields in raw_entries if fields]
        good = [e for e in entries if e.problem is None]
        failpoint("events.stream.read")
        taken = self._take([e.event for e in good], started) if good else EventsTaken()
        if taken is None:
            return  # stopped while the database was down: the entries stay pending
        failpoint("events.stream.taken")
        refused = {good[r.index].entry_id: r.problems for r in taken.rejected}
        dead = [(e, _problems(e, refused)) for e in entries if e.problem or e.entry_id in refused]
        self._count(len(raw_entries), taken, len(dead))
        self._settle(ids, dead)

    def _handle_redelivered(self, raw_entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Entries delivered before and never acknowledged: a consumer died on them.

        Each is taken on its own, so an entry that kills its taker takes nobody else
        down with it; one delivered more than ``max_deliveries`` times is dead-lettered
        without being read.
        """
        counts = self._deliveries([entry_id for entry_id, _ in raw_entries])
        for entry_id, fields in raw_entries:
            n = counts.get(entry_id, 1)
            if n > self.max_deliveries and fields:
                entry = _Entry(entry_id, fields.get(EVENT_FIELD.encode(), b""))
                why = (
                    f"delivered {n} times and never acknowledged: a consumer stopped each "
                    "time it took this entry"
                )
                log.error("entry %s of %r: %s; dead-lettered", entry_id, self.stream, why)
                self.stats.read += 1
                self.stats.rejected += 1
                self._settle([entry_id], [(entry, (why,))])
            else:
                self._handle([(entry_id, fields)])
            if self.stop.is_set():
                return

    def _deliveries(self, ids: Sequence[bytes]) -> dict[bytes, int]:
        """How many times each pending entry of ``ids`` has been delivered."""
        pipe = self.client.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        out: dict[bytes, int] = {}
        for rows in pipe.execute():
            for row in rows:
                mid = row["message_id"]
                key = mid if isinstance(mid, bytes) else str(mid).encode()
                out[key] = int(row["times_delivered"])
        return out

    def _take(self, events: list[Any], started: float) -> EventsTaken | None:
        """Take the events in one transaction; None when stopped while the database was down.

        When the batch fails for another reason than the database being away, its
        events are taken one by one, so only the one at fault is dead-lettered.
        """
        try:
            return self._take_waiting(events, started)
        except Exception:
            log.exception("a batch of %d events failed; taking them one by one", len(events))
            return self._take_each(events, started)

    def _take_waiting(self, events: list[Any], started: float) -> EventsTaken | None:
        """:func:`take_events`, waiting out database failures; None when stopped meanwhile."""
        while True:
            try:
                taken = take_events(self.store, events, source="stream", started=started)
            except _PASSING_DB_ERRORS as e:
                self.stats.retries += 1
                if not self._pause(f"{len(events)} events not taken, the database failed: {e}"):
                    return None
                continue
            self.backoff = FIRST_BACKOFF
            return taken

    def _take_each(self, events: list[Any], started: float) -> EventsTaken | None:
        """Take the events one at a time; the ones that fail come back as rejected."""
        out = EventsTaken()
        for i, event in enumerate(events):
            try:
                one = self._take_waiting([event], started)
            except Exception as e:
                log.exception("event %d of the batch cannot be taken", i)
                out.rejected.append(
                    Rejected(i, None, (f"cannot be taken: {type(e).__name__}: {e}",))
                )
                continue
            if one is None:
                return None
            out.decided += [replace(d, index=i) for d in one.decided]
            out.duplicates += one.duplicates
            out.rejected += [replace(r, index=i) for r in one.rejected]
        return out

    def _settle(self, ids: list[bytes], dead: list[tuple[_Entry, Sequence[str]]]) -> None:
        """Dead-letter and acknowledge in one MULTI/EXEC, retried while Redis is away."""
        while True:
            try:
                pipe = self.client.pipeline(transaction=True)
                target = dead_letter_stream(self.stream)
                for entry, problems in dead:
                    fields = {
                        "entry": entry.entry_id,
                        "event": entry.raw,
                        "problems": "\n".join(problems),
                    }
                    pipe.xadd(target, fields)  # type: ignore[arg-type]
                pipe.xack(self.stream, self.group, *ids)
                pipe.execute()
                return
            except _REDIS_DOWN as e:
                # The events are committed: taken again later, they are only duplicates.
                if not self._pause(f"{len(ids)} entries taken but not acknowledged: {e}"):
                    return

    def _count(self, read: int, taken: EventsTaken, dead: int) -> None:
        s = self.stats
        s.read += read
        s.decided += taken.accepted
        s.contacts += taken.contacts
        s.duplicates += len(taken.duplicates)
        s.unattributed += len(taken.unattributed)
        s.rejected += dead

    def _pause(self, why: str) -> bool:
        """Log ``why``, wait the current back-off (doubled for next time); False when stopped."""
        log.warning("%s (trying again in %g s)", why, self.backoff)
        stopped = self.stop.wait(self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        return not stopped


def _read_entry(entry_id: bytes, fields: Mapping[bytes, bytes]) -> _Entry:
    """The event in an entry's ``event`` field, or the problem that keeps it from being read."""
    raw = fields.get(EVENT_FIELD.encode())
    if raw is None:
        names = ", ".join(sorted(k.decode(errors="replace") for k in fields))
        return _Entry(
            entry_id, b"", problem=f"the entry has no {EVENT_FIELD!r} field; it has: {names}"
        )
    try:
        # Decoded first: given bytes, json guesses UTF-16 or UTF-32 from the first bytes.
        event = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return _Entry(
            entry_id, raw, problem=f"{EVENT_FIELD}: not UTF-8 text ({e.reason} at byte {e.start})"
        )
    except ValueError as e:
        return _Entry(entry_id, raw, problem=f"{EVENT_FIELD}: not JSON: {e}")
    except RecursionError:
        return _Entry(entry_id, raw, problem=f"{EVENT_FIELD}: JSON nested too deeply")
    if not isinstance(event, dict):
        return _Entry(
            entry_id,
            raw,
            problem=f"{EVENT_FIELD}: an event is a JSON object with id, type, customer_id, "
            f"time and payload; got {type(event).__name__}",
        )
    return _Entry(entry_id, raw, event=event)


def _problems(entry: _Entry, refused: Mapping[bytes, Sequence[str]]) -> Sequence[str]:
    return (entry.problem,) if entry.problem else refused[entry.entry_id]


def _entries_of(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of a one-stream XREADGROUP reply, in either protocol's shape."""
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3 (``?protocol=3`` in the URL): {stream: [entries]}
        (entries,) = reply.values()
        return list(entries[0]) if entries and isinstance(entries[0], list) else list(entries)
    (_name, entries), *_ = reply
    return list(entries)
