"""``tactica events``: event types, sending events by hand, and what events led to."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tactica.cli._common import console, fail, open_store, parse_day
from tactica.errors import InvalidInput, NotFound
from tactica.services import event_types, events

app = typer.Typer(
    help="Events: declared types, events taken and what they led to, real-time figures.",
    no_args_is_help=True,
)


@app.command("types")
def types_cmd() -> None:
    """Declared event types: their fields, which are required, who listens."""
    with open_store().session() as s:
        rows = event_types.list_event_types(s)
        listeners = events.listeners_by_type(s)
        if not rows:
            console.print(
                "No event types yet: declare one with `tactica apply -f` (kind: EventType)."
            )
            return
        t = Table("type", "fields", "required", "listened to by")
        for r in rows:
            fields = ", ".join(f"{k}: {v}" for k, v in r.fields.items()) or "-"
            t.add_row(
                r.name,
                fields,
                ", ".join(r.required) or "-",
                ", ".join(listeners.get(r.name, [])) or "-",
            )
        console.print(t)


def _read_events(path: str) -> list[Any]:
    """Events from a JSON array or JSON lines, ``-`` for standard input."""
    text = sys.stdin.read() if path == "-" else _file_text(path)
    where = "standard input" if path == "-" else path
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("no events", where)
    if stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except ValueError as e:
            raise InvalidInput(f"not JSON: {e}", where) from None
        return list(doc)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise InvalidInput(f"line {n}: not JSON: {e.args[0]}", where) from None
    return out


def _file_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"no file {path}")
    return p.read_text(encoding="utf-8")


@app.command("send")
def send(
    path: str = typer.Argument(..., help="JSON lines or a JSON array of events; - for stdin"),
) -> None:
    """Take events now, as POST /events would: check, store once, decide, contact."""
    items = _read_events(path)
    store = open_store()
    taken = None
    for start in range(0, len(items), events.MAX_BATCH):
        part = events.take_events(store, items[start : start + events.MAX_BATCH], source="cli")
        for r in part.rejected:
            console.print(
                f"[red]event {start + r.index + 1}[/] ({r.event_id or 'no id'}): "
                + "; ".join(r.problems),
                highlight=False,
            )
        for d in part.decided:
            lines = [o.line() for o in d.outcomes] or [_status_words(d.status)]
            console.print(f"[bold]{d.event_id}[/] ({d.customer_id}): {lines[0]}", highlight=False)
            for line in lines[1:]:
                console.print(f"  {line}", highlight=False)
        taken = part if taken is None else _sum(taken, part)
    assert taken is not None
    console.print(
        f"{taken.accepted} taken, {taken.contacts} contact(s), "
        f"{len(taken.duplicates)} duplicate(s), {len(taken.rejected)} refused, "
        f"{len(taken.unattributed)} unattributed"
    )
    if taken.rejected and not taken.accepted and not taken.duplicates:
        fail("no event was taken", 2)


def _sum(a: events.EventsTaken, b: events.EventsTaken) -> events.EventsTaken:
    return events.EventsTaken(
        a.decided + b.decided, a.duplicates + b.duplicates, a.rejected + b.rejected
    )


def _status_words(status: str) -> str:
    return {
        "unattributed": "no such customer: kept, not decided",
        "no_match": "no running program listens to this type",
    }.get(status, status)


@app.command("list")
def list_cmd(
    customer: str | None = typer.Option(None, help="Only this customer's"),
    status: str | None = typer.Option(None, help="contacted, no_contact, no_match or unattributed"),
    type_: str | None = typer.Option(None, "--type", help="Only events of this type"),
    limit: int = typer.Option(50, min=1, max=10_000, help="At most this many, newest first"),
) -> None:
    """Events taken, newest first, with what they led to."""
    with open_store().session() as s:
        rows = events.list_events(
            s, customer_id=customer, status=status, event_type=type_, limit=limit
        )
        if not rows:
            console.print("No events.")
            return
        t = Table("event", "type", "customer", "time", "status", "contacts", "source")
        for r in rows:
            t.add_row(
                escape(r.event_id),
                r.type,
                escape(r.customer_id),
                r.occurred_at.isoformat(timespec="seconds"),
                r.status,
                str(r.contacts),
                r.source,
            )
        console.print(t)


@app.command("show")
def show(event_id: str = typer.Argument(..., help="The producer's event id")) -> None:
    """One event: its payload, and what each listening campaign did with it, and why."""
    with open_store().session() as s:
        row = events.get_event(s, event_id)
        console.print(
            f"[bold]{escape(row.event_id)}[/]: {row.type} for {escape(row.customer_id)} at "
            f"{row.occurred_at.isoformat(timespec='seconds')}, taken from {row.source} "
            f"({_latency(row)})",
            highlight=False,
        )
        console.print(f"payload: {json.dumps(row.payload, ensure_ascii=False)}", highlight=False)
        for line in events.decision_lines(row):
            console.print(f"  {escape(line)}", highlight=False)
        for c in events.event_contacts(s, row):
            console.print(
                f"  contact {c.id}: {c.offer} on {c.channel}, {c.status}", highlight=False
            )


def _latency(row: Any) -> str:
    ms = (row.decided_at - row.received_at).total_seconds() * 1000
    return f"decided {ms:.1f} ms after it arrived"


@app.command("figures")
def figures_cmd(
    program: str | None = typer.Option(None, help="Only this program's campaigns"),
    since: str | None = typer.Option(None, help="From this day (YYYY-MM-DD)"),
    until: str | None = typer.Option(None, help="Up to this day (YYYY-MM-DD)"),
) -> None:
    """Per triggered campaign: events matched, contacted, suppressed by outcome and reason."""
    with open_store().session() as s:
        rows = events.figures(
            s, program=program, since=parse_day(since, "--since"), until=parse_day(until, "--until")
        )
    if not rows:
        console.print("No event has reached a triggered campaign yet.")
        return
    t = Table("program", "campaign", "matched", "contacted", "suppressed", "top reasons")
    for f in rows:
        top = "; ".join(
            f"{o.replace('_', ' ')}{': ' + r if r else ''} ({n})" for o, r, n in f.reasons[:3]
        )
        t.add_row(
            f.program,
            f.campaign,
            str(f.matched),
            str(f.contacted),
            str(sum(f.suppressed.values())),
            escape(top) or "-",
        )
    console.print(t)
