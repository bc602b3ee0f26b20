"""The real ``tactica`` command in a child process, and SIGKILL at a named failpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def tactica_env(db_url: str, home: Path, failpoint: str | None = None) -> dict[str, str]:
    """The environment of a child on ``db_url``, stopping at ``failpoint`` if given."""
    env = dict(os.environ)
    env.update({"TACTICA_HOME": str(home), "TACTICA_DATABASE_URL": db_url, "COLUMNS": "200"})
    env.pop("TACTICA_FAILPOINTS", None)
    # A metrics folder is a server's own: never one the test process was handed.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if failpoint:
        env["TACTICA_FAILPOINTS"] = failpoint
    return env


def start_tactica(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``tactica ARGS`` with its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "tactica", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at(proc: subprocess.Popen[str], point: str, timeout: float = 120.0) -> None:
    """Wait until the child reports the failpoint, then SIGKILL it."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if f"failpoint {point} reached" in line:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            return
    proc.kill()
    raise AssertionError(f"never reached {point}: {''.join(seen)}")
