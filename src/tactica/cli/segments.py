"""``tactica segments``: create segments from rules or id lists; size, profile, overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.services import segments

app = typer.Typer(
    help="Segments: who is in them, how big, what they look like.", no_args_is_help=True
)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Segment name (lower-case, digits, _ or -)"),
    rule: str | None = typer.Option(
        None, "--rule", "-r", help="Rule, e.g. \"age >= 30 and job = 'admin.'\""
    ),
    ids: Path | None = typer.Option(None, "--ids", help="File of customer ids (static segment)"),
    description: str = typer.Option("", help="What the segment is for"),
) -> None:
    """Create a dynamic segment (--rule) or a static one (--ids FILE)."""
    store = open_store()
    id_list = segments.read_id_file(ids) if ids is not None else None
    with store.session() as s:
        segments.create_segment(
            s, name, rule=rule, ids=id_list, description=description, actor=cli_actor()
        )
        s.commit()
        size = segments.segment_size(s, name)
    console.print(f"Created segment [bold]{name}[/]: {size:,} customers.")


@app.command("update")
def update(
    name: str,
    rule: str | None = typer.Option(None, "--rule", "-r", help="New rule"),
    description: str | None = typer.Option(None, help="New description"),
) -> None:
    """Change a segment's rule or description."""
    with open_store().session() as s:
        segments.update_segment(s, name, rule=rule, description=description, actor=cli_actor())
        s.commit()
        size = segments.segment_size(s, name)
    console.print(f"Updated segment [bold]{name}[/]: {size:,} customers.")


@app.command("add")
def add(name: str, ids: Path = typer.Argument(..., help="File of customer ids")) -> None:
    """Add customers to a static segment."""
    with open_store().session() as s:
        n = segments.add_members(s, name, segments.read_id_file(ids), actor=cli_actor())
        s.commit()
    console.print(f"Added {n:,} customers to {name}.")


@app.command("list")
def list_() -> None:
    """Every segment with its size."""
    with open_store().session() as s:
        t = Table("name", "kind", "size", "rule / description")
        for seg in segments.list_segments(s):
            t.add_row(
                seg.name,
                seg.kind,
                f"{segments.segment_size(s, seg.name):,}",
                seg.rule or seg.description,
            )
        console.print(t)


def print_profile(prof: dict[str, Any]) -> None:
    """Render a segment profile as tables."""
    console.print(f"[bold]{prof['segment']}[/]: {prof['size']:,} customers")
    if prof["numbers"]:
        t = Table("number", "min", "p25", "median", "p75", "max", "mean", "nulls", title="Numbers")
        for name, q in prof["numbers"].items():

            def fmt(v: Any) -> str:
                return "" if v is None else f"{v:,.4g}"

            t.add_row(
                name,
                *(fmt(q[k]) for k in ("min", "p25", "median", "p75", "max", "mean")),
                str(q["nulls"]),
            )
        console.print(t)
    for name, counts in prof["categories"].items():
        size = prof["size"] or 1
        t = Table(name, "customers", "share", title=f"Category: {name}")
        for value, n in counts.items():
            t.add_row(value, f"{n:,}", f"{n / size:.1%}")
        console.print(t)
    if prof["consent"] or prof["contact_points"]:
        t = Table("channel", "consent", "contact point", title="Reachability")
        channels = sorted(
            set(prof["consent"]) | {v["channel"] for v in prof["contact_points"].values()}
        )
        for ch in channels:
            c = prof["consent"].get(ch)
            p = next((v for v in prof["contact_points"].values() if v["channel"] == ch), None)
            t.add_row(ch, f"{c['share']:.1%}" if c else "—", f"{p['share']:.1%}" if p else "—")
        console.print(t)


@app.command("show")
def show(
    name: str,
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON"),
    top: int = typer.Option(10, help="Categories shown per field"),
) -> None:
    """A segment's definition, size and profile."""
    store = open_store()
    with store.session() as s:
        seg = segments.get_segment(s, name)
        prof = segments.profile(store, s, name, top=top)
    if as_json:
        console.print_json(json.dumps({**segments.segment_view(seg), "profile": prof}, default=str))
        return
    console.print(f"[bold]{seg.name}[/] ({seg.kind}) {seg.description}")
    if seg.rule:
        console.print(f"rule: {seg.rule}", highlight=False)
    print_profile(prof)


@app.command("size")
def size(
    name: str | None = typer.Argument(None, help="Segment name"),
    rule: str | None = typer.Option(None, "--rule", "-r", help="Size an unsaved rule instead"),
) -> None:
    """How many customers a segment (or a rule) selects."""
    with open_store().session() as s:
        n = segments.rule_size(s, rule) if rule else segments.segment_size(s, name or "")
    console.print(f"{n:,}")


@app.command("overlap")
def overlap(a: str, b: str) -> None:
    """How two segments overlap."""
    with open_store().session() as s:
        o = segments.overlap(s, a, b)
    t = Table("", "customers")
    for label, key in (
        (a, "a"),
        (b, "b"),
        ("both", "both"),
        ("either", "either"),
        (f"only {a}", "only_a"),
        (f"only {b}", "only_b"),
    ):
        t.add_row(label, f"{o[key]:,}")
    console.print(t)


@app.command("delete")
def delete(name: str) -> None:
    """Remove a segment."""
    with open_store().session() as s:
        segments.delete_segment(s, name, actor=cli_actor())
        s.commit()
    console.print(f"Deleted segment {name}.")
