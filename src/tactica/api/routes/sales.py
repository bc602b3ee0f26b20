"""The sales side: reps, leads and their activities, daily figures, orders and approvals.

Reading needs ``leads:read`` (orders: ``orders:read``). A sales rep works their own
leads; sales admins (admins and marketers) manage reps, work and reassign any
lead. Discounts beyond an offer's bounds are approved by ``orders:approve``, never
by whoever asked for them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission, Role
from tactica.errors import NotFound
from tactica.services import orders, sales
from tactica.services.sales import Acting
from tactica.services.users import Principal

router = APIRouter()
LeadReader = Annotated[Principal, Depends(require(Permission.LEADS_READ))]
SalesAdmin = Annotated[Principal, Depends(require(Permission.SALES_ADMIN))]
OrderReader = Annotated[Principal, Depends(require(Permission.ORDERS_READ))]
Approver = Annotated[Principal, Depends(require(Permission.ORDERS_APPROVE))]

_USER = r"^[A-Za-z0-9_.@-]{2,100}$"
Username = Annotated[str, Path(pattern=_USER, description="The rep's Tactica username")]
LeadId = Annotated[int, Path(ge=1, le=2**62, description="The lead's id")]
OrderId = Annotated[int, Path(ge=1, le=2**62, description="The order's id")]
RepRoleName = Literal["hunter", "farmer"]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)]


def _acting(p: Principal) -> Acting:
    return Acting(p.username, p.role.value, actor_of(p))


# ------------------------------------------------------------------ models


class RepIn(BaseModel):
    """A new sales rep. Their username is their Tactica user's: it is how a rep
    calling the API is matched to the leads they hold."""

    username: str = Field(pattern=_USER, examples=["rita"])
    full_name: str = Field(default="", max_length=200)
    territory: str | None = Field(
        default=None,
        max_length=100,
        description="Matched (case aside) against the customer's territory attribute "
        "(TACTICA_LEAD_TERRITORY_FIELD, default region) when a program assigns by territory",
    )
    skills: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="Products the rep sells, matched against the offer's product",
        examples=[["cards", "loans"]],
    )
    capacity: int = Field(default=50, ge=0, le=10_000, description="Most open leads at once")
    role: RepRoleName = Field(
        default="hunter", description="hunter: new business; farmer: accounts"
    )
    manager: str | None = Field(
        default=None, pattern=_USER, description="Username overdue leads are escalated to"
    )


class RepPatch(BaseModel):
    """Changes to a rep; fields left out stay as they are, ``""`` clears territory or manager."""

    full_name: str | None = Field(default=None, max_length=200)
    territory: str | None = Field(default=None, max_length=100)
    skills: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    role: RepRoleName | None = None
    manager: str | None = Field(default=None, pattern=r"^$|" + _USER)
    active: bool | None = Field(
        default=None, description="false hands the rep's open leads to others (or they wait)"
    )


class RepOut(BaseModel):
    """A rep with the open leads they hold and how many of those are overdue."""

    username: str
    full_name: str
    territory: str | None
    skills: list[str]
    capacity: int
    role: str
    manager: str | None
    active: bool
    open_leads: int
    overdue_leads: int = Field(description="still new past their SLA")
    last_assigned_at: str | None


class RepChangeOut(BaseModel):
    """A rep after a change, and what it did to leads."""

    rep: RepOut
    released: int = Field(description="open leads handed back (deactivation)")
    assigned: int = Field(description="waiting leads assigned afterwards, to anyone")


class LeadOut(BaseModel):
    """A lead: who asked, about which offer, who works it, where it is in its life."""

    id: int
    customer_id: str
    program: str | None
    campaign: str | None
    offer: str | None
    contact_id: int | None
    response_id: int | None
    reply: str = Field(description="what the customer answered")
    status: str = Field(description="new, contacted, qualified, won or lost")
    rep: str | None = Field(description="null: waiting for a rep with room")
    assigned_at: str | None
    due_at: str | None = Field(description="the SLA: contacted by then, or escalated")
    overdue: bool = Field(description="still new past due_at")
    contacted_at: str | None
    escalated_at: str | None
    escalated_to: str | None = Field(description="the rep's manager (null: none)")
    closed_at: str | None
    lost_reason: str | None
    created_at: str | None


class ActivityOut(BaseModel):
    """Something a rep did on a lead."""

    id: int
    lead_id: int
    rep: str
    kind: str
    at: str
    minutes: int
    cost: str = Field(description="decimal")
    result: str
    notes: str


class OrderOut(BaseModel):
    """An order: the offer at its price less a discount; pending_approval beyond bounds."""

    id: int
    customer_id: str
    offer: str
    program: str | None
    campaign: str | None
    contact_id: int | None
    response_id: int | None
    lead_id: int | None
    currency: str
    price: str
    discount: str = Field(description="percent")
    amount: str
    status: str = Field(description="booked, pending_approval or rejected")
    requested_by: str | None
    decided_by: str | None
    decided_at: str | None
    note: str | None
    created_at: str | None


class LeadDetailOut(LeadOut):
    """A lead with its activities, oldest first, and the order it was won with."""

    activities: list[ActivityOut]
    order: OrderOut | None


class MoveIn(BaseModel):
    """Where the lead goes. ``won`` books the order; ``lost`` needs a reason."""

    status: Literal["contacted", "qualified", "won", "lost"]
    reason: str | None = Field(default=None, max_length=2000, description="why it was lost")
    discount: Percent | None = Field(
        default=None, description="won: percent off; beyond the offer's bounds it waits"
    )
    offer: str | None = Field(
        default=None, max_length=64, description="won: the offer ordered, if not the lead's"
    )


class MovedOut(BaseModel):
    """The lead after the move, the order a win booked, waiting leads a close let in."""

    lead: LeadOut
    order: OrderOut | None = None
    assigned: int = 0


class ActivityIn(BaseModel):
    """What the rep did. A call, visit or meeting on a new lead makes it contacted."""

    kind: Literal["call", "visit", "email", "meeting"]
    at: datetime | None = Field(default=None, description="when (default now; UTC if no offset)")
    minutes: int = Field(default=0, ge=0, le=1440)
    cost: Money = Decimal("0")
    result: str = Field(default="", max_length=32, examples=["interested", "no answer"])
    notes: str = Field(default="", max_length=10_000)


class LoggedOut(BaseModel):
    """The activity, and the lead (contacted: true when this activity contacted it)."""

    activity: ActivityOut
    lead: LeadOut
    contacted: bool


class AssignIn(BaseModel):
    """The rep who takes the lead (any active rep, whatever their load)."""

    rep: str = Field(pattern=_USER)


class RepFiguresOut(BaseModel):
    """A rep's figures for a day (``day`` null: the whole period)."""

    rep: str
    day: str | None
    calls: int
    visits: int
    activities: int
    minutes: int
    cost: str = Field(description="decimal")
    cost_per_call: str | None = Field(description="null without calls")
    orders: int = Field(description="leads won")
    orders_per_call: str | None = Field(description="null without calls")
    open_leads: int = Field(description="held at the day's end (now, for today)")
    overdue_leads: int = Field(description="of those, still new past their SLA")


