"""Channel adapters: e-mail (SMTP), SMS (HTTP gateway) and webhooks behind one interface.

Every adapter is a :class:`ChannelAdapter`: ``send_batch(messages)`` gives one
:class:`SendResult` per :class:`OutboundMessage` (SENT, TEMPORARY or PERMANENT) and
``close()`` releases the connection. :mod:`tactica.channels.local_peers` has real local
servers for each channel, for tests and the quickstart.
"""

from tactica.channels.base import (
    ChannelAdapter,
    OutboundMessage,
    SendOutcome,
    SendResult,
    outcome_for_http_status,
    parse_retry_after,
)
from tactica.channels.local_peers import (
    LocalSmsGateway,
    LocalSmtpSink,
    LocalWebhookReceiver,
    ReceivedMail,
    ReceivedRequest,
)
from tactica.channels.sms_http import (
    DeliveryReceipt,
    HttpSmsAdapter,
    ReceiptError,
    parse_receipts,
)
from tactica.channels.smtp import SmtpAdapter, message_id_for, outcome_for_smtp_code
from tactica.channels.webhook import WebhookAdapter, sign, verify, webhook_body

__all__ = [
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
    "sign",
    "verify",
    "webhook_body",
]
