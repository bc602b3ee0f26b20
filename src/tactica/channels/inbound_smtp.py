"""E-mail replies in: an SMTP listener (aiosmtpd) and the reading of a reply.

Customers answer a marketing e-mail with their mail client, which sends the answer to
the message's ``Reply-To`` address. Point that address's domain (its MX, or a relay's
forwarding rule) at this listener: every message it receives is read into an
:class:`InboundMail` — the customer's own words, without the quoted earlier message
and the signature — and handed to a ``deliver`` callback, which decides what becomes
of it. The listener knows nothing of customers or contacts.

The SMTP answer follows the callback: 250 when the reply was taken, 550 when it never
can be (:class:`MailRefused`), 451 when something failed on our side, so the sending
server keeps the message and tries again later — a reply is never lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import email.utils
import hashlib
import logging
import re
import socket
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tactica.channels.local_smtp import close_connections

log = logging.getLogger(__name__)

#: The longest text kept of a reply (what the response store takes).
MAX_TEXT = 20_000
#: The longest message id kept as is; a longer one is replaced by its digest.
MAX_MESSAGE_ID = 200
#: The largest message the listener accepts (replies are short; attachments are not read).
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class MailRefused(Exception):
    """The ``deliver`` callback will never take this message: the sender gets a 550."""


@dataclass(frozen=True)
class InboundMail:
    """One received e-mail, read: who sent it, to whom, and what they wrote.

    ``recipients`` are the envelope's recipients and then the ``To`` and ``Cc``
    addresses (a reply token may be in any of them). ``text`` is what the sender wrote
    themselves: the plain-text part (or the HTML one as text), without quoted earlier
    messages and signatures, at most :data:`MAX_TEXT` characters. ``in_reply_to`` and
    ``references`` are the message ids the mail says it answers, nearest first.
    ``automatic`` is true for auto-replies (out of office) and delivery reports.
    """

    message_id: str
    sender: str | None
    recipients: tuple[str, ...]
    subject: str
    text: str
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    date: datetime | None = None
    automatic: bool = False


# --------------------------------------------------------------------------- reading

_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
# A message without an id is still deduplicated: the same bytes give the same id.
_PARSER = BytesParser(policy=email.policy.default)


def _message_id(value: str | None, raw: bytes) -> str:
    found = _MESSAGE_IDS.findall(value or "")
    mid = found[0] if found else (value or "").strip()
    if not mid:
        return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id>"
    if len(mid) > MAX_MESSAGE_ID:
        return f"<sha256.{hashlib.sha256(mid.encode('utf-8', 'replace')).hexdigest()[:40]}>"
    return mid


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in (msg.get_all(name) or [])]
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


def _is_automatic(msg: Message, mail_from: str | None) -> bool:
    """Auto-replies and delivery reports: nobody wrote them (RFC 3834, RFC 3464)."""
    if mail_from is not None and mail_from.strip("<> ") == "":
        return True  # the null sender: bounces and other reports
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return True
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return True
    return msg.get_content_type() == "multipart/report"


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, ValueError):
        # An unknown or lying charset: read what can be read rather than drop the reply.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body(msg: Message) -> str:
    """The plain-text part, else the HTML part as text; attachments are not read."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _part_text(part)
        elif kind == "text/html" and html is None:
            html = _part_text(part)
    if plain is not None and plain.strip():
        return plain
    if html is not None:
        return html_to_text(html)
    return plain or ""


def read_mail(
    raw: bytes, *, rcpt_tos: Sequence[str] = (), mail_from: str | None = None
) -> InboundMail:
    """Read one received e-mail (its bytes as they came in DATA) into an :class:`InboundMail`.

    ``rcpt_tos`` and ``mail_from`` are the SMTP envelope's. The sender is the ``From``
    address (the envelope sender when there is none).
    """
    msg = _PARSER.parsebytes(raw)
    senders = _addresses(msg, "From")
    sender = senders[0] if senders else (mail_from or "").strip("<> ") or None
    recipients = tuple(dict.fromkeys([*rcpt_tos, *_addresses(msg, "To", "Cc")]))
    date = None
    with contextlib.suppress(TypeError, ValueError, IndexError):
        date = email.utils.parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    references = _MESSAGE_IDS.findall(str(msg.get("References", "")))
    return InboundMail(
        message_id=_message_id(msg.get("Message-ID"), raw),
        sender=sender,
        recipients=recipients,
        subject=" ".join(str(msg.get("Subject", "")).split()),
        text=own_words(_body(msg))[:MAX_TEXT],
        in_reply_to=tuple(_MESSAGE_IDS.findall(str(msg.get("In-Reply-To", "")))),
        # The last reference is the message answered; the first, where the thread began.
        references=tuple(reversed(references)),
        date=date,
        automatic=_is_automatic(msg, mail_from),
    )


