"""A local SMTP sink (aiosmtpd) on 127.0.0.1 that keeps what it receives.

It can refuse or temporarily defer recipients, require AUTH and offer STARTTLS, so the
SMTP adapter is tested against a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import socket
import ssl
import threading
import weakref
from collections import Counter
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tactica.channels.smtp import IDEMPOTENCY_HEADER


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
        keys = (m.get(IDEMPOTENCY_HEADER) for m in self.messages)
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
        closing = asyncio.run_coroutine_threadsafe(
            close_connections(handler.protocols), controller.loop
        )
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


async def close_connections(protocols: weakref.WeakSet[SMTP]) -> None:
    """Close an aiosmtpd server's client connections from inside its loop."""
    for proto in list(protocols):
        if proto.transport is not None and not proto.transport.is_closing():
            proto.transport.close()
    # Let the protocols see connection_lost and their tasks end.
    for _ in range(3):
        await asyncio.sleep(0)


__all__ = ["LocalSmtpSink", "ReceivedMail"]
