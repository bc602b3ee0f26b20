"""Responses: replies coming in from gateways, and the marketer's view of them.

``POST /responses/inbound/{channel}`` takes a gateway's replies, signed like our own
webhooks (``X-Tactica-Timestamp`` and ``X-Tactica-Signature``: HMAC-SHA256 of
``"{timestamp}.{body}"`` with the channel's ``inbound_token``, or its
``receipts_token`` when it has no inbound one). A bad or missing signature gets 401
and nothing is stored; a malformed body gets 400 naming the bad item and nothing is
stored; a message already taken gets 200 and is not processed again.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.channels.webhook import verify
from tactica.domain.access import Permission
from tactica.domain.replies import classify
from tactica.errors import AuthenticationFailed, MalformedRequest, NotFound
from tactica.services import reply_rules, responses
from tactica.services.users import Principal
from tactica.store.db import Store
from tactica.store.models import ChannelConfig

router = APIRouter(tags=["responses"])
Reader = Annotated[Principal, Depends(require(Permission.RESPONSES_READ))]
Writer = Annotated[Principal, Depends(require(Permission.RESPONSES_WRITE))]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Outcome = Literal["order", "interest", "opt_out", "other"]


class ReplyIn(BaseModel):
    """One reply as a gateway reports it."""

    id: str = Field(min_length=1, max_length=200, description="The gateway's message id")
    sender: str = Field(alias="from", min_length=1, max_length=200, description="Address")
    text: str = Field(default="", max_length=20_000)
    received_at: datetime | None = Field(default=None, description="ISO 8601, with offset")
    in_reply_to: str | None = Field(
        default=None,
        max_length=200,
        description="The idempotency key of the message answered (tactica-<id>), if known",
    )
    language: str | None = Field(default=None, max_length=16)


class InboundIn(BaseModel):
    """A batch of replies."""

    replies: list[ReplyIn] = Field(max_length=1000)


class TakenOut(BaseModel):
    """What a batch did: accepted, duplicates, and what the replies led to."""

    accepted: int
    duplicates: int
    orders: int
    pending_orders: int
    leads: int
    opt_outs: int
    review: int
    unattributed: int
    clicks: int


@router.post("/responses/inbound/{channel}", response_model=TakenOut)
async def take_inbound(
    channel: Annotated[str, Path(min_length=1, max_length=100)],
    request: Request,
    store: StoreDep,
    x_tactica_timestamp: Annotated[str | None, Header()] = None,
    x_tactica_signature: Annotated[str | None, Header()] = None,
) -> TakenOut:
    """Take a gateway's replies: store each once, attribute, classify and act on it."""
    if not (x_tactica_timestamp and x_tactica_signature):
        raise AuthenticationFailed("send X-Tactica-Timestamp and X-Tactica-Signature")
    body = await request.body()
    secret, kind = await run_in_threadpool(_inbound_secret, store, channel)
    if not secret:
        raise AuthenticationFailed(f"channel {channel!r} has no inbound_token: replies refused")
    if not verify(secret, x_tactica_timestamp, body, x_tactica_signature, now=time.time()):
        raise AuthenticationFailed("bad X-Tactica-Signature")
    try:
        batch = InboundIn.model_validate(json.loads(body))
    except ValueError as e:  # JSONDecodeError and ValidationError are both ValueErrors
        raise MalformedRequest(f"replies: {_why(e)}") from e
    items = [
        responses.Inbound(
            message_id=r.id,
            channel=kind,
            text=r.text,
            sender=r.sender,
            contact_id=_contact_of(r.in_reply_to),
            received_at=r.received_at,
            language=r.language,
        )
        for r in batch.replies
    ]
    scope = request.app.state.settings.opt_out_scope
    taken = await run_in_threadpool(
        responses.take_responses,
        store,
        channel,
        items,
        actor=f"channel:{channel}",
        opt_out_scope=scope,
    )
    return TakenOut(**taken.as_dict())


def _why(e: ValueError) -> str:
    if isinstance(e, ValidationError):
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}"
    return f"not JSON: {e}"


def _contact_of(key: str | None) -> int | None:
    from tactica.services.dispatch import contact_of_key

    return contact_of_key(key) if key else None


def _inbound_secret(store: Store, channel: str) -> tuple[str | None, str]:
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == channel))
        if config is None:
            raise NotFound(f"no channel {channel!r}")
        settings = config.settings or {}
        secret = settings.get("inbound_token") or settings.get("receipts_token")
        return (str(secret) if secret else None), config.channel


# ------------------------------------------------------------------ the marketer's view


class ResponseOut(BaseModel):
    """A stored response: where it came from, what it answers, how it was read, what it did."""

    id: int
    source: str
    message_id: str
    channel: str
    kind: str
    received_at: str
    sender: str | None
    text: str
    customer_id: str | None
    contact_id: int | None
    program: str | None
    campaign: str | None
    offer: str | None
    attributed_by: str
    language: str | None
    outcome: str
    rule: str | None
    confidence: float
    result: str
    review: str | None
    reviewed_by: str | None


