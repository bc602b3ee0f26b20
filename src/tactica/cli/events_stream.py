"""``tactica events consume`` and ``tactica events publish``: events through a Redis stream.

``consume`` takes the events of a stream as one consumer of a group, acknowledging
each read after its commit; ``publish`` puts the events of a file on a stream (to try
a consumer, or feed one from a script).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from tactica.cli._common import console, err_console, open_store
from tactica.config import get_settings
from tactica.errors import InvalidInput
from tactica.services import event_stream
from tactica.services.events import MAX_BATCH

_EVENT_SHAPE = "an event is a JSON object with id, type, customer_id, time and payload"


def consume(
    redis_url: str | None = typer.Option(
        None, "--redis-url", help="The Redis to read (default: TACTICA_REDIS_URL)"
    ),
    stream: str = typer.Option(event_stream.DEFAULT_STREAM, "--stream", help="The stream to read"),
    group: str = typer.Option(
        event_stream.DEFAULT_GROUP, "--group", help="The consumer group it reads as"
    ),
    consumer: str | None = typer.Option(
        None, "--consumer", help="Its name in the group (default: <hostname>-<pid>)"
    ),
    batch: int = typer.Option(
        500, "--batch", min=1, max=MAX_BATCH, help="Most entries read and taken at once"
    ),
    claim_idle_ms: int = typer.Option(
        30_000,
        "--claim-idle-ms",
        min=0,
        help="Reclaim entries other consumers left pending this long (milliseconds)",
    ),
    once: bool = typer.Option(False, "--once", help="Stop when nothing is waiting"),
    report_every: float = typer.Option(
        60.0, "--report-every", min=0.0, help="Seconds between two progress lines (0: none)"
    ),
) -> None:
    """Take the events of a Redis stream until Ctrl-C or SIGTERM, each read in one transaction.

    Entries are acknowledged after their commit; those that cannot be taken go to
    the stream <stream>:rejected with the reasons. Any number of consumers may share
    a group.
    """
    url = redis_url or get_settings().redis_url
    _show_warnings()
    stop = threading.Event()
    store = open_store()
    if not once:
        console.print(
            f"Taking events from {stream} at {event_stream.safe_url(url)} as {group}/"
            f"{consumer or event_stream.default_consumer()} (Ctrl-C stops)",
            highlight=False,
        )
    try:
        with _stopping_on_signals(stop):
            stats = event_stream.consume(
                store,
                url,
                stream=stream,
                group=group,
                consumer=consumer,
                batch=batch,
                claim_idle_ms=claim_idle_ms,
                stop=stop,
                once=once,
                progress=_every(report_every, lambda s: _summary(s, stream)),
            )
    except KeyboardInterrupt:
        err_console.print("interrupted: entries being taken stay pending and will be taken again")
        sys.exit(130)
    finally:
        store.dispose()
    _summary(stats, stream)


def publish(
    file: str = typer.Argument(..., help="JSON lines or a JSON array of events; - for stdin"),
    stream: str = typer.Option(event_stream.DEFAULT_STREAM, "--stream", help="The stream"),
    redis_url: str | None = typer.Option(
        None, "--redis-url", help="The Redis to write to (default: TACTICA_REDIS_URL)"
    ),
) -> None:
    """Put the events of FILE on a Redis stream, one entry each; a bad line publishes nothing."""
    name = "stdin" if file == "-" else file
    events = read_events(_read_text(file), name)
    url = redis_url or get_settings().redis_url
    sent = event_stream.publish(url, stream, events)
    console.print(
        f"Published {sent:,} event{'' if sent == 1 else 's'} to {stream} "
        f"at {event_stream.safe_url(url)}",
        highlight=False,
    )


def read_events(text: str, name: str) -> list[dict[str, Any]]:
    """The events of a file's text: a JSON array, or one JSON object a line.

    Raises :class:`InvalidInput` naming the file and the line of the first bad one.
    """
    if text.lstrip().startswith("["):
        return _read_array(text, name)
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInput(
                f"not JSON: {e.msg} (column {e.colno})", f"{name}, line {number}"
            ) from e
        except RecursionError as e:
            raise InvalidInput("JSON nested too deeply", f"{name}, line {number}") from e
        events.append(_event_object(item, f"{name}, line {number}"))
    return events


def _read_array(text: str, name: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(
            f"not JSON: {e.msg} (column {e.colno})", f"{name}, line {e.lineno}"
        ) from e
    except RecursionError as e:
        raise InvalidInput("JSON nested too deeply", name) from e
    if not isinstance(items, list):
        raise InvalidInput("a JSON array of events, or one event a line, expected", name)
    return [_event_object(item, f"{name}, item {i}") for i, item in enumerate(items, start=1)]


def _event_object(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput(f"{_EVENT_SHAPE}; got {type(item).__name__}", where)
    return item


def _read_text(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        data = Path(file).read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read it: {e.strerror}", file) from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"not UTF-8 text (byte {e.start})", file) from e


def _summary(stats: event_stream.ConsumeStats, stream: str) -> None:
    reclaimed = f" ({stats.claimed:,} reclaimed)" if stats.claimed else ""
    line = (
        f"{stream}: {stats.read:,} read{reclaimed}, {stats.decided:,} decided, "
        f"{stats.contacts:,} contacts, {stats.duplicates:,} duplicates, "
        f"{stats.unattributed:,} unattributed, {stats.rejected:,} rejected"
    )
    if stats.rejected:
        line += f" (see {event_stream.dead_letter_stream(stream)})"
    if stats.retries:
        line += f", {stats.retries:,} database retries"
    console.print(line, highlight=False)


def _every(
    seconds: float, show: Callable[[event_stream.ConsumeStats], None]
) -> Callable[[event_stream.ConsumeStats], None] | None:
    """``show``, called at most once every ``seconds`` (None when ``seconds`` is 0)."""
    if seconds <= 0:
        return None
    last = time.monotonic()

    def maybe_show(stats: event_stream.ConsumeStats) -> None:
        nonlocal last
        if time.monotonic() - last >= seconds:
            last = time.monotonic()
            show(stats)

    return maybe_show


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C set ``stop`` (the batch in hand finishes); a second one interrupts."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print("stopping after the current batch (again to interrupt)")

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show_warnings() -> None:
    # A long-running consumer must say when the database or Redis is away.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger(event_stream.__name__).setLevel(logging.INFO)


def register(app: typer.Typer) -> None:
    """Add ``consume`` and ``publish`` to the ``tactica events`` group."""
    app.command("consume")(consume)
    app.command("publish")(publish)
