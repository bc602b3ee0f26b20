"""Channel adapters: e-mail (SMTP), SMS (HTTP gateway), webhooks and call-centre lists.

Every adapter is a :class:`ChannelAdapter`: ``send_batch(messages)`` gives one
:class:`SendResult` per :class:`OutboundMessage` (SENT, TEMPORARY or PERMANENT) and
``close()`` releases the connection.

Real local servers for each channel, for tests and the quickstart, live in
:mod:`tactica.channels.local_smtp`, :mod:`tactica.channels.local_sms_gateway` and
:mod:`tactica.channels.local_webhook`. Their names can still be imported from here, but
only on first use, so importing the adapters does not load aiosmtpd or an HTTP server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tactica.channels.base import (
    ChannelAdapter,
    OutboundMessage,
    SendOutcome,
    SendResult,
    outcome_for_http_status,
    parse_retry_after,
)
from tactica.channels.call_centre import CallCentreAdapter, read_call_list
from tactica.channels.sms_http import (
    DeliveryReceipt,
    HttpSmsAdapter,
    ReceiptError,
    parse_receipts,
)
from tactica.channels.smtp import SmtpAdapter, message_id_for, outcome_for_smtp_code
from tactica.channels.webhook import WebhookAdapter, sign, verify, webhook_body

if TYPE_CHECKING:
    from tactica.channels.local_sms_gateway import LocalSmsGateway
    from tactica.channels.local_smtp import LocalSmtpSink, ReceivedMail
    from tactica.channels.local_webhook import LocalWebhookReceiver, ReceivedRequest

# The local peers' names and the module each comes from, imported on first access.
_LAZY = {
    "LocalSmsGateway": "tactica.channels.local_sms_gateway",
    "LocalSmtpSink": "tactica.channels.local_smtp",
    "ReceivedMail": "tactica.channels.local_smtp",
    "LocalWebhookReceiver": "tactica.channels.local_webhook",
    "ReceivedRequest": "tactica.channels.local_webhook",
}


def __getattr__(name: str) -> Any:
    """Import a local peer's class when it is first asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come back here
    return value


__all__ = [
    "CallCentreAdapter",
    "ChannelAdapter",
    "DeliveryReceipt",
    "HttpSmsAdapter",
    "LocalSmsGateway",
    "LocalSmtpSink",
    "LocalWebhookReceiver",
    "OutboundMessage",
    "ReceiptError",
    "ReceivedMail",
    "ReceivedRequest",
    "SendOutcome",
    "SendResult",
    "SmtpAdapter",
    "WebhookAdapter",
    "message_id_for",
    "outcome_for_http_status",
    "outcome_for_smtp_code",
    "parse_receipts",
    "parse_retry_after",
    "read_call_list",
    "sign",
    "verify",
    "webhook_body",
]
