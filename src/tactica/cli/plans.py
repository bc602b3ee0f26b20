"""``tactica plan``: the year's goals against what was recorded, the teams, the KPIs.

Teams, goals and market sizes are written as YAML documents and applied with
``tactica apply -f plan.yaml`` (see ``docs/plans.md``); these commands read them
back and score qualitative goals.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store, parse_day
from tactica.domain.access import Role
from tactica.domain.kpis import KPIS, MEASURES, SHIFTS
from tactica.domain.periods import PeriodKind, period_of
from tactica.services import objectives, organisation, users

app = typer.Typer(help="The plan: goals against actuals, teams, KPIs.", no_args_is_help=True)

_STATUS_STYLE = {
    "achieved": "green",
    "on track": "green",
    "at risk": "yellow",
    "behind": "red",
    "missed": "red",
    "no figure": "magenta",
}


def show_plan(rows: list[dict[str, Any]], title: str) -> None:
    """Print plan-against-actual lines as a table."""
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("goal", "left"),
        ("owner", "left"),
        ("period", "left"),
        ("target", "right"),
        ("actual", "right"),
        ("expected", "right"),
        ("projected", "right"),
        ("status", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        status = r["status"]
        style = _STATUS_STYLE.get(status, "")
        shown = f"[{style}]{status}[/]" if style else status
        if r["why_not"] and r["status"] == "no figure":
            shown += f"\n[dim]{escape(r['why_not'])}[/]"
        owner = r["owner_team"] or ""
        if r["owner"]:
            owner = f"{owner} / {r['owner']}" if owner else r["owner"]
        table.add_row(
            escape(r["title"] or r["name"]),
            escape(owner),
            r["period"],
            objectives.figure(float(r["target"])),
            objectives.figure(r["actual"]),
            objectives.figure(r["expected"]),
            objectives.figure(r["projected"]),
            shown,
        )
    console.print(table)


@app.command("show")
def show(
    period: str = typer.Option(
        None, "--period", help="2026, 2026-Q4, 2026-11...; default: this year"
    ),
    today: str = typer.Option(None, "--today", help="Read the plan as of this day (YYYY-MM-DD)"),
    team: str = typer.Option(None, "--team", help="Only this team's goals"),
    owner: str = typer.Option(None, "--owner", help="Only this person's goals"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table"),
) -> None:
    """Plan against actual: target, actual to date, expected by now, projection, status."""
    day = parse_day(today, "--today") or datetime.now(UTC).date()
    label = period or period_of(PeriodKind.YEAR, day).label
    store = open_store()
    with store.session() as s:
        rows = [
            objectives.progress_view(p)
            for p in objectives.plan_vs_actual(s, label, today=day, owner_team=team, owner=owner)
        ]
    if as_json:
        for r in rows:
            console.print_json(json.dumps(r, default=str))
        return
    if not rows:
        console.print(f"No goals for {label}. Write them in a YAML file and `tactica apply -f` it.")
        return
    show_plan(rows, f"Plan against actual, {label}, as of {day.isoformat()}")


@app.command("teams")
def teams() -> None:
    """The organisation: teams under their parents, with lead and members."""
    store = open_store()
    with store.session() as s:
        rows = organisation.list_teams(s)
    table = Table()
    for col in ("team", "function", "lead", "members"):
        table.add_column(col)
    for t in rows:
        members = ", ".join(
            m["username"] + (f" → {m['reports_to']}" if m["reports_to"] else "")
            for m in t["members"]
        )
        table.add_row(
            "  " * t["depth"] + escape(t["name"]),
            t["function"],
            escape(t["lead"] or ""),
            escape(members),
        )
    console.print(table)


@app.command("kpis")
def kpis() -> None:
    """The KPIs goals can name, and the measures a custom definition may use."""
    table = Table(title="KPIs")
    for col in ("kpi", "definition", "means"):
        table.add_column(col)
    for k in KPIS.values():
        table.add_row(
            k.name, k.definition, k.means + ("" if k.higher_is_better else " (lower is better)")
        )
    console.print(table)
    measures = Table(title="Measures (also previous_<measure>, last_year_<measure>)")
    measures.add_column("measure")
    measures.add_column("means")
    for m in MEASURES:
        measures.add_row(m.name, m.means)
    console.print(measures)
    for prefix, means in SHIFTS.items():
        console.print(f"{prefix}<measure>: {means}")


@app.command("assess")
def assess(
    name: str = typer.Argument(..., help="The qualitative goal"),
    score: str = typer.Option(..., "--score", help="The score on the goal's scale"),
    note: str = typer.Option("", "--note", help="Why this score"),
    as_user: str = typer.Option(None, "--as", help="The reviewer scoring (default: an admin)"),
) -> None:
    """Score a qualitative goal (its reviewer does; an admin may)."""
    store = open_store()
    with store.session() as s:
        if as_user is None:
            username, role, actor = cli_actor(), Role.ADMIN.value, cli_actor()
        else:
            user = users.get_user(s, as_user)
            username, role, actor = user.username, user.role, f"user:{user.username}"
        o = objectives.assess(
            s,
            name,
            score,
            note,
            username=username,
            may_override=role == Role.ADMIN.value,
            actor=actor,
        )
        s.commit()
        scored = objectives.plain(o.score or Decimal(0))
        console.print(f"{o.name}: scored {scored} of {o.scale_max} by {o.assessed_by}.")
