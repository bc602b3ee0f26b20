"""Real local peers for the channels: an SMTP sink, an SMS gateway, a webhook receiver.

They speak the real protocols on 127.0.0.1 (port 0 by default, the bound port is read
back), so the adapters are tested, and the quickstart demonstrated, against sockets, not
mocks. Each peer has ``host``/``port``/``url``, ``start()``/``stop()`` and works as a
context manager; ``stop()`` closes the listening socket and every open connection and
joins every thread it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import itertools
import json
import socket
import ssl
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tactica.channels.smtp import IDEMPOTENCY_HEADER as SMTP_IDEMPOTENCY_HEADER
from tactica.channels.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify,
)

# -- shared: a stoppable threaded HTTP/1.1 server --------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Reads one request and hands it to the owning peer's ``handle``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the adapters' clients expect
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    server: _HttpServer

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


class _Peer:
    """What the HTTP server calls for each request."""

    def handle(self, request: _Handler, body: bytes) -> None:
        raise NotImplementedError


class _HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its keep-alive connections on stop.

    Handler threads are not daemons and are joined by ``server_close``; to make that
    join finish, ``close_connections`` shuts the sockets they may be waiting on.
    """

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], peer: _Peer) -> None:
        self.peer = peer
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.accepted = 0  # connections taken so far (keep-alive shows as few)
        super().__init__(address, _Handler)

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


