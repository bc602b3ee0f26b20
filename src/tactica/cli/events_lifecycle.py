"""``tactica events lifecycle``: generate a day's lifecycle events now.

The scheduler does this once a day by itself; by hand it serves to catch up a day no
scheduler ran, or to see what today's generation did. The same day again is harmless:
its events were taken already and come back as duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from tactica.cli._common import console, open_store, parse_day


def _n(n: int) -> str:
    return f"{n:,}"


def lifecycle(
    day: str | None = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="The UTC day to generate (default: today)"
    ),
) -> None:
    """Generate a day's lifecycle events (birthdays, anniversaries, quiet spells, contract ends)."""
    from tactica.services.lifecycle import generate

    when = parse_day(day, "--date")
    store = open_store()
    try:
        result = generate(store, when or datetime.now(UTC).date())
    finally:
        store.dispose()
    if not result.types:
        console.print(
            f"{result.day.isoformat()}: no event type has a lifecycle block; nothing to generate"
        )
        return
    t = Table(
        "event type",
        "kind",
        "fired",
        "stored",
        "duplicates",
        "contacts",
        title=f"lifecycle events of {result.day.isoformat()} (UTC)",
        title_justify="left",
    )
    for r in result.types:
        t.add_row(
            r.event_type, r.kind, _n(r.fired), _n(r.decided), _n(r.duplicates), _n(r.contacts)
        )
    console.print(t)
    for problem in result.problems:
        console.print(f"[yellow]note:[/] {problem}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``lifecycle`` to the ``tactica events`` group."""
    app.command("lifecycle")(lifecycle)
