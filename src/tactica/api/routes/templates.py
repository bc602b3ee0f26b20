"""Message templates: one variant per (channel, language) under a name, and previews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.config import Settings
from tactica.domain.access import Permission
from tactica.domain.templates import MessageTemplate
from tactica.services import templates
from tactica.services.users import Principal

router = APIRouter(prefix="/templates", tags=["templates"])
# Templates are part of running programs: whoever may change programs may change them.
Reader = Annotated[Principal, Depends(require(Permission.PROGRAMS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.PROGRAMS_WRITE))]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=_NAME)]
ChannelPath = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[a-z]+$")]
LanguagePath = Annotated[str, Path(min_length=2, max_length=16, pattern=r"^[a-z0-9-]+$")]


class TemplateIn(BaseModel):
    """A template variant: the subject is for e-mail only."""

    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    channel: str = Field(min_length=1, max_length=16, examples=["sms"])
    language: str = Field(default="en", min_length=1, max_length=16, examples=["en"])
    subject: str | None = Field(default=None, max_length=1000)
    body: str = Field(min_length=1, max_length=100_000)


class SmsLengthOut(BaseModel):
    """How a text goes out as SMS: GSM-7 or UCS-2, units, segments."""

    encoding: str
    units: int
    segments: int
    per_segment: int
    remaining: int


class TemplateOut(BaseModel):
    """A template variant; an SMS one with the length of its text as written."""

    name: str
    channel: str
    language: str
    subject: str | None
    body: str
    sms_length: SmsLengthOut | None


class PreviewOut(BaseModel):
    """The message one customer would get from a template."""

    name: str
    channel: str
    language: str
    customer_id: str
    offer: str | None
    campaign: str
    subject: str | None
    body: str
    sms_length: SmsLengthOut | None
    unsubscribe_url: str | None


@router.get("", response_model=list[TemplateOut], summary="Every template variant")
def all_templates(
    _p: Reader,
    session: SessionDep,
    name: Annotated[str | None, Query(max_length=100)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
) -> Any:
    """Every variant by name, channel and language; only one name's or channel's if given."""
    found = templates.list_templates(session, name=name, channel=channel)
    return [templates.template_view(t) for t in found]


@router.put("", response_model=TemplateOut, summary="Create or replace a template variant")
def put_template(body: TemplateIn, p: Writer, session: SessionDep) -> Any:
    """Save the (name, channel, language) variant, checked against the customer fields."""
    t = MessageTemplate(body.name, body.channel, body.language, body.subject, body.body)
    out = templates.save_template(session, t, actor=actor_of(p))
    session.commit()
    return out


@router.get(
    "/{name}/preview", response_model=PreviewOut, summary="Fill a template in for a customer"
)
def preview_template(
    name: Name,
    request: Request,
    _p: Reader,
    session: SessionDep,
    channel: Annotated[str, Query(min_length=1, max_length=16)],
    customer_id: Annotated[str, Query(min_length=1, max_length=128)],
    offer: Annotated[str | None, Query(max_length=64)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    campaign: Annotated[str, Query(min_length=1, max_length=100)] = "preview",
) -> Any:
    """The variant picked for the customer's language (or ``language``), with their fields.

    E-mail previews carry a real, signed unsubscribe link.
    """
    settings: Settings = request.app.state.settings
    return templates.preview(
        session,
        name,
        channel,
        customer_id,
        offer_code=offer,
        language=language,
        campaign=campaign,
        secret=settings.secret,
        base_url=settings.public_url,
    )


@router.get(
    "/{name}/{channel}/{language}", response_model=TemplateOut, summary="Show a template variant"
)
def get_template(
    name: Name, channel: ChannelPath, language: LanguagePath, _p: Reader, session: SessionDep
) -> Any:
    """One variant."""
    return templates.template_view(templates.get_template(session, name, channel, language))


@router.delete("/{name}/{channel}/{language}", status_code=204, summary="Delete a template variant")
def delete_template(
    name: Name, channel: ChannelPath, language: LanguagePath, p: Writer, session: SessionDep
) -> Response:
    """Remove one variant."""
    templates.delete_template(session, name, channel, language, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)
