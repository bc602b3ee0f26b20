"""SLA timers (escalation to the rep's manager) and the daily figures per rep."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tactica.errors import InvalidInput, NotFound
from tactica.services import sales
from tactica.services import scheduler as sched
from tactica.store.db import Store
from tactica.store.models import Lead
from tests.integration.sales.conftest import NOW, lead_for, rep

DAY = NOW.date()


def test_leads_still_new_past_their_sla_are_escalated_once(shop: Store) -> None:
    with shop.session() as s:
        ritas = lead_for(s, "c1")  # due NOW + 8 h, rita's manager is mia
        paulos = lead_for(s, "c3")  # paulo has no manager
        called = lead_for(s, "c2")
        sales.log_activity(s, called.id, "call", who=rep("rita"), now=NOW + timedelta(hours=1))
        fresh = lead_for(s, "c4", now=NOW + timedelta(hours=5))
        s.commit()
        ids = (ritas.id, paulos.id, called.id, fresh.id)

    late = NOW + timedelta(hours=9)
    with shop.session() as s:
        assert sales.escalate_overdue(s, NOW + timedelta(hours=7)) == []
        done = sales.escalate_overdue(s, late)
        s.commit()
        assert done == [
            sales.Escalation(ids[0], "rita", "mia"),
            sales.Escalation(ids[1], "paulo", None),
        ]
        assert sales.escalate_overdue(s, late + timedelta(hours=1)) == []
        overdue = sales.list_leads(s, overdue=True, now=late)
        assert [lead.id for lead in overdue] == [ids[0], ids[1]]
        assert [r["overdue_leads"] for r in sales.list_reps(s, now=late)] == [1, 1]
        row = s.get(Lead, ids[1])
        assert row is not None and (row.escalated_at, row.escalated_to) == (late, None)

    # The scheduler's tick runs the same timer.
    with shop.session() as s:
        lead_for(s, "c5", now=late)
        s.commit()
    report = sched.tick(shop, now=late + timedelta(hours=9))
    assert (report.escalated, report.errors) == (2, [])  # c5's lead, and c4's due at +13 h


def _working_day(shop: Store) -> None:
    """Rita: 2 calls and a visit on DAY, a lead won; paulo: an e-mail the day before on a
    lead due then, and the call that contacts it at 01:00 UTC the day after."""
    rita, paulo = rep("rita"), rep("paulo")
    at = NOW + timedelta(hours=1)
    with shop.session() as s:
        a, b = lead_for(s, "c1"), lead_for(s, "c2")
        c = lead_for(s, "c3", now=NOW - timedelta(days=1))  # paulo's, due yesterday 17:00
        sales.log_activity(s, a.id, "call", who=rita, at=at, minutes=10, cost="2.50", now=at)
        sales.log_activity(s, b.id, "call", who=rita, at=at, minutes=5, cost="1.50", now=at)
        sales.log_activity(s, a.id, "visit", who=rita, at=at, minutes=60, cost="30", now=at)
        sales.move_lead(s, a.id, "won", who=rita, now=at)
        sales.log_activity(
            s, c.id, "email", who=paulo, at=at - timedelta(days=1), cost="0.10", now=at
        )
        next_night = NOW + timedelta(hours=16)  # 01:00 UTC the day after
        sales.log_activity(s, c.id, "call", who=paulo, at=next_night, now=next_night)
        s.commit()


def test_daily_figures_per_rep(shop: Store) -> None:
    _working_day(shop)
    end_of_day = NOW + timedelta(hours=15)
    with shop.session() as s:
        got = sales.figures(s, DAY, now=end_of_day)
    by_rep = {f.rep: f for f in got.days}
    rita, paulo = by_rep["rita"], by_rep["paulo"]
    assert (rita.calls, rita.visits, rita.activities, rita.minutes) == (2, 1, 3, 75)
    assert (rita.cost, rita.cost_per_call) == (Decimal("34.00"), Decimal("17.0000"))
    assert (rita.orders, rita.orders_per_call) == (1, Decimal("0.5000"))
    assert (rita.open_leads, rita.overdue_leads) == (1, 0)
    # Paulo's lead was due yesterday and nobody called until the next day.
    assert (paulo.calls, paulo.cost_per_call, paulo.orders_per_call) == (0, None, None)
    assert (paulo.open_leads, paulo.overdue_leads) == (1, 1)
    assert rita.view()["cost_per_call"] == "17.0000" and rita.view()["day"] == DAY.isoformat()


def test_figures_over_a_range_and_for_one_rep(shop: Store) -> None:
    _working_day(shop)
    now = NOW + timedelta(days=3)
    with shop.session() as s:
        got = sales.figures(
            s, DAY - timedelta(days=1), to=DAY + timedelta(days=1), rep="paulo", now=now
        )
        assert [
            (f.day, f.calls, f.activities, f.open_leads, f.overdue_leads) for f in got.days
        ] == [
            (DAY - timedelta(days=1), 0, 1, 1, 1),  # due at 17:00, so overdue by midnight
            (DAY, 0, 0, 1, 1),
            (DAY + timedelta(days=1), 1, 1, 1, 0),  # contacted that morning
        ]
        (total,) = got.totals
        assert (total.day, total.calls, total.activities, total.cost) == (
            None,
            1,
            2,
            Decimal("0.10"),
        )
        assert (total.open_leads, total.overdue_leads) == (1, 0)
        # Days run in the time zone asked for: 01:00 UTC on DAY+1 is still DAY in New York.
        ny = sales.figures(s, DAY, rep="paulo", tz="America/New_York", now=now)
        assert [f.calls for f in ny.days] == [1]
        with pytest.raises(InvalidInput, match="tz: unknown time zone 'Mars/Base'"):
            sales.figures(s, DAY, tz="Mars/Base", now=now)
        with pytest.raises(InvalidInput, match=r"day: .* has not begun"):
            sales.figures(s, DAY + timedelta(days=5), now=now)
        with pytest.raises(InvalidInput, match="to: at most 366 days"):
            sales.figures(s, date(2020, 1, 1), to=DAY, now=now)
        with pytest.raises(NotFound, match="no rep 'zed'"):
            sales.figures(s, DAY, rep="zed", now=now)
