"""``tactica plan``: the year's goals against what was recorded, the plans and their
actions, the teams, the KPIs.

Teams, goals, market sizes and plans are written as YAML documents and applied with
``tactica apply -f plan.yaml`` (see ``docs/plans.md``); these commands read them
back, track the actions, record their progress and evaluate them, and score
qualitative goals.
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
from tactica.domain.access import Permission, Role, allows
from tactica.domain.kpis import KPIS, MEASURES, SHIFTS
from tactica.domain.periods import PeriodKind, period_of
from tactica.services import objectives, organisation, plans, users

app = typer.Typer(
    help="The plan: goals against actuals, plans and actions, teams, KPIs.", no_args_is_help=True
)

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
        username, role, actor = _who(s, as_user)
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


_TRACK_STYLE = {
    "on track": "green",
    "done on time": "green",
    "at risk": "yellow",
    "draft": "yellow",
    "late": "red",
    "done late": "red",
    "slogan": "magenta",
    "cancelled": "dim",
}


def _who(s: Any, as_user: str | None) -> tuple[str, str, str]:
    """(username, role, actor) of ``--as`` (default: the operator, as an admin)."""
    if as_user is None:
        return cli_actor(), Role.ADMIN.value, cli_actor()
    user = users.get_user(s, as_user)
    return user.username, user.role, f"user:{user.username}"


def show_actions(rows: list[dict[str, Any]], title: str, *, with_plan: bool = True) -> None:
    """Print tracked actions as a table: where each stands, and its program's figures."""
    table = Table(title=title, title_justify="left")
    cols = ("plan", "action", "owner", "due", "status", "tracking", "program figures")
    for col in cols if with_plan else cols[1:]:
        table.add_column(col)
    for a in rows:
        style = _TRACK_STYLE.get(a["tracking"], "")
        tracking = f"[{style}]{a['tracking']}[/]" if style else a["tracking"]
        if a["missing"]:
            tracking += f"\n[dim]needs {', '.join(a['missing'])}[/]"
        if a["result"]:
            tracking += f"\n[dim]{a['result']}, quality {a['quality']} ({a['evaluated_by']})[/]"
        f = a["figures"]
        figures = (
            f"{a['program']}: {f['sent']:,} sent, {f['responses']:,} replies, "
            f"{f['orders']:,} orders"
            if f
            else ""
        )
        table.add_row(
            *([escape(a["plan"])] if with_plan else []),
            escape(a["subject"]),
            escape(a["owner"] or "—"),
            a["due_on"] or "—",
            a["status"].replace("_", " "),
            tracking,
            escape(figures),
        )
    console.print(table)


@app.command("plans")
def list_plans(
    period: str = typer.Option(None, "--period", help="Plans overlapping 2026, 2026-Q4..."),
    today: str = typer.Option(None, "--today", help="As of this day (YYYY-MM-DD)"),
) -> None:
    """Plans with their actions; a plan with no committed action is shown as a slogan."""
    day = parse_day(today, "--today") or datetime.now(UTC).date()
    store = open_store()
    with store.session() as s:
        found = [plans.plan_detail(s, p.name, day) for p in plans.list_plans(s, period=period)]
    if not found:
        console.print("No plans. Write them in a YAML file (kind: Plan) and `tactica apply -f` it.")
        return
    for p in found:
        head = f"{p['name']} ({p['kind']}, {p['period']})"
        if p["slogan"]:
            console.print(f"[magenta]{escape(head)}: a slogan, not a plan — {p['slogan']}[/]")
        if p["actions"]:
            show_actions(p["actions"], head, with_plan=False)
        elif not p["slogan"]:
            console.print(escape(head))


@app.command("actions")
def track_actions(
    period: str = typer.Option(
        None,
        "--period",
        help="A day (2026-11-23), week (2026-W48) or month (2026-11); default today",
    ),
    owner: str = typer.Option(None, "--owner", help="Only this person's actions"),
    team: str = typer.Option(None, "--team", help="Only the actions of this team's people"),
    today: str = typer.Option(None, "--today", help="As of this day (YYYY-MM-DD)"),
) -> None:
    """The tracking view: actions due in the period and open ones already due."""
    day = parse_day(today, "--today") or datetime.now(UTC).date()
    when = plans.window(period or day.isoformat(), "--period")
    store = open_store()
    with store.session() as s:
        people = organisation.people_of(s, organisation.get_team(s, team).name) if team else None
        rows = plans.track(s, when, day, owner=owner, owners=people)
    if not rows:
        console.print(f"No actions due in {when.label}.")
        return
    show_actions(rows, f"Actions, {when.label}, as of {day.isoformat()}")


@app.command("progress")
def progress(
    plan: str = typer.Argument(..., help="The plan"),
    action: str = typer.Argument(..., help="The action"),
    status: str = typer.Option(
        ..., "--status", help="in_progress, done, cancelled, committed or draft"
    ),
    on: str = typer.Option(None, "--on", help="The day it happened (default today)"),
    as_user: str = typer.Option(None, "--as", help="Who reports it (the owner; default: admin)"),
) -> None:
    """Record an action's progress: started, done, cancelled."""
    day = parse_day(on, "--on")
    store = open_store()
    with store.session() as s:
        username, role, actor = _who(s, as_user)
        a = plans.move(
            s,
            plan,
            action,
            status,
            username=username,
            may_write=allows(Role(role), Permission.PLANS_WRITE),
            actor=actor,
            on=day,
        )
        s.commit()
        tracked = plans.tracking(a, datetime.now(UTC).date())
        console.print(f"{plan}/{a.name}: {a.status.replace('_', ' ')} ({tracked}).")


@app.command("evaluate")
def evaluate(
    plan: str = typer.Argument(..., help="The plan"),
    action: str = typer.Argument(..., help="The done action"),
    result: str = typer.Option(..., "--result", help="met, partly or not_met"),
    quality: int = typer.Option(..., "--quality", help="1 to 5"),
    note: str = typer.Option("", "--note", help="What was good, what was not"),
    as_user: str = typer.Option(None, "--as", help="The evaluator (default: an admin)"),
) -> None:
    """Evaluate a done action against its criteria (its evaluator does; an admin may)."""
    store = open_store()
    with store.session() as s:
        username, role, actor = _who(s, as_user)
        a = plans.evaluate(
            s,
            plan,
            action,
            result,
            quality,
            note,
            username=username,
            may_override=role == Role.ADMIN.value,
            actor=actor,
        )
        s.commit()
        console.print(
            f"{plan}/{a.name}: {a.result}, quality {a.quality} of 5, by {a.evaluated_by}."
        )
