"""Offers: code, product, price, value and margin, discount bounds, eligibility, validity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission
from tactica.services import offers
from tactica.services.users import Principal

router = APIRouter(prefix="/offers", tags=["offers"])
Reader = Annotated[Principal, Depends(require(Permission.OFFERS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.OFFERS_WRITE))]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class OfferFields(BaseModel):
    """Fields of an offer other than its code."""

    name: str = Field(min_length=1, max_length=200)
    product: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=5000)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    price: Money = Decimal("0")
    value: Money = Decimal("0")
    margin: Money = Decimal("0")
    discount_min: Percent = Decimal("0")
    discount_max: Percent = Decimal("0")
    eligibility: str | None = Field(default=None, max_length=10000)
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True


class OfferIn(OfferFields):
    """A new offer."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class OfferOut(OfferIn):
    """An offer."""

    id: int


class OfferPatch(BaseModel):
    """Changes to an offer; fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    product: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    price: Money | None = None
    value: Money | None = None
    margin: Money | None = None
    discount_min: Percent | None = None
    discount_max: Percent | None = None
    eligibility: str | None = Field(default=None, max_length=10000)
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool | None = None


@router.get("", response_model=list[OfferOut], summary="Every offer")
def all_offers(_p: Reader, session: SessionDep, active_on: date | None = None) -> Any:
    """Every offer; with active_on, only those active and valid that day."""
    return [offers.offer_view(o) for o in offers.list_offers(session, active_on=active_on)]


@router.post("", response_model=OfferOut, status_code=201, summary="Create an offer")
def create_offer(body: OfferIn, p: Writer, session: SessionDep) -> Any:
    """A new offer; the eligibility rule is checked against the customer schema."""
    o = offers.create_offer(session, offers.OfferInput(**body.model_dump()), actor=actor_of(p))
    session.commit()
    return offers.offer_view(o)


@router.get("/{code}", response_model=OfferOut, summary="Show an offer")
def get_offer(code: str, _p: Reader, session: SessionDep) -> Any:
    """One offer."""
    return offers.offer_view(offers.get_offer(session, code))


@router.patch("/{code}", response_model=OfferOut, summary="Change an offer")
def patch_offer(code: str, body: OfferPatch, p: Writer, session: SessionDep) -> Any:
    """Change the fields sent."""
    nullable = {"eligibility", "valid_from", "valid_to"}
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in nullable
    }
    o = offers.update_offer(session, code, changes, actor=actor_of(p))
    session.commit()
    return offers.offer_view(o)


@router.delete("/{code}", status_code=204, summary="Delete an offer")
def delete_offer(code: str, p: Writer, session: SessionDep) -> Response:
    """Remove an offer."""
    offers.delete_offer(session, code, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)
