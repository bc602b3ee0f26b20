"""A local webhook receiver that records signed POSTs and checks their signatures."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tactica.channels._http_server import HttpPeer, RequestHandler
from tactica.channels.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


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


class LocalWebhookReceiver(HttpPeer):
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

    def handle(self, request: RequestHandler, body: bytes) -> None:
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


__all__ = ["LocalWebhookReceiver", "ReceivedRequest"]
