"""The one interface every channel adapter implements, and what goes in and out of it.

The dispatch worker hands an adapter a batch of :class:`OutboundMessage` and gets back
one :class:`SendResult` per message, in the same order. Adapters never raise for a
message that could not be sent: the outcome says whether to retry it later
(``TEMPORARY``) or never (``PERMANENT``). Each message carries an idempotency key that
the adapter passes on to the peer, so a retry after an unclear failure does not give
the customer a second message at a peer that honours the key.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

_EMPTY: Mapping[str, str] = MappingProxyType({})


class SendOutcome(StrEnum):
    """What became of one message: sent, try again later, or never try again."""

    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one contact, ready for a channel adapter.

    ``to`` is whatever the channel addresses (e-mail address, MSISDN, URL target);
    ``headers`` are channel headers (``List-Unsubscribe`` for e-mail); ``metadata``
    travels with the message for the peer's and our own bookkeeping (campaign, offer,
    customer id...).
    """

    contact_id: int
    idempotency_key: str
    channel: str
    to: str
    subject: str | None
    body: str
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class SendResult:
    """The outcome of one message; ``retry_after`` (seconds) comes from the peer."""

    contact_id: int
    outcome: SendOutcome
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, msg: OutboundMessage, provider_id: str | None) -> SendResult:
        """A SENT result for ``msg``."""
        return cls(msg.contact_id, SendOutcome.SENT, provider_id=provider_id)

    @classmethod
    def failed(
        cls,
        msg: OutboundMessage,
        outcome: SendOutcome,
        error: str,
        retry_after: float | None = None,
    ) -> SendResult:
        """A TEMPORARY or PERMANENT result for ``msg`` with the reason."""
        return cls(msg.contact_id, outcome, error=error, retry_after=retry_after)


class ChannelAdapter(Protocol):
    """What the dispatch worker needs from a channel: send batches, then close.

    Adapters are synchronous and keep their connection between batches.
    ``send_batch`` returns one result per message in the same order and does not raise
    for per-message failures; a peer that cannot be reached gives TEMPORARY results for
    the whole batch.
    """

    kind: str

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send ``messages``; one result per message, same order."""
        ...

    def close(self) -> None:
        """Release the connection; the adapter is not used afterwards."""
        ...


def outcome_for_http_status(status: int) -> SendOutcome:
    """SENT for 2xx; PERMANENT for 4xx but 408/429; TEMPORARY for the rest.

    408 (request timeout) and 429 (too many requests) say "not now", not "never";
    5xx is the peer's trouble, so the message may go through later. 1xx/3xx should
    not reach us (redirects are not followed: a moved endpoint is a configuration
    problem) and count as TEMPORARY so nothing is lost.
    """
    if 200 <= status < 300:
        return SendOutcome.SENT
    if 400 <= status < 500 and status not in (408, 429):
        return SendOutcome.PERMANENT
    return SendOutcome.TEMPORARY


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    None when the header is absent or unreadable; never negative.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a naive parse means "-0000"
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def temporary_for_all(
    messages: Sequence[OutboundMessage], error: str, retry_after: float | None = None
) -> list[SendResult]:
    """TEMPORARY results for every message (the peer could not be reached)."""
    return [SendResult.failed(m, SendOutcome.TEMPORARY, error, retry_after) for m in messages]
