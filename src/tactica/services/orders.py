"""Orders: an offer ordered by a customer, at its price less a discount within bounds.

An order comes from a reply ("YES"), a call-centre outcome or a won lead, and is
booked at most once for each of them. A discount outside the offer's bounds does
not stop the order: it waits, ``pending_approval``, for someone whose role may
approve it (marketers and admins; never the rep who asked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import audit
from tactica.store.models import Offer, Order

BOOKED = "booked"
PENDING = "pending_approval"
REJECTED = "rejected"
STATUSES = (BOOKED, PENDING, REJECTED)

_CENT = Decimal("0.01")


def order_view(o: Order) -> dict[str, Any]:
    """An order as the API and CLI show it."""
    return {
        "id": o.id,
        "customer_id": o.customer_id,
        "offer": o.offer,
        "program": o.program,
        "campaign": o.campaign,
        "contact_id": o.contact_id,
        "response_id": o.response_id,
        "lead_id": o.lead_id,
        "currency": o.currency,
        "price": str(o.price),
        "discount": str(o.discount),
        "amount": str(o.amount),
        "status": o.status,
        "requested_by": o.requested_by,
        "decided_by": o.decided_by,
        "decided_at": o.decided_at.isoformat() if o.decided_at else None,
        "note": o.note,
        "created_at": o.created_at.isoformat() if o.created_at else None,
    }


def amount_after(price: Decimal, discount: Decimal) -> Decimal:
    """``price`` less ``discount`` percent, to the cent (half up)."""
    return (price * (Decimal(100) - discount) / Decimal(100)).quantize(_CENT, ROUND_HALF_UP)


def book_order(
    session: Session,
    *,
    customer_id: str,
    offer_code: str,
    actor: str,
    program: str | None = None,
    campaign: str | None = None,
    contact_id: int | None = None,
    response_id: int | None = None,
    lead_id: int | None = None,
    discount: Decimal | int | str = Decimal(0),
    note: str = "",
) -> Order:
    """Book an order for ``offer_code``, or return the one already booked for the reply or lead.

    ``discount`` is a percentage of the offer's price. Within the offer's
    ``discount_min`` .. ``discount_max`` the order is ``booked``; outside, it is
    ``pending_approval``. A discount below 0 or above 100 is refused.
    """
    for key, value in (("response_id", response_id), ("lead_id", lead_id)):
        if value is not None:
            found = session.scalar(sa.select(Order).where(getattr(Order, key) == value))
            if found is not None:
                return found
    offer = session.scalar(sa.select(Offer).where(Offer.code == offer_code))
    if offer is None:
        raise NotFound(f"no offer {offer_code!r}")
    try:
        pct = Decimal(str(discount))
    except ArithmeticError:
        raise InvalidInput(f"discount: a percentage such as 10, got {discount!r}") from None
    if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100):
        raise InvalidInput(f"discount: a percentage from 0 to 100, got {discount!r}")
    within = offer.discount_min <= pct <= offer.discount_max or pct == 0
    order = Order(
        response_id=response_id,
        lead_id=lead_id,
        customer_id=customer_id,
        contact_id=contact_id,
        program=program,
        campaign=campaign,
        offer=offer.code,
        currency=offer.currency,
        price=offer.price,
        discount=pct,
        amount=amount_after(offer.price, pct),
        status=BOOKED if within else PENDING,
        requested_by=actor,
        note=note,
    )
    session.add(order)
    session.flush()
    return order


def get_order(session: Session, order_id: int) -> Order:
    """The order ``order_id``."""
    o = session.get(Order, order_id)
    if o is None:
        raise NotFound(f"no order {order_id}")
    return o


def decide_order(
    session: Session, order_id: int, *, approve: bool, actor: str, role: str, note: str = ""
) -> Order:
    """Approve (book) or reject an order waiting for approval of its discount."""
    if not allows(role, Permission.ORDERS_APPROVE):
        raise PermissionDenied(f"a {role} may not approve discounts")
    o = session.scalar(sa.select(Order).where(Order.id == order_id).with_for_update())
    if o is None:
        raise NotFound(f"no order {order_id}")
    if o.status != PENDING:
        raise Conflict(f"order {order_id} is {o.status}, not waiting for approval")
    if o.requested_by == actor:
        raise PermissionDenied("nobody approves a discount they asked for themselves")
    before = order_view(o)
    o.status = BOOKED if approve else REJECTED
    o.decided_by = actor
    o.decided_at = datetime.now(UTC)
    if note:
        o.note = f"{o.note}\n{note}".strip()
    session.flush()
    audit.record(
        session, actor, "approve" if approve else "reject", "order", o.id, before, order_view(o)
    )
    return o


def list_orders(
    session: Session,
    *,
    status: str | None = None,
    customer_id: str | None = None,
    program: str | None = None,
    limit: int = 100,
) -> list[Order]:
    """Orders, newest first, optionally only of one status, customer or program."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)}, got {status!r}")
    q = sa.select(Order).order_by(Order.id.desc()).limit(limit)
    if status:
        q = q.where(Order.status == status)
    if customer_id:
        q = q.where(Order.customer_id == customer_id)
    if program:
        q = q.where(Order.program == program)
    return list(session.scalars(q))
