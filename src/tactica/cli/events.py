"""``tactica events``: event types, sending events by hand, and what events led to."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Events: declared types, events taken and what they led to, real-time figures.",
    no_args_is_help=True,
)
