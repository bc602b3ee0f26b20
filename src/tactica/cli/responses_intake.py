"""``tactica responses import-calls``: responses coming in from outside the API.

Call-centre outcomes arrive as a file. (SMS replies and webhooks come in through the
API; tracked links through ``/r/...``.)
"""

from __future__ import annotations

from pathlib import Path

import typer

from tactica.cli._common import cli_actor, console, open_store
from tactica.config import get_settings


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def import_calls(
    file: Path = typer.Argument(..., help="The centre's CSV: contact_id, outcome, called_at..."),
    centre: str | None = typer.Option(
        None, "--centre", help="The call-centre channel it comes from (its time zone reads times)"
    ),
    opt_out: str | None = typer.Option(
        None,
        "--opt-out",
        help="What an opt_out stops: 'channel' (calls) or 'all' (default: TACTICA_OPT_OUT_SCOPE)",
    ),
) -> None:
    """Import a call centre's outcomes, all or nothing; the same file again takes nothing twice."""
    from tactica.services.call_outcomes import import_calls as take_file

    settings = get_settings()
    store = open_store()
    try:
        got = take_file(
            store,
            file,
            centre=centre,
            actor=cli_actor(),
            opt_out_scope=opt_out or settings.opt_out_scope,
        )
    finally:
        store.dispose()
    t = got.taken
    parts = [
        _plural(t.orders, "order"),
        _plural(t.leads, "lead"),
        _plural(t.opt_outs, "opt-out"),
        f"{got.recorded:,} recorded",
    ]
    if t.pending_orders:
        parts.insert(1, _plural(t.pending_orders, "order") + " waiting for approval")
    line = f"{got.file}: {_plural(t.accepted, 'call')} taken — {', '.join(parts)}"
    if t.duplicates:
        line += f"; {t.duplicates:,} taken before"
    console.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``import-calls`` to the ``tactica responses`` group."""
    app.command("import-calls")(import_calls)
