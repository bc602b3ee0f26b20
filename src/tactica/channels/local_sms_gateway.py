"""A local SMS gateway speaking the bulk JSON API :class:`HttpSmsAdapter` uses, with receipts."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx

from tactica.channels._http_server import HttpPeer, RequestHandler, bearer_token, now_iso
from tactica.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


class LocalSmsGateway(HttpPeer):
    """An SMS gateway implementing the bulk JSON API :class:`HttpSmsAdapter` speaks.

    It checks the Bearer key (401 otherwise), honours idempotency keys (a key seen
    before gets its first answer again and creates no message), records accepted
    messages in :attr:`messages`, and can be told to fail requests (:meth:`fail_next`)
    or reject numbers (:meth:`reject_prefix`). Numbers matching ``undeliverable_prefixes``
    are accepted but their delivery fails. With ``receipts_url`` it POSTs delivery
    receipts there every ``receipts_interval`` seconds from a background thread, signed
    like webhooks when ``receipts_secret`` is given. With ``replies_url``, :meth:`reply`
    plays a handset answering: the gateway POSTs the reply there, signed the same way.
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
        replies_url: str | None = None,
        replies_secret: bytes | str | None = None,
    ) -> None:
        super().__init__(host, port)
        self.replies_url = replies_url
        self._replies_secret = replies_secret
        self._reply_ids = itertools.count(1)
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

    def handle(self, request: RequestHandler, body: bytes) -> None:
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
        if bearer_token(request) != self.api_key:
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
                        "at": now_iso(),
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

    # -- replies ------------------------------------------------------------------

    def reply(self, sender: str, text: str, *, message_id: str | None = None) -> httpx.Response:
        """A handset at ``sender`` answers ``text``: POST it to ``replies_url`` now."""
        return self.replies([(sender, text, message_id)])

    def replies(self, items: Iterable[tuple[str, str, str | None]]) -> httpx.Response:
        """Several handsets answer at once: one signed POST of ``(sender, text, id)``."""
        if self.replies_url is None:
            raise RuntimeError("this gateway has no replies_url")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batch = [
            {
                "id": mid or f"mo-{self.port}-{next(self._reply_ids)}",
                "from": sender,
                "text": text,
                "received_at": now,
            }
            for sender, text, mid in items
        ]
        body = json.dumps({"replies": batch}, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._replies_secret is not None:
            ts = int(time.time())
            headers[TIMESTAMP_HEADER] = str(ts)
            headers[SIGNATURE_HEADER] = sign(self._replies_secret, ts, body)
        return httpx.post(self.replies_url, content=body, headers=headers, timeout=10.0)

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


__all__ = ["LocalSmsGateway"]
