"""``tactica db``: create and migrate the store."""

from __future__ import annotations

import typer

from tactica.cli._common import console, open_store

app = typer.Typer(help="The database: apply migrations, show where it is.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations (creates the workspace database on first use)."""
    store = open_store()
    store.upgrade(revision)
    console.print(f"Database at [bold]{store.engine.url.render_as_string()}[/] is up to date.")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base")) -> None:
    """Revert migrations down to a revision."""
    store = open_store()
    store.downgrade(revision)
    console.print(f"Downgraded to {revision}.")


@app.command("where")
def where() -> None:
    """Print the database URL in use."""
    console.print(open_store().engine.url.render_as_string())