class FiguresOut(BaseModel):
    """Figures per rep and day, and each rep's totals for the period."""

    start: str
    end: str
    tz: str
    days: list[RepFiguresOut]
    totals: list[RepFiguresOut]


class DecisionIn(BaseModel):
    """A note on an approval or rejection."""

    note: str = Field(default="", max_length=2000)


# ------------------------------------------------------------------ reps


@router.get("/reps", response_model=list[RepOut], tags=["sales"], summary="Sales reps")
def list_reps(
    _p: LeadReader,
    session: SessionDep,
    include_inactive: Annotated[bool, Query(description="Also reps who left")] = False,
) -> Any:
    """Reps by username, with their open and overdue leads."""
    return sales.list_reps(session, include_inactive=include_inactive)


@router.post(
    "/reps", response_model=RepChangeOut, status_code=201, tags=["sales"], summary="Add a rep"
)
def add_rep(body: RepIn, p: SalesAdmin, session: SessionDep) -> Any:
    """Add a rep; waiting leads are assigned at once while they have room."""
    done = sales.add_rep(session, **body.model_dump(), actor=actor_of(p))
    session.commit()
    return _rep_change(session, done)


def _rep(session: SessionDep, username: str) -> dict[str, Any]:
    for r in sales.list_reps(session, include_inactive=True):
        if r["username"] == username:
            return r
    raise NotFound(f"no rep {username!r}")


