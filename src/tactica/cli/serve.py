"""``tactica serve``: the JSON API over HTTP."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

import typer

from tactica.cli._common import console, fail


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    upgrade: bool = typer.Option(True, help="Apply database migrations first"),
    dispatch: bool = typer.Option(
        True, help="Also run the dispatch workers (one per configured channel)"
    ),
    sla: bool = typer.Option(
        True, help="Also escalate leads past their SLA to the rep's manager, every minute"
    ),
    workers: int = typer.Option(
        1,
        min=1,
        help="API processes answering requests (dispatch, SLA and e-mail intake stay in this one)",
    ),
) -> None:
    """Serve the API (OpenAPI documentation at /docs), send what runs decide, watch lead SLAs."""
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker counts in memory otherwise, and /metrics would show one worker's
        # share. Set before anything imports prometheus_client, which reads it once.
        metrics_dir = tempfile.mkdtemp(prefix="tactica-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    import uvicorn

    from tactica.api.app import create_app
    from tactica.config import get_settings
    from tactica.store.db import Store

    settings = get_settings()
    store = Store.from_settings(settings)
    if upgrade:
        store.upgrade()
    console.print(
        f"Tactica on http://{host}:{port}/ (the web application; the API's docs at /docs)"
    )
    stop = threading.Event()
    if dispatch:
        from tactica.services.dispatch import options_from, supervise

        worker = threading.Thread(
            target=supervise, args=(store, options_from(settings), stop), daemon=True
        )
        worker.start()
        console.print("dispatch workers on (--no-dispatch to serve the API alone)")
    if sla:
        from tactica.services.scheduler import sla_timer

        threading.Thread(target=sla_timer, args=(store, stop), daemon=True).start()
        console.print("lead SLA timer on (--no-sla to leave escalation to tactica scheduler)")
    listener = None
    try:
        # Inside the try: Ctrl-C may come as soon as the SMTP port listens.
        if settings.inbound_smtp_port is not None:
            from tactica.channels.inbound_smtp import InboundSmtpListener
            from tactica.services.links import email_deliverer

            deliver = email_deliverer(
                store, secret=settings.secret, opt_out_scope=settings.opt_out_scope
            )
            listener = InboundSmtpListener(
                deliver, host=settings.inbound_smtp_host, port=settings.inbound_smtp_port
            )
            listener.start()
            console.print(
                f"e-mail replies taken on smtp://{settings.inbound_smtp_host}:{listener.port} "
                "(TACTICA_INBOUND_SMTP_PORT)"
            )
        if workers > 1:
            # Each worker process builds its own app (and store) from the same settings;
            # a store's connections cannot cross a fork.
            console.print(f"{workers} API worker processes")
            _serve_workers(host, port, workers)
        else:
            uvicorn.run(create_app(settings, store), host=host, port=port, log_level="info")
    except KeyboardInterrupt:
        # Ctrl-C before uvicorn has taken over the signals (while the app is still
        # being built) is a stop asked for like any other, not a crash.
        pass
    finally:
        stop.set()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            # The folder is gone: nothing started from this process may look for it.
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if listener is not None:
            listener.stop()


def _serve_workers(host: str, port: int, workers: int) -> None:
    """Serve the app from ``workers`` processes sharing one listening socket.

    The socket is bound here, as a TCP socket, rather than by uvicorn: asyncio turns
    Nagle's algorithm off only on connections accepted from a socket that says it is
    TCP, and uvicorn's own (protocol 0) does not — each small answer would then wait
    for the client's delayed acknowledgement, some 40 ms.
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "tactica.api.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}", 1)
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
