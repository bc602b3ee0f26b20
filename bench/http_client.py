"""A lean HTTP/1.1 keep-alive client for load generators, on asyncio streams.

A load generator shares the machine with the server it measures. httpx spends about
a millisecond of CPU on each request (building it, its headers and the response
objects): at 500 requests a second that is half a core of a two-core machine taken
from the server. This client sends prebuilt request bytes on one keep-alive
connection and reads each answer by its ``Content-Length`` — what a load generator
such as wrk does, enough for a JSON API that answers with a length.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


class KeepAliveConnection:
    """One keep-alive connection to ``base`` (``http://host:port``), one request at a time."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = 10.0) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        lines = [f"Host: {self.host}:{self.port}", *(f"{k}: {v}" for k, v in headers.items())]
        self._headers = "".join(f"{line}\r\n" for line in lines).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request; its status and body. A failure closes the connection (the
        next request opens another) and raises :class:`HttpError`."""
        try:
            return await asyncio.wait_for(self._request(method, path, body), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            await self.close()
            raise HttpError(f"{type(e).__name__}: {e}") from e

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = f"{method} {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode()
        writer.write(head + self._headers + b"\r\n" + body)
        head_bytes = await reader.readuntil(b"\r\n\r\n")
        status_line, _, rest = head_bytes.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, close = None, False
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise ValueError("an answer without Content-Length")
        answer = await reader.readexactly(length)
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        """Close the connection (if open)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
