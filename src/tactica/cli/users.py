"""``tactica users``: bootstrap the first admin, manage users, issue API tokens."""

from __future__ import annotations

import typer
from rich.table import Table

from tactica.cli._common import cli_actor, console, open_store
from tactica.services import users

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    username: str = typer.Argument(..., help="Login name"),
    role: str = typer.Option("marketer", help="admin, marketer, sales_rep or analyst"),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="TACTICA_PASSWORD",
        help="At least 8 characters (prompted when not given; or TACTICA_PASSWORD)",
    ),
    email: str = typer.Option("", help="E-mail address"),
    full_name: str = typer.Option("", help="Full name"),
) -> None:
    """Create a user (the first one is usually an admin: --role admin)."""
    store = open_store()
    with store.session() as s:
        u = users.create_user(
            s, username, password, role, email=email, full_name=full_name, actor=cli_actor()
        )
        s.commit()
        console.print(f"Created user [bold]{u.username}[/] with role {u.role}.")


@app.command("list")
def list_() -> None:
    """Every user with role and status."""
    store = open_store()
    with store.session() as s:
        t = Table("username", "role", "active", "email", "full name")
        for u in users.list_users(s):
            t.add_row(u.username, u.role, "yes" if u.active else "no", u.email, u.full_name)
        console.print(t)


@app.command("set")
def set_(
    username: str,
    role: str | None = typer.Option(None, help="New role"),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Enable or disable"),
) -> None:
    """Change a user's role or disable them."""
    store = open_store()
    with store.session() as s:
        u = users.update_user(s, username, role=role, active=active, actor=cli_actor())
        s.commit()
        console.print(f"{u.username}: role {u.role}, {'active' if u.active else 'inactive'}.")


@app.command("token")
def token(
    username: str,
    name: str = typer.Option("cli", help="A label for the token"),
    days: int = typer.Option(365, help="Days until it expires"),
) -> None:
    """Issue an API token for a user (printed once: keep it)."""
    store = open_store()
    with store.session() as s:
        u = users.get_user(s, username)
        secret, tok = users.create_token(s, u, name=name, ttl_days=days, actor=cli_actor())
        s.commit()
        console.print(secret, highlight=False, soft_wrap=True)
        console.print(
            f"[dim]expires {tok.expires_at:%Y-%m-%d}; send as 'Authorization: Bearer …'[/]"
        )
