"""SMS through an HTTP JSON gateway with a bulk endpoint, and its delivery receipts.

Request: ``POST {url}/messages`` with ``Authorization: Bearer <api key>`` and
``{"messages": [{"to", "text", "idempotency_key", "sender"?}, ...]}``. Answer (200):
``{"results": [{"idempotency_key", "status": "accepted"|"rejected", "message_id",
"error"}]}``. The gateway honours idempotency keys, which is what makes TEMPORARY
results safe to retry even when the request did reach it.

Receipts arrive later, POSTed by the gateway: ``{"receipts": [{"idempotency_key",
"message_id", "status": "delivered"|"failed", "error"?, "at"}]}``; :func:`parse_receipts`
reads them, all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from tactica.channels.base import (
    OutboundMessage,
    SendOutcome,
    SendResult,
    outcome_for_http_status,
    parse_retry_after,
    temporary_for_all,
)


class HttpSmsAdapter:
    """Sends SMS in bulk requests of at most ``batch_size`` over one keep-alive client.

    Per message: accepted is SENT (provider id = the gateway's message id), rejected is
    PERMANENT with the gateway's reason. Per request: 4xx other than 408/429 makes every
    message in it PERMANENT (bad key, bad payload); 408/429/5xx and network errors make
    them TEMPORARY (with ``Retry-After`` when given) and the rest of the batch is not
    sent, since the gateway asked us to wait.
    """

    kind = "sms"

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        sender: str | None = None,
        batch_size: int = 100,
        timeout: float = 10.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.url = url.rstrip("/")
        self.sender = sender
        self.batch_size = batch_size
        self._endpoint = f"{self.url}/messages"
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send in requests of ``batch_size``; one result per message, same order."""
        results: list[SendResult] = []
        for start in range(0, len(messages), self.batch_size):
            chunk = messages[start : start + self.batch_size]
            chunk_results, stop = self._send_chunk(chunk)
            results.extend(chunk_results)
            if stop is not None:
                rest = messages[start + self.batch_size :]
                results.extend(temporary_for_all(rest, f"not sent: {stop.error}", stop.retry_after))
                break
        return results

    def _send_chunk(
        self, chunk: Sequence[OutboundMessage]
    ) -> tuple[list[SendResult], SendResult | None]:
        """Results for one request, and the TEMPORARY failure that should stop the batch."""
        items = []
        for m in chunk:
            item = {"to": m.to, "text": m.body, "idempotency_key": m.idempotency_key}
            if self.sender is not None:
                item["sender"] = self.sender
            items.append(item)
        try:
            resp = self._client.post(self._endpoint, json={"messages": items})
        except httpx.HTTPError as exc:
            err = f"cannot reach {self._endpoint}: {type(exc).__name__}: {exc}"
            results = temporary_for_all(chunk, err)
            return results, results[0]
        outcome = outcome_for_http_status(resp.status_code)
        if outcome is not SendOutcome.SENT:
            error = f"HTTP {resp.status_code}: {resp.text[:200]}".rstrip(": ")
            retry_after = None
            if outcome is SendOutcome.TEMPORARY:
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            results = [SendResult.failed(m, outcome, error, retry_after) for m in chunk]
            return results, results[0] if outcome is SendOutcome.TEMPORARY else None
        try:
            by_key = _results_by_key(resp.json())
        except ValueError as exc:
            # The gateway took the request but its answer is unreadable: whether the
            # messages went is unknown, and the idempotency keys make a retry safe.
            return temporary_for_all(chunk, f"unreadable gateway answer: {exc}"), None
        return [_result_for(m, by_key.get(m.idempotency_key)) for m in chunk], None

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    def __enter__(self) -> HttpSmsAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _results_by_key(doc: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ValueError("expected an object with a 'results' list")
    out: dict[str, Mapping[str, Any]] = {}
    for item in doc["results"]:
        if isinstance(item, dict) and isinstance(item.get("idempotency_key"), str):
            out[item["idempotency_key"]] = item
    return out


def _result_for(msg: OutboundMessage, item: Mapping[str, Any] | None) -> SendResult:
    if item is None:
        return SendResult.failed(msg, SendOutcome.TEMPORARY, "no result from the gateway")
    status = item.get("status")
    if status == "accepted":
        mid = item.get("message_id")
        return SendResult.sent(msg, None if mid is None else str(mid))
    if status == "rejected":
        error = item.get("error")
        return SendResult.failed(msg, SendOutcome.PERMANENT, str(error or "rejected by gateway"))
    error = f"unknown status from the gateway: {status!r}"
    return SendResult.failed(msg, SendOutcome.TEMPORARY, error)


# -- delivery receipts --------------------------------------------------------------

ReceiptStatus = Literal["delivered", "failed"]


class ReceiptError(ValueError):
    """A receipts payload that cannot be read; the message says where and what."""


@dataclass(frozen=True)
class DeliveryReceipt:
    """The gateway's final word on one message; ``at`` is an aware UTC time."""

    idempotency_key: str
    message_id: str
    status: ReceiptStatus
    error: str | None
    at: datetime


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return _show(value)


def _text(item: Mapping[str, Any], name: str, where: str, *, ids: bool = False) -> str:
    if name not in item:
        raise ReceiptError(f"{where}.{name}: missing")
    value = item[name]
    # Some gateways number their messages; an integer id is still an id.
    if ids and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ReceiptError(f"{where}.{name}: expected a non-empty string, got {_show(value)}")
    return value


def _time(item: Mapping[str, Any], where: str) -> datetime:
    if "at" not in item:
        raise ReceiptError(f"{where}.at: missing")
    value = item["at"]
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None:
        raise ReceiptError(f"{where}.at: expected an ISO 8601 time, got {_show(value)}")
    if at.tzinfo is None:  # a time without offset could be any zone's
        raise ReceiptError(f"{where}.at: expected a time with a UTC offset, got {_show(value)}")
    return at.astimezone(UTC)


def _receipt(item: Any, where: str) -> DeliveryReceipt:
    if not isinstance(item, dict):
        raise ReceiptError(f"{where}: expected an object, got {_kind(item)}")
    key = _text(item, "idempotency_key", where)
    message_id = _text(item, "message_id", where, ids=True)
    status = item.get("status")
    if status not in ("delivered", "failed"):
        got = _show(status) if "status" in item else "nothing"
        raise ReceiptError(f"{where}.status: expected 'delivered' or 'failed', got {got}")
    error = item.get("error")
    if error is not None and not isinstance(error, str):
        raise ReceiptError(f"{where}.error: expected a string or null, got {_show(error)}")
    return DeliveryReceipt(key, message_id, status, error, _time(item, where))


def parse_receipts(payload: Any) -> list[DeliveryReceipt]:
    """The receipts in a gateway's ``{"receipts": [...]}`` document (parsed JSON).

    All or nothing: the first bad item raises :class:`ReceiptError` naming it, e.g.
    ``receipts[2].status: expected 'delivered' or 'failed', got 'ok'``, and nothing is
    returned, so a caller never records half a payload it will be sent again.
    """
    if not isinstance(payload, dict):
        raise ReceiptError(f"payload: expected an object, got {_kind(payload)}")
    if "receipts" not in payload:
        raise ReceiptError("receipts: missing")
    items = payload["receipts"]
    if not isinstance(items, list):
        raise ReceiptError(f"receipts: expected a list, got {_kind(items)}")
    return [_receipt(item, f"receipts[{i}]") for i, item in enumerate(items)]
