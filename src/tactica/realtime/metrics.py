"""Decision metrics of the real-time path, for ``/metrics`` (Prometheus).

Two kinds of figures, kept in two places on purpose:

* **per process, in memory** — :data:`DECISION_SECONDS` (how long events wait from
  receipt to committed decision) and :data:`EVENTS` (events taken, by source and
  status), recorded by :func:`observe` after each committed batch. They restart from
  zero with the process, which Prometheus' ``rate()`` expects of counters. When
  ``PROMETHEUS_MULTIPROC_DIR`` is set (before the process first imports
  ``prometheus_client``), prometheus_client's multiprocess mode keeps them in files
  there, and a scrape of any worker sums every process's files: the setting
  ``tactica serve --workers N`` needs (and makes for itself when it is unset).
* **per campaign, in the store** — :class:`CampaignFigures` reads the
  ``event_figures`` table at scrape time. Those figures are written in the
  transaction that decides the events, so they are exact whichever process decided
  them and survive restarts.

:func:`exposition` renders both in the Prometheus text format.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

import sqlalchemy as sa
from prometheus_client import Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.orm import Session

from tactica.store.models import EventFigure

log = logging.getLogger(__name__)

#: The environment variable that turns prometheus_client's multiprocess mode on.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The content type of :func:`exposition`'s text.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

#: Upper bounds (seconds) of the latency buckets: fine around the targets of a median
#: decision within 5 ms and a 99th percentile within 25 ms, coarse beyond.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Where events come from (the ``source`` label).
SOURCES = ("http", "stream", "lifecycle", "cli")
#: How an event ended (the ``status`` label): the four of a stored event, then the two
#: of an event not stored.
STATUSES = ("contacted", "no_contact", "no_match", "unattributed", "duplicate", "rejected")
#: Outcomes of ``event_figures`` that are not suppressions.
NOT_SUPPRESSED = ("matched", "contacted")

# Not the default registry: in multiprocess mode a scrape must not also report this
# process's in-memory copies, and tests may build as many apps as they like.
_REGISTRY = CollectorRegistry()

DECISION_SECONDS = Histogram(
    "tactica_event_decision_seconds",
    "Seconds from the receipt of an event's batch to its committed decision, per stored event.",
    ["source"],
    buckets=BUCKETS,
    registry=_REGISTRY,
)
EVENTS = Counter(
    "tactica_events",
    "Events taken, by source and by how they ended "
    "(contacted, no_contact, no_match, unattributed, duplicate, rejected).",
    ["source", "status"],
    registry=_REGISTRY,
)


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode when this process records there, else None.

    prometheus_client chooses where values go when it is first imported, so the
    environment variable alone is not enough: a process that imported it before the
    variable was set keeps its figures in memory, and its scrapes report those.
    """
    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get(MULTIPROCESS_ENV) or None


def _start_series() -> None:
    # Every source and status is reported from the start, at zero: a series that
    # appears only with its first event hides that first increase from rate().
    for source in SOURCES:
        DECISION_SECONDS.labels(source)
        for status in STATUSES:
            EVENTS.labels(source, status)


_failed = False


def _note_failure(doing: str) -> None:
    global _failed
    if not _failed:
        _failed = True
        log.exception(
            "decision metrics: could not %s (%s=%r); later failures are not logged",
            doing,
            MULTIPROCESS_ENV,
            os.environ.get(MULTIPROCESS_ENV),
        )


try:
    _start_series()
except Exception:
    _note_failure("start the series at zero")


def observe(latencies: Sequence[float], *, source: str, statuses: Mapping[str, int]) -> None:
    """Record one committed batch of events.

    ``latencies``: for each event stored, the seconds from the batch's receipt to its
    committed decision; ``source``: http, stream, lifecycle or cli; ``statuses``: how
    many events of the batch ended as each status (contacted, no_contact, no_match,
    unattributed, and duplicate / rejected for those not stored).

    Never raises: the batch is committed already, and a metrics failure (say, an
    unwritable multiprocess folder) must not make its caller report it as failed.
    The first failure is logged.
    """
    try:
        histogram = DECISION_SECONDS.labels(source)
        for seconds in latencies:
            histogram.observe(seconds)
        for status, n in statuses.items():
            if n:
                EVENTS.labels(source, status).inc(n)
    except Exception:
        _note_failure(f"record a batch of events from {source!r}")


class CampaignFigures:
    """A collector of the per-campaign figures of ``event_figures``, read when scraped.

    One GROUP BY query, summed over days, gives two counter families:
    ``tactica_campaign_events_total{program,campaign,outcome}`` (every outcome,
    ``matched`` included) and ``tactica_campaign_suppressed_total{program,campaign,
    outcome,reason}`` (the outcomes other than ``matched`` and ``contacted``).
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def collect(self) -> Iterator[Metric]:
        """The two counter families, from the store as it is now."""
        total = sa.func.sum(EventFigure.count)
        rows = self._session.execute(
            sa.select(
                EventFigure.program,
                EventFigure.campaign,
                EventFigure.outcome,
                EventFigure.reason,
                total,
            )
            .group_by(
                EventFigure.program, EventFigure.campaign, EventFigure.outcome, EventFigure.reason
            )
            .order_by(
                EventFigure.program, EventFigure.campaign, EventFigure.outcome, EventFigure.reason
            )
        ).all()
        by_outcome: dict[tuple[str, str, str], int] = defaultdict(int)
        suppressed = CounterMetricFamily(
            "tactica_campaign_suppressed",
            "Events a triggered campaign did not contact, by outcome and reason "
            "(not_eligible, excluded, held_out, policy, arbitration, capacity).",
            labels=["program", "campaign", "outcome", "reason"],
        )
        for program, campaign, outcome, reason, count in rows:
            by_outcome[program, campaign, outcome] += int(count or 0)
            if outcome not in NOT_SUPPRESSED:
                suppressed.add_metric([program, campaign, outcome, reason], int(count or 0))
        events = CounterMetricFamily(
            "tactica_campaign_events",
            "Events per triggered campaign and outcome: matched (reached the campaign), "
            "contacted, or the suppression that stopped them.",
            labels=["program", "campaign", "outcome"],
        )
        for (program, campaign, outcome), count in by_outcome.items():
            events.add_metric([program, campaign, outcome], count)
        yield events
        yield suppressed


class _Together:
    """Several collectors scraped as one (no registry needed for a single scrape)."""

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


def exposition(session: Session) -> bytes:
    """Every metric in the Prometheus text format (:data:`CONTENT_TYPE`).

    The process figures come from this process, or from every process's files in
    multiprocess mode; the campaign figures are read through ``session``.
    """
    path = multiprocess_dir()
    process: Collector = _REGISTRY if path is None else MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
    return generate_latest(_Together(process, CampaignFigures(session)))