def _rep_change(session: SessionDep, done: sales.RepChange) -> dict[str, Any]:
    return {
        "rep": _rep(session, done.rep.username),
        "released": done.released,
        "assigned": done.assigned,
    }


@router.get("/reps/{username}", response_model=RepOut, tags=["sales"], summary="One rep")
def get_rep(username: Username, _p: LeadReader, session: SessionDep) -> Any:
    """A rep with their open and overdue leads."""
    return _rep(session, username)


@router.patch(
    "/reps/{username}", response_model=RepChangeOut, tags=["sales"], summary="Change a rep"
)
def update_rep(username: Username, body: RepPatch, p: SalesAdmin, session: SessionDep) -> Any:
    """Change a rep: ``active: false`` hands their open leads on; more room takes waiting ones."""
    done = sales.update_rep(session, username, **body.model_dump(), actor=actor_of(p))
    session.commit()
    return _rep_change(session, done)


# ------------------------------------------------------------------ leads


@router.get("/leads", response_model=list[LeadOut], tags=["sales"], summary="Leads")
def list_leads(
    p: LeadReader,
    session: SessionDep,
    rep: Annotated[str | None, Query(max_length=100, description="Only this rep's")] = None,
    all_reps: Annotated[
        bool, Query(description="A sales rep sees their own leads unless this is true")
    ] = False,
    status: Annotated[
        Literal["new", "contacted", "qualified", "won", "lost"] | None, Query()
    ] = None,
    overdue: Annotated[bool, Query(description="Only leads still new past their SLA")] = False,
    unassigned: Annotated[bool, Query(description="Only open leads nobody holds")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Any:
    """Newest first; overdue ones most overdue first."""
    if rep is None and not all_reps and not unassigned and p.role is Role.SALES_REP:
        rep = p.username
    now = datetime.now(UTC)
    found = sales.list_leads(
        session,
        rep=rep,
        status=status,
        overdue=overdue,
        unassigned=unassigned,
        now=now,
        limit=limit,
        offset=offset,
    )
    return [sales.lead_view(x, now) for x in found]


@router.get("/leads/{lead_id}", response_model=LeadDetailOut, tags=["sales"], summary="A lead")
def get_lead(lead_id: LeadId, _p: LeadReader, session: SessionDep) -> Any:
    """A lead with its activities and its order."""
    return sales.lead_detail(session, lead_id)


@router.post(
    "/leads/{lead_id}/move", response_model=MovedOut, tags=["sales"], summary="Move a lead"
)
def move_lead(lead_id: LeadId, body: MoveIn, p: LeadReader, session: SessionDep) -> Any:
    """new → contacted → qualified → won / lost, by the lead's rep or a sales admin.

    An illegal move is 409 naming the legal ones; ``won`` books the order in the same
    transaction (a discount beyond the offer's bounds waits for approval).
    """
    done = sales.move_lead(
        session,
        lead_id,
        body.status,
        who=_acting(p),
        reason=body.reason,
        discount=body.discount,
        offer=body.offer,
    )
    session.commit()
    return _moved(done)


def _moved(done: sales.Moved) -> dict[str, Any]:
    return {
        "lead": sales.lead_view(done.lead),
        "order": orders.order_view(done.order) if done.order is not None else None,
        "assigned": done.assigned,
    }


@router.get(
    "/leads/{lead_id}/activities",
    response_model=list[ActivityOut],
    tags=["sales"],
    summary="A lead's activities",
)
def list_activities(lead_id: LeadId, _p: LeadReader, session: SessionDep) -> Any:
    """Oldest first."""
    return [sales.activity_view(a) for a in sales.list_activities(session, lead_id)]


@router.post(
    "/leads/{lead_id}/activities",
    response_model=LoggedOut,
    status_code=201,
    tags=["sales"],
    summary="Log a call, visit, e-mail or meeting",
)
def log_activity(lead_id: LeadId, body: ActivityIn, p: LeadReader, session: SessionDep) -> Any:
    """By the lead's rep or a sales admin; a call on a new lead makes it contacted."""
    done = sales.log_activity(
        session,
        lead_id,
        body.kind,
        who=_acting(p),
        at=body.at,
        minutes=body.minutes,
        cost=body.cost,
        result=body.result,
        notes=body.notes,
    )
    session.commit()
    return {
        "activity": sales.activity_view(done.activity),
        "lead": sales.lead_view(done.lead),
        "contacted": done.contacted,
    }


@router.post(
    "/leads/{lead_id}/assign",
    response_model=MovedOut,
    tags=["sales"],
    summary="Give a lead to a rep",
)
def assign_lead(lead_id: LeadId, body: AssignIn, p: SalesAdmin, session: SessionDep) -> Any:
    """Sales admins give an open lead to any active rep; its SLA stays as it was."""
    done = sales.reassign_lead(session, lead_id, body.rep, who=_acting(p))
    session.commit()
    return _moved(done)


# ------------------------------------------------------------------ figures


@router.get(
    "/sales/figures", response_model=FiguresOut, tags=["sales"], summary="Figures per rep and day"
)
def sales_figures(
    _p: LeadReader,
    session: SessionDep,
    day: Annotated[date | None, Query(description="The day (default today)")] = None,
    to: Annotated[date | None, Query(description="Last day of a period from day")] = None,
    rep: Annotated[str | None, Query(max_length=100, description="Only this rep")] = None,
    tz: Annotated[
        str, Query(max_length=64, pattern=r"^[A-Za-z0-9_+/-]+$", description="Days' time zone")
    ] = "UTC",
) -> Any:
    """Calls, visits, activities, cost, cost per call, orders (leads won), orders per call,
    open and overdue leads, per rep and day, and each rep's totals for the period."""
    got = sales.figures(session, day or datetime.now(UTC).date(), to=to, rep=rep, tz=tz)
    return {
        "start": got.start.isoformat(),
        "end": got.end.isoformat(),
        "tz": got.tz,
        "days": [f.view() for f in got.days],
        "totals": [f.view() for f in got.totals],
    }


# ------------------------------------------------------------------ orders


@router.get("/orders", response_model=list[OrderOut], tags=["orders"], summary="Orders")
def list_orders(
    _p: OrderReader,
    session: SessionDep,
    status: Annotated[Literal["booked", "pending_approval", "rejected"] | None, Query()] = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Newest first."""
    found = orders.list_orders(session, status=status, customer_id=customer_id, limit=limit)
    return [orders.order_view(o) for o in found]


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"], summary="An order")
def get_order(order_id: OrderId, _p: OrderReader, session: SessionDep) -> Any:
    """One order."""
    return orders.order_view(orders.get_order(session, order_id))


def _decide(order_id: int, approve: bool, note: str, p: Principal, session: SessionDep) -> Any:
    o = orders.decide_order(
        session, order_id, approve=approve, actor=actor_of(p), role=p.role.value, note=note
    )
    session.commit()
    return orders.order_view(o)


@router.post(
    "/orders/{order_id}/approve",
    response_model=OrderOut,
    tags=["orders"],
    summary="Book an order waiting for discount approval",
)
def approve_order(
    order_id: OrderId, p: Approver, session: SessionDep, body: DecisionIn | None = None
) -> Any:
    """Only for pending orders, and never by whoever asked for the discount."""
    return _decide(order_id, True, body.note if body else "", p, session)


@router.post(
    "/orders/{order_id}/reject",
    response_model=OrderOut,
    tags=["orders"],
    summary="Refuse an order waiting for discount approval",
)
def reject_order(
    order_id: OrderId, p: Approver, session: SessionDep, body: DecisionIn | None = None
) -> Any:
    """Only for pending orders, and never by whoever asked for the discount."""
    return _decide(order_id, False, body.note if body else "", p, session)
