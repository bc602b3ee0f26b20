"""Who gets a new lead: territory, skill and turn; waiting leads when nobody has room."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import sales
from tactica.store.db import Store
from tactica.store.models import AuditEntry, Lead
from tests.integration.sales.conftest import NOW, lead_for, rep, seed


def test_territory_and_skill_pick_the_rep(shop: Store) -> None:
    with shop.session() as s:
        # 'north' assigns by territory: the customer's region, however it is spelt.
        assert [lead_for(s, c).rep for c in ("c1", "c2", "c3")] == ["rita", "rita", "paulo"]
        # Nobody covers Faro: the lead still goes to someone with room.
        assert lead_for(s, "c5").rep in {"rita", "paulo"}
        # 'mortgages' assigns by skill: the HOME offer's product is 'loans'.
        assert [lead_for(s, c, "mortgages").rep for c in ("c1", "c2")] == ["paulo", "paulo"]
        lead = lead_for(s, "c1", "mortgages")
        assert lead.due_at == NOW + timedelta(hours=4)
        assert (lead.status, lead.assigned_at) == ("new", NOW)


def test_the_territory_attribute_is_a_setting(shop: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with shop.session() as s:
        sales.update_rep(s, "paulo", territory="d-c1", actor="t")
        monkeypatch.setenv("TACTICA_LEAD_TERRITORY_FIELD", "district")
        assert lead_for(s, "c1").rep == "paulo"
        # An attribute nobody declared is no territory at all: plain turns.
        monkeypatch.setenv("TACTICA_LEAD_TERRITORY_FIELD", "no_such_field")
        assert [lead_for(s, "c1").rep for _ in range(2)] == ["rita", "paulo"]


def test_turns_alternate_within_one_batch(shop: Store) -> None:
    # A batch of replies is taken at one 'now': turns must still go round.
    with shop.session() as s:
        picked = [lead_for(s, f"x{i}", program="none").rep for i in range(5)]
    assert picked == ["paulo", "rita", "paulo", "rita", "paulo"]


def test_waiting_leads_go_out_oldest_first_when_room_appears(store: Store) -> None:
    seed(store)
    with store.session() as s:
        sales.add_rep(s, "rita", territory="Lisboa", capacity=1, actor="t")
        first, second, third, fourth = (lead_for(s, c) for c in ("c1", "c2", "c3", "c4"))
        assert (first.rep, second.rep, third.rep) == ("rita", None, None)

        # A new rep takes the oldest waiting leads up to their capacity.
        added = sales.add_rep(s, "paulo", territory="Porto", capacity=1, actor="t", now=NOW)
        assert added.assigned == 1
        assert (second.rep, third.rep, fourth.rep) == ("paulo", None, None)

        # More capacity takes the next one.
        assert sales.update_rep(s, "rita", capacity=2, actor="t").assigned == 1
        assert (third.rep, fourth.rep) == ("rita", None)

        # Closing a lead frees a place.
        moved = sales.move_lead(s, second.id, "lost", reason="no budget", who=rep("paulo"))
        assert moved.assigned == 1 and fourth.rep == "paulo"

        # A rep who leaves hands their open leads to whoever has room.
        sales.update_rep(s, "paulo", capacity=5, actor="t")
        gone = sales.deactivate_rep(s, "rita", actor="t")
        assert (gone.released, gone.assigned) == (2, 2)
        assert {first.rep, third.rep} == {"paulo"}
        assert [r["username"] for r in sales.list_reps(s)] == ["paulo"]
        listed = sales.list_reps(s, include_inactive=True)
        assert [(r["username"], r["active"], r["open_leads"]) for r in listed] == [
            ("paulo", True, 3),
            ("rita", False, 0),
        ]
        s.commit()
        changes = s.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.entity_type == "sales_rep")
        ).all()
        assert changes.count("update") == 3


def test_rep_input_is_checked(shop: Store) -> None:
    with shop.session() as s:
        with pytest.raises(Conflict, match="rep 'rita' exists already"):
            sales.add_rep(s, "rita", actor="t")
        with pytest.raises(InvalidInput, match="role: unknown role 'closer'; roles are: hunter"):
            sales.add_rep(s, "zoe", role="closer", actor="t")
        with pytest.raises(InvalidInput, match="capacity: a whole number from 0 to 10000"):
            sales.add_rep(s, "zoe", capacity=-1, actor="t")
        with pytest.raises(InvalidInput, match="username: 2-100 letters"):
            sales.add_rep(s, "zoe smith", actor="t")
        with pytest.raises(InvalidInput, match="own manager"):
            sales.update_rep(s, "rita", manager="rita", actor="t")
        with pytest.raises(NotFound, match="no rep 'zoe'"):
            sales.update_rep(s, "zoe", capacity=3, actor="t")
        changed = sales.update_rep(s, "rita", skills=[" Cards", "cards", "loans "], actor="t")
        assert changed.rep.skills == ["Cards", "loans"]
        assert sales.update_rep(s, "rita", territory="", manager="", actor="t").rep.manager is None


def test_an_interested_reply_reaches_the_rep_of_its_region(store: Store) -> None:
    # The whole path: a run, a reply, the lead opened by the responses service.
    from tactica.domain.schema import FieldDef, FieldType
    from tactica.services.responses import Inbound, take_responses
    from tactica.store.customer_table import add_fields
    from tests.integration.responses.conftest import NOW as REPLIED
    from tests.integration.responses.conftest import ran_store

    ran_store(store, n=4, reps=("rita", "sam"))
    with store.session() as s:
        add_fields(s, [FieldDef("region", FieldType.TEXT)])
        s.execute(sa.text("UPDATE customers SET region = 'porto' WHERE id = 'c02'"))
        sales.update_rep(s, "sam", territory="Porto", actor="t")
        s.execute(sa.text("UPDATE programs SET lead_assignment = 'territory'"))
        s.commit()
    reply = Inbound("m1", "sms", "tell me more", sender="351910000002", received_at=REPLIED)
    assert take_responses(store, "gw", [reply], now=REPLIED).leads == 1
    with store.session() as s:
        lead = s.scalar(sa.select(Lead))
        assert lead is not None and (lead.customer_id, lead.rep) == ("c02", "sam")
