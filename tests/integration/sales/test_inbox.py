"""A rep's inbox (order, filters, pages, value), a customer's history, who may work a lead."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from tactica.errors import InvalidInput
from tactica.services import sales
from tactica.store.db import Store

from .conftest import ANALYST, MARKETER, NOW, lead_for, rep

H = timedelta(hours=1)


def _ids(box: sales.Inbox) -> list[int]:
    return [r.lead.id for r in box.rows]


@pytest.fixture
def worked(shop: Store) -> dict[str, int]:
    """rita's leads (north, an 8-hour SLA): two overdue, two open in time, one won, one
    lost; paulo's one; one waiting for a rep."""
    with shop.session() as s:
        ids = {
            "late": lead_for(s, "c1", now=NOW - 10 * H).id,  # due 2 h ago
            "later": lead_for(s, "c2", now=NOW - 9 * H).id,  # due 1 h ago
            "soon": lead_for(s, "c1", now=NOW - 7 * H).id,  # due in 1 h
            "then": lead_for(s, "c2", now=NOW - 3 * H).id,  # due in 5 h
            "won": lead_for(s, "c1", now=NOW - 20 * H).id,
            "lost": lead_for(s, "c2", now=NOW - 30 * H).id,
            "paulos": lead_for(s, "c3", now=NOW - 2 * H).id,
        }
        rita = rep("rita")
        sales.move_lead(s, ids["soon"], "contacted", who=rita, now=NOW - 6 * H)
        sales.move_lead(s, ids["won"], "contacted", who=rita, now=NOW - 6 * H)
        sales.move_lead(s, ids["won"], "won", who=rita, discount=10, now=NOW - 5 * H)
        sales.move_lead(s, ids["lost"], "lost", who=rita, reason="no", now=NOW - 4 * H)
        for name in ("rita", "paulo"):
            sales.update_rep(s, name, capacity=0, actor="t")
        ids["waiting"] = lead_for(s, "c5", now=NOW - H).id
        s.commit()
    return ids


def test_overdue_leads_come_first_then_by_due_time_then_the_latest_closed(
    shop: Store, worked: dict[str, int]
) -> None:
    w = worked
    with shop.session() as s:
        box = sales.inbox(s, rep="rita", now=NOW)
        assert _ids(box) == [w["late"], w["later"], w["soon"], w["then"]]
        assert [r.overdue for r in box.rows] == [True, True, False, False]
        assert box.total == 4
        every = sales.inbox(s, rep="rita", status="all", now=NOW)
        assert _ids(every) == [w["late"], w["later"], w["soon"], w["then"], w["lost"], w["won"]]
        # An open lead is worth its offer's price; a won one, its order's amount.
        values = {r.lead.id: (r.value, r.currency, r.order_status) for r in every.rows}
        assert values[w["late"]] == (Decimal("120.00"), "EUR", None)
        assert values[w["won"]] == (Decimal("108.00"), "EUR", "booked")


def test_the_inbox_filters_by_status_and_rep_and_pages_with_a_total(
    shop: Store, worked: dict[str, int]
) -> None:
    w = worked
    with shop.session() as s:
        assert _ids(sales.inbox(s, rep="paulo", now=NOW)) == [w["paulos"]]
        assert _ids(sales.inbox(s, unassigned=True, now=NOW)) == [w["waiting"]]
        assert _ids(sales.inbox(s, status="won", now=NOW)) == [w["won"]]
        assert _ids(sales.inbox(s, status="new", rep="rita", now=NOW)) == [
            w["late"],
            w["later"],
            w["then"],
        ]
        everyone = sales.inbox(s, now=NOW)
        assert everyone.total == 6
        page = sales.inbox(s, now=NOW, limit=2, offset=2)
        assert page.total == 6 and _ids(page) == _ids(everyone)[2:4]
        with pytest.raises(InvalidInput) as e:
            sales.inbox(s, status="maybe")
        assert e.value.where == "status"


def test_a_customers_history_is_newest_first_and_cut_at_the_limit(
    shop: Store, worked: dict[str, int]
) -> None:
    with shop.session() as s:
        # c1's leads besides 'late': 'soon' and 'won' (newest).
        history = sales.customer_history(s, "c1", besides=worked["late"])
        assert [x.id for x in history.leads] == [worked["won"], worked["soon"]]
        assert [o.lead_id for o in history.orders] == [worked["won"]]
        assert history.contacts == [] and history.responses == []
        assert history.more == set()
        cut = sales.customer_history(s, "c1", limit=1, besides=worked["late"])
        assert [x.id for x in cut.leads] == [worked["won"]] and cut.more == {"leads"}


def _may(s: Session, lead_id: int, who: sales.Acting) -> bool:
    return sales.may_work(sales.get_lead(s, lead_id), who)


def test_a_lead_is_worked_by_its_rep_or_a_sales_admin(shop: Store, worked: dict[str, int]) -> None:
    with shop.session() as s:
        assert _may(s, worked["late"], rep("rita"))
        assert not _may(s, worked["late"], rep("paulo"))
        assert not _may(s, worked["waiting"], rep("rita"))
        assert _may(s, worked["late"], MARKETER)
        assert not _may(s, worked["late"], ANALYST)
