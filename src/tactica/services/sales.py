"""Sales: leads made from replies, assigned to reps, worked, won or lost.

A lead is opened in the transaction that takes the reply that asked for it, and
assigned there and then by the program's strategy (round robin, territory, skill or
load), among the active reps who still have room. The lead's territory is the
customer's attribute named by ``TACTICA_LEAD_TERRITORY_FIELD`` (``region``), its
skill the offer's product. Nobody with room: the lead waits, unassigned, and is
assigned (oldest first) when a rep is added, gets more capacity or closes a lead.

Reps work their own leads (sales admins — admins and marketers — any lead):
``new → contacted → qualified → won / lost``. Winning books the order in the same
transaction; a lead still new past its SLA is escalated to the rep's manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.config import get_settings
from tactica.domain.access import Permission, allows
from tactica.domain.sales import (
    OPEN_STATUSES,
    SPEAKING,
    AssignmentStrategy,
    LeadStatus,
    RepLoad,
    activity_kind,
    assignment_stamp,
    check_capacity,
    check_move,
    check_rep_name,
    choose_rep,
    clean_skills,
    is_overdue,
    move,
    per,
    rep_role,
    sla_due,
)
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import audit, orders
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.models import (
    Activity,
    Contact,
    Lead,
    Offer,
    Order,
    Program,
    Response,
    SalesRep,
    UtcDateTime,
)

DEFAULT_SLA_HOURS = 24
#: The longest period one figures call covers.
MAX_FIGURE_DAYS = 366
_OPEN = [s.value for s in OPEN_STATUSES]
_MAX_MINUTES = 24 * 60
_MAX_COST = Decimal("9999999999.99")
_CENT = Decimal("0.01")
#: How late an activity's time may be against the server's clock (clients' clocks drift).
_CLOCK_SLACK = timedelta(minutes=5)
_OLDEST_ACTIVITY = timedelta(days=3653)
#: Figures go back no further: older days predate any lead and some have no UTC reading.
FIRST_FIGURE_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class Acting:
    """Who works on the sales side: the username a lead's rep is matched against,
    the role that says what they may do, and how the audit log names them."""

    username: str
    role: str
    actor: str

    @property
    def sales_admin(self) -> bool:
        """True when the role may work any lead, reassign leads and manage reps."""
        return allows(self.role, Permission.SALES_ADMIN)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


# ------------------------------------------------------------------ views


def lead_view(lead: Lead, now: datetime | None = None) -> dict[str, Any]:
    """A lead as the API and CLI show it; ``overdue`` is judged at ``now``."""
    return {
        "id": lead.id,
        "customer_id": lead.customer_id,
        "program": lead.program,
        "campaign": lead.campaign,
        "offer": lead.offer,
        "contact_id": lead.contact_id,
        "response_id": lead.response_id,
        "reply": lead.reply,
        "status": lead.status,
        "rep": lead.rep,
        "assigned_at": _iso(lead.assigned_at),
        "due_at": _iso(lead.due_at),
        "overdue": is_overdue(lead.status, lead.due_at, now or _utcnow()),
        "contacted_at": _iso(lead.contacted_at),
        "escalated_at": _iso(lead.escalated_at),
        "escalated_to": lead.escalated_to,
        "closed_at": _iso(lead.closed_at),
        "lost_reason": lead.lost_reason,
        "created_at": _iso(lead.created_at),
    }


def rep_view(rep: SalesRep, open_leads: int = 0, overdue_leads: int = 0) -> dict[str, Any]:
    """A rep as the API and CLI show them, with how many open and overdue leads they hold."""
    return {
        "username": rep.username,
        "full_name": rep.full_name,
        "territory": rep.territory,
        "skills": list(rep.skills or ()),
        "capacity": rep.capacity,
        "role": rep.role,
        "manager": rep.manager,
        "active": rep.active,
        "open_leads": open_leads,
        "overdue_leads": overdue_leads,
        "last_assigned_at": _iso(rep.last_assigned_at),
    }


def activity_view(a: Activity) -> dict[str, Any]:
    """An activity as the API and CLI show it."""
    return {
        "id": a.id,
        "lead_id": a.lead_id,
        "rep": a.rep,
        "kind": a.kind,
        "at": a.at.isoformat(),
        "minutes": a.minutes,
        "cost": format(Decimal(a.cost), "f"),
        "result": a.result,
        "notes": a.notes,
    }


# ------------------------------------------------------------------ assignment


def fold(value: str | None) -> str | None:
    """A territory or skill as assignment compares it: trimmed and case-folded (None if blank)."""
    # Territories and skills are typed by people in two places (rep records, customer
    # data, offer products): 'Lisboa' and 'lisboa' are the same place.
    return value.strip().casefold() if value and value.strip() else None


def rep_loads(session: Session) -> list[RepLoad]:
    """Every active rep with their open leads, as assignment sees them."""
    open_count = (
        sa.select(Lead.rep, sa.func.count().label("n"))
        .where(Lead.status.in_(_OPEN), Lead.rep.is_not(None))
        .group_by(Lead.rep)
        .subquery()
    )
    rows = session.execute(
        sa.select(SalesRep, sa.func.coalesce(open_count.c.n, 0))
        .outerjoin(open_count, open_count.c.rep == SalesRep.username)
        .where(SalesRep.active.is_(True))
    ).all()
    return [
        RepLoad(
            username=r.username,
            territory=fold(r.territory),
            skills=frozenset(f for f in (fold(s) for s in r.skills or ()) if f),
            capacity=r.capacity,
            open_leads=int(n),
            last_assigned_at=r.last_assigned_at,
            role=r.role,
        )
        for r, n in rows
    ]


def territory_column(session: Session) -> tuple[sa.Table, sa.ColumnElement[Any]] | None:
    """The customer table and its territory attribute as text; None when not declared.

    The attribute is the one ``TACTICA_LEAD_TERRITORY_FIELD`` names (``region``).
    """
    schema = load_schema(session)
    name = get_settings().lead_territory_field
    if schema.get(name) is None:
        return None
    customers = customer_table(schema)
    return customers, sa.cast(customers.c[name], sa.String)


def _customer_territory(session: Session, customer_id: str) -> str | None:
    """The customer's territory (None: not declared, or not known for them)."""
    found = territory_column(session)
    if found is None:
        return None
    customers, column = found
    place: str | None = session.scalar(sa.select(column).where(customers.c.id == customer_id))
    return place


