"""Call-centre lists: one CSV file a day per centre, which the centre picks up and calls.

``<folder>/<centre>-<YYYY-MM-DD>.csv`` (the day in the centre's time zone) has the header
``contact_id,customer_id,phone,campaign,offer,script`` and one row per contact; the script
is the rendered call script. Files are UTF-8 CSV (RFC 4180 quoting, CRLF line ends), so
scripts with commas, quotes, line breaks or any alphabet survive the trip.

Sending is appending: each batch is written in one go, flushed and fsynced before the
results are returned. It is idempotent per contact: a contact already in the day's file
is not written again but still counts as SENT, so a worker that crashed after writing
and before recording the outcome does not give the centre a second row. Writers take an
exclusive ``flock`` on the file, so workers in several processes can share a centre, and
a row left half-written by a crash is cut off before the next batch is appended.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tactica.channels.base import (
    OutboundMessage,
    SendOutcome,
    SendResult,
    temporary_for_all,
)

CALL_LIST_COLUMNS = ("contact_id", "customer_id", "phone", "campaign", "offer", "script")

# A centre name becomes part of a file name: no separators, no leading dot.
_CENTRE = re.compile(r"^\w[\w .-]*$")
_BOM = b"\xef\xbb\xbf"  # tolerated at the start of a file someone re-saved from a spreadsheet


class CallListError(Exception):
    """A day's file is not a call list this adapter can append to (wrong header, bad CSV)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _encode_row(fields: Sequence[str]) -> bytes:
    """One CSV record, CRLF-terminated, as UTF-8 (UnicodeEncodeError for lone surrogates)."""
    buf = io.StringIO()
    csv.writer(buf).writerow(fields)
    return buf.getvalue().encode("utf-8")


_HEADER = _encode_row(CALL_LIST_COLUMNS)


def _row(msg: OutboundMessage) -> list[str]:
    meta = msg.metadata
    return [
        str(msg.contact_id),
        meta.get("customer_id", ""),
        msg.to,
        meta.get("campaign", ""),
        meta.get("offer", ""),
        msg.body,
    ]


def _complete_records(data: bytes) -> tuple[list[list[str]], int]:
    """The complete CSV records of ``data`` and the byte offset where they end.

    Every record the adapter writes ends with a line break outside quotes, so anything
    after the last such record is the remains of a write cut short by a crash. A CSV
    error before the end of the data is a damaged file: :class:`CallListError`.
    """
    start = len(_BOM) if data.startswith(_BOM) else 0
    consumed, exhausted = start, False

    def lines() -> Iterator[str]:
        # csv pulls lines one at a time, so ``consumed`` is where the last record ends.
        nonlocal consumed, exhausted
        for line in data[start:].splitlines(keepends=True):
            consumed += len(line)
            yield line.decode("utf-8", "replace")
        exhausted = True

    reader = csv.reader(lines(), strict=True)
    records: list[list[str]] = []
    end = start
    try:
        for record in reader:
            if data[consumed - 1 : consumed] not in (b"\n", b"\r"):
                break  # the last line has no line break: cut short
            records.append(record)
            end = consumed
    except csv.Error as exc:
        if not exhausted:  # not an open quote at the end: the file itself is damaged
            raise CallListError(f"line {reader.line_num}: {exc}") from exc
    return records, end


@dataclass
class _DayFile:
    """What the adapter knows of one day's file."""

    day: date
    ids: set[str] = field(default_factory=set)
    rows: int = 0
    has_header: bool = False
    size: int = 0  # bytes when last read or written; any other size means a new look


