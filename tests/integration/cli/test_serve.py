"""`tactica serve` starts a real HTTP server that answers with the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tactica.services import users
from tactica.store.db import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_over_http(tmp_path: Path, workers: int) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "TACTICA_HOME": str(home), "TACTICA_SECRET_KEY": "x"}
    env.pop("TACTICA_DATABASE_URL", None)
    store = Store(f"sqlite:///{home / 'tactica.db'}")
    store.upgrade()
    with store.session() as s:
        users.create_user(s, "ops", "long-enough-pw", "admin", actor="test")
        s.commit()
    store.dispose()
    port = _free_port()
    proc = subprocess.Popen(
        [
            *[sys.executable, "-m", "tactica", "serve", "--host", "127.0.0.1"],
            *["--port", str(port), "--workers", str(workers)],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                spec = httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.2)
        assert spec.json()["info"]["title"] == "Tactica"
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        assert httpx.get(f"{base}/segments", timeout=5).status_code == 401
        tok = httpx.post(
            f"{base}/auth/token", json={"username": "ops", "password": "long-enough-pw"}, timeout=5
        ).json()["token"]
        r = httpx.get(f"{base}/lists", headers={"Authorization": f"Bearer {tok}"}, timeout=5)
        assert r.status_code == 200
        assert {row["name"] for row in r.json()} >= {"opt_out", "vip"}
        if workers > 1:
            # The API is answered by worker processes of their own, each with its app.
            workers_seen = [c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)]
            assert len(workers_seen) == workers
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
