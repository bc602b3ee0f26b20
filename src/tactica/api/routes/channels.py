"""Configured channels: SMTP servers, SMS gateways, webhooks and call centres.

Secrets are never returned: they read ``********``. Sending ``********`` back for a
secret keeps the one saved, so a channel read, changed and put back keeps its secrets.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission
from tactica.domain.channel_config import KINDS, ChannelSpec
from tactica.services import channel_configs
from tactica.services.users import Principal

router = APIRouter(prefix="/channels", tags=["channels"])
# Channels are part of running programs: whoever may change programs may change them.
Reader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PROGRAMS_WRITE))]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=_NAME)]


class ChannelIn(BaseModel):
    """A channel; ``channel`` may be left out (it is the one the kind serves)."""

    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    kind: str = Field(min_length=1, max_length=16, examples=list(KINDS))
    channel: str | None = Field(default=None, max_length=16)
    settings: dict[str, Any] = Field(
        default_factory=dict, examples=[{"url": "https://sms.example.com", "api_key": "..."}]
    )
    enabled: bool = True
    rate_per_second: float | None = Field(default=None, gt=0, le=1_000_000)
    quiet_start: str | None = Field(default=None, pattern=_TIME)
    quiet_end: str | None = Field(default=None, pattern=_TIME)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    max_attempts: int = Field(default=5, ge=1, le=1000)
    retry_base_seconds: float = Field(default=30.0, gt=0, le=10_000_000)
    retry_cap_seconds: float = Field(default=3600.0, gt=0, le=10_000_000)
    cost_per_message: Decimal | None = Field(
        default=None, ge=0, le=Decimal("99999999.9999"), decimal_places=4
    )
    daily_capacity: int | None = Field(default=None, ge=0, le=10**15)


class ChannelOut(BaseModel):
    """A configured channel, secrets masked."""

    name: str
    channel: str
    kind: str
    settings: dict[str, Any]
    enabled: bool
    rate_per_second: float | None
    quiet_start: str | None
    quiet_end: str | None
    timezone: str
    max_attempts: int
    retry_base_seconds: float
    retry_cap_seconds: float
    cost_per_message: Decimal | None
    daily_capacity: int | None


@router.get("", response_model=list[ChannelOut], summary="Every configured channel")
def all_channels(_p: Reader, session: SessionDep) -> Any:
    """Every channel by name, secrets masked."""
    return [channel_configs.channel_view(c) for c in channel_configs.list_channels(session)]


@router.put("", response_model=ChannelOut, summary="Create or replace a channel")
def put_channel(body: ChannelIn, p: Writer, session: SessionDep) -> Any:
    """Save a channel; every problem of its settings, hours and limits is named."""
    data = body.model_dump()
    channel = data.pop("channel")
    spec = ChannelSpec.for_kind(data.pop("name"), data.pop("kind"), data.pop("settings"), **data)
    if channel is not None:
        spec = replace(spec, channel=channel)
    channel_configs.save_channel(session, spec, actor=actor_of(p))
    session.commit()
    return channel_configs.channel_view(channel_configs.get_channel(session, spec.name))


@router.get("/{name}", response_model=ChannelOut, summary="Show a channel")
def get_channel(name: Name, _p: Reader, session: SessionDep) -> Any:
    """One channel, secrets masked."""
    return channel_configs.channel_view(channel_configs.get_channel(session, name))


@router.delete("/{name}", status_code=204, summary="Delete a channel")
def delete_channel(name: Name, p: Writer, session: SessionDep) -> Response:
    """Remove a channel."""
    channel_configs.delete_channel(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)