class CallCentreAdapter:
    """Exports contacts to ``centre``'s daily call list in ``folder``; ``kind`` is phone.

    A message's ``to`` is the phone number, its ``body`` the call script, and its
    metadata ``customer_id``, ``campaign`` and ``offer`` fill the columns of the same
    name. ``provider_id`` is the file's name. A file that cannot be written gives
    TEMPORARY results for the whole batch; a message without a phone number, with a
    script longer than a CSV field may be, or with text that is not valid Unicode is
    PERMANENT. ``clock`` gives the current time (a naive reading is taken as UTC);
    ``timezone`` names the centre's zone, which decides the day.
    """

    kind = "phone"

    def __init__(
        self,
        folder: Path,
        centre: str,
        *,
        clock: Callable[[], datetime] = _utcnow,
        timezone: str = "UTC",
    ) -> None:
        if not _CENTRE.match(centre):
            raise ValueError(
                f"centre: letters, digits, ' ', '_', '.' or '-', starting with a letter "
                f"or digit (it is part of a file name); got {centre!r}"
            )
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {timezone!r}") from exc
        self.folder = Path(folder)
        self.centre = centre
        self.timezone = timezone
        self._clock = clock
        self._lock = threading.Lock()
        self._known: _DayFile | None = None

    def today(self) -> date:
        """The current day in the centre's time zone."""
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(self._zone).date()

    def path_for(self, day: date) -> Path:
        """The call list file for ``day``."""
        return self.folder / f"{self.centre}-{day.isoformat()}.csv"

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Append the contacts not yet in today's file; one result per message, same order."""
        if not messages:
            return []
        day = self.today()
        path = self.path_for(day)
        with self._lock:
            try:
                return self._append(day, path, messages)
            except (OSError, CallListError) as exc:
                error = f"cannot write {path}: {type(exc).__name__}: {exc}"
                return temporary_for_all(messages, error)

    def exported_today(self) -> int:
        """Rows already in today's file (0 before the first export of the day).

        For the dispatcher to honour the centre's daily capacity. Raises OSError when
        the file exists but cannot be read, CallListError when it is not a call list.
        """
        day = self.today()
        with self._lock:
            try:
                f = self.path_for(day).open("rb")
            except FileNotFoundError:
                return 0
            with f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # not mid-way through another's write
                return self._sync(f, day, repair=False).rows

    def close(self) -> None:
        """Forget what is known of today's file; there is no connection to release."""
        with self._lock:
            self._known = None

    def __enter__(self) -> CallCentreAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------

    def _append(
        self, day: date, path: Path, messages: Sequence[OutboundMessage]
    ) -> list[SendResult]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file is closed
            known = self._sync(f, day, repair=True)
            results: list[SendResult] = []
            chunks: list[bytes] = []
            new_ids: set[str] = set()
            for msg in messages:
                cid = str(msg.contact_id)
                if cid in known.ids or cid in new_ids:
                    results.append(SendResult.sent(msg, path.name))  # already on the list
                    continue
                row, problem = _encode_message(msg)
                if problem is not None:
                    results.append(SendResult.failed(msg, SendOutcome.PERMANENT, problem))
                    continue
                chunks.append(row)
                new_ids.add(cid)
                results.append(SendResult.sent(msg, path.name))
            if not chunks:
                return results
            created = known.size == 0
            data = (b"" if known.has_header else _HEADER) + b"".join(chunks)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            if created:
                _fsync_dir(self.folder)  # so the new file's name survives a crash too
            # Only now: a failed write leaves ``known`` stale, and the next batch rereads.
            known.size += len(data)
            known.ids |= new_ids
            known.rows += len(chunks)
            known.has_header = True
            return results

    def _sync(self, f: IO[bytes], day: date, *, repair: bool) -> _DayFile:
        """What is in ``day``'s file (open and locked as ``f``), read again if it changed.

        With ``repair`` the remains of a cut-short write are truncated away, so the next
        row starts on a line of its own.
        """
        size = os.fstat(f.fileno()).st_size
        known = self._known
        if known is not None and known.day == day and known.size == size:
            return known
        f.seek(0)
        data = f.read()
        records, end = _complete_records(data)
        if records and records[0] != list(CALL_LIST_COLUMNS):
            raise CallListError(f"not a call list: header {records[0]!r}")
        if repair and end < len(data):
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
        rows = [r for r in records[1:] if r]
        # Without repair, the torn bytes stay, and ``size`` (the good part) differs from
        # the file's, so the next append reads it again and repairs it.
        known = _DayFile(day, {r[0] for r in rows}, len(rows), bool(records), end)
        self._known = known
        return known


def _encode_message(msg: OutboundMessage) -> tuple[bytes, str | None]:
    """The CSV row for ``msg``, or why it cannot go on a call list."""
    if not msg.to.strip():
        return b"", "no phone number"
    limit = csv.field_size_limit()
    if len(msg.body) > limit:
        return b"", f"call script of {len(msg.body)} characters; a CSV field holds {limit}"
    try:
        return _encode_row(_row(msg)), None
    except UnicodeEncodeError as exc:
        return b"", f"not valid Unicode text: {exc}"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_call_list(path: Path | str) -> list[dict[str, str]]:
    """The rows of a call list file, as dicts keyed by the header's column names."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


__all__ = [
    "CALL_LIST_COLUMNS",
    "CallCentreAdapter",
    "CallListError",
    "read_call_list",
]
