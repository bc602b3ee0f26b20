"""``tactica apply`` and ``tactica export``: offers, policies and programs as YAML files."""

from __future__ import annotations

from pathlib import Path

import typer

from tactica.cli._common import cli_actor, console, open_store
from tactica.services import as_code


def apply(
    files: list[Path] = typer.Option(..., "--file", "-f", help="YAML file(s) of documents"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, save nothing"),
) -> None:
    """Create or update offers, contact policies and programs from YAML (all or nothing)."""
    with open_store().session() as s:
        done = []
        for path in files:
            done += as_code.apply_file(s, path, actor=cli_actor())
        if dry_run:
            s.rollback()
        else:
            s.commit()
    for a in done:
        console.print(f"{a.kind} [bold]{a.name}[/] {a.result}", highlight=False)
    if dry_run:
        console.print("Dry run: nothing saved.")


def export(
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: stdout)"),
) -> None:
    """Write every offer, contact policy and program as YAML (what apply reads)."""
    with open_store().session() as s:
        text = as_code.export_documents(s)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}.")
