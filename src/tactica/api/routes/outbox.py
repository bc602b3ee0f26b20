"""The outbox: what waits to be sent per channel, and the dead letters (failed contacts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from tactica.api.deps import SessionDep, require
from tactica.domain.access import Permission
from tactica.services import dispatch
from tactica.services.users import Principal

router = APIRouter(prefix="/outbox", tags=["dispatch"])
Reader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]


class ChannelQueue(BaseModel):
    """Outbox entries of one contact channel."""

    channel: str
    pending: int
    due: int
    waiting: int
    retrying: int
    next_due: datetime | None


class DeadLetter(BaseModel):
    """A contact that could not be sent, and why."""

    contact_id: int
    customer_id: str
    program: str
    campaign: str
    channel: str
    channel_name: str | None
    attempts: int
    error: str | None


@router.get("", response_model=list[ChannelQueue])
def outbox_status(session: SessionDep, _: Reader) -> list[ChannelQueue]:
    """Per contact channel: entries pending, due now, waiting (retry, quiet hours), retrying."""
    return [ChannelQueue(**row) for row in dispatch.outbox_status(session)]


@router.get("/failed", response_model=list[DeadLetter])
def failed_contacts(
    session: SessionDep,
    _: Reader,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    """The dead letters: failed contacts, newest first, with the last error."""
    return [
        DeadLetter(**row) for row in dispatch.dead_letters(session, channel=channel, limit=limit)
    ]
