"""Webhooks: one signed JSON POST per message to the customer's own endpoint.

The signature is ``sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}">`` keyed with a
shared secret, sent with the timestamp so a receiver can reject replays of old requests
(:func:`verify` does both checks; Tactica's own inbound webhooks use it too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence

import httpx

from tactica.channels.base import (
    OutboundMessage,
    SendOutcome,
    SendResult,
    outcome_for_http_status,
    parse_retry_after,
    temporary_for_all,
)

IDEMPOTENCY_HEADER = "X-Tactica-Idempotency-Key"
TIMESTAMP_HEADER = "X-Tactica-Timestamp"
SIGNATURE_HEADER = "X-Tactica-Signature"


def _key(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: bytes | str, timestamp: int, body: bytes) -> str:
    """The ``X-Tactica-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(_key(secret), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes | str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """True when ``signature`` signs ``body`` at ``timestamp`` and that is recent enough.

    ``timestamp`` may be the raw header text. A timestamp more than ``tolerance``
    seconds away from ``now`` (either way) is refused, so a captured request cannot be
    replayed later. The comparison takes the same time whatever the signature.
    """
    if isinstance(timestamp, str):
        if not (timestamp.isascii() and timestamp.isdigit()):
            return False
        timestamp = int(timestamp)
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def webhook_body(msg: OutboundMessage) -> bytes:
    """The JSON document POSTed for ``msg`` (compact UTF-8; these bytes are signed)."""
    doc = {
        "contact_id": msg.contact_id,
        "idempotency_key": msg.idempotency_key,
        "channel": msg.channel,
        "to": msg.to,
        "subject": msg.subject,
        "body": msg.body,
        "metadata": dict(msg.metadata),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookAdapter:
    """POSTs each message, signed with ``secret``, to ``url``; one keep-alive client.

    2xx is SENT, 4xx other than 408/429 PERMANENT, anything else TEMPORARY. When the
    endpoint cannot be reached or asks to wait, the rest of the batch is not tried
    (TEMPORARY too): hammering a struggling endpoint only makes it worse.
    """

    kind = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes | str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._secret = _key(secret)
        self._clock = clock
        # Redirects are not followed: the signature names no URL, and a moved endpoint
        # is a configuration change someone should look at.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """POST each message in turn; one result per message, same order."""
        results: list[SendResult] = []
        for i, msg in enumerate(messages):
            body = webhook_body(msg)
            ts = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: msg.idempotency_key,
                TIMESTAMP_HEADER: str(ts),
                SIGNATURE_HEADER: sign(self._secret, ts, body),
            }
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                err = f"cannot reach {self.url}: {type(exc).__name__}: {exc}"
                results.extend(temporary_for_all(messages[i:], err))
                return results
            outcome = outcome_for_http_status(resp.status_code)
            if outcome is SendOutcome.SENT:
                results.append(SendResult.sent(msg, _provider_id(resp)))
                continue
            error = f"HTTP {resp.status_code}: {resp.text[:200]}".rstrip(": ")
            if outcome is SendOutcome.PERMANENT:
                results.append(SendResult.failed(msg, outcome, error))
                continue
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            results.append(SendResult.failed(msg, outcome, error, retry_after))
            rest = messages[i + 1 :]
            results.extend(temporary_for_all(rest, f"not tried: {error}", retry_after))
            return results
        return results

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    def __enter__(self) -> WebhookAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _provider_id(resp: httpx.Response) -> str | None:
    """The receiver's id for the message when it answers JSON with ``id``; else None."""
    if "json" not in resp.headers.get("Content-Type", ""):
        return None
    try:
        doc = resp.json()
    except ValueError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None