def assign(
    session: Session,
    lead: Lead,
    strategy: AssignmentStrategy | str,
    *,
    territory: str | None = None,
    skill: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Give ``lead`` to the rep the strategy picks; returns their username (None: nobody free)."""
    now = now or _utcnow()
    (who,) = pick_reps(session, [(str(strategy), territory, skill)], now=now)
    if who is not None:
        lead.rep, lead.assigned_at = who, now
        session.flush()
    return who


def assign_waiting(session: Session, *, now: datetime | None = None) -> int:
    """Assign waiting (unassigned, open) leads, oldest first, while reps have room.

    One query reads as many waiting leads as there are free places, with each one's
    strategy, territory and product; the choices are made in memory (each one
    updates the reps' loads) and written back in two bulk updates. Returns how many
    leads were assigned.
    """
    now = now or _utcnow()
    room = sum(r.free for r in rep_loads(session))
    if room == 0:
        return 0
    found = territory_column(session)
    q = (
        sa.select(
            Lead.id,
            sa.func.coalesce(Program.lead_assignment, AssignmentStrategy.ROUND_ROBIN.value),
            found[1] if found is not None else sa.null(),
            Offer.product,
        )
        .outerjoin(Program, Program.name == Lead.program)
        .outerjoin(Offer, Offer.code == Lead.offer)
        .where(Lead.rep.is_(None), Lead.status.in_(_OPEN))
        .order_by(Lead.id)
        .limit(room)
    )
    if found is not None:
        q = q.outerjoin(found[0], found[0].c.id == Lead.customer_id)
    rows = session.execute(q).all()
    picked = pick_reps(session, [(st, place, product) for _, st, place, product in rows], now=now)
    leads = [
        {"id": lead_id, "rep": who, "assigned_at": now}
        for (lead_id, *_), who in zip(rows, picked, strict=True)
        if who is not None
    ]
    if leads:
        session.execute(sa.update(Lead), leads)
        session.flush()
        session.expire_all()
    return len(leads)


def pick_reps(
    session: Session,
    wants: Sequence[tuple[str, str | None, str | None]],
    *,
    now: datetime,
) -> list[str | None]:
    """The rep for each ``(strategy, territory, skill)`` in order (None: nobody has room).

    Each choice counts against the reps' loads for the next one, as if the leads
    were assigned one by one; the reps' turns (``last_assigned_at``) are written in
    one statement, in name order, so that two batches at once never wait on each
    other's reps in opposite orders. The caller writes the leads.
    """
    if not wants:
        return []
    loads = {r.username: r for r in rep_loads(session)}
    stamps: dict[str, datetime] = {}
    out: list[str | None] = []
    for strategy, place, product in wants:
        chosen = choose_rep(
            list(loads.values()), strategy, territory=fold(place), skill=fold(product)
        )
        if chosen is None:
            out.append(None)
            continue
        stamp = assignment_stamp(loads.values(), now)
        loads[chosen.username] = replace(
            chosen, open_leads=chosen.open_leads + 1, last_assigned_at=stamp
        )
        stamps[chosen.username] = stamp
        out.append(chosen.username)
    if stamps:
        reps = cast(sa.Table, SalesRep.__table__)
        # Core, not ORM: an executemany keyed by username, not by primary key.
        session.execute(
            sa.update(reps)
            .where(reps.c.username == sa.bindparam("who"))
            .values(last_assigned_at=sa.bindparam("stamp", type_=UtcDateTime())),
            [{"who": who, "stamp": stamps[who]} for who in sorted(stamps)],
        )
    return out


#: The names services/responses.py first used; same functions.
_fold = fold
_territory = territory_column


def open_lead(
    session: Session,
    *,
    customer_id: str,
    reply: str,
    program: str | None = None,
    campaign: str | None = None,
    offer: str | None = None,
    contact_id: int | None = None,
    response_id: int | None = None,
    territory: str | None = None,
    skill: str | None = None,
    now: datetime | None = None,
) -> Lead:
    """Open a lead for a customer who asked to know more, and assign it.

    The program's strategy and SLA apply (round robin and 24 hours when the lead
    comes from no program). The territory is the customer's territory attribute and
    the skill the offer's product, unless given. One lead per response: taking the
    reply again returns it.
    """
    now = now or _utcnow()
    if response_id is not None:
        found = session.scalar(sa.select(Lead).where(Lead.response_id == response_id))
        if found is not None:
            return found
    strategy, hours = AssignmentStrategy.ROUND_ROBIN.value, DEFAULT_SLA_HOURS
    if program:
        row = session.execute(
            sa.select(Program.lead_assignment, Program.lead_sla_hours).where(
                Program.name == program
            )
        ).first()
        if row is not None:
            strategy, hours = row
    # Only the territory strategy looks at territories, only the skill one at products.
    if territory is None and strategy == AssignmentStrategy.TERRITORY.value:
        territory = _customer_territory(session, customer_id)
    if skill is None and strategy == AssignmentStrategy.SKILL.value and offer:
        skill = session.scalar(sa.select(Offer.product).where(Offer.code == offer))
    lead = Lead(
        customer_id=customer_id,
        reply=reply,
        program=program,
        campaign=campaign,
        offer=offer,
        contact_id=contact_id,
        response_id=response_id,
        status=LeadStatus.NEW.value,
        due_at=sla_due(now, hours),
        created_at=now,
    )
    session.add(lead)
    session.flush()
    assign(session, lead, strategy, territory=territory, skill=skill, now=now)
    return lead


# ------------------------------------------------------------------ reps


@dataclass
class RepChange:
    """A rep after a change, and what the change did to leads."""

    rep: SalesRep
    #: Open leads handed back when the rep was deactivated.
    released: int = 0
    #: Waiting leads assigned afterwards (to this rep or, when released, to others).
    assigned: int = 0


def _text(value: str | None, where: str, longest: int) -> str | None:
    """``value`` trimmed (None when blank), refused when longer than ``longest``."""
    if value is None or not value.strip():
        return None
    if len(value.strip()) > longest:
        raise InvalidInput(f"at most {longest} characters, got {len(value.strip())}", where)
    return value.strip()


def get_rep(session: Session, username: str) -> SalesRep:
    """The rep ``username``; NotFound otherwise."""
    rep = session.scalar(sa.select(SalesRep).where(SalesRep.username == username))
    if rep is None:
        raise NotFound(f"no rep {username!r} (see tactica reps list)")
    return rep


def add_rep(
    session: Session,
    username: str,
    *,
    full_name: str = "",
    territory: str | None = None,
    skills: Iterable[str] = (),
    capacity: int = 50,
    role: str = "hunter",
    manager: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> RepChange:
    """Add a rep (their username is their Tactica user's) and give them waiting leads."""
    check_rep_name(username)
    fields = {
        "full_name": _text(full_name, "full_name", 200) or "",
        "territory": _text(territory, "territory", 100),
        "skills": clean_skills(skills),
        "capacity": check_capacity(capacity),
        "role": rep_role(role).value,
        "manager": _manager(username, manager),
    }
    found = session.scalar(sa.select(SalesRep).where(SalesRep.username == username))
    if found is not None:
        hint = "" if found.active else f" (inactive: tactica reps update {username} --active)"
        raise Conflict(f"rep {username!r} exists already{hint}")
    rep = SalesRep(username=username, active=True, **fields)
    session.add(rep)
    session.flush()
    audit.record(session, actor, "create", "sales_rep", username, None, rep_view(rep))
    return RepChange(rep, assigned=assign_waiting(session, now=now))


def _manager(username: str, manager: str | None) -> str | None:
    name = _text(manager, "manager", 100)
    if name is None:
        return None
    check_rep_name(name, "manager")
    if name == username:
        raise InvalidInput("a rep cannot be their own manager", "manager")
    return name


def update_rep(
    session: Session,
    username: str,
    *,
    full_name: str | None = None,
    territory: str | None = None,
    skills: Iterable[str] | None = None,
    capacity: int | None = None,
    role: str | None = None,
    manager: str | None = None,
    active: bool | None = None,
    actor: str,
    now: datetime | None = None,
) -> RepChange:
    """Change a rep; None leaves a field as it is, ``""`` clears territory and manager.

    Deactivating hands the rep's open leads back, to be assigned again by each lead's
    program strategy; more capacity (or reactivating) takes waiting leads.
    """
    rep = get_rep(session, username)
    before = rep_view(rep)
    if full_name is not None:
        rep.full_name = _text(full_name, "full_name", 200) or ""
    if territory is not None:
        rep.territory = _text(territory, "territory", 100)
    if skills is not None:
        rep.skills = clean_skills(skills)
    if capacity is not None:
        rep.capacity = check_capacity(capacity)
    if role is not None:
        rep.role = rep_role(role).value
    if manager is not None:
        rep.manager = _manager(username, manager)
    released = 0
    if active is not None and active != rep.active:
        rep.active = active
        if not active:
            released = _release(session, username)
    session.flush()
    after = rep_view(rep)
    if after != before:
        audit.record(session, actor, "update", "sales_rep", username, before, after)
    return RepChange(rep, released=released, assigned=assign_waiting(session, now=now))


def deactivate_rep(
    session: Session, username: str, *, actor: str, now: datetime | None = None
) -> RepChange:
    """Stop giving a rep leads; their open leads go to the others (or wait)."""
    return update_rep(session, username, active=False, actor=actor, now=now)


def _release(session: Session, username: str) -> int:
    """Unassign the rep's open leads; returns how many."""
    done = session.execute(
        sa.update(Lead)
        .where(Lead.rep == username, Lead.status.in_(_OPEN))
        .values(rep=None, assigned_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def list_reps(
    session: Session, *, include_inactive: bool = False, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Reps by username with their open and overdue leads (active ones unless asked)."""
    now = now or _utcnow()
    held = (
        sa.select(
            Lead.rep,
            sa.func.count().label("open"),
            sa.func.sum(sa.case((_overdue_at(now), 1), else_=0)).label("overdue"),
        )
        .where(Lead.status.in_(_OPEN), Lead.rep.is_not(None))
        .group_by(Lead.rep)
        .subquery()
    )
    q = (
        sa.select(SalesRep, held.c.open, held.c.overdue)
        .outerjoin(held, held.c.rep == SalesRep.username)
        .order_by(SalesRep.username)
    )
    if not include_inactive:
        q = q.where(SalesRep.active.is_(True))
    return [rep_view(r, int(o or 0), int(d or 0)) for r, o, d in session.execute(q)]


def _overdue_at(now: datetime) -> sa.ColumnElement[bool]:
    """A lead still new past its SLA at ``now`` (what :func:`is_overdue` says, in SQL)."""
    return sa.and_(Lead.status == LeadStatus.NEW.value, Lead.due_at <= now)


# ------------------------------------------------------------------ working leads


def get_lead(session: Session, lead_id: int, *, lock: bool = False) -> Lead:
    """The lead ``lead_id``; NotFound otherwise."""
    q = sa.select(Lead).where(Lead.id == lead_id)
    lead = session.scalar(q.with_for_update() if lock else q)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    return lead


def list_leads(
    session: Session,
    *,
    rep: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    unassigned: bool = False,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Lead]:
    """Leads, newest first; overdue ones (still new past their SLA) most overdue first."""
    now = now or _utcnow()
    q = sa.select(Lead)
    if status is not None:
        try:
            q = q.where(Lead.status == LeadStatus(status).value)
        except ValueError:
            known = ", ".join(s.value for s in LeadStatus)
            raise InvalidInput(f"one of {known}, got {status!r}", "status") from None
    if rep is not None:
        q = q.where(Lead.rep == rep)
    if unassigned:
        q = q.where(Lead.rep.is_(None), Lead.status.in_(_OPEN))
    if overdue:
        q = q.where(_overdue_at(now)).order_by(Lead.due_at, Lead.id)
    else:
        q = q.order_by(Lead.id.desc())
    return list(session.scalars(q.limit(limit).offset(offset)))


def lead_detail(session: Session, lead_id: int, now: datetime | None = None) -> dict[str, Any]:
    """A lead with its activities (oldest first) and the order it was won with, if any."""
    lead = get_lead(session, lead_id)
    acts = session.scalars(
        sa.select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.at, Activity.id)
    )
    order = session.scalar(sa.select(Order).where(Order.lead_id == lead_id))
    return {
        **lead_view(lead, now),
        "activities": [activity_view(a) for a in acts],
        "order": orders.order_view(order) if order is not None else None,
    }


#: The inbox's status filters: the open leads (new, contacted, qualified), every lead,
#: or the leads of one status.
INBOX_STATUSES: tuple[str, ...] = ("open", "all", *(s.value for s in LeadStatus))


@dataclass(frozen=True)
class InboxRow:
    """A lead as a rep scans their inbox: whether it is overdue and what it is worth."""

    lead: Lead
    overdue: bool
    #: The order's amount once the lead is won, else the offer's price (None: no offer).
    value: Decimal | None
    currency: str | None
    #: The order's status (booked, pending_approval, rejected; None: no order).
    order_status: str | None


@dataclass
class Inbox:
    """One page of an inbox, and how many leads match in all."""

    rows: list[InboxRow]
    total: int


def _inbox_filter(status: str, rep: str | None, unassigned: bool) -> list[sa.ColumnElement[bool]]:
    if status not in INBOX_STATUSES:
        raise InvalidInput(f"one of {', '.join(INBOX_STATUSES)}, got {status!r}", "status")
    where: list[sa.ColumnElement[bool]] = []
    if status == "open":
        where.append(Lead.status.in_(_OPEN))
    elif status != "all":
        where.append(Lead.status == status)
    if unassigned:
        where += [Lead.rep.is_(None), Lead.status.in_(_OPEN)]
    elif rep is not None:
        where.append(Lead.rep == rep)
    return where


def inbox(
    session: Session,
    *,
    rep: str | None = None,
    unassigned: bool = False,
    status: str = "open",
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Inbox:
    """A page of leads in the order a rep works them, and how many match in all.

    Overdue leads (still new past their SLA) come first, the most overdue first; then
    the other open leads by due time, the soonest first; then closed leads, the latest
    closed first. ``status`` is one of :data:`INBOX_STATUSES`; ``rep`` keeps one rep's
    leads, ``unassigned`` the open leads nobody holds. The database filters, orders,
    cuts the page and counts.
    """
    now = now or _utcnow()
    where = _inbox_filter(status, rep, unassigned)
    is_open = Lead.status.in_(_OPEN)
    q = (
        sa.select(Lead, Order.amount, Order.currency, Order.status, Offer.price, Offer.currency)
        .outerjoin(Offer, Offer.code == Lead.offer)
        .outerjoin(Order, Order.lead_id == Lead.id)
        .where(*where)
        .order_by(
            sa.case((_overdue_at(now), 0), else_=1),
            # Open leads with a due time, by it; then open ones without; then closed ones.
            sa.case((sa.and_(is_open, Lead.due_at.is_not(None)), 0), (is_open, 1), else_=2),
            sa.case((is_open, Lead.due_at)),
            Lead.closed_at.desc(),
            Lead.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    rows = [
        InboxRow(
            lead=lead,
            overdue=is_overdue(lead.status, lead.due_at, now),
            value=amount if amount is not None else price,
            currency=(order_cur if amount is not None else offer_cur),
            order_status=order_status,
        )
        for lead, amount, order_cur, order_status, price, offer_cur in session.execute(q)
    ]
    total = session.scalar(sa.select(sa.func.count()).select_from(Lead).where(*where))
    return Inbox(rows, int(total or 0))


@dataclass
class History:
    """What a customer has been through, newest first, each list cut at a limit."""

    contacts: list[Contact]
    responses: list[Response]
    orders: list[Order]
    leads: list[Lead]
    #: The lists that were cut (older rows exist): "contacts", "responses"...
    more: set[str] = field(default_factory=set)


def customer_history(
    session: Session, customer_id: str, *, limit: int = 20, besides: int | None = None
) -> History:
    """The customer's contacts (campaign, offer, channel, when, status), responses,
    orders and leads (all but lead ``besides``), newest first, at most ``limit`` each.

    Every read is by customer id on its index and stops after ``limit + 1`` rows, so
    a lead's page costs the same however long the customer's history is.
    """

    def newest(q: sa.Select[Any]) -> list[Any]:
        return list(session.scalars(q.limit(limit + 1)))

    lead_q = sa.select(Lead).where(Lead.customer_id == customer_id)
    if besides is not None:
        lead_q = lead_q.where(Lead.id != besides)
    found = {
        "contacts": newest(
            sa.select(Contact)
            .where(Contact.customer_id == customer_id)
            .order_by(Contact.decided_at.desc(), Contact.id.desc())
        ),
        "responses": newest(
            sa.select(Response)
            .where(Response.customer_id == customer_id)
            .order_by(Response.received_at.desc(), Response.id.desc())
        ),
        "orders": newest(
            sa.select(Order).where(Order.customer_id == customer_id).order_by(Order.id.desc())
        ),
        "leads": newest(lead_q.order_by(Lead.id.desc())),
    }
    return History(
        contacts=found["contacts"][:limit],
        responses=found["responses"][:limit],
        orders=found["orders"][:limit],
        leads=found["leads"][:limit],
        more={k for k, v in found.items() if len(v) > limit},
    )


def may_work(lead: Lead, who: Acting) -> bool:
    """True when ``who`` may work ``lead`` (log activities, move it): the lead's rep, or
    a sales admin. The same rule :func:`move_lead` and :func:`log_activity` enforce."""
    try:
        _may_work(lead, who)
    except PermissionDenied:
        return False
    return True


def _may_work(lead: Lead, who: Acting) -> None:
    if who.sales_admin:
        return
    if allows(who.role, Permission.LEADS_WRITE) and lead.rep == who.username:
        return
    owner = f"{lead.rep}'s" if lead.rep else "not assigned to you"
    raise PermissionDenied(
        f"lead {lead.id} is {owner}; only its rep or a sales admin (admin, marketer) may work it"
    )


@dataclass
class Moved:
    """A lead after a move: the order a win booked, waiting leads a close let in."""

    lead: Lead
    order: Order | None = None
    assigned: int = 0


def move_lead(
    session: Session,
    lead_id: int,
    status: str,
    *,
    who: Acting,
    reason: str | None = None,
    discount: Decimal | int | str | None = None,
    offer: str | None = None,
    now: datetime | None = None,
) -> Moved:
    """Move a lead along ``new → contacted → qualified → won / lost``.

    Only its rep or a sales admin may. ``lost`` needs a ``reason``; ``won`` books the
    order for the lead's offer (or ``offer``) in this transaction — a ``discount``
    (percent) beyond the offer's bounds leaves it waiting for approval. Closing a
    lead frees a place, so waiting leads are assigned.
    """
    now = now or _utcnow()
    lead = get_lead(session, lead_id, lock=True)
    _may_work(lead, who)
    target = move(lead.status, status)
    lost_reason = check_move(target, reason=reason, discount=discount, offer=offer)
    before = lead_view(lead, now)
    done = Moved(lead)
    if target is LeadStatus.WON:
        code = offer or lead.offer
        if not code:
            raise InvalidInput(f"lead {lead.id} names no offer: say which one was ordered", "offer")
        # Booked before the lead changes: a refused discount or an unknown offer leaves
        # the lead as it was.
        done.order = orders.book_order(
            session,
            customer_id=lead.customer_id,
            offer_code=code,
            actor=who.actor,
            program=lead.program,
            campaign=lead.campaign,
            contact_id=lead.contact_id,
            lead_id=lead.id,
            discount=Decimal(0) if discount is None else discount,
            note=f"won lead {lead.id}",
        )
    if target is LeadStatus.CONTACTED and lead.contacted_at is None:
        lead.contacted_at = now
    lead.status = target.value
    if target in (LeadStatus.WON, LeadStatus.LOST):
        lead.closed_at = now
        lead.lost_reason = lost_reason
    session.flush()
    audit.record(session, who.actor, "move", "lead", lead.id, before, lead_view(lead, now))
    if target in (LeadStatus.WON, LeadStatus.LOST):
        done.assigned = assign_waiting(session, now=now)
    return done


def reassign_lead(
    session: Session, lead_id: int, rep: str, *, who: Acting, now: datetime | None = None
) -> Moved:
    """Give an open lead to ``rep`` (sales admins only), even past the rep's capacity.

    The SLA stays as it was: the customer has been waiting all along.
    """
    now = now or _utcnow()
    if not who.sales_admin:
        raise PermissionDenied(f"a {who.role} may not reassign leads (sales admins may)")
    lead = get_lead(session, lead_id, lock=True)
    target = get_rep(session, rep)
    if not target.active:
        raise Conflict(f"rep {rep!r} is inactive")
    if lead.status not in _OPEN:
        raise Conflict(f"lead {lead.id} is {lead.status}; only open leads are reassigned")
    if lead.rep == rep:
        return Moved(lead)
    before = lead_view(lead, now)
    freed = lead.rep is not None
    lead.rep, lead.assigned_at = rep, now
    session.flush()
    audit.record(session, who.actor, "assign", "lead", lead.id, before, lead_view(lead, now))
    return Moved(lead, assigned=assign_waiting(session, now=now) if freed else 0)


def _money(value: Decimal | int | str, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{value!r} is not a number", where) from None
    if not amount.is_finite() or not Decimal(0) <= amount <= _MAX_COST:
        raise InvalidInput(f"from 0 to {_MAX_COST}, got {value!r}", where)
    return amount.quantize(_CENT)


@dataclass
class Logged:
    """An activity logged, and whether it made a new lead contacted."""

    activity: Activity
    lead: Lead
    contacted: bool = False


def log_activity(
    session: Session,
    lead_id: int,
    kind: str,
    *,
    who: Acting,
    at: datetime | None = None,
    minutes: int = 0,
    cost: Decimal | int | str = Decimal(0),
    result: str = "",
    notes: str = "",
    now: datetime | None = None,
) -> Logged:
    """Record a call, visit, e-mail or meeting on a lead (its rep or a sales admin).

    A call, visit or meeting on a ``new`` lead makes it ``contacted`` at that time:
    the rep has spoken to the customer, and the SLA is met.
    """
    now = now or _utcnow()
    what = activity_kind(kind)
    when = _activity_time(at or now, now)
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not 0 <= minutes <= _MAX_MINUTES
    ):
        raise InvalidInput(f"whole minutes from 0 to {_MAX_MINUTES}, got {minutes!r}", "minutes")
    outcome = _text(result, "result", 32) or ""
    note = notes.strip()
    if len(note) > 10_000:
        raise InvalidInput(f"at most 10000 characters, got {len(note)}", "notes")
    lead = get_lead(session, lead_id, lock=True)
    _may_work(lead, who)
    act = Activity(
        lead_id=lead.id,
        # An admin logging for a lead records the rep's work; on an unassigned lead, their own.
        rep=lead.rep or who.username,
        kind=what.value,
        at=when,
        minutes=minutes,
        cost=_money(cost, "cost"),
        result=outcome,
        notes=note,
    )
    session.add(act)
    contacted = False
    if what in SPEAKING and lead.status == LeadStatus.NEW.value:
        before = lead_view(lead, now)
        lead.status = LeadStatus.CONTACTED.value
        lead.contacted_at = when
        contacted = True
        session.flush()
        audit.record(session, who.actor, "move", "lead", lead.id, before, lead_view(lead, now))
    elif what in SPEAKING and lead.contacted_at is None:
        lead.contacted_at = when
    session.flush()
    return Logged(act, lead, contacted)


def _activity_time(at: datetime, now: datetime) -> datetime:
    """``at`` in UTC (naive: taken as UTC), not in the future nor over ten years old."""
    try:
        when = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset has no UTC reading
        raise InvalidInput(f"{at.isoformat()} is out of range", "at") from None
    if when > now + _CLOCK_SLACK:
        raise InvalidInput(f"{when.isoformat()} is in the future", "at")
    if when < now - _OLDEST_ACTIVITY:
        raise InvalidInput(f"{when.isoformat()} is more than ten years ago", "at")
    return when


def list_activities(session: Session, lead_id: int) -> list[Activity]:
    """A lead's activities, oldest first."""
    get_lead(session, lead_id)
    return list(
        session.scalars(
            sa.select(Activity)
            .where(Activity.lead_id == lead_id)
            .order_by(Activity.at, Activity.id)
        )
    )


# ------------------------------------------------------------------ SLA


@dataclass(frozen=True)
class Escalation:
    """A lead escalated: its rep and who it went to (None: the rep has no manager)."""

    lead_id: int
    rep: str | None
    escalated_to: str | None


def escalate_overdue(session: Session, now: datetime | None = None) -> list[Escalation]:
    """Flag every lead still new past its SLA and not yet escalated, in one UPDATE.

    ``escalated_to`` is the rep's manager; a lead with no rep or a rep with no manager
    is flagged all the same. Safe to run from any number of schedulers at once.
    """
    now = now or _utcnow()
    manager = sa.select(SalesRep.manager).where(SalesRep.username == Lead.rep).scalar_subquery()
    rows = session.execute(
        sa.update(Lead)
        .where(_overdue_at(now), Lead.escalated_at.is_(None))
        .values(escalated_at=now, escalated_to=manager)
        .returning(Lead.id, Lead.rep, Lead.escalated_to)
        .execution_options(synchronize_session=False)
    ).all()
    session.expire_all()
    return sorted((Escalation(int(i), r, m) for i, r, m in rows), key=lambda e: e.lead_id)


# ------------------------------------------------------------------ figures


@dataclass
class RepFigures:
    """A rep's sales figures for one day (or, ``day`` None, a whole period).

    ``open_leads`` and ``overdue_leads`` are as at the end of the day (or now, for
    today); the rest is what happened during it.
    """

    rep: str
    day: date | None
    calls: int = 0
    visits: int = 0
    activities: int = 0
    minutes: int = 0
    cost: Decimal = Decimal("0.00")
    orders: int = 0
    open_leads: int = 0
    overdue_leads: int = 0

    @property
    def cost_per_call(self) -> Decimal | None:
        """What the rep's activities cost per call made (None without calls)."""
        return per(self.cost, self.calls)

    @property
    def orders_per_call(self) -> Decimal | None:
        """Leads won per call made (None without calls)."""
        return per(self.orders, self.calls)

    def view(self) -> dict[str, Any]:
        """As the API and CLI show it: money and ratios as decimal strings."""
        return {
            "rep": self.rep,
            "day": self.day.isoformat() if self.day else None,
            "calls": self.calls,
            "visits": self.visits,
            "activities": self.activities,
            "minutes": self.minutes,
            "cost": format(self.cost, "f"),
            "cost_per_call": _dec(self.cost_per_call),
            "orders": self.orders,
            "orders_per_call": _dec(self.orders_per_call),
            "open_leads": self.open_leads,
            "overdue_leads": self.overdue_leads,
        }


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass
class Figures:
    """Figures per rep and day over a period, and each rep's totals for the period."""

    start: date
    end: date
    tz: str
    days: list[RepFigures] = field(default_factory=list)
    totals: list[RepFigures] = field(default_factory=list)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, an odd path
        raise InvalidInput(f"unknown time zone {tz!r} (e.g. UTC, Europe/Lisbon)", "tz") from None


def figures(
    session: Session,
    day: date,
    *,
    to: date | None = None,
    rep: str | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
) -> Figures:
    """Calls, visits, activities, cost, orders (leads won), open and overdue leads per rep and day.

    Days run midnight to midnight in ``tz``; a period ends at ``to`` (inclusive, at
    most :data:`MAX_FIGURE_DAYS` days, never after today). One query answers it all:
    the days as a small derived table, activities and won leads grouped by day and
    rep, open and overdue leads counted as at each day's end from their timestamps
    (a lead counts for the rep who holds it now).
    """
    now = now or _utcnow()
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    end = min(to or day, today)
    if day > today:
        raise InvalidInput(f"{day.isoformat()} has not begun (today is {today})", "day")
    if day < FIRST_FIGURE_DAY:
        raise InvalidInput(f"from {FIRST_FIGURE_DAY.isoformat()} on, got {day.isoformat()}", "day")
    if to is not None and to < day:
        raise InvalidInput(f"{to.isoformat()} is before {day.isoformat()}", "to")
    n = (end - day).days + 1
    if n > MAX_FIGURE_DAYS:
        raise InvalidInput(f"at most {MAX_FIGURE_DAYS} days at once, got {n}", "to")
    if rep is not None:
        get_rep(session, rep)
    dates = [day + timedelta(days=i) for i in range(n)]
    bounds = [_day_bounds(d, zone) for d in dates]
    rows = session.execute(_figures_query(bounds, rep, now)).all()
    out = Figures(day, end, tz)
    for i, who, calls, visits, acts, minutes, cost, won, held, late in rows:
        out.days.append(
            RepFigures(
                who,
                dates[int(i)],
                int(calls),
                int(visits),
                int(acts),
                int(minutes),
                Decimal(str(cost)).quantize(_CENT),
                int(won),
                int(held),
                int(late),
            )
        )
    out.totals = _totals(out.days)
    return out


def _day_bounds(d: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(d, time(), zone).astimezone(UTC)
    end = datetime.combine(d + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def _figures_query(
    bounds: Sequence[tuple[datetime, datetime]], rep: str | None, now: datetime
) -> sa.Select[Any]:
    utc = UtcDateTime()
    days_rows = [
        sa.select(
            sa.cast(sa.literal(i), sa.Integer).label("i"),
            sa.literal(d0, utc).label("d0"),
            sa.literal(d1, utc).label("d1"),
            # Open and overdue leads are counted as at the day's end, or now for today.
            sa.literal(min(d1, now), utc).label("cut"),
        )
        for i, (d0, d1) in enumerate(bounds)
    ]
    days = (days_rows[0] if len(days_rows) == 1 else sa.union_all(*days_rows)).cte("days")
    start, end = bounds[0][0], bounds[-1][1]

    def kind(k: str) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((Activity.kind == k, 1), else_=0))

    act = (
        sa.select(
            days.c.i,
            Activity.rep.label("rep"),
            kind("call").label("calls"),
            kind("visit").label("visits"),
            sa.func.count().label("acts"),
            sa.func.sum(Activity.minutes).label("minutes"),
            sa.func.sum(Activity.cost).label("cost"),
        )
        .select_from(days)
        .join(Activity, sa.and_(Activity.at >= days.c.d0, Activity.at < days.c.d1))
        .group_by(days.c.i, Activity.rep)
        .subquery("act")
    )
    won = (
        sa.select(days.c.i, Lead.rep.label("rep"), sa.func.count().label("won"))
        .select_from(days)
        .join(
            Lead,
            sa.and_(
                Lead.status == LeadStatus.WON.value,
                Lead.closed_at >= days.c.d0,
                Lead.closed_at < days.c.d1,
                Lead.rep.is_not(None),
            ),
        )
        .group_by(days.c.i, Lead.rep)
        .subquery("won")
    )
    not_yet = sa.or_(Lead.closed_at.is_(None), Lead.closed_at > days.c.cut)
    late = sa.and_(
        Lead.due_at <= days.c.cut,
        sa.or_(Lead.contacted_at.is_(None), Lead.contacted_at > days.c.cut),
    )
    held = (
        sa.select(
            days.c.i,
            Lead.rep.label("rep"),
            sa.func.count().label("held"),
            sa.func.sum(sa.case((late, 1), else_=0)).label("late"),
        )
        .select_from(days)
        .join(Lead, sa.and_(Lead.rep.is_not(None), Lead.assigned_at <= days.c.cut, not_yet))
        .group_by(days.c.i, Lead.rep)
        .subquery("held")
    )
    people = sa.union(
        sa.select(SalesRep.username.label("rep")).where(SalesRep.active.is_(True)),
        sa.select(Activity.rep).where(Activity.at >= start, Activity.at < end),
        sa.select(Lead.rep).where(
            Lead.status == LeadStatus.WON.value,
            Lead.closed_at >= start,
            Lead.closed_at < end,
            Lead.rep.is_not(None),
        ),
    ).subquery("people")

    def on(sub: sa.Subquery) -> sa.ColumnElement[bool]:
        return sa.and_(sub.c.i == days.c.i, sub.c.rep == people.c.rep)

    def z(col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(col, 0)

    q = (
        sa.select(
            days.c.i,
            people.c.rep,
            z(act.c.calls),
            z(act.c.visits),
            z(act.c.acts),
            z(act.c.minutes),
            z(act.c.cost),
            z(won.c.won),
            z(held.c.held),
            z(held.c.late),
        )
        .select_from(days)
        .join(people, sa.true())
        .outerjoin(act, on(act))
        .outerjoin(won, on(won))
        .outerjoin(held, on(held))
        .order_by(days.c.i, people.c.rep)
    )
    if rep is not None:
        q = q.where(people.c.rep == rep)
    return q


def _totals(days: Sequence[RepFigures]) -> list[RepFigures]:
    """Each rep's period: the day figures summed, open and overdue as at the last day."""
    by_rep: dict[str, RepFigures] = {}
    last: dict[str, RepFigures] = {}
    for d in days:
        t = by_rep.setdefault(d.rep, RepFigures(d.rep, None))
        t.calls += d.calls
        t.visits += d.visits
        t.activities += d.activities
        t.minutes += d.minutes
        t.cost += d.cost
        t.orders += d.orders
        last[d.rep] = d
    for who, t in by_rep.items():
        t.open_leads, t.overdue_leads = last[who].open_leads, last[who].overdue_leads
    return sorted(by_rep.values(), key=lambda t: t.rep)
