"""Events arriving one request at a time, decided together: a group commit.

A producer that sends each event as it happens makes one small request per event.
Taken one transaction per request, each would pay the whole fixed cost of a
decision — a transaction, the catalog's stamp, a dozen statements, a commit (and on
SQLite the database's one write lock) — for one event. The intake instead queues the
requests of a process and has one thread take, in one transaction, every event that
arrived while the previous transaction ran: under load the batches grow by
themselves and the fixed cost is shared, while an event arriving alone is taken at
once (nothing waits for a batch to fill).

Each request still gets its own answer (its events' decisions, duplicates and
refusals, indexed as it sent them) and its own latency, from its arrival to the
commit of the transaction that decided it. An event is decided exactly as it would
have been alone: the batch is decided event by event, each seeing the ledger as the
ones before it left it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tactica.realtime import metrics
from tactica.services.events import MAX_BATCH, EventsTaken, take_events
from tactica.store.db import Store

log = logging.getLogger(__name__)


@dataclass
class _Request:
    items: list[Any]
    arrived: datetime
    started: float
    source: str
    future: Future[EventsTaken] = field(default_factory=Future)


class EventIntake:
    """Takes the events of concurrent requests together, in one thread, in order."""

    def __init__(self, store: Store, *, max_events: int = MAX_BATCH) -> None:
        self.store = store
        self.max_events = max_events
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(
        self, items: list[Any], *, arrived: datetime, started: float, source: str = "http"
    ) -> Future[EventsTaken]:
        """Queue one request's events; the future holds what they did, as if taken alone."""
        request = _Request(items, arrived, started, source)
        with self._lock:
            if self._closed:
                raise RuntimeError("the event intake is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-intake", daemon=True)
                self._thread.start()
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Take what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        carry: _Request | None = None
        stopping = False
        while not stopping or carry is not None:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            group, count = [first], len(first.items)
            # Everything that arrived meanwhile, up to a batch: nothing waits to fill one.
            while count < self.max_events and not stopping:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                elif count + len(more.items) > self.max_events:
                    carry = more  # too big to join: the first of the next group
                    break
                else:
                    group.append(more)
                    count += len(more.items)
            self._take(group)

    def _take(self, group: list[_Request]) -> None:
        by_source: dict[str, list[_Request]] = {}
        for r in group:
            by_source.setdefault(r.source, []).append(r)
        for source, requests in by_source.items():
            combined = [item for r in requests for item in r.items]
            try:
                taken = take_events(
                    self.store,
                    combined,
                    source=source,
                    now=min(r.arrived for r in requests),
                    observe=False,
                )
            except BaseException as e:  # every request of the transaction learns why
                log.exception("a group of %d events failed", len(combined))
                for r in requests:
                    r.future.set_exception(e)
                continue
            done = time.perf_counter()
            offset = 0
            for r in requests:
                part = _part(taken, r.items, offset)
                offset += len(r.items)
                _observe(part, source, done - r.started)
                r.future.set_result(part)


def _part(taken: EventsTaken, items: list[Any], offset: int) -> EventsTaken:
    """The share of a group's result that belongs to the request whose events start at
    ``offset``, indexed as that request sent them."""
    end = offset + len(items)
    decided = [replace(d, index=d.index - offset) for d in taken.decided if offset <= d.index < end]
    rejected = [
        replace(r, index=r.index - offset) for r in taken.rejected if offset <= r.index < end
    ]
    answered = {d.index for d in decided} | {r.index for r in rejected}
    # Every other event of the request was valid and not stored by it: a duplicate (of
    # an event taken before, or of an earlier one in the same group).
    duplicates = [
        str(items[k].get("id")).strip()
        for k in range(len(items))
        if k not in answered and isinstance(items[k], dict)
    ]
    return EventsTaken(decided, duplicates, rejected)


def _observe(part: EventsTaken, source: str, seconds: float) -> None:
    statuses = Counter(d.status for d in part.decided)
    statuses["duplicate"] += len(part.duplicates)
    statuses["rejected"] += len(part.rejected)
    metrics.observe([seconds] * part.accepted, source=source, statuses=statuses)
