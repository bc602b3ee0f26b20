"""Orders: every order booked or waiting, and the approval of discounts beyond bounds.

A discount outside its offer's bounds leaves the order ``pending_approval`` until a
role that may approve discounts (marketers, admins) books or rejects it — never the
person who asked for it. The page calls ``tactica.services.orders`` as the API does;
a booked order shows on the dashboard at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.errors import Conflict, NotFound, PermissionDenied
from tactica.services import orders
from tactica.services.users import Principal
from tactica.web.render import Section, actor, denied, in_session, let_in, not_found, posted, render

router = APIRouter(include_in_schema=False)
SECTION = Section(75, "/ui/orders", "Orders", Permission.ORDERS_READ)

#: Orders on the page (newest first).
SHOWN = 200
#: The status filter's choices: waiting ones first, as approvers come for them.
FILTERS = (orders.PENDING, orders.BOOKED, orders.REJECTED, "all")
#: The largest order id (the API's bound too).
_MAX_ID = 2**62


def _orders(session: Session, status: str) -> dict[str, Any]:
    rows = orders.list_orders(session, status=None if status == "all" else status, limit=SHOWN)
    return {"orders": rows}


async def _page(
    request: Request, who: Principal, status_code: int = 200, problem: str = ""
) -> Response:
    status = request.query_params.get("status", orders.PENDING)
    errors = {}
    if status not in FILTERS:
        errors["status"] = f"one of {', '.join(FILTERS)}"
        status, status_code = orders.PENDING, 422
    data = await in_session(request, _orders, status)
    return render(
        request,
        "orders.html",
        who,
        status_code=status_code,
        status=status,
        filters=FILTERS,
        errors=errors,
        problem=problem,
        done=request.query_params.get("done", ""),
        approver=allows(who.role, Permission.ORDERS_APPROVE),
        shown=SHOWN,
        **data,
    )


@router.get("/ui/orders")
async def orders_page(request: Request) -> Response:
    """Orders of one status (waiting for approval first), newest first, with approve and
    reject buttons on waiting ones for a role that may approve discounts."""
    who = await let_in(request, Permission.ORDERS_READ, "see orders")
    if isinstance(who, Response):
        return who
    return await _page(request, who)


def _decide(session: Session, order_id: int, approve: bool, note: str, who: Principal) -> None:
    orders.decide_order(
        session, order_id, approve=approve, actor=actor(who), role=who.role.value, note=note
    )
    session.commit()


@router.post("/ui/orders/{order_id}/decide")
async def decide_order(request: Request, order_id: str) -> Response:
    """Book (``decision=approve``) or reject (``decision=reject``) an order waiting for
    approval of its discount, with an optional note."""
    who = await let_in(request, Permission.ORDERS_READ, "see orders")
    if isinstance(who, Response):
        return who
    if not allows(who.role, Permission.ORDERS_APPROVE):
        return denied(request, who, "approve discounts")
    form = await posted(request, who, "approve discounts")
    if isinstance(form, Response):
        return form
    found = int(order_id) if order_id.isdigit() and len(order_id) <= 19 else 0
    if not 1 <= found <= _MAX_ID:
        return not_found(request, who, f"order {order_id!r}")
    decision = form.get("decision", "")
    if decision not in ("approve", "reject"):
        return await _page(request, who, 422, "decision: approve or reject")
    try:
        await in_session(request, _decide, found, decision == "approve", form.get("note", ""), who)
    except NotFound:
        return not_found(request, who, f"order {found}")
    except PermissionDenied as e:
        return await _page(request, who, 403, f"order {found}: {e.detail}")
    except Conflict as e:
        return await _page(request, who, 409, e.detail)
    done = "approved" if decision == "approve" else "rejected"
    query = urlencode({"status": orders.PENDING, "done": f"order {found} {done}"})
    return RedirectResponse(f"/ui/orders?{query}", status_code=303)
