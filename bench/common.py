"""What the benchmarks share: free ports, the machine's busy time, percentiles, and a
PostgreSQL schema of their own to build in and drop."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import sqlalchemy as sa


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    """The ``p`` quantile (0..1) of ``xs``, nearest rank; NaN when empty."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def schema_of(url: str) -> tuple[str, str]:
    """The schema in the URL's ``search_path`` option, and the URL without options."""
    parsed = sa.engine.make_url(url)
    options = unquote(str(parsed.query.get("options", "")))
    found = re.search(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)", options)
    if found is None:
        raise SystemExit("--db-url needs options=-csearch_path%3D<schema> (a schema to recreate)")
    admin = parsed.difference_update_query(["options"])
    return found.group(1), admin.render_as_string(hide_password=False)


def recreate_schema(url: str, *, drop_only: bool = False) -> None:
    """Drop the URL's schema (and everything in it) and, unless ``drop_only``, create it."""
    schema, admin_url = schema_of(url)
    admin = sa.create_engine(admin_url)
    with admin.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if not drop_only:
            c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    admin.dispose()


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 60
) -> None:
    """Wait until ``url`` answers 200; stop loudly if the process exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: see {log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer within a minute")


def process_tree(pid: int) -> list[int]:
    """The process and its children (uvicorn's workers, say)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user and system) used so far by the processes ``pids``."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
