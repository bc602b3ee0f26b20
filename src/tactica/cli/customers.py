"""``tactica customers``: the customer base — fields, import, look-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tactica.cli._common import cli_actor, console, err_console, open_store
from tactica.domain.schema import CHANNELS, FieldDef, FieldKind, FieldType
from tactica.errors import InvalidInput
from tactica.services import customers
from tactica.services.importing import ImportReport, import_customers

app = typer.Typer(
    help="Customers: declare fields, import files, look customers up.", no_args_is_help=True
)

_PHASES = {
    "read": "Reading",
    "detect": "Detecting types",
    "validate": "Validating",
    "write": "Writing rows",
}


@contextmanager
def import_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr, one line per import phase; yields the importer's callback."""
    bar = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(_PHASES.get(phase, phase), total=total or None)
        bar.update(tasks[phase], completed=done, total=total or None)

    with bar:
        yield progress


def _print_report(r: ImportReport) -> None:
    how = f"{r.format}"
    if r.separator is not None:
        sep = "tab" if r.separator == "\t" else r.separator
        how += f", separator {sep!r}, encoding {r.encoding}"
    console.print(f"[bold]{r.file}[/]: {r.rows_read:,} rows ({how})")
    console.print(f"ids: {r.id_source}")
    t = Table("column", "field", "type", "new?", "nulls", "note")
    for c in r.columns:
        if c.skipped:
            t.add_row(c.column, "[dim]-[/]", "", "", "", c.note or "skipped")
            continue
        t.add_row(
            c.column,
            c.field or "",
            c.type.value if c.type else "",
            "[green]new[/]" if c.new else "",
            f"{c.nulls:,}",
            c.note,
        )
    console.print(t)
    if r.dry_run:
        console.print(
            f"[yellow]Dry run, nothing written.[/] Would insert {r.inserted:,} and update "
            f"{r.updated:,} customers; {r.rejected:,} rows rejected; "
            f"{len(r.new_fields)} new field(s)."
        )
        return
    console.print(
        f"Inserted {r.inserted:,}, updated {r.updated:,} ({r.unchanged:,} unchanged), "
        f"rejected {r.rejected:,} in {r.elapsed:.1f} s (import job {r.job_id})."
    )
    if r.new_fields:
        console.print("New fields: " + ", ".join(f.name for f in r.new_fields))
    if r.rejects_path and r.rejected:
        console.print(f"Rejected rows written to [bold]{r.rejects_path}[/].")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV (any separator, may be .gz) or Parquet file"),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help="YAML mapping file"),
    id_column: str | None = typer.Option(None, help="Column holding the customer id"),
    id_prefix: str | None = typer.Option(
        None, help="Prefix of generated ids (default: the file name)"
    ),
    separator: str | None = typer.Option(None, help="',', ';', '|' or 'tab' (default: detected)"),
    encoding: str | None = typer.Option(None, help="e.g. utf-8, cp1252 (default: detected)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, write nothing"),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Land the good rows; write the bad ones to this CSV"
    ),
) -> None:
    """Import customers from a file: detect types, validate, upsert by id (all or nothing)."""
    store = open_store()
    with import_progress() as progress:
        report = import_customers(
            store,
            file,
            mapping=mapping,
            id_column=id_column,
            id_prefix=id_prefix,
            separator=separator,
            encoding=encoding,
            dry_run=dry_run,
            rejects_path=rejects,
            actor=cli_actor(),
            progress=progress,
        )
    _print_report(report)


@app.command("fields")
def fields() -> None:
    """The declared customer fields, in order."""
    with open_store().session() as s:
        t = Table("name", "type", "kind", "channel", "categories", "description")
        for f in customers.list_fields(s):
            cats = ", ".join(f.categories[:8]) + (", ..." if len(f.categories) > 8 else "")
            t.add_row(f.name, f.type.value, f.kind.value, f.channel or "", cats, f.description)
        console.print(t)


def _choice(raw: str, options: list[str], where: str) -> str:
    if raw not in options:
        raise InvalidInput(f"expected one of {', '.join(options)}, got {raw!r}", where=where)
    return raw


@app.command("add-field")
def add_field(
    name: str = typer.Argument(..., help="Field name: lower-case letters, digits, '_'"),
    type_: str = typer.Argument(..., metavar="TYPE", help="int, float, text, bool, date, ..."),
    kind: str = typer.Option("attribute", help="attribute, contact_point or consent"),
    channel: str | None = typer.Option(
        None, help=f"For contact points and consents: {', '.join(CHANNELS)}"
    ),
    categories: str | None = typer.Option(None, help="Allowed values of a category: a,b,c"),
    description: str = typer.Option("", help="What the field means"),
) -> None:
    """Declare a customer field (a new typed column)."""
    f = FieldDef(
        name=name,
        type=FieldType(_choice(type_, [t.value for t in FieldType], "TYPE")),
        kind=FieldKind(_choice(kind, [k.value for k in FieldKind], "--kind")),
        channel=channel,
        categories=tuple(c.strip() for c in categories.split(",") if c.strip())
        if categories
        else (),
        description=description,
    )
    with open_store().session() as s:
        customers.declare_fields(s, [f], actor=cli_actor())
        s.commit()
    extra = f" on {f.channel}" if f.channel else ""
    console.print(f"Declared field [bold]{f.name}[/] ({f.type.value}, {f.kind.value}{extra}).")


@app.command("show")
def show(customer_id: str = typer.Argument(..., metavar="ID", help="Customer id")) -> None:
    """Every field of one customer."""
    with open_store().session() as s:
        row = customers.get_customer(s, customer_id)
    width = max(len(k) for k in row)
    for k, v in row.items():
        shown = v.isoformat() if isinstance(v, date | datetime) else v
        console.print(f"[bold]{k:>{width}}[/] {'' if shown is None else shown}", highlight=False)


@app.command("count")
def count() -> None:
    """How many customers there are."""
    with open_store().session() as s:
        console.print(f"{customers.count_customers(s):,}")
