"""`tactica responses listen` and `tactica serve` with TACTICA_INBOUND_SMTP_PORT, for real.

Each runs as the real command in a child process; a reply is sent to it over SMTP and
must be in the database when the SMTP transaction ends.
"""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tactica.channels.local_peers import LocalSmtpSink
from tactica.store.db import Store
from tests.child_process import start_tactica, tactica_env
from tests.integration.intake.conftest import SECRET, contact_to, responses, send_emails
from tests.integration.intake.test_email_replies import delivered_to, reply_to


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the command ended ({proc.returncode}): {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C the command; its exit code and what it wrote to stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return int(proc.returncode), err


@pytest.mark.parametrize("command", ["listen", "serve"])
def test_a_reply_sent_to_the_command_is_stored_and_attributed(
    command: str, store: Store, smtp: LocalSmtpSink, db_url: str, tmp_path: Path
) -> None:
    send_emails(store, smtp, reply_to="replies@bank.example")
    env = tactica_env(db_url, tmp_path / "home")
    env["TACTICA_SECRET_KEY"] = SECRET
    port = _free_port()
    http_port = None
    if command == "listen":
        args = ["responses", "listen", "--port", str(port), "--domain", "bank.example"]
    else:
        env["TACTICA_INBOUND_SMTP_PORT"] = str(port)
        http_port = _free_port()
        args = ["serve", "--port", str(http_port), "--no-dispatch", "--no-sla"]
    proc = start_tactica(args, env)
    try:
        _wait_for(port, proc)
        if http_port is not None:
            _wait_for(http_port, proc)  # started, as a user sees it before Ctrl-C
        with smtplib.SMTP("127.0.0.1", port) as c:
            c.send_message(reply_to(delivered_to(smtp, "c04@example.com"), "Yes please"))
        (r,) = responses(store)
    finally:
        code, err = _stop(proc)
    assert (r.contact_id, r.attributed_by, r.result) == (
        contact_to(store, "c04").id,
        "token",
        "order",
    )
    assert code == 0, err