class _HttpPeer(_Peer):
    """Start/stop and addresses shared by the HTTP peers."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

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
        server = _HttpServer((self.host, self.port), self)
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


def _bearer(request: _Handler) -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


# -- SMS gateway -------------------------------------------------------------------------


class LocalSmsGateway(_HttpPeer):
    """An SMS gateway implementing the bulk JSON API :class:`HttpSmsAdapter` speaks.

    It checks the Bearer key (401 otherwise), honours idempotency keys (a key seen
    before gets its first answer again and creates no message), records accepted
    messages in :attr:`messages`, and can be told to fail requests (:meth:`fail_next`)
    or reject numbers (:meth:`reject_prefix`). Numbers matching ``undeliverable_prefixes``
    are accepted but their delivery fails. With ``receipts_url`` it POSTs delivery
    receipts there every ``receipts_interval`` seconds from a background thread, signed
    like webhooks when ``receipts_secret`` is given.
    """

    def __init__(
        self,
        api_key: str = "local-sms-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        receipts_url: str | None = None,
        receipts_secret: bytes | str | None = None,
        receipts_interval: float = 0.2,
        reject_prefixes: Iterable[str] = (),
        undeliverable_prefixes: Iterable[str] = (),
        max_batch: int = 1000,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.receipts_url = receipts_url
        self._receipts_secret = receipts_secret
        self._receipts_interval = receipts_interval
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._answers: dict[str, dict[str, Any]] = {}  # idempotency key -> first result
        self._rejects: dict[str, str] = dict.fromkeys(reject_prefixes, "number rejected")
        self._undeliverable = tuple(undeliverable_prefixes)
        self._failures: list[tuple[int, float | None]] = []  # queued (status, retry-after)
        self._ids = itertools.count(1)
        self._requests = 0
        self._pending: list[dict[str, Any]] = []  # receipts not yet POSTed
        self._receipts_sent = 0
        self._send_lock = threading.Lock()  # one receipts POST at a time
        self._receipts_client: httpx.Client | None = None
        self._receipts_stop = threading.Event()
        self._receipts_thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 503, retry_after: float | None = 1) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * n)

    def reject_prefix(self, prefix: str, error: str = "number rejected") -> None:
        """Reject every message to a number starting with ``prefix`` with ``error``."""
        with self._lock:
            self._rejects[prefix] = error

    # -- what happened --------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages (one per idempotency key), oldest first; a copy."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def requests(self) -> int:
        """How many ``POST /messages`` requests arrived (any outcome)."""
        with self._lock:
            return self._requests

    @property
    def receipts_sent(self) -> int:
        """Receipts the receipts endpoint has taken (answered 2xx)."""
        with self._lock:
            return self._receipts_sent

    def delivered_count(self) -> int:
        """Accepted messages that reach the handset (all but the undeliverable ones)."""
        with self._lock:
            return sum(1 for m in self._messages if m["delivery"] == "delivered")

    # -- serving ------------------------------------------------------------------

    def handle(self, request: _Handler, body: bytes) -> None:
        """Serve ``POST /messages``."""
        if request.path.rstrip("/") != "/messages":
            request.reply(404, {"error": f"no such endpoint: {request.path}"})
            return
        with self._lock:
            self._requests += 1
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, retry_after = failure
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            request.reply(status, {"error": "gateway unavailable"}, headers)
            return
        if _bearer(request) != self.api_key:
            request.reply(401, {"error": "invalid API key"}, {"WWW-Authenticate": "Bearer"})
            return
        try:
            items = json.loads(body)["messages"]
            if not isinstance(items, list):
                raise TypeError("'messages' must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            request.reply(400, {"error": f"expected {{'messages': [...]}}: {exc}"})
            return
        if len(items) > self._max_batch:
            request.reply(413, {"error": f"at most {self._max_batch} messages per request"})
            return
        with self._lock:
            results = [self._take(item) for item in items]
        request.reply(200, {"results": results})

    def _take(self, item: Any) -> dict[str, Any]:
        """The result for one requested message (under the lock)."""
        key = item.get("idempotency_key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            bad_key = "'idempotency_key' must be a non-empty string"
            return {"idempotency_key": key, "status": "rejected", "error": bad_key}
        seen = self._answers.get(key)
        if seen is not None:
            return seen  # a retry: same answer, no second message
        to, text = item.get("to"), item.get("text")
        error = None
        if not isinstance(to, str) or not to:
            error = "'to' must be a non-empty string"
        elif not isinstance(text, str):
            error = "'text' must be a string"
        else:
            error = next((e for p, e in self._rejects.items() if to.startswith(p)), None)
        if error is not None:
            answer: dict[str, Any] = {
                "idempotency_key": key,
                "status": "rejected",
                "message_id": None,
                "error": error,
            }
        else:
            message_id = f"sms-{next(self._ids):08d}"
            failed = to.startswith(self._undeliverable) if self._undeliverable else False
            self._messages.append(
                {
                    "message_id": message_id,
                    "idempotency_key": key,
                    "to": to,
                    "text": text,
                    "sender": item.get("sender"),
                    "delivery": "failed" if failed else "delivered",
                }
            )
            if self.receipts_url is not None:
                self._pending.append(
                    {
                        "idempotency_key": key,
                        "message_id": message_id,
                        "status": "failed" if failed else "delivered",
                        "error": "handset unreachable" if failed else None,
                        "at": _now_iso(),
                    }
                )
            answer = {
                "idempotency_key": key,
                "status": "accepted",
                "message_id": message_id,
                "error": None,
            }
        self._answers[key] = answer
        return answer

    # -- receipts -----------------------------------------------------------------

    def flush_receipts(self) -> int:
        """POST the pending receipts now; how many the endpoint took (0 on failure)."""
        client = self._receipts_client
        if client is None or self.receipts_url is None:
            return 0
        with self._send_lock:
            with self._lock:
                batch, self._pending = self._pending[:1000], self._pending[1000:]
            if not batch:
                return 0
            body = json.dumps({"receipts": batch}, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json"}
            if self._receipts_secret is not None:
                ts = int(time.time())
                headers[TIMESTAMP_HEADER] = str(ts)
                headers[SIGNATURE_HEADER] = sign(self._receipts_secret, ts, body)
            try:
                ok = client.post(self.receipts_url, content=body, headers=headers).is_success
            except httpx.HTTPError:
                ok = False
            with self._lock:
                if not ok:  # keep them, in order, for the next round
                    self._pending[:0] = batch
                    return 0
                self._receipts_sent += len(batch)
            return len(batch)

    def _receipts_loop(self) -> None:
        while not self._receipts_stop.wait(self._receipts_interval):
            while self.flush_receipts() == 1000:
                pass  # a backlog: keep going until it is drained

    def start(self) -> None:
        """Serve, and start the receipts thread when there is a receipts URL."""
        super().start()
        if self.receipts_url is not None:
            self._receipts_client = httpx.Client(timeout=2.0)
            self._receipts_stop.clear()
            self._receipts_thread = threading.Thread(
                target=self._receipts_loop, name=f"sms-receipts:{self.port}", daemon=True
            )
            self._receipts_thread.start()

    def stop(self) -> None:
        """Stop the receipts thread (pending receipts are dropped), then the server."""
        if self._receipts_thread is not None:
            self._receipts_stop.set()
            self._receipts_thread.join()
            self._receipts_thread = None
        if self._receipts_client is not None:
            self._receipts_client.close()
            self._receipts_client = None
        super().stop()


# -- webhook receiver ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """One POST a :class:`LocalWebhookReceiver` took.

    ``headers`` have lower-case names; ``json`` is None when the body is not JSON;
    ``signature_ok`` is None when the receiver has no secret to check with.
    """

    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any
    signature_ok: bool | None


class LocalWebhookReceiver(_HttpPeer):
    """Records POSTed JSON and headers, checking ``X-Tactica-Signature`` with ``secret``.

    A bad or stale signature is answered 401 (when ``reject_bad_signatures``), but the
    request is recorded either way so tests can look at it. :meth:`respond_next` makes
    the next requests fail with a chosen status. Good requests are answered 200
    ``{"id": "wh-<n>"}``.
    """

    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reject_bad_signatures: bool = True,
        tolerance: float = 300,
    ) -> None:
        super().__init__(host, port)
        self._secret = secret
        self._reject_bad = reject_bad_signatures
        self._tolerance = tolerance
        self._cond = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._scripted: list[tuple[int, float | None]] = []

    def respond_next(self, n: int, status: int, *, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After``)."""
        with self._cond:
            self._scripted.extend([(status, retry_after)] * n)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request taken so far, oldest first; a copy."""
        with self._cond:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= count, timeout)

    def count_by_idempotency_key(self) -> dict[str, int]:
        """How many requests carried each ``X-Tactica-Idempotency-Key``."""
        with self._cond:
            keys = (r.headers.get(IDEMPOTENCY_HEADER.lower()) for r in self._requests)
            return dict(Counter(k for k in keys if k is not None))

    def handle(self, request: _Handler, body: bytes) -> None:
        """Record the request, then answer it."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        ok: bool | None = None
        if self._secret is not None:
            ok = verify(
                self._secret,
                headers.get(TIMESTAMP_HEADER.lower(), ""),
                body,
                headers.get(SIGNATURE_HEADER.lower(), ""),
                now=time.time(),
                tolerance=self._tolerance,
            )
        with self._cond:
            self._requests.append(ReceivedRequest(request.path, headers, body, doc, ok))
            n = len(self._requests)
            scripted = self._scripted.pop(0) if self._scripted else None
            self._cond.notify_all()
        if scripted is not None:
            status, retry_after = scripted
            extra = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            request.reply(status, {"error": "scripted failure"}, extra)
        elif ok is False and self._reject_bad:
            request.reply(401, {"error": "bad signature"})
        else:
            request.reply(200, {"id": f"wh-{n}"})


