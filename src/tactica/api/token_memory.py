"""Tokens an API process has checked lately, remembered for a few seconds.

Every request proves its caller with a bearer token, and checking one is a read of
the store on a worker thread. A machine sending an event at a time sends the same
token hundreds of times a second; remembering who a token stands for for a few
seconds takes that read, and the thread hop, off almost every request.

What it costs: a token revoked, or a user deactivated or given another role, from
another process (the command line, another server worker) still works in this
process for at most ``seconds`` (5 by default). Changes made through this process's
own API are seen at once (the route forgets what was remembered). An expired token
is never honoured: its expiry is remembered with it. Refusals are not remembered, so
a guessed token always costs a read.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime

from tactica.services.users import Principal

TOKEN_MEMORY_SECONDS = 5.0
_MAX_TOKENS = 10_000


class TokenMemory:
    """Who each recently checked token stands for, for ``seconds`` after the check."""

    def __init__(self, seconds: float = TOKEN_MEMORY_SECONDS) -> None:
        self.seconds = seconds
        self._known: dict[str, tuple[Principal, float, float | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        # The digest, not the secret, is what stays in memory.
        return hashlib.sha256(token.encode()).hexdigest()

    def recall(self, token: str) -> Principal | None:
        """The caller ``token`` was found to be, if checked less than ``seconds`` ago and
        not expired since; None otherwise (check it again)."""
        if self.seconds <= 0:
            return None
        key = self._key(token)
        with self._lock:
            known = self._known.get(key)
            if known is None:
                return None
            principal, until, expires = known
            if time.monotonic() >= until or (expires is not None and time.time() >= expires):
                del self._known[key]
                return None
        return principal

    def remember(self, token: str, principal: Principal, expires_at: datetime | None) -> None:
        """Note that ``token`` was just found to stand for ``principal``."""
        if self.seconds <= 0:
            return
        expires = expires_at.timestamp() if expires_at is not None else None
        with self._lock:
            if len(self._known) >= _MAX_TOKENS:
                self._known.clear()  # many callers: start again rather than grow
            self._known[self._key(token)] = (principal, time.monotonic() + self.seconds, expires)

    def forget(self) -> None:
        """Forget every token (a user or token changed through this process)."""
        with self._lock:
            self._known.clear()
