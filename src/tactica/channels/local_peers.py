"""Real local peers for the channels: an SMTP sink, an SMS gateway, a webhook receiver.

They speak the real protocols on 127.0.0.1 (port 0 by default, the bound port is read
back), so the adapters are tested, and the quickstart demonstrated, against sockets, not
mocks. Each peer has ``host``/``port``/``url``, ``start()``/``stop()`` and works as a
context manager; ``stop()`` closes the listening socket and every open connection and
joins every thread it started.

This module gathers them in one place; each lives in its own module
(:mod:`~tactica.channels.local_smtp`, :mod:`~tactica.channels.local_sms_gateway`,
:mod:`~tactica.channels.local_webhook`), so a user of one peer does not import the
others' servers.
"""

from __future__ import annotations

from tactica.channels.local_sms_gateway import LocalSmsGateway
from tactica.channels.local_smtp import LocalSmtpSink, ReceivedMail
from tactica.channels.local_webhook import LocalWebhookReceiver, ReceivedRequest

__all__ = [
    "LocalSmsGateway",
    "LocalSmtpSink",
    "LocalWebhookReceiver",
    "ReceivedMail",
    "ReceivedRequest",
]
