"""Taking replies: attribution, dedupe, the outcome each reply leads to, and review."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tactica.errors import Conflict, PermissionDenied
from tactica.services import orders, responses, runs
from tactica.services.reply_rules import list_rules
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store
from tactica.store.models import Lead, Order, Response, RunCampaign, SpecialListEntry

from .conftest import NOW, contact_of


def sms(mid: str, customer: int, text: str, **kw: object) -> Inbound:
    """A gateway's SMS reply from customer c<nn>'s number, written without the '+'."""
    return Inbound(mid, "sms", text, sender=f"35191{customer:07d}", received_at=NOW, **kw)  # type: ignore[arg-type]


def one(store: Store, mid: str) -> Response:
    with store.session() as s:
        r = s.scalar(sa.select(Response).where(Response.message_id == mid))
        assert r is not None
        s.expunge(r)
        return r


def test_yes_books_an_order_for_the_contacts_offer(ran: Store) -> None:
    taken = take_responses(ran, "gw", [sms("m1", 1, "Yes please!")], now=NOW)
    assert (taken.accepted, taken.orders) == (1, 1)
    r = one(ran, "m1")
    contact = contact_of(ran, "c01")
    assert (r.customer_id, r.contact_id, r.attributed_by) == ("c01", contact.id, "window")
    assert (r.outcome, r.result, r.campaign, r.offer) == ("order", "order", "gold-sms", "GOLD")
    with ran.session() as s:
        order = s.scalar(sa.select(Order).where(Order.response_id == r.id))
        assert order is not None
        assert (order.status, order.price, order.amount) == (
            "booked",
            Decimal("120"),
            Decimal("120"),
        )


def test_the_same_message_twice_is_taken_once(ran: Store) -> None:
    first = take_responses(ran, "gw", [sms("m1", 1, "YES"), sms("m1", 1, "YES")], now=NOW)
    again = take_responses(ran, "gw", [sms("m1", 1, "YES")], now=NOW)
    assert (first.accepted, first.duplicates) == (1, 1)
    assert (again.accepted, again.duplicates, again.orders) == (0, 1, 0)
    with ran.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Order)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Response)) == 1
    # Another source may use the same id for another message.
    assert take_responses(ran, "other-gw", [sms("m1", 2, "yes")], now=NOW).accepted == 1


@pytest.mark.parametrize("text", ["STOP", "退订", "СТОП", "please stop texting me"])
def test_an_opt_out_is_on_the_list_when_the_batch_commits(ran: Store, text: str) -> None:
    taken = take_responses(ran, "gw", [sms("m1", 2, text)], now=NOW)
    assert taken.opt_outs == 1
    with ran.session() as s:
        entry = s.scalar(sa.select(SpecialListEntry).where(SpecialListEntry.customer_id == "c02"))
        assert entry is not None and entry.channel == "sms"
        assert text[:4] in entry.reason


def test_the_next_run_excludes_who_opted_out(ran: Store) -> None:
    take_responses(ran, "gw", [sms("m1", 2, "STOP"), sms("m2", 3, "СТОП")], now=NOW)
    nxt = runs.run_program(ran, "autumn", actor="ana", now=NOW + timedelta(days=1))
    assert nxt is not None and nxt.status == "completed"
    with ran.session() as s:
        row = s.scalar(
            sa.select(RunCampaign).where(
                RunCampaign.run_id == nxt.run_id, RunCampaign.campaign == "gold-sms"
            )
        )
        assert row is not None
        assert row.excluded == {"opted out (list 'opt_out')": 2}


def test_scope_all_opts_out_of_every_channel(ran: Store) -> None:
    take_responses(ran, "gw", [sms("m1", 2, "STOP")], opt_out_scope="all", now=NOW)
    with ran.session() as s:
        channels = s.scalars(
            sa.select(SpecialListEntry.channel).where(SpecialListEntry.customer_id == "c02")
        ).all()
    assert channels == ["all"]


def test_interest_opens_a_lead_assigned_in_turn_with_the_programs_sla(ran: Store) -> None:
    taken = take_responses(
        ran,
        "gw",
        [sms("m1", 1, "tell me more"), sms("m2", 2, "详细介绍一下"), sms("m3", 3, "подробнее")],
        now=NOW,
    )
    assert taken.leads == 3
    with ran.session() as s:
        leads = s.scalars(sa.select(Lead).order_by(Lead.id)).all()
        assert [lead.rep for lead in leads] == ["rita", "sam", "rita"]
        assert {lead.status for lead in leads} == {"new"}
        assert leads[0].due_at == NOW + timedelta(hours=4)
        assert (leads[0].customer_id, leads[0].offer, leads[0].reply) == (
            "c01",
            "GOLD",
            "tell me more",
        )


def test_a_yes_that_also_asks_becomes_a_lead_not_an_order(ran: Store) -> None:
    taken = take_responses(ran, "gw", [sms("m1", 1, "yes but how much is it?")], now=NOW)
    assert (taken.orders, taken.leads) == (0, 1)


def test_unknown_senders_and_late_replies_are_kept_unattributed(ran: Store) -> None:
    late = NOW + timedelta(days=8)  # gold-sms answers within 7 days
    taken = take_responses(
        ran,
        "gw",
        [
            Inbound("m1", "sms", "YES", sender="+999", received_at=NOW),
            Inbound("m2", "sms", "YES", sender="+351910000001", received_at=late),
            Inbound("m3", "sms", "STOP", sender="+351910000001", received_at=late),
        ],
        now=late,
    )
    assert (taken.accepted, taken.unattributed, taken.orders, taken.opt_outs) == (3, 2, 0, 1)
    with ran.session() as s:
        listed = responses.list_responses(s, unattributed=True)
        assert {r.message_id for r in listed} == {"m1", "m2", "m3"}
        assert one(ran, "m2").customer_id == "c01"
        # Late or not, a known customer who says STOP is left alone.
        assert s.scalar(sa.select(SpecialListEntry.id).where(SpecialListEntry.customer_id == "c01"))


def test_a_reply_token_names_the_contact(ran: Store) -> None:
    contact = contact_of(ran, "c15")  # reached by e-mail
    item = Inbound("<abc@mail>", "email", "Yes", sender="C15@Example.com", contact_id=contact.id)
    take_responses(ran, "inbound-smtp", [item], now=NOW)
    r = one(ran, "<abc@mail>")
    assert (r.contact_id, r.attributed_by, r.result) == (contact.id, "token", "order")
    by_address = Inbound("m2", "email", "yes", sender="Cee <C16@EXAMPLE.com>", received_at=NOW)
    take_responses(ran, "inbound-smtp", [by_address], now=NOW)
    assert one(ran, "m2").contact_id == contact_of(ran, "c16").id


def test_other_waits_for_review_and_a_correction_can_become_a_rule(ran: Store) -> None:
    take_responses(ran, "gw", [sms("m1", 1, "hmm, maybe later")], now=NOW)
    r = one(ran, "m1")
    assert (r.outcome, r.result, r.review) == ("other", "review", "pending")
    with ran.session() as s:
        assert [x.id for x in responses.list_responses(s, review=True)] == [r.id]
        responses.correct(s, r.id, "interest", actor="mia", remember="maybe later", now=NOW)
        s.commit()
        assert responses.list_responses(s, review=True) == []
        assert [x.source for x in list_rules(s) if x.text == "maybe later"] == ["correction"]
        with pytest.raises(Conflict):
            responses.correct(s, r.id, "order", actor="mia")
    assert one(ran, "m1").result == "lead"
    # The remembered rule understands the next one.
    assert take_responses(ran, "gw", [sms("m2", 3, "Maybe later!")], now=NOW).leads == 1


def test_a_discount_beyond_the_offer_waits_for_approval(ran: Store) -> None:
    contact = contact_of(ran, "c04")
    call = Inbound(
        "row-1",
        "phone",
        "agreed at 15%",
        contact_id=contact.id,
        kind="call",
        outcome="order",
        discount=Decimal("15"),
        received_at=NOW,
    )
    taken = take_responses(ran, "call-centre", [call], actor="agent7", now=NOW)
    assert taken.pending_orders == 1
    with ran.session() as s:
        order = s.scalar(sa.select(Order))
        assert order is not None
        assert (order.status, order.amount) == ("pending_approval", Decimal("102.00"))
        with pytest.raises(PermissionDenied):
            orders.decide_order(s, order.id, approve=True, actor="rita", role="sales_rep")
        orders.decide_order(s, order.id, approve=True, actor="mia", role="marketer")
        s.commit()
        assert order.status == "booked" and order.decided_by == "mia"


def test_the_run_shows_what_came_back_per_campaign(ran: Store) -> None:
    take_responses(
        ran,
        "gw",
        [sms("m1", 1, "YES"), sms("m2", 2, "STOP"), sms("m3", 3, "tell me more")],
        now=NOW,
    )
    with ran.session() as s:
        view = runs.run_view(s, runs.get_run(s, 1))
    by_campaign = {c["campaign"]: c["responses"] for c in view["campaigns"]}
    assert by_campaign["gold-sms"] == {
        "responses": 3,
        "order": 1,
        "opt_out": 1,
        "lead": 1,
        "revenue": "120.00",
    }
    assert by_campaign["gold-email"] == {}
