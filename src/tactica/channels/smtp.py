"""E-mail over SMTP: one persistent connection, one SMTP transaction per message.

Reply classes decide the outcome: 2xx sent, 4xx try again later, 5xx never (a 550 at
RCPT is a bounce). A connection that cannot be opened gives TEMPORARY results for the
rest of the batch. A connection that drops before DATA is reopened and the message sent
once more (the server had not accepted anything yet); one that drops during DATA gives a
TEMPORARY result instead, because the server may have queued the message and only the
idempotency key and Message-ID (both derived from the key, so they are the same on the
retry) let a receiver notice the repeat.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from tactica.channels.base import OutboundMessage, SendOutcome, SendResult

IDEMPOTENCY_HEADER = "X-Tactica-Idempotency-Key"

# Headers the adapter sets itself; a message may not override them (the envelope and
# the de-duplication guarantees depend on them).
_OWN_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", IDEMPOTENCY_HEADER.lower()}
)

# 7-bit transfer encodings for non-ASCII bodies (quoted-printable or base64, whichever is
# shorter): every relay takes them, with or without 8BITMIME.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")


class _Dropped(Exception):
    """The connection went away while sending one message."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(f"connection lost at {stage}: {detail}")
        # Before DATA nothing was accepted, so sending again cannot duplicate.
        self.before_data = stage != "DATA"


def outcome_for_smtp_code(code: int) -> SendOutcome:
    """SENT for 2xx/3xx, PERMANENT for 5xx, TEMPORARY for 4xx and anything else."""
    if 200 <= code < 400:
        return SendOutcome.SENT
    if 500 <= code < 600:
        return SendOutcome.PERMANENT
    return SendOutcome.TEMPORARY


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID for a key: the same key always gives the same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<tactica.{digest}@{domain}>"


def _reply_text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp


def _sender_domain(sender: str) -> str:
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii") if domain else "tactica.invalid"
    except UnicodeError:
        return "tactica.invalid"


class SmtpAdapter:
    """Sends :class:`OutboundMessage` batches as e-mail through one SMTP server.

    ``sender`` is the envelope and header From. ``starttls`` upgrades the connection
    (verified with ``ssl_context``, by default the system trust store) before an optional
    login with ``username``/``password``. ``helo_name`` is the EHLO name (default: this
    host's FQDN, as smtplib finds it).
    """

    kind = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        helo_name: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._helo_name = helo_name
        self._domain = _sender_domain(sender)
        self._conn: smtplib.SMTP | None = None

    # -- connection ---------------------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        # Host given to the constructor (it connects at once): STARTTLS checks the
        # certificate against that name. A failed greeting closes the socket itself.
        conn = smtplib.SMTP(
            self.host, self.port, timeout=self._timeout, local_hostname=self._helo_name
        )
        try:
            conn.ehlo_or_helo_if_needed()
            if self._starttls:
                conn.starttls(context=self._ssl_context or ssl.create_default_context())
                conn.ehlo()
            if self._username is not None:
                conn.login(self._username, self._password or "")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Say QUIT and close the connection (if one is open)."""
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass  # already gone: nothing left to release but the socket
            finally:
                self._drop()

    def __enter__(self) -> SmtpAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send each message in its own SMTP transaction; one result per message."""
        results: list[SendResult] = []
        for i, msg in enumerate(messages):
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                except smtplib.SMTPAuthenticationError as exc:
                    # A refused login is an answer, not a lost connection: 535 (bad
                    # credentials) will not get better by retrying, 454 may.
                    outcome = outcome_for_smtp_code(exc.smtp_code)
                    err = f"login refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
                    results.extend(SendResult.failed(m, outcome, err) for m in messages[i:])
                    return results
                except (OSError, smtplib.SMTPException) as exc:
                    err = f"cannot connect to {self.host}:{self.port}: {_describe(exc)}"
                    tmp = SendOutcome.TEMPORARY
                    results.extend(SendResult.failed(m, tmp, err) for m in messages[i:])
                    return results
                try:
                    result = self._send_one(conn, msg)
                except _Dropped as dropped:
                    self._drop()
                    if dropped.before_data and attempt == 1:
                        continue  # a stale connection: reopen and send again
                    result = SendResult.failed(msg, SendOutcome.TEMPORARY, str(dropped))
                results.append(result)
                break
        return results

    def _send_one(self, conn: smtplib.SMTP, msg: OutboundMessage) -> SendResult:
        try:
            em = self._build(msg)
        except (ValueError, TypeError) as exc:  # header injection, bad header names...
            return SendResult.failed(msg, SendOutcome.PERMANENT, f"cannot build e-mail: {exc}")
        international = not (self.sender.isascii() and msg.to.isascii())
        options: list[str] = []
        if international:
            if not conn.has_extn("smtputf8"):
                err = "non-ASCII address but the server does not offer SMTPUTF8"
                return SendResult.failed(msg, SendOutcome.PERMANENT, err)
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        data = em.as_bytes(policy=_POLICY.clone(utf8=True) if international else _POLICY)
        stage = "MAIL FROM"
        code: int
        resp: bytes | str
        try:
            code, resp = conn.mail(self.sender, options)
            if code == 250:
                stage = "RCPT TO"
                code, resp = conn.rcpt(msg.to)
            if code in (250, 251):
                stage = "DATA"
                code, resp = conn.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            code, resp = exc.smtp_code, exc.smtp_error
        except smtplib.SMTPServerDisconnected as exc:
            raise _Dropped(stage, str(exc)) from exc
        except OSError as exc:
            raise _Dropped(stage, _describe(exc)) from exc
        except smtplib.SMTPException as exc:  # state unknown: start over next time
            self._drop()
            return SendResult.failed(msg, SendOutcome.TEMPORARY, f"{stage}: {_describe(exc)}")
        if code == 250:
            return SendResult.sent(msg, str(em["Message-ID"]))
        self._after_refusal(conn, code)
        error = f"{code} {_reply_text(resp)} (at {stage})"
        return SendResult.failed(msg, outcome_for_smtp_code(code), error)

    def _after_refusal(self, conn: smtplib.SMTP, code: int) -> None:
        # 421 means the server is closing the channel; otherwise clear the transaction
        # so the next message starts clean on the same connection.
        if code == 421:
            self._drop()
            return
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _build(self, msg: OutboundMessage) -> EmailMessage:
        em = EmailMessage(policy=_POLICY)
        em["From"] = self.sender
        em["To"] = msg.to
        if msg.subject is not None:
            em["Subject"] = msg.subject
        em["Date"] = email.utils.formatdate(usegmt=True)
        em["Message-ID"] = message_id_for(msg.idempotency_key, self._domain)
        em[IDEMPOTENCY_HEADER] = msg.idempotency_key
        for name, value in msg.headers.items():
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"header {name!r} is set by the adapter")
            em[name] = value
        em.set_content(msg.body, charset="utf-8")
        return em


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
