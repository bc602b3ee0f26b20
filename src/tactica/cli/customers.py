"""``tactica customers``: the customer base — fields, import, look-up."""

from __future__ import annotations

import typer

app = typer.Typer(help="Customers: declare fields, import files, look customers up.", no_args_is_help=True)