# -- SMTP sink -----------------------------------------------------------------------------


class _SinkController(Controller):
    """aiosmtpd's controller on a socket we bound ourselves, so port 0 works.

    (The stock controller connects to its configured port to check it is up, which
    cannot work for port 0.)
    """

    def __init__(self, handler: Any, sock: socket.socket, **smtp_kwargs: Any) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **smtp_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

    def factory(self) -> SMTP:
        """Create the SMTP protocol for a connection, remembered so stop() can close it."""
        proto = SMTP(self.handler, **self.SMTP_kwargs)
        cast("_SinkHandler", self.handler).protocols.add(proto)
        return proto


class _SinkHandler:
    """aiosmtpd hooks: who may send, which recipients fail, where messages go."""

    def __init__(self, sink: LocalSmtpSink) -> None:
        self.sink = sink
        # Weak: a finished connection's protocol should not be kept alive by the sink.
        self.protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """With credentials configured, only a logged-in session may send."""
        # Checked here rather than with aiosmtpd's auth_required, which insists on TLS
        # (or warns) — the sink runs without certificates.
        if self.sink.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        self.sink._seen_session(session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse rejected recipients (550), defer temporarily failing ones (451)."""
        refusal = self.sink._refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Parse and keep the message."""
        content = envelope.content
        raw = content.encode("utf-8") if isinstance(content, str) else (content or b"")
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        self.sink._record(parsed, envelope)
        return "250 2.0.0 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept exactly the configured login and password."""
        creds = self.sink.credentials
        ok = (
            creds is not None
            and isinstance(data, LoginPassword)
            and (data.login, data.password) == (creds[0].encode(), creds[1].encode())
        )
        return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class ReceivedMail:
    """One message the sink accepted, with its SMTP envelope."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class LocalSmtpSink:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    ``reject`` recipients are refused with 550 (a bounce); ``tempfail`` maps a recipient
    to how many RCPT attempts are answered 451 before it is accepted. With
    ``credentials`` (login, password) AUTH PLAIN/LOGIN is offered without TLS and MAIL
    needs a logged-in session; ``tls_context`` offers STARTTLS. SMTPUTF8 is on.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reject: Iterable[str] = (),
        tempfail: Mapping[str, int] | None = None,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.credentials = credentials
        self._tls_context = tls_context
        self._lock = threading.Lock()
        self._reject = {a.lower() for a in reject}
        self._tempfail = {a.lower(): n for a, n in (tempfail or {}).items()}
        self._received: list[ReceivedMail] = []
        self._peers: set[str] = set()  # client (address, port) of each sending connection
        self._controller: _SinkController | None = None
        self._handler: _SinkHandler | None = None

    @property
    def url(self) -> str:
        """``smtp://host:port`` of the running sink."""
        return f"smtp://{self.host}:{self.port}"

    # -- control ------------------------------------------------------------------

    def reject_recipient(self, address: str) -> None:
        """Refuse ``address`` with 550 from now on."""
        with self._lock:
            self._reject.add(address.lower())

    def tempfail_recipient(self, address: str, attempts: int) -> None:
        """Answer the next ``attempts`` RCPTs for ``address`` with 451."""
        with self._lock:
            self._tempfail[address.lower()] = attempts

    def _refusal(self, address: str) -> str | None:
        key = address.lower()
        with self._lock:
            if key in self._reject:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            left = self._tempfail.get(key, 0)
            if left > 0:
                self._tempfail[key] = left - 1
                return "451 4.7.1 Try again later"
        return None

    def _seen_session(self, session: Session) -> None:
        with self._lock:
            self._peers.add(str(session.peer))

    def _record(self, message: EmailMessage, envelope: Envelope) -> None:
        mail = ReceivedMail(envelope.mail_from or "", tuple(envelope.rcpt_tos), message)
        with self._lock:
            self._received.append(mail)

    # -- what happened --------------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        """The parsed messages received so far, oldest first."""
        with self._lock:
            return [m.message for m in self._received]

    @property
    def received(self) -> list[ReceivedMail]:
        """The messages with their envelopes, oldest first."""
        with self._lock:
            return list(self._received)

    @property
    def sessions(self) -> int:
        """How many client connections sent MAIL FROM (reused connections count once)."""
        with self._lock:
            return len(self._peers)

    def count_by_idempotency_key(self) -> dict[str, int]:
        """How many received messages carried each idempotency key."""
        keys = (m.get(SMTP_IDEMPOTENCY_HEADER) for m in self.messages)
        return dict(Counter(str(k) for k in keys if k is not None))

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Bind (reading back the port when it was 0) and serve in aiosmtpd's thread."""
        if self._controller is not None:
            raise RuntimeError("LocalSmtpSink already started")
        sock = socket.create_server((self.host, self.port))
        self.port = sock.getsockname()[1]
        handler = _SinkHandler(self)
        kwargs: dict[str, Any] = {
            # A fixed name: the default looks up this host's FQDN, which can be slow.
            "server_hostname": "localhost",
            "enable_SMTPUTF8": True,
        }
        if self.credentials is not None:
            kwargs.update(authenticator=handler.authenticate, auth_require_tls=False)
        if self._tls_context is not None:
            kwargs["tls_context"] = self._tls_context
        controller = _SinkController(handler, sock, **kwargs)
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller, self._handler = controller, handler

    def stop(self) -> None:
        """Close client connections, stop the loop and its thread, close the socket."""
        controller, handler = self._controller, self._handler
        if controller is None or handler is None:
            return
        # Close open client connections inside the loop first, so no transport or task
        # is left behind when the loop stops.
        closing = asyncio.run_coroutine_threadsafe(_close_all(handler.protocols), controller.loop)
        # Best effort: stopping the controller cancels whatever is left.
        with contextlib.suppress(TimeoutError, RuntimeError):
            closing.result(timeout=2.0)
        controller.stop()
        self._controller = self._handler = None

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


async def _close_all(protocols: weakref.WeakSet[SMTP]) -> None:
    for proto in list(protocols):
        if proto.transport is not None and not proto.transport.is_closing():
            proto.transport.close()
    # Let the protocols see connection_lost and their tasks end.
    for _ in range(3):
        await asyncio.sleep(0)


__all__ = [
    "LocalSmsGateway",
    "LocalSmtpSink",
    "LocalWebhookReceiver",
    "ReceivedMail",
    "ReceivedRequest",
]
