"""``tactica responses listen`` and ``tactica responses import-calls``: responses coming in.

E-mail replies arrive over SMTP at the listener; call-centre outcomes arrive as a file.
(SMS replies and webhooks come in through the API; tracked links through ``/r/...``.)
"""

from __future__ import annotations

import threading
from pathlib import Path

import typer

from tactica.cli._common import cli_actor, console, open_store
from tactica.config import get_settings


def listen(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(2525, min=0, max=65535, help="Port to listen on (25 in production)"),
    domain: list[str] = typer.Option(
        [],
        "--domain",
        help="Take mail only for this domain (repeat for more); every recipient without",
    ),
) -> None:
    """Take e-mail replies over SMTP until Ctrl-C: each is stored, attributed and acted on."""
    from tactica.channels.inbound_smtp import InboundSmtpListener
    from tactica.services.links import email_deliverer

    settings = get_settings()
    store = open_store()
    deliver = email_deliverer(store, secret=settings.secret, opt_out_scope=settings.opt_out_scope)
    listener = InboundSmtpListener(deliver, host=host, port=port, domains=domain)
    # Ctrl-C can come as soon as the port listens (before the message below): the
    # listener is stopped in every case.
    try:
        listener.start()
        only = f" for {', '.join(sorted(listener.domains))}" if listener.domains else ""
        console.print(
            f"Taking e-mail replies on smtp://{host}:{listener.port}{only} (Ctrl-C stops)"
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        store.dispose()


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
    """Add ``listen`` and ``import-calls`` to the ``tactica responses`` group."""
    app.command("listen")(listen)
    app.command("import-calls")(import_calls)
