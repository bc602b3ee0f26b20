"""A lead's life: legal moves only, by its rep; won books the order, lost says why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tactica.errors import Conflict, InvalidInput, PermissionDenied
from tactica.services import orders, sales
from tactica.store.db import Store
from tactica.store.models import Activity, AuditEntry, Lead, Order
from tests.integration.sales.conftest import ADMIN, ANALYST, MARKETER, NOW, lead_for, rep

LATER = NOW + timedelta(hours=2)


def test_a_rep_works_a_lead_to_an_order(shop: Store) -> None:
    with shop.session() as s:
        lead_id = lead_for(s, "c1").id
        s.commit()
    rita = rep("rita")
    with shop.session() as s:
        sales.move_lead(s, lead_id, "contacted", who=rita, now=NOW + timedelta(minutes=5))
        sales.move_lead(s, lead_id, "qualified", who=rita, now=LATER)
        won = sales.move_lead(s, lead_id, "won", who=rita, discount="5", now=LATER)
        s.commit()
        assert won.order is not None
    with shop.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        assert (lead.status, lead.contacted_at, lead.closed_at, lead.lost_reason) == (
            "won",
            NOW + timedelta(minutes=5),
            LATER,
            None,
        )
        order = s.scalar(sa.select(Order).where(Order.lead_id == lead_id))
        assert order is not None
        assert (order.status, order.offer, order.customer_id, order.program) == (
            "booked",
            "GOLD",
            "c1",
            "north",
        )
        assert (order.amount, order.requested_by) == (Decimal("114.00"), "user:rita")
        moves = s.scalars(
            sa.select(AuditEntry.after)
            .where(AuditEntry.entity_type == "lead")
            .order_by(AuditEntry.id)
        ).all()
        assert [m["status"] for m in moves] == ["contacted", "qualified", "won"]
        detail = sales.lead_detail(s, lead_id, now=LATER)
        assert detail["order"]["id"] == order.id and detail["overdue"] is False


def test_only_legal_moves_and_reasons(shop: Store) -> None:
    rita = rep("rita")
    with shop.session() as s:
        lead = lead_for(s, "c1")
        with pytest.raises(
            Conflict, match="a new lead cannot become won; it may become: contacted, lost"
        ):
            sales.move_lead(s, lead.id, "won", who=rita)
        with pytest.raises(InvalidInput, match="unknown lead status 'done'"):
            sales.move_lead(s, lead.id, "done", who=rita)
        with pytest.raises(InvalidInput, match="reason: a lost lead needs a reason"):
            sales.move_lead(s, lead.id, "lost", reason="  ", who=rita)
        with pytest.raises(InvalidInput, match="discount: only a won lead"):
            sales.move_lead(s, lead.id, "contacted", discount=5, who=rita)
        sales.move_lead(s, lead.id, "lost", reason=" bought elsewhere ", who=rita, now=LATER)
        assert (lead.status, lead.lost_reason, lead.closed_at) == (
            "lost",
            "bought elsewhere",
            LATER,
        )
        with pytest.raises(Conflict, match="it may become: none \\(the lead is closed\\)"):
            sales.move_lead(s, lead.id, "contacted", who=rita)


def test_only_its_rep_or_a_sales_admin_works_a_lead(shop: Store) -> None:
    with shop.session() as s:
        lead = lead_for(s, "c1")  # rita's
        for who in (rep("paulo"), ANALYST):
            with pytest.raises(PermissionDenied, match=f"lead {lead.id} is rita's"):
                sales.move_lead(s, lead.id, "contacted", who=who)
            with pytest.raises(PermissionDenied):
                sales.log_activity(s, lead.id, "call", who=who)
        with pytest.raises(PermissionDenied, match="may not reassign"):
            sales.reassign_lead(s, lead.id, "paulo", who=rep("rita"))
        sales.move_lead(s, lead.id, "contacted", who=MARKETER)
        sales.reassign_lead(s, lead.id, "paulo", who=ADMIN, now=LATER)
        assert (lead.rep, lead.assigned_at) == ("paulo", LATER)
        sales.move_lead(s, lead.id, "qualified", who=rep("paulo"))
        with pytest.raises(PermissionDenied):
            sales.move_lead(s, lead.id, "lost", reason="x", who=rep("rita"))
        sales.add_rep(s, "gone", actor="t")
        sales.deactivate_rep(s, "gone", actor="t")
        with pytest.raises(Conflict, match="rep 'gone' is inactive"):
            sales.reassign_lead(s, lead.id, "gone", who=ADMIN)


def test_a_discount_beyond_bounds_waits_and_a_bad_one_changes_nothing(shop: Store) -> None:
    rita = rep("rita")
    with shop.session() as s:
        lead = lead_for(s, "c1")
        sales.move_lead(s, lead.id, "contacted", who=rita)
        lead_id = lead.id
        s.commit()
    with shop.session() as s, pytest.raises(InvalidInput, match="discount: a percentage"):
        sales.move_lead(s, lead_id, "won", discount="150", who=rita)
    with shop.session() as s:
        assert s.scalar(sa.select(Lead.status).where(Lead.id == lead_id)) == "contacted"
        assert s.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
        won = sales.move_lead(s, lead_id, "won", discount=25, who=rita)
        assert won.order is not None and won.order.status == "pending_approval"
        with pytest.raises(PermissionDenied):
            orders.decide_order(s, won.order.id, approve=True, actor="user:rita", role="sales_rep")
        orders.decide_order(s, won.order.id, approve=True, actor="user:mia", role="marketer")
        assert won.order.status == "booked" and won.order.amount == Decimal("90.00")


def test_activities_and_the_first_contact(shop: Store) -> None:
    rita = rep("rita")
    with shop.session() as s:
        lead = lead_for(s, "c1")
        mail = sales.log_activity(s, lead.id, "email", who=rita, now=NOW)
        assert (mail.contacted, lead.status) == (False, "new")
        called = NOW + timedelta(minutes=30)
        call = sales.log_activity(
            s,
            lead.id,
            "call",
            who=rita,
            at=called,
            minutes=12,
            cost="1.5",
            result="interested",
            notes="call back Friday",
            now=LATER,
        )
        assert call.contacted and (lead.status, lead.contacted_at) == ("contacted", called)
        # An admin logging on rita's lead records rita's work.
        visit = sales.log_activity(s, lead.id, "visit", who=ADMIN, cost=40, now=LATER)
        assert (visit.contacted, visit.activity.rep) == (False, "rita")
        with pytest.raises(InvalidInput, match="kind: unknown kind 'fax'; kinds are: call"):
            sales.log_activity(s, lead.id, "fax", who=rita)
        with pytest.raises(InvalidInput, match=r"at: .* is in the future"):
            sales.log_activity(
                s, lead.id, "call", who=rita, at=LATER + timedelta(hours=1), now=LATER
            )
        with pytest.raises(InvalidInput, match="cost: 'lots' is not a number"):
            sales.log_activity(s, lead.id, "call", who=rita, cost="lots")
        with pytest.raises(InvalidInput, match="minutes"):
            sales.log_activity(s, lead.id, "call", who=rita, minutes=-3)
        logged = sales.list_activities(s, lead.id)
        assert [(a.kind, a.minutes, a.cost, a.result) for a in logged] == [
            ("email", 0, Decimal("0.00"), ""),
            ("call", 12, Decimal("1.50"), "interested"),
            ("visit", 0, Decimal("40.00"), ""),
        ]
        assert s.scalar(sa.select(sa.func.count()).select_from(Activity)) == 3
