"""Reading large SQLite results into Arrow in child processes, through ADBC.

Python's ``sqlite3`` hands back one Python object per value, which costs about half a
microsecond each: reading the millions of rows a run needs (customers, contact
history) that way takes longer than deciding. ADBC's SQLite driver fills Arrow
columns directly, in C, two to three times faster, and several children read at once
(a run reads its customers and its contact history side by side).

ADBC bundles its own SQLite library, which must never open the database inside a
process where Python's ``sqlite3`` may have it open (see :mod:`tactica.store.arrow`):
POSIX locks belong to the process, so one library closing its file would drop the
other's locks. Each child therefore opens the database read-only, in its own process,
runs its queries one after the other, and writes each result as an Arrow IPC file into
a folder the parent created and removes afterwards. A child dies with its parent
(Linux's parent-death signal, and a watchdog thread elsewhere), and the parent kills
its children when it stops waiting for them.

ADBC types a column from the first rows it reads, and a column whose first rows are
all NULL would come out as integers. Each query is therefore read behind one sentinel
row carrying the expected type of every column (``'' ``, ``0``, ``0.0``), which the
child checks and drops.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa

#: Arrow type per column kind (the same kinds as :data:`tactica.store.arrow.ARROW_TYPES`).
_TYPES = {"int": pa.int64(), "float": pa.float64(), "text": pa.string()}
#: The sentinel value that makes ADBC type a column as its kind says.
_SENTINELS = {"int": "0", "float": "0.0", "text": "''"}
_SENTINEL_VALUES: dict[str, object] = {"int": 0, "float": 0.0, "text": ""}
#: Rows per Arrow batch the driver produces.
_BATCH_ROWS = 65_536
#: How long the child waits for a lock held by a writer, as the store's connections do.
_BUSY_TIMEOUT_MS = 10_000


class ChildReadError(RuntimeError):
    """A child process could not read the store; the message says which query and why."""


@dataclass(frozen=True)
class ArrowQuery:
    """One query to read: its SQL (SQLite dialect) and the kind of each selected column."""

    sql: str
    kinds: Mapping[str, str]


# --------------------------------------------------------------------------- parent side


def read_in_children(
    database: str | os.PathLike[str],
    groups: Sequence[Sequence[ArrowQuery]],
    *,
    timeout: float | None = None,
) -> list[list[pa.Table]]:
    """Run each group of queries in its own child process, all groups at once.

    Returns the tables in the shape of ``groups``. Every column has the Arrow type its
    kind names (``int``: int64, ``float``: float64, ``text``: string), also when all its
    values are NULL. Raises :class:`ChildReadError` with the child's message when a
    query fails (after stopping the other children), or when ``timeout`` seconds pass.
    """
    database = os.fspath(database)
    for group in groups:
        for q in group:
            unknown = {k for k in q.kinds.values() if k not in _TYPES}
            if unknown:
                raise ValueError(f"unknown column kinds {sorted(unknown)} in {q.sql!r}")
    with tempfile.TemporaryDirectory(prefix="tactica-read-") as tmp:
        folder = Path(tmp)
        children: list[tuple[subprocess.Popen[bytes], list[Path], Any]] = []
        try:
            for g, group in enumerate(groups):
                outs = [folder / f"{g}-{i}.arrow" for i in range(len(group))]
                request = {
                    "database": database,
                    "parent": os.getpid(),
                    "queries": [
                        {"sql": q.sql, "kinds": dict(q.kinds), "out": str(out)}
                        for q, out in zip(group, outs, strict=True)
                    ],
                }
                errors = (folder / f"{g}.err").open("w+b")
                try:
                    # Only the standard streams are inherited: the child never holds
                    # this process's database files (close_fds).
                    child = subprocess.Popen(
                        [sys.executable, "-m", __name__],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=errors,
                        close_fds=True,
                    )
                except BaseException:
                    errors.close()
                    raise
                children.append((child, outs, errors))
                assert child.stdin is not None
                # A child that ended already breaks the pipe: its exit code and message
                # say why, below.
                with contextlib.suppress(BrokenPipeError):
                    child.stdin.write(json.dumps(request).encode())
                with contextlib.suppress(BrokenPipeError):
                    child.stdin.close()
            deadline = None if timeout is None else time.monotonic() + timeout
            for child, _, errors in children:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    code = child.wait(left)
                except subprocess.TimeoutExpired:
                    raise ChildReadError(
                        f"reading the store took more than {timeout:g} s; stopped"
                    ) from None
                if code != 0:
                    errors.seek(0)
                    message = errors.read().decode(errors="replace").strip()
                    if not message:
                        message = (
                            f"the reading process was killed by signal {-code}"
                            if code < 0
                            else f"the reading process ended with code {code} and no message"
                        )
                    raise ChildReadError(message)
            # Read into memory (not mapped): the files go with the folder.
            return [[_read_ipc(out) for out in outs] for _, outs, _ in children]
        finally:
            for child, _, errors in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                errors.close()


def _read_ipc(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as f:
        return pa.ipc.open_file(f).read_all()


# --------------------------------------------------------------------------- child side


def _die_with_parent(parent: int) -> None:
    """Make sure this process does not outlive ``parent`` (which may already be gone)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.2)

    if os.getppid() != parent:
        os._exit(3)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _uri(path: str) -> str:
    """A read-only SQLite URI for ``path`` (ADBC opens URIs)."""
    return "file:" + quote(os.path.abspath(path)) + "?mode=ro"


def _read_one(conn: Any, sql: str, kinds: Mapping[str, str], out: str) -> None:
    cur = conn.cursor()
    try:
        # The selected names, in order, to put the sentinel row in front of them.
        cur.execute(f"SELECT * FROM ({sql}) LIMIT 0")
        names = [d[0] for d in cur.description]
        missing = [n for n in names if n not in kinds]
        if missing:
            raise ValueError(f"no kind given for the columns {missing}")
        schema = pa.schema([(n, _TYPES[kinds[n]]) for n in names])
        sentinel = ", ".join(f"{_SENTINELS[kinds[n]]} AS {_quote_name(n)}" for n in names)
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
        cur.execute(f"SELECT {sentinel} UNION ALL SELECT * FROM ({sql})")
        reader = cur.fetch_record_batch()
        with pa.OSFile(out, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            expected = [_SENTINEL_VALUES[kinds[n]] for n in names]
            first = True
            for batch in reader:
                if first and batch.num_rows:
                    # SQLite returns a UNION ALL's parts in order: the sentinel is row 0.
                    if [c[0].as_py() for c in batch.columns] != expected:
                        raise RuntimeError("the sentinel row did not come first")
                    batch = batch.slice(1)
                    first = False
                writer.write_batch(
                    pa.RecordBatch.from_arrays(
                        [c.cast(f.type) for c, f in zip(batch.columns, schema, strict=True)],
                        schema=schema,
                    )
                )
            if first:
                raise RuntimeError("the sentinel row is missing")
    finally:
        cur.close()


def _child_main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _die_with_parent(int(request["parent"]))
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    database = request["database"]
    if not os.path.exists(database):
        print(f"no SQLite database at {database}", file=sys.stderr)
        return 1
    conn = adbc_sqlite.connect(_uri(database))
    try:
        cur = conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cur.close()
        for q in request["queries"]:
            try:
                _read_one(conn, q["sql"], q["kinds"], q["out"])
            except Exception as exc:
                print(
                    f"reading the store failed: {exc.__class__.__name__}: {exc}\nquery: {q['sql']}",
                    file=sys.stderr,
                )
                return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
