"""`tactica serve` starts a real HTTP server that answers with the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tactica.services import users
from tactica.store.db import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_over_http(tmp_path: Path) -> None:
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
        [sys.executable, "-m", "tactica", "serve", "--host", "127.0.0.1", "--port", str(port)],
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
    finally:
        proc.terminate()
        proc.wait(timeout=10)
