"""``tactica dispatch`` and ``tactica outbox``: send what runs decided, see what is waiting."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.table import Table

from tactica.cli._common import console, open_store
from tactica.services import dispatch as service

outbox_app = typer.Typer(help="The outbox: contacts waiting to be sent, and failed ones.")


def dispatch(
    channel: list[str] = typer.Option(
        [], "--channel", "-c", help="Only this configured channel (repeatable); default: all."
    ),
    drain: bool = typer.Option(
        False, "--drain", help="Stop once nothing is due (instead of running until Ctrl-C)."
    ),
    batch: int = typer.Option(100, "--batch", min=1, max=10_000, help="Messages per claim."),
    lease: float = typer.Option(
        300.0, "--lease", min=1.0, help="Seconds a claimed batch is held before others retry it."
    ),
) -> None:
    """Run the dispatch workers: one per enabled channel, until stopped (Ctrl-C).

    Channels configured while it runs get a worker too. With --drain it sends what is
    due and stops; with --channel only those channels are served.
    """
    from datetime import timedelta

    from tactica.config import get_settings

    store = open_store()
    options = service.options_from(get_settings(), batch_size=batch, lease=timedelta(seconds=lease))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if not drain:
        console.print("dispatching; Ctrl-C to stop")
    try:
        totals = service.run_dispatch(store, options, names=channel or None, drain=drain, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        return
    for name, t in sorted(totals.items()):
        console.print(
            f"{name}: {t.sent:,} sent, {t.failed:,} failed, {t.retried:,} to retry, "
            f"{t.deferred:,} waiting for quiet hours to end",
            highlight=False,
        )


@outbox_app.command("status")
def status() -> None:
    """Entries per channel: due now, waiting (retry, quiet hours, claimed), being retried."""
    store = open_store()
    with store.session() as s:
        rows = service.outbox_status(s)
    t = Table("channel", "pending", "due now", "waiting", "retrying", "next due")
    for r in rows:
        t.add_row(
            r["channel"],
            f"{r['pending']:,}",
            f"{r['due']:,}",
            f"{r['waiting']:,}",
            f"{r['retrying']:,}",
            f"{r['next_due']:%Y-%m-%d %H:%M:%S}" if r["next_due"] else "",
        )
    console.print(t if rows else "the outbox is empty")


@outbox_app.command("failed")
def failed(
    channel: str | None = typer.Option(None, "--channel", "-c", help="Only this contact channel."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
) -> None:
    """The dead letters: contacts that could not be sent, with the last error."""
    store = open_store()
    with store.session() as s:
        rows: list[dict[str, Any]] = service.dead_letters(s, channel=channel, limit=limit)
    if not rows:
        console.print("no failed contacts")
        return
    t = Table("contact", "customer", "campaign", "channel", "attempts", "error")
    for r in rows:
        t.add_row(
            str(r["contact_id"]),
            r["customer_id"],
            f"{r['program']}/{r['campaign']}",
            r["channel_name"] or r["channel"],
            str(r["attempts"]),
            r["error"] or "",
        )
    console.print(t)