class _HtmlText(HTMLParser):
    """Text of an HTML body: blocks become lines, quoted blocks and scripts are dropped."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"}
    )
    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        # Gmail puts the quoted message in a div of this class (its blockquote inside).
        if tag in self._SKIP or (tag == "div" and "gmail_quote" in classes.split()):
            self._skipping.append(tag)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text an HTML body shows, one line per block, without quoted blocks or scripts."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where the quoted earlier message begins: the line a mail client writes above it.
_QUOTE_HEADERS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\s*on\b.+\bwrote:\s*$",  # On Mon, 24 Nov 2026, Bank <...> wrote:
        r"^\s*-{2,}\s*original message\s*-{2,}\s*$",  # Outlook
        r"^\s*-{2,}\s*(original|forwarded) message\s*-{2,}\s*$",  # Android, Gmail
        r"^.*(写道|寫道)\s*[:：]\s*$",  # 在 2026年11月24日 12:00，Bank <...> 写道：
        r"^\s*-*\s*原始邮件\s*-*\s*$",  # QQ Mail, Foxmail
        r"^.*\b(пишет|написал|написала|написал\(а\))\s*:\s*$",  # 24 нояб. 2026 г., Bank пишет:
        r"^\s*-{2,}\s*(исходное|пересылаемое) сообщение\s*-{2,}\s*$",
    )
]
# Outlook's header block: "From: ..." then "Sent: ..." (or its translations) below it.
_FROM_LINE = re.compile(r"^\s*\*?(from|发件人|寄件者|от)\s*\*?\s*[:：]", re.IGNORECASE)
_SENT_LINE = re.compile(
    r"^\s*\*?(sent|date|发送时间|寄件日期|日期|отправлено|дата)\s*\*?\s*[:：]", re.IGNORECASE
)
# A two-line "On ... <address>\nwrote:" (clients wrap long attribution lines).
_WROTE_ALONE = re.compile(r"^\s*(wrote|写道|寫道|пишет|написал\(?а?\)?)\s*[:：]\s*$", re.IGNORECASE)
_SIGNATURES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^--\s*$",  # RFC 3676's "-- "; many clients drop the space
        r"^_{5,}\s*$",
        r"^\s*sent from my \w+",
        r"^\s*sent from (mail|outlook) for \w+",
        r"^\s*get outlook for \w+",
        r"^\s*发自我的\s*\w+",
        r"^\s*(отправлено|отправлено с) (с )?(моего )?\w+",
    )
]


def _quote_start(lines: Sequence[str]) -> int | None:
    """Index of the line where the quoted earlier message (with its header) begins."""
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_HEADERS):
            return i
        if _WROTE_ALONE.match(line) and i > 0 and lines[i - 1].strip():
            return i - 1
        if _FROM_LINE.match(line) and any(_SENT_LINE.match(x) for x in lines[i + 1 : i + 4]):
            return i
    return None


def _unquoted(lines: Iterable[str]) -> list[str]:
    """``lines`` without quoted ones ('>'), nor the attribution line just above a quote."""
    out: list[str] = []
    for line in lines:
        if line.lstrip().startswith(">"):
            # "Bank <offers@bank.example>:" right above the quote introduces it.
            while out and not out[-1].strip():
                out.pop()
            if out and out[-1].rstrip().endswith((":", "：")):
                out.pop()
            continue
        out.append(line)
    return out


def _without_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _SIGNATURES):
            return lines[:i]
    return lines


def own_words(text: str) -> str:
    """What the sender wrote: ``text`` less the quoted earlier message and the signature.

    Cut at the first line a mail client writes above a quoted message ("On ... wrote:",
    "-----Original Message-----", an Outlook "From:/Sent:" block, "在 ... 写道：",
    "... пишет:"), drop lines quoted with '>', then cut at the signature ("-- ",
    "Sent from my iPhone", "发自我的iPhone"...). A reply written below the quote
    (bottom-posting) is kept.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _quote_start(lines)
    top = lines if start is None else lines[:start]
    mine = _without_signature(_unquoted(top))
    if not "".join(mine).strip() and start is not None:
        # Nothing above the quote: the answer may be below it.
        mine = _without_signature(_unquoted(lines[start + 1 :]))
    while mine and not mine[-1].strip():
        mine.pop()
    while mine and not mine[0].strip():
        mine.pop(0)
    return "\n".join(line.rstrip() for line in mine)


