"""The channels package: adapters import without the local peers' servers; old names work."""

from __future__ import annotations

import subprocess
import sys

import tactica.channels
from tactica.channels import local_peers, local_sms_gateway, local_smtp, local_webhook


def test_importing_the_adapters_loads_no_local_server() -> None:
    code = (
        "import sys, tactica.channels\n"
        "loaded = sorted(m for m in sys.modules if m.startswith("
        "('aiosmtpd', 'http.server', 'tactica.channels.local')))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_peers_are_the_same_objects_from_every_module() -> None:
    assert tactica.channels.LocalSmtpSink is local_peers.LocalSmtpSink is local_smtp.LocalSmtpSink
    assert tactica.channels.ReceivedMail is local_smtp.ReceivedMail
    assert (
        tactica.channels.LocalSmsGateway
        is local_peers.LocalSmsGateway
        is local_sms_gateway.LocalSmsGateway
    )
    assert (
        tactica.channels.LocalWebhookReceiver
        is local_peers.LocalWebhookReceiver
        is local_webhook.LocalWebhookReceiver
    )
    assert tactica.channels.ReceivedRequest is local_webhook.ReceivedRequest
    assert set(local_peers.__all__) <= set(tactica.channels.__all__)
    assert all(hasattr(tactica.channels, name) for name in tactica.channels.__all__)
