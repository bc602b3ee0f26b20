"""Offers: what is proposed, at what price, worth what, to whom (eligibility rule), when."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.services.rules import check_rule
from tactica.store.models import Offer

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass
class OfferInput:
    """The fields of an offer a user sets (money as Decimal, dates as date)."""

    code: str
    name: str
    product: str = ""
    description: str = ""
    currency: str = "EUR"
    price: Decimal = Decimal("0")
    value: Decimal = Decimal("0")
    margin: Decimal = Decimal("0")
    discount_min: Decimal = Decimal("0")
    discount_max: Decimal = Decimal("0")
    eligibility: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True


def offer_view(o: Offer) -> dict[str, Any]:
    """An offer as shown to people."""
    return {f.name: getattr(o, f.name) for f in fields(OfferInput)} | {"id": o.id}


def _problems(session: Session, data: OfferInput) -> None:
    if not _CODE.match(data.code):
        raise InvalidInput(
            "letters, digits, '_', '.' or '-', at most 64, starting with a letter or digit",
            where=f"offer code {data.code!r}",
        )
    if not data.name.strip():
        raise InvalidInput("must not be empty", where="name")
    if not _CURRENCY.match(data.currency):
        raise InvalidInput("a three-letter ISO code such as EUR", where="currency")
    for money in ("price", "value", "margin"):
        if getattr(data, money) < 0:
            raise InvalidInput("must not be negative", where=money)
    for pct in ("discount_min", "discount_max"):
        if not Decimal("0") <= getattr(data, pct) <= Decimal("100"):
            raise InvalidInput("a percentage between 0 and 100", where=pct)
    if data.discount_min > data.discount_max:
        raise InvalidInput(
            f"discount_min {data.discount_min} is above discount_max {data.discount_max}",
            where="discount_min",
        )
    if data.valid_from and data.valid_to and data.valid_from > data.valid_to:
        raise InvalidInput(
            f"valid_from {data.valid_from} is after valid_to {data.valid_to}", where="valid_from"
        )
    if data.eligibility is not None and data.eligibility.strip():
        check_rule(session, data.eligibility, where="eligibility")


def get_offer(session: Session, code: str) -> Offer:
    """The offer with ``code``; NotFound otherwise."""
    o = session.scalar(sa.select(Offer).where(Offer.code == code))
    if o is None:
        raise NotFound(f"no offer {code!r}")
    return o


def list_offers(session: Session, *, active_on: date | None = None) -> list[Offer]:
    """Every offer by code; with ``active_on``, only those active and valid on that day."""
    q = sa.select(Offer).order_by(Offer.code)
    if active_on is not None:
        q = q.where(
            Offer.active.is_(True),
            sa.or_(Offer.valid_from.is_(None), Offer.valid_from <= active_on),
            sa.or_(Offer.valid_to.is_(None), Offer.valid_to >= active_on),
        )
    return list(session.scalars(q))


def offers_page(session: Session, *, limit: int, offset: int = 0) -> list[Offer]:
    """A page of offers by code (``limit`` of them after ``offset``), for lists that
    must not read the whole catalog."""
    q = sa.select(Offer).order_by(Offer.code).limit(limit).offset(offset)
    return list(session.scalars(q))


def offer_codes(session: Session) -> list[str]:
    """Every offer's code, in order (to choose one; nothing else is read)."""
    return list(session.scalars(sa.select(Offer.code).order_by(Offer.code)))


def create_offer(session: Session, data: OfferInput, *, actor: str) -> Offer:
    """Create an offer; its code must be new and its eligibility rule must check."""
    _problems(session, data)
    if session.scalar(sa.select(Offer.id).where(Offer.code == data.code)) is not None:
        raise Conflict(f"offer {data.code!r} exists already")
    o = Offer(**{f.name: getattr(data, f.name) for f in fields(OfferInput)})
    if o.eligibility is not None and not o.eligibility.strip():
        o.eligibility = None
    session.add(o)
    session.flush()
    audit.record(session, actor, "create", "offer", o.code, None, offer_view(o))
    return o


def update_offer(session: Session, code: str, changes: dict[str, Any], *, actor: str) -> Offer:
    """Change some fields of an offer (not its code)."""
    o = get_offer(session, code)
    before = offer_view(o)
    known = {f.name for f in fields(OfferInput)} - {"code"}
    unknown = set(changes) - known
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(sorted(unknown))}", where="offer")
    merged = OfferInput(**{**{k: v for k, v in before.items() if k != "id"}, **changes})
    _problems(session, merged)
    for k, v in changes.items():
        setattr(o, k, v)
    if o.eligibility is not None and not o.eligibility.strip():
        o.eligibility = None
    session.flush()
    audit.record(session, actor, "update", "offer", code, before, offer_view(o))
    return o


def delete_offer(session: Session, code: str, *, actor: str) -> None:
    """Remove an offer."""
    o = get_offer(session, code)
    before = offer_view(o)
    session.delete(o)
    audit.record(session, actor, "delete", "offer", code, before, None)
