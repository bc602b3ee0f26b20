"""``tactica run``, ``tactica runs`` and ``tactica explain``: execute programs, see why."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import typer
from rich.table import Table

from tactica.cli._common import cli_actor, console, fail, open_store
from tactica.engine.plan import FunnelRow
from tactica.services import explain as explain_service
from tactica.services import runs

app = typer.Typer(help="Runs of programs: list them, show one's funnel.", no_args_is_help=True)


def _n(value: int) -> str:
    return f"{value:,}"


def funnel_table(rows: Sequence[FunnelRow | Any], title: str) -> Table:
    """The funnel, campaign by campaign, one stage per line.

    candidates → each exclusion reason → held out → stopped by the policy → lost in
    arbitration → over capacity → contacts, with the cost; every count is customers.
    """
    t = Table("stage", "customers", "", title=title, title_justify="left", show_edge=False)
    total_contacts, total_cost = 0, Decimal("0")
    for i, f in enumerate(rows):
        if i:
            t.add_section()
        contacts = f.after_capacity
        t.add_row(f"[bold]{f.campaign}[/]", _n(f.candidates), "candidates")
        for why, n in sorted(dict(f.excluded).items(), key=lambda kv: (-kv[1], kv[0])):
            t.add_row("  excluded", f"-{_n(n)}", why)
        stopped = f.candidates - sum(dict(f.excluded).values()) - f.held_out - f.after_policy
        for label, n, note in (
            ("  held out", f.held_out, "control group"),
            ("  policy", stopped, "stopped by the contact policy"),
            ("  arbitration", f.after_policy - f.after_arbitration, "a better offer won"),
            ("  capacity", f.after_arbitration - contacts, "over capacity or budget"),
        ):
            if n:
                t.add_row(label, f"-{_n(n)}", note)
        t.add_row(
            "  contacts", f"[bold]{_n(contacts)}[/]", f"cost {format(Decimal(f.cost), ',.2f')}"
        )
        total_contacts += contacts
        total_cost += Decimal(f.cost)
    t.add_section()
    t.add_row(
        "[bold]total[/]", f"[bold]{_n(total_contacts)}[/]", f"cost {format(total_cost, ',.2f')}"
    )
    return t


def run(
    program: str = typer.Argument(..., help="The program to run."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Decide and print the funnel; write nothing."
    ),
) -> None:
    """Run a program now: decide every contact, persist them, print the funnel per campaign."""
    store = open_store()
    if dry_run:
        result = runs.preview(store, program)
        console.print(funnel_table(result.funnel, f"{program}: dry run (nothing written)"))
        console.print(
            f"would contact {_n(result.contacts)} customers, hold out {_n(result.held_out)}, "
            f"cost {format(result.cost, ',.2f')}"
        )
        return
    done = runs.run_program(store, program, actor=cli_actor())
    if done is None:  # only scheduled runs can be "already taken"
        fail(f"program {program!r}: nothing to run")
    verb = "resumed and completed" if done.resumed else done.status
    console.print(funnel_table(done.funnel, f"{program}: run {done.run_id} {verb}"))
    for note in done.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"run {done.run_id}: {_n(done.contacts)} contacts queued, {_n(done.held_out)} held out, "
        f"cost {format(done.cost, ',.2f')}"
    )


@app.command("list")
def list_(
    program: str | None = typer.Option(None, "--program", "-p", help="Only this program."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000),
) -> None:
    """The latest runs, newest first."""
    with open_store().session() as s:
        t = Table(
            "run", "program", "trigger", "status", "decided at", "contacts", "held out", "cost"
        )
        for r in runs.list_runs(s, program, limit):
            t.add_row(
                str(r.id),
                r.program,
                r.trigger,
                r.status,
                r.as_of.strftime("%Y-%m-%d %H:%M:%S UTC"),
                _n(r.contacts),
                _n(r.held_out),
                format(r.cost, ",.2f"),
            )
        console.print(t)


@app.command("show")
def show(run_id: int = typer.Argument(..., help="The run's number.")) -> None:
    """One run: when, who, status, and its funnel per campaign."""
    with open_store().session() as s:
        r = runs.get_run(s, run_id)
        console.print(
            f"[bold]run {r.id}[/] of {r.program} ({r.trigger}, by {r.actor or 'system'}): "
            f"{r.status}, decided at {r.as_of.isoformat()}, attempts {r.attempts}, "
            f"policy {r.policy}"
        )
        if r.error:
            console.print(f"[yellow]{r.error}[/]")
        rows = runs.run_funnel(s, r.id)
        console.print(funnel_table(rows, f"run {r.id}"))
        sent = runs.delivery(s, r.id)
        came_back = runs.responses_of(s, r.id)
    if any(sent.values()):
        statuses = ("queued", "sent", "delivered", "failed")
        t = Table("campaign", *statuses, title="where the contacts are now", title_justify="left")
        for f in rows:
            now = sent.get(f.campaign, {})
            t.add_row(f.campaign, *(_n(now.get(st, 0)) for st in statuses))
        console.print(t)
    if came_back:
        results = ("order", "order_pending", "lead", "opt_out", "review")
        t = Table(
            "campaign",
            "responses",
            *(x.replace("_", " ") for x in results),
            "revenue",
            title="what came back",
            title_justify="left",
        )
        for f in rows:
            got = came_back.get(f.campaign, {})
            t.add_row(
                f.campaign,
                _n(got.get("responses", 0)),
                *(_n(got.get(x, 0)) for x in results),
                got.get("revenue", "0"),
            )
        console.print(t)


def explain(
    customer: str | None = typer.Option(None, "--customer", "-c", help="The customer's id."),
    run_id: int | None = typer.Option(None, "--run", "-r", help="A run to explain."),
    program: str | None = typer.Option(
        None, "--program", "-p", help="Or a program: what a run would do now."
    ),
    event: str | None = typer.Option(
        None, "--event", "-e", help="Or an event: what the triggered campaigns did with it."
    ),
) -> None:
    """Why a customer was (or would be) contacted or not: every step, with the numbers."""
    if event is not None:
        if run_id is not None or program is not None:
            fail("give --event EVENT alone, or --run RUN / --program PROGRAM", 2)
        _explain_event(event, customer)
        return
    if customer is None:
        fail("give --customer CUSTOMER with --run RUN or --program PROGRAM (or --event EVENT)", 2)
    if (run_id is None) == (program is None):
        fail("give either --run RUN or --program PROGRAM", 2)
    e = explain_service.explain_customer(open_store(), customer, run_id=run_id, program=program)
    head = f"run {e.run_id}" if e.run_id is not None else "a run now (preview)"
    console.print(
        f"[bold]customer {e.customer_id}[/] in {head} of {e.program}, "
        f"decided at {e.as_of.isoformat()}"
    )
    marks = {True: "[green]pass[/]", False: "[red]fail[/]", None: "[dim]info[/]"}
    for c in e.campaigns:
        console.print(f"\n[bold]{c.campaign}[/]: {c.outcome}", highlight=False)
        for st in c.steps:
            console.print(f"  {marks[st.passed]}  {st.name}: {st.detail}", highlight=False)
    if e.recorded:
        console.print("\n[bold]recorded by the run[/]")
        for line in e.recorded:
            console.print(f"  {line}", highlight=False)
    for note in e.notes:
        console.print(f"\n[yellow]note:[/] {note}")


def _explain_event(event_id: str, customer: str | None) -> None:
    from tactica.services import events

    with open_store().session() as s:
        row = events.get_event(s, event_id)
        if customer is not None and customer != row.customer_id:
            fail(f"event {event_id} is for customer {row.customer_id}, not {customer}", 2)
        console.print(
            f"[bold]customer {row.customer_id}[/], event {row.event_id} ({row.type}) at "
            f"{row.occurred_at.isoformat(timespec='seconds')}, decided at "
            f"{row.decided_at.isoformat(timespec='seconds')}",
            highlight=False,
        )
        console.print(f"payload: {row.payload}", highlight=False)
        for line in events.decision_lines(row):
            console.print(f"  {line}", highlight=False)


def scheduler(
    once: bool = typer.Option(False, "--once", help="Run what is due now, then stop."),
    every: float = typer.Option(30.0, "--every", min=1.0, help="Seconds between two ticks."),
) -> None:
    """Run scheduled programs when they are due (any number of schedulers may run at once)."""
    import time
    from datetime import UTC, datetime

    from tactica.services import scheduler as sched

    store = open_store()

    def show(r: runs.RunResult) -> None:
        verb = "resumed" if r.resumed else r.status
        console.print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} run {r.run_id} of {r.program} {verb}: "
            f"{_n(r.contacts)} contacts, {_n(r.held_out)} held out, cost {r.cost:,.2f}"
        )

    while True:
        report = sched.tick(store, on_run=show)
        for name in report.completed:
            console.print(f"program {name} completed (its end date has passed)")
        if report.lifecycle is not None and report.lifecycle.types:
            day = report.lifecycle
            console.print(
                f"lifecycle events of {day.day.isoformat()}: {day.fired} fired, "
                f"{day.decided} decided, {day.contacts} contact(s)"
            )
        for err in report.errors:
            console.print(f"[red]error:[/] {err}", highlight=False)
        if once:
            return
        time.sleep(every)