# --------------------------------------------------------------------------- listening

Deliver = Callable[[InboundMail], object]


class _Controller(Controller):
    """aiosmtpd's controller on a socket bound beforehand, so port 0 works."""

    def __init__(self, handler: _Handler, sock: socket.socket, **smtp_kwargs: Any) -> None:
        self._sock = sock
        self._handler = handler
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **smtp_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

    def factory(self) -> SMTP:
        """One SMTP protocol per connection, remembered so stop() can close it."""
        proto = SMTP(self.handler, **self.SMTP_kwargs)
        self._handler.protocols.add(proto)
        return proto


class _Handler:
    """aiosmtpd hooks: which recipients are ours, and what a message's DATA becomes."""

    def __init__(self, listener: InboundSmtpListener) -> None:
        self.listener = listener
        self.protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Take recipients of our domains only: the listener is no relay."""
        if not self.listener.accepts(address):
            return f"550 5.7.1 <{address}>: not a domain this server takes mail for"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Read the message and hand it over; answer as the callback did."""
        raw = envelope.original_content or envelope.content or b""
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        loop = asyncio.get_running_loop()
        try:
            mail = read_mail(data, rcpt_tos=envelope.rcpt_tos, mail_from=envelope.mail_from)
            # The callback writes to the database: keep it off the event loop.
            await loop.run_in_executor(None, self.listener.deliver, mail)
        except MailRefused as refused:
            reason = " ".join(str(refused).split())[:200]
            return f"550 5.6.0 Not taken: {reason}"
        except Exception:
            log.exception("inbound e-mail: could not take a message; the sender will retry")
            return "451 4.3.0 Not taken now, try again later"
        return "250 2.0.0 OK: taken"


class InboundSmtpListener:
    """An SMTP server that reads every message it receives and hands it to ``deliver``.

    ``domains``: the recipient domains taken (any other recipient is refused at RCPT);
    empty takes every recipient. ``port`` 0 picks a free port (read it after
    :meth:`start`). ``deliver`` runs in a worker thread; it raises :class:`MailRefused`
    for a message that can never be taken, anything else for "try again later".
    """

    def __init__(
        self,
        deliver: Deliver,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        domains: Iterable[str] = (),
        server_name: str = "localhost",
    ) -> None:
        self.deliver = deliver
        self.host = host
        self.port = port
        self.domains = frozenset(d.strip().lower().lstrip("@") for d in domains if d.strip())
        self._server_name = server_name
        self._controller: _Controller | None = None
        self._handler: _Handler | None = None

    def accepts(self, address: str) -> bool:
        """True when ``address`` is a recipient this listener takes mail for."""
        _, addr = email.utils.parseaddr(address)
        if "@" not in addr:
            return False
        return not self.domains or addr.rpartition("@")[2].lower() in self.domains

    def start(self) -> None:
        """Bind (reading back the port when it was 0) and serve in aiosmtpd's thread."""
        if self._controller is not None:
            raise RuntimeError("the inbound SMTP listener is already started")
        sock = socket.create_server((self.host, self.port))
        self.port = sock.getsockname()[1]
        handler = _Handler(self)
        controller = _Controller(
            handler,
            sock,
            # A fixed name: looking up this host's FQDN can be slow.
            server_hostname=self._server_name,
            enable_SMTPUTF8=True,
            data_size_limit=MAX_MESSAGE_BYTES,
        )
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller, self._handler = controller, handler

    def stop(self) -> None:
        """Close client connections, stop the server and its thread."""
        controller, handler = self._controller, self._handler
        if controller is None or handler is None:
            return
        closing = asyncio.run_coroutine_threadsafe(
            close_connections(handler.protocols), controller.loop
        )
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


__all__ = [
    "InboundMail",
    "InboundSmtpListener",
    "MailRefused",
    "html_to_text",
    "own_words",
    "read_mail",
]
