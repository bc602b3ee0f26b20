"""What every CLI group shares: the console, the store, the acting user, error output."""

from __future__ import annotations

import getpass
import sys
from datetime import date
from typing import NoReturn

from rich.console import Console

from tactica.config import get_settings
from tactica.errors import InvalidInput
from tactica.store.db import Store

console = Console()
err_console = Console(stderr=True)


def open_store() -> Store:
    """The store the environment points at (``TACTICA_HOME`` / ``TACTICA_DATABASE_URL``)."""
    return Store.from_settings(get_settings())


def cli_actor() -> str:
    """Who the audit log names for a change made from this terminal."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error in red on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    sys.exit(code)


def parse_day(raw: str | None, where: str) -> date | None:
    """A day given on the command line (``2026-11-24``); InvalidInput names the option."""
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"a day such as 2026-11-24, got {raw!r}", where) from None
