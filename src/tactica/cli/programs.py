"""``tactica programs`` and ``tactica policies``: what is executed, and the rules it keeps."""

from __future__ import annotations

import typer
import yaml
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.domain.programs import legal_targets
from tactica.services import events, policies, programs

app = typer.Typer(help="Programs: list, show, move through their life.", no_args_is_help=True)
policies_app = typer.Typer(
    help="Contact policies: the anti-disturbance rules.", no_args_is_help=True
)


@app.command("list")
def list_() -> None:
    """Every program with its status, schedule and campaigns."""
    with open_store().session() as s:
        t = Table("program", "status", "owner", "schedule", "policy", "campaigns")
        for p in programs.list_programs(s):
            sched = p.schedule_cron or (p.schedule_at.isoformat() if p.schedule_at else "manual")
            names = ", ".join(c.name for c in programs.campaigns_of(s, p))
            t.add_row(p.name, p.status, p.owner, sched, p.policy, names)
        console.print(t)


@app.command("show")
def show(name: str) -> None:
    """A program as its YAML document, with its status and next legal moves."""
    with open_store().session() as s:
        p = programs.get_program(s, name)
        data = programs.program_data(s, p)
        moves = ", ".join(t.value for t in legal_targets(p.status)) or "none"
        console.print(f"[bold]{name}[/]: {p.status} (can become: {moves})")
        figures = events.figures(s, program=name)
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    # As YAML comments, so the output still applies as it is.
    for f in figures:
        print(
            f"# events for {f.campaign}: {f.matched} matched, {f.contacted} contacted, "
            f"{sum(f.suppressed.values())} suppressed (tactica events figures --program {name})"
        )


@app.command("status")
def status(
    name: str,
    target: str = typer.Argument(..., help="scheduled, running, paused, completed, cancelled..."),
) -> None:
    """Move a program to another status (only legal moves; it must be valid to run)."""
    with open_store().session() as s:
        p = programs.set_status(s, name, target, actor=cli_actor())
        s.commit()
        console.print(f"{name} is now {p.status}.")


@app.command("delete")
def delete(name: str) -> None:
    """Remove a program that is not running or scheduled."""
    with open_store().session() as s:
        programs.delete_program(s, name, actor=cli_actor())
        s.commit()
    console.print(f"Deleted program {name}.")


@policies_app.command("list")
def list_policies() -> None:
    """Every contact policy and its rules."""
    with open_store().session() as s:
        t = Table("policy", "per run", "rules", "daily capacity", "description")
        for pol in policies.list_policies(s):
            rules = "\n".join(
                ", ".join(f"{k}={v}" for k, v in r.items() if k != "type") + f" ({r['type']})"
                for r in pol["rules"]
            )
            daily = "\n".join(f"{ch}: {n:,}" for ch, n in pol["daily_capacity"].items())
            if daily:
                daily += f"\n(days in {pol['timezone']})"
            t.add_row(pol["name"], str(pol["per_run"]), rules, daily or "-", pol["description"])
        console.print(t)
