"""The threaded HTTP/1.1 server the local HTTP peers (SMS gateway, webhook receiver) share.

A peer subclasses :class:`HttpPeer` and implements ``handle(request, body)``; the server
reads each POST, answers GET with 405, keeps connections alive, and on ``stop()`` closes
every open connection and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class RequestHandler(BaseHTTPRequestHandler):
    """Reads one request and hands it to the owning peer's ``handle``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the adapters' clients expect
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    server: HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a load test would otherwise print a line per request."""

    def do_POST(self) -> None:
        """Every peer takes POSTs only."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.reply(411, {"error": "Content-Length required"})
            return
        body = self.rfile.read(int(length))
        self.server.peer.handle(self, body)

    def do_GET(self) -> None:
        """Not served: the peers' APIs are POST only."""
        self.reply(405, {"error": "method not allowed"}, {"Allow": "POST"})

    def reply(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> None:
        """Send ``doc`` as a JSON answer with ``status`` and extra ``headers``."""
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its keep-alive connections on stop.

    Handler threads are not daemons and are joined by ``server_close``; to make that
    join finish, ``close_connections`` shuts the sockets they may be waiting on.
    """

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], peer: HttpPeer) -> None:
        self.peer = peer
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.accepted = 0  # connections taken so far (keep-alive shows as few)
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection, then serve it in its own thread."""
        with self._open_lock:
            self._open.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection and close it."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection down so its handler thread ends."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # closed by the client in the meantime
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away (or we are stopping); report the rest."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class HttpPeer:
    """Start/stop and addresses shared by the HTTP peers; subclasses implement ``handle``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: RequestHandler, body: bytes) -> None:
        """Answer one POST (``body`` already read) through ``request.reply``."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://host:port`` of the running peer."""
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (many requests on one = keep-alive)."""
        return 0 if self._server is None else self._server.accepted

    def start(self) -> None:
        """Bind (reading back the port when it was 0) and serve in a thread."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        server = HttpServer((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most this long
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close every connection and the socket, join the threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def bearer_token(request: RequestHandler) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without one."""
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def now_iso() -> str:
    """The current UTC time as ISO 8601 text (receipt timestamps)."""
    return datetime.now(UTC).isoformat()
