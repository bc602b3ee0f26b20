"""The ``tactica`` command line: thin over the services, one sub-command group per subject."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import DBAPIError

from tactica.cli._common import console, fail
from tactica.errors import TacticaError, exit_code

app = typer.Typer(
    name="tactica",
    help="Tactica: marketing execution — customers, segments, offers, programs and their runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Imported here so each group module stays independent of the others.
    from tactica.cli import (
        as_code,
        channels,
        customers,
        db,
        dispatch,
        events,
        events_lifecycle,
        events_stream,
        lists,
        offers,
        plans,
        programs,
        response_queue,
        responses,
        responses_intake,
        runs,
        sales,
        segments,
        serve,
        templates,
        users,
    )
    from tactica.cli.quickstart import quickstart

    app.add_typer(db.app, name="db")
    app.add_typer(customers.app, name="customers")
    app.add_typer(segments.app, name="segments")
    app.add_typer(offers.app, name="offers")
    app.add_typer(lists.app, name="lists")
    app.add_typer(programs.app, name="programs")
    app.add_typer(programs.policies_app, name="policies")
    app.add_typer(runs.app, name="runs")
    app.add_typer(users.app, name="users")
    app.add_typer(templates.app, name="templates")
    app.add_typer(channels.app, name="channels")
    app.command("run")(runs.run)
    app.command("explain")(runs.explain)
    app.command("scheduler")(runs.scheduler)
    app.command("apply")(as_code.apply)
    app.command("export")(as_code.export)
    app.command("serve")(serve.serve)
    app.command("dispatch")(dispatch.dispatch)
    app.add_typer(dispatch.outbox_app, name="outbox")
    response_queue.register(responses.app)
    responses_intake.register(responses.app)
    app.add_typer(responses.app, name="responses")
    app.add_typer(plans.app, name="plan")
    app.add_typer(sales.reps_app, name="reps")
    app.add_typer(sales.leads_app, name="leads")
    app.add_typer(sales.sales_app, name="sales")
    app.add_typer(sales.orders_app, name="orders")
    events_lifecycle.register(events.app)
    events_stream.register(events.app)
    app.add_typer(events.app, name="events")
    app.command("quickstart")(quickstart)


_register()


def _tables_missing(e: DBAPIError) -> bool:
    """True when ``e`` says a table does not exist: a store never migrated."""
    if getattr(e.orig, "sqlstate", None) == "42P01":  # PostgreSQL's undefined_table
        return True
    return "no such table" in str(e.orig)


def main() -> None:
    """Entry point of the ``tactica`` script: runs the app, turning errors into exit codes."""
    try:
        app(standalone_mode=False)
    except TacticaError as e:
        fail(e.detail, exit_code(e))
    except typer.Abort:
        console.print("Aborted.")
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except DBAPIError as e:
        if not _tables_missing(e):
            raise
        fail(
            f"the database has no Tactica tables yet ({e.orig}): "
            "run 'tactica db upgrade' (or 'tactica quickstart') first",
            1,
        )
    except Exception as e:  # click usage errors carry their own exit code
        code = getattr(e, "exit_code", None)
        if code is not None and hasattr(e, "show"):
            e.show()
            sys.exit(code)
        raise