@router.get("/responses", response_model=list[ResponseOut])
def list_responses(
    session: SessionDep,
    _: Reader,
    review: Annotated[bool, Query(description="Only the review queue")] = False,
    unattributed: Annotated[bool, Query(description="Only those matching no contact")] = False,
    outcome: Outcome | None = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Responses, newest first."""
    rows = responses.list_responses(
        session,
        review=review,
        unattributed=unattributed,
        outcome=outcome,
        customer_id=customer_id,
        limit=limit,
    )
    return [responses.response_view(r) for r in rows]


@router.get("/responses/{response_id}", response_model=ResponseOut)
def get_response(
    response_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep, _: Reader
) -> dict[str, Any]:
    """One response."""
    return responses.response_view(responses.get_response(session, response_id))


class CorrectionIn(BaseModel):
    """A person's reading of a response, and optionally a keyword to remember for it."""

    outcome: Outcome
    remember: str | None = Field(
        default=None, min_length=1, max_length=200, description="Add this as a keyword rule"
    )


@router.post("/responses/{response_id}/correct", response_model=ResponseOut)
def correct_response(
    response_id: Annotated[int, Path(ge=1, le=2**62)],
    body: CorrectionIn,
    request: Request,
    session: SessionDep,
    who: Writer,
) -> dict[str, Any]:
    """Correct a response from the review queue (or an unattributed one) and act on it."""
    r = responses.correct(
        session,
        response_id,
        body.outcome,
        actor=actor_of(who),
        remember=body.remember,
        opt_out_scope=request.app.state.settings.opt_out_scope,
    )
    view = responses.response_view(r)
    session.commit()
    return view


class ClassifyIn(BaseModel):
    """A reply to test the rules on."""

    text: str = Field(max_length=20_000)
    language: str | None = Field(default=None, max_length=16)


class ClassifyOut(BaseModel):
    """How the deployment's rules read a reply."""

    outcome: str
    language: str
    rule: str | None
    confidence: float


@router.post("/responses/classify", response_model=ClassifyOut)
def classify_reply(body: ClassifyIn, session: SessionDep, _: Reader) -> ClassifyOut:
    """Classify a reply with the deployment's rules, without storing anything."""
    got = classify(body.text, reply_rules.active_rules(session), language=body.language)
    return ClassifyOut(
        outcome=got.outcome.value, language=got.language, rule=got.rule, confidence=got.confidence
    )


# ------------------------------------------------------------------ reply rules


class RuleIn(BaseModel):
    """A keyword or pattern rule."""

    outcome: Literal["order", "interest", "opt_out"]
    text: str = Field(min_length=1, max_length=500)
    kind: Literal["keyword", "pattern"] = "keyword"
    language: Literal["en", "zh", "ru"] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=_NAME)
    priority: int = Field(default=0, ge=-1000, le=1000)
    simplified: bool = False


class RuleOut(BaseModel):
    """A stored reply rule."""

    id: int
    name: str
    language: str | None
    outcome: str
    kind: str
    text: str
    priority: int
    simplified: bool
    active: bool
    source: str
    created_by: str | None


RuleName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/reply-rules", response_model=list[RuleOut])
def list_rules(
    session: SessionDep,
    _: Reader,
    language: Annotated[str | None, Query(max_length=16)] = None,
) -> list[dict[str, Any]]:
    """The deployment's reply rules (a language's and the language-free ones)."""
    return [reply_rules.rule_view(r) for r in reply_rules.list_rules(session, language=language)]


@router.post("/reply-rules", response_model=RuleOut, status_code=201)
def add_rule(body: RuleIn, session: SessionDep, who: Writer) -> dict[str, Any]:
    """Add a rule; it applies to every reply taken from now on."""
    row = reply_rules.add_rule(session, actor=actor_of(who), **body.model_dump())
    view = reply_rules.rule_view(row)
    session.commit()
    return view


@router.post("/reply-rules/{name}/enable", response_model=RuleOut)
def enable_rule(name: RuleName, session: SessionDep, who: Writer) -> dict[str, Any]:
    """Switch a rule on."""
    view = reply_rules.rule_view(reply_rules.set_active(session, name, True, actor=actor_of(who)))
    session.commit()
    return view


@router.post("/reply-rules/{name}/disable", response_model=RuleOut)
def disable_rule(name: RuleName, session: SessionDep, who: Writer) -> dict[str, Any]:
    """Switch a rule off (built-in rules are switched off, not removed)."""
    view = reply_rules.rule_view(reply_rules.set_active(session, name, False, actor=actor_of(who)))
    session.commit()
    return view


@router.delete("/reply-rules/{name}", status_code=204)
def remove_rule(name: RuleName, session: SessionDep, who: Writer) -> None:
    """Remove a rule a person added."""
    reply_rules.remove_rule(session, name, actor=actor_of(who))
    session.commit()
