"""The sales commands end to end: reps, leads, activities, figures, orders and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tactica.config import get_settings
from tactica.services import users
from tactica.store.db import Store
from tests.conftest import Tactica
from tests.integration.sales.conftest import lead_for, seed


def _shop_with_leads(*customers: str, hours_ago: int = 0) -> list[int]:
    """The seeded shop in the CLI's workspace, and one lead per customer, opened then."""
    store = Store.from_settings(get_settings())
    try:
        seed(store)
        with store.session() as s:
            users.create_user(s, "rita", "long-enough-pw", "sales_rep", actor="t")
            users.create_user(s, "mia", "long-enough-pw", "marketer", actor="t")
            s.commit()
        with store.session() as s:
            opened = datetime.now(UTC) - timedelta(hours=hours_ago)
            ids = [lead_for(s, c, now=opened).id for c in customers]
            s.commit()
        return ids
    finally:
        store.dispose()


def test_a_rep_works_leads_from_the_terminal(tactica: Tactica) -> None:
    first, second = _shop_with_leads("c1", "c3")
    r = tactica("leads", "list", "--unassigned")
    assert r.code == 0 and r.out.count("waiting") == 2

    r = tactica("reps", "add", "rita", "--name", "Rita Reis", "--territory", "Lisboa",
                "--skills", "cards, loans", "--manager", "mia", "--capacity", "5")  # fmt: skip
    assert r.code == 0, r.err
    assert "Added rep rita" in r.out and "2 waiting leads assigned" in r.out
    r = tactica("reps", "list")
    assert "Rita Reis" in r.out and "cards, loans" in r.out and "mia" in r.out

    r = tactica("leads", "activity", str(first), "call", "--minutes", "7", "--cost", "0.5",
                "--result", "interested", "--as", "rita")  # fmt: skip
    assert r.code == 0, r.err
    assert "Logged call on lead" in r.out and "The lead is contacted" in r.out
    r = tactica("leads", "move", str(first), "won", "--discount", "20", "--as", "rita")
    assert r.code == 0, r.err
    assert f"Lead {first} is won" in r.out and "waits for approval" in r.out
    r = tactica("leads", "show", str(first))
    assert "interested" in r.out and "pending_approval" in r.out

    # Rita may not approve her own discount; the marketer may.
    order_id = r.out.split("order ")[1].split(":")[0]
    r = tactica("orders", "approve", order_id, "--as", "rita")
    assert r.code == 7 and "may not approve" in r.err
    r = tactica("orders", "approve", order_id, "--as", "mia", "--note", "loyal customer")
    assert r.code == 0 and f"Order {order_id} booked" in r.out
    assert "booked" in tactica("orders", "list", "--status", "booked").out

    r = tactica("leads", "move", str(second), "lost", "--reason", "moved abroad", "--as", "rita")
    assert r.code == 0, r.err
    r = tactica("sales", "figures", "--rep", "rita")
    assert r.code == 0, r.err
    row = next(line for line in r.out.splitlines() if "rita" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    # day, rep, calls, visits, activities, cost, cost/call, orders, orders/call, open, overdue
    assert cells[1:] == ["rita", "1", "0", "1", "0.50", "0.50", "1", "1.00", "0", "0"]

    r = tactica("reps", "deactivate", "rita")
    assert r.code == 0 and "0 open leads handed back" in r.out


def test_bad_input_gets_a_clear_error(tactica: Tactica) -> None:
    (lead,) = _shop_with_leads("c1", hours_ago=9)  # 'north' leads are due in 8 hours
    tactica("reps", "add", "rita", "--territory", "Lisboa")
    tactica("reps", "add", "paulo")
    cases = [
        (("reps", "add", "rita"), 5, "rep 'rita' exists already"),
        (("reps", "add", "zoe", "--role", "closer"), 2, "unknown role 'closer'"),
        (("leads", "move", str(lead), "won"), 5, "it may become: contacted, lost"),
        (("leads", "move", str(lead), "lost"), 2, "a lost lead needs a reason"),
        (("leads", "move", "999", "lost", "--reason", "x"), 4, "no lead 999"),
        (("leads", "activity", str(lead), "fax"), 2, "kinds are: call, visit, email, meeting"),
        (("leads", "activity", str(lead), "call", "--at", "soon"), 2, "--at: a time such as"),
        (("leads", "activity", str(lead), "call", "--as", "ghost"), 4, "ghost"),
        (("leads", "assign", str(lead), "paulo", "--as", "rita"), 7, "may not reassign"),
        (("leads", "list", "--status", "open"), 2, "status: one of new, contacted"),
        (("sales", "figures", "--day", "24/11/2026"), 2, "--day: a day such as 2026-11-24"),
        (("orders", "list", "--status", "paid"), 2, "status: one of booked"),
    ]
    for args, code, message in cases:
        r = tactica(*args)
        assert (r.code, message in r.err) == (code, True), (args, r.code, r.err)
    r = tactica("leads", "assign", str(lead), "paulo")
    assert r.code == 0 and f"Lead {lead} is paulo's" in r.out
    r = tactica("leads", "escalate")
    assert f"lead {lead} of paulo → nobody (the rep has no manager)" in r.out
    assert "1 lead escalated" in r.out
    assert "0 leads escalated" in tactica("leads", "escalate").out
    assert "overdue" in tactica("leads", "list", "--overdue").out
