"""Sales: leads made from replies, assigned to reps, worked, won or lost.

A lead is opened in the transaction that takes the reply that asked for it, and
assigned there and then by the program's strategy (round robin, territory, skill or
load), among the active reps who still have room. Nobody with room: the lead waits,
unassigned, and is assigned when a rep frees up or is added.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.sales import OPEN_STATUSES, AssignmentStrategy, RepLoad, choose_rep, sla_due
from tactica.store.models import Lead, Program, SalesRep

DEFAULT_SLA_HOURS = 24


def lead_view(lead: Lead) -> dict[str, Any]:
    """A lead as the API and CLI show it."""
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
        "contacted_at": _iso(lead.contacted_at),
        "escalated_at": _iso(lead.escalated_at),
        "escalated_to": lead.escalated_to,
        "closed_at": _iso(lead.closed_at),
        "lost_reason": lead.lost_reason,
        "created_at": _iso(lead.created_at),
    }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def rep_loads(session: Session) -> list[RepLoad]:
    """Every active rep with their open leads, as assignment sees them."""
    open_count = (
        sa.select(Lead.rep, sa.func.count().label("n"))
        .where(Lead.status.in_([s.value for s in OPEN_STATUSES]), Lead.rep.is_not(None))
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
            territory=r.territory,
            skills=frozenset(r.skills or ()),
            capacity=r.capacity,
            open_leads=int(n),
            last_assigned_at=r.last_assigned_at,
            role=r.role,
        )
        for r, n in rows
    ]


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
    now = now or datetime.now(UTC)
    chosen = choose_rep(rep_loads(session), strategy, territory=territory, skill=skill)
    if chosen is None:
        return None
    lead.rep = chosen.username
    lead.assigned_at = now
    session.execute(
        sa.update(SalesRep)
        .where(SalesRep.username == chosen.username)
        .values(last_assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return chosen.username


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
    comes from no program). One lead per response: taking the reply again returns it.
    """
    now = now or datetime.now(UTC)
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
    lead = Lead(
        customer_id=customer_id,
        reply=reply,
        program=program,
        campaign=campaign,
        offer=offer,
        contact_id=contact_id,
        response_id=response_id,
        status="new",
        due_at=sla_due(now, hours),
    )
    session.add(lead)
    session.flush()
    assign(session, lead, strategy, territory=territory, skill=skill, now=now)
    return lead
