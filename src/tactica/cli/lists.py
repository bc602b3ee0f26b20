"""``tactica lists``: opt-out, do-not-disturb, blacklist, VIP and complaint lists."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.services import lists

app = typer.Typer(help="Special lists: who must not (or must) be contacted.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """Every list with its kind and number of entries in force."""
    with open_store().session() as s:
        t = Table("name", "kind", "entries", "description")
        for row in lists.list_lists(s):
            t.add_row(row["name"], row["kind"], str(row["size"]), row["description"])
        console.print(t)


@app.command("create")
def create(
    name: str,
    kind: str = typer.Option(..., help="opt_out, dnd, blacklist, vip or complaint"),
    description: str = typer.Option("", help="What the list is for"),
) -> None:
    """Create a special list."""
    with open_store().session() as s:
        lists.create_list(s, name, kind, description, actor=cli_actor())
        s.commit()
    console.print(f"Created list [bold]{name}[/] ({kind}).")


@app.command("add")
def add(
    name: str = typer.Argument(..., help="List name, e.g. opt_out"),
    customer_id: str = typer.Argument(..., help="Customer id"),
    channel: str = typer.Option("all", help="all, or one channel (sms, email, phone...)"),
    reason: str = typer.Option("", help="Why"),
    source: str = typer.Option("manual", help="Where the entry comes from"),
    days: int | None = typer.Option(None, help="Expire after this many days"),
) -> None:
    """Put a customer on a list."""
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with open_store().session() as s:
        lists.add_entry(
            s,
            name,
            lists.EntryInput(customer_id, channel, source, reason, expires),
            actor=cli_actor(),
        )
        s.commit()
    console.print(f"{customer_id} is on {name} ({channel}).")


@app.command("remove")
def remove(
    name: str,
    customer_id: str,
    channel: str | None = typer.Option(None, help="Only this channel's entry"),
) -> None:
    """Take a customer off a list."""
    with open_store().session() as s:
        n = lists.remove_entry(s, name, customer_id, channel, actor=cli_actor())
        s.commit()
    console.print(f"Removed {n} entr{'y' if n == 1 else 'ies'}.")


@app.command("show")
def show(
    name: str,
    limit: int = typer.Option(50, help="How many entries"),
    include_expired: bool = typer.Option(False, help="Show expired entries too"),
) -> None:
    """Entries of a list, newest first."""
    with open_store().session() as s:
        t = Table("customer", "channel", "source", "reason", "expires")
        for e in lists.entries(s, name, include_expired=include_expired, limit=limit):
            exp = e["expires_at"].strftime("%Y-%m-%d %H:%M") if e["expires_at"] else "never"
            t.add_row(e["customer_id"], e["channel"], e["source"], e["reason"], exp)
        console.print(t)


@app.command("import")
def import_(
    name: str,
    file: Path = typer.Argument(
        ..., help="CSV with customer_id [, channel, source, reason, expires_at]"
    ),
) -> None:
    """Load entries from a CSV onto a list (all rows or none)."""
    with open_store().session() as s:
        n = lists.import_entries(s, name, file, actor=cli_actor())
        s.commit()
    console.print(f"{n} entries on {name}.")


@app.command("export")
def export(
    name: str,
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: stdout)"),
) -> None:
    """Write a list's entries in force as CSV."""
    with open_store().session() as s:
        if out is None:
            lists.export_entries(s, name, sys.stdout)
            return
        with out.open("w", newline="", encoding="utf-8") as f:
            n = lists.export_entries(s, name, f)
    console.print(f"Wrote {n} entries to {out}.")
