"""Delivery receipts: a gateway tells which messages reached the handset, and which did not.

``POST /receipts/{channel}`` with the gateway's JSON, signed like our own
webhooks (``X-Tactica-Timestamp`` and ``X-Tactica-Signature``: HMAC-SHA256 of
``"{timestamp}.{body}"`` with the channel's ``receipts_token``). A bad or missing
signature gets 401 and changes nothing; a malformed payload gets 400 naming the bad
item and changes nothing; a receipt for a contact we do not know is logged and
ignored.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from tactica.api.deps import StoreDep
from tactica.channels.sms_http import ReceiptError, parse_receipts
from tactica.channels.webhook import verify
from tactica.errors import AuthenticationFailed, MalformedRequest, NotFound
from tactica.services import dispatch
from tactica.store.db import Store
from tactica.store.models import ChannelConfig

router = APIRouter(prefix="/receipts", tags=["dispatch"])


class ReceiptsOut(BaseModel):
    """What a batch of receipts changed."""

    delivered: int
    failed: int
    ignored: int


@router.post("/{channel}", response_model=ReceiptsOut)
async def take_receipts(
    channel: str,
    request: Request,
    store: StoreDep,
    x_tactica_timestamp: Annotated[str | None, Header()] = None,
    x_tactica_signature: Annotated[str | None, Header()] = None,
) -> ReceiptsOut:
    """Apply a gateway's delivery receipts to the contacts they name."""
    if not (x_tactica_timestamp and x_tactica_signature):
        raise AuthenticationFailed("send X-Tactica-Timestamp and X-Tactica-Signature")
    body = await request.body()
    secret = await run_in_threadpool(_receipts_secret, store, channel)
    if not secret:
        raise AuthenticationFailed(f"channel {channel!r} has no receipts_token: receipts refused")
    if not verify(secret, x_tactica_timestamp, body, x_tactica_signature, now=time.time()):
        raise AuthenticationFailed("bad X-Tactica-Signature")
    try:
        receipts = parse_receipts(json.loads(body))
    except (ValueError, ReceiptError) as e:
        raise MalformedRequest(f"receipts: {e}") from e
    taken = await run_in_threadpool(dispatch.record_receipts, store, channel, receipts)
    return ReceiptsOut(delivered=taken.delivered, failed=taken.failed, ignored=taken.ignored)


def _receipts_secret(store: Store, channel: str) -> str | None:
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == channel))
        if config is None:
            raise NotFound(f"no channel {channel!r}")
        secret = (config.settings or {}).get("receipts_token")
    return str(secret) if secret else None
