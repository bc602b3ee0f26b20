"""The dashboard's figures against sums computed independently from the raw records."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tactica.errors import InvalidInput
from tactica.services.dashboard import MEASURES, Figures, dashboard
from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut, Lead, Order, Response, Run
from tests.integration.dispatch.conftest import outbox_store

DAY0 = date(2026, 11, 20)
CAMPAIGNS = [("autumn", "gold-sms"), ("autumn", "gold-mail")]
CHANNELS = ["sms", "email"]
OFFERS = ["GOLD", "SILVER"]


def _at(rng: random.Random) -> datetime:
    """A moment in the six days from DAY0, some right at midnight."""
    day = DAY0 + timedelta(days=rng.randrange(6))
    seconds = rng.choice([0, 1, 43_200, 86_399, rng.randrange(86_400)])
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)


def _records(store: Store, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Random contacts, held-out members, responses, orders and leads; returns what was made."""
    rng = random.Random(seed)
    made: list[tuple[str, dict[str, Any]]] = []
    with store.session() as s:
        run_id = s.scalar(sa.select(Run.id))
        contact_ids = []
        for i in range(120):
            program, campaign = rng.choice(CAMPAIGNS)
            decided = _at(rng)
            status = rng.choice(["queued", "sent", "delivered", "failed"])
            sent = (
                decided + timedelta(hours=rng.choice([1, 20, 30]))
                if status
                in (
                    "sent",
                    "delivered",
                )
                else None
            )
            delivered = sent + timedelta(minutes=5) if status == "delivered" and sent else None
            row = {
                "program": program,
                "campaign": campaign,
                "customer_id": f"x{i}",
                "offer": rng.choice(OFFERS),
                "channel": rng.choice(CHANNELS),
                "cost": Decimal("0.05"),
                "spent": Decimal(rng.choice(["0.04", "0.06"])) if sent else None,
                "status": status,
                "decided_at": decided,
                "sent_at": sent,
                "delivered_at": delivered,
            }
            c = Contact(**row)
            s.add(c)
            s.flush()
            contact_ids.append((c.id, row))
            made.append(("contact", row))
        for i in range(30):
            program, campaign = rng.choice(CAMPAIGNS)
            row = {
                "run_id": run_id,
                "customer_id": f"h{i}",
                "campaign": campaign,
                "program": program,
                "offer": rng.choice(OFFERS),
                "channel": rng.choice(CHANNELS),
                "score": 0.0,
                "decided_at": _at(rng),
            }
            s.add(HeldOut(**row))
            made.append(("held_out", row))
        for i in range(40):
            cid, c = rng.choice(contact_ids)
            attributed = rng.random() < 0.8
            row = {
                "source": "t",
                "message_id": f"m{i}",
                "channel": c["channel"],
                "received_at": _at(rng),
                "contact_id": cid if attributed else None,
                "program": c["program"] if attributed else None,
                "campaign": c["campaign"] if attributed else None,
                "offer": c["offer"] if attributed else None,
                "outcome": "interest",
                "result": "lead",
            }
            s.add(Response(**row))
            made.append(("response", row))
        for _ in range(25):
            cid, c = rng.choice(contact_ids)
            amount = Decimal(rng.choice(["10.00", "99.90", "250.00"]))
            row = {
                "customer_id": c["customer_id"],
                "contact_id": cid,
                "program": c["program"],
                "campaign": c["campaign"],
                "offer": c["offer"],
                "price": amount,
                "amount": amount,
                "status": rng.choice(["booked", "booked", "pending_approval", "rejected"]),
                "created_at": _at(rng),
                "channel": c["channel"],
            }
            s.add(Order(**{k: v for k, v in row.items() if k != "channel"}))
            made.append(("order", row))
        for _ in range(20):
            cid, c = rng.choice(contact_ids)
            row = {
                "customer_id": c["customer_id"],
                "contact_id": cid,
                "program": c["program"],
                "campaign": c["campaign"],
                "offer": c["offer"],
                "created_at": _at(rng),
                "channel": c["channel"],
            }
            s.add(Lead(**{k: v for k, v in row.items() if k != "channel"}))
            made.append(("lead", row))
        s.commit()
    return made


def _expected(
    store: Store, made: list[tuple[str, dict[str, Any]]], start: date, end: date, by: str
) -> dict[Any, dict[str, Any]]:
    """The measures per ``by`` key, summed in Python from the records (the run's too)."""
    low = datetime(start.year, start.month, start.day, tzinfo=UTC)
    high = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    out: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {m: Decimal("0") if m in ("revenue", "cost") else 0 for m in MEASURES}
    )

    def inside(t: datetime | None) -> bool:
        return t is not None and low <= t < high

    def key(row: dict[str, Any], when: datetime) -> Any:
        if by == "campaign":
            return (row["program"], row["campaign"])
        if by == "day":
            return when.date()
        return row.get(by)

    with store.session() as s:
        # The run's own contacts and held-out members are records too.
        for c in s.scalars(sa.select(Contact).where(Contact.run_id.is_not(None))):
            made.append(
                (
                    "contact",
                    {
                        k: getattr(c, k)
                        for k in (
                            "program",
                            "campaign",
                            "offer",
                            "channel",
                            "cost",
                            "spent",
                            "status",
                            "decided_at",
                            "sent_at",
                            "delivered_at",
                        )
                    },
                )
            )
        for h in s.scalars(sa.select(HeldOut)):
            if not h.customer_id.startswith("h"):
                made.append(
                    (
                        "held_out",
                        {
                            k: getattr(h, k)
                            for k in ("program", "campaign", "offer", "channel", "decided_at")
                        },
                    )
                )
    for kind, row in made:
        if kind == "contact":
            if inside(row["decided_at"]):
                e = out[key(row, row["decided_at"])]
                e["planned"] += 1
                e["failed"] += row["status"] == "failed"
            if inside(row["sent_at"]):
                e = out[key(row, row["sent_at"])]
                e["sent"] += 1
                e["cost"] += row["spent"] if row["spent"] is not None else row["cost"]
            if inside(row["delivered_at"]):
                out[key(row, row["delivered_at"])]["delivered"] += 1
        elif kind == "held_out" and inside(row["decided_at"]):
            out[key(row, row["decided_at"])]["held_out"] += 1
        elif kind == "response" and inside(row["received_at"]):
            out[key(row, row["received_at"])]["responses"] += 1
        elif kind == "order" and inside(row["created_at"]) and row["status"] == "booked":
            e = out[key(row, row["created_at"])]
            e["orders"] += 1
            e["revenue"] += row["amount"]
        elif kind == "lead" and inside(row["created_at"]):
            out[key(row, row["created_at"])]["leads"] += 1
    return {k: v for k, v in out.items() if None not in (k if isinstance(k, tuple) else (k,))}


def _as_dict(f: Figures) -> dict[str, Any]:
    return {m: getattr(f, m) for m in MEASURES}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_figure_equals_the_sum_of_the_raw_records(store: Store, seed: int) -> None:
    outbox_store(store)
    made = _records(store, seed)
    for start, end in [
        (DAY0, DAY0),
        (DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)),
        (DAY0 - timedelta(days=30), DAY0 + timedelta(days=10)),
    ]:
        with store.session() as s:
            board = dashboard(s, start, end)
        zero = _as_dict(Figures())
        want = _expected(store, list(made), start, end, "campaign")
        got = {(r.program, r.campaign): _as_dict(r.figures) for r in board.campaigns}
        assert set(got) >= set(want)
        assert {k: got[k] for k in got if got[k] != zero} == {
            k: v for k, v in want.items() if v != zero
        }, (start, end)
        for by, rows in (("channel", board.channels), ("offer", board.offers)):
            want = _expected(store, list(made), start, end, by)
            assert {k: _as_dict(v) for k, v in rows.items()} == {
                k: v for k, v in want.items() if v != zero
            }, (by, start, end)
        want_days = _expected(store, list(made), start, end, "day")
        assert len(board.days) == (end - start).days + 1
        assert {d: _as_dict(f) for d, f in board.days.items() if _as_dict(f) != zero} == {
            d: v for d, v in want_days.items() if v != zero
        }
        if start < DAY0:  # the widest range holds some of everything
            assert board.total.sent and board.total.responses and board.total.orders
            assert board.total.leads and board.total.held_out and board.total.delivered
        total = Figures()
        for r in board.campaigns:
            total.add(r.figures)
        assert _as_dict(board.total) == _as_dict(total)


def test_a_range_that_ends_before_it_starts_is_refused(store: Store) -> None:
    with store.session() as s, pytest.raises(InvalidInput, match="before it starts") as e:
        dashboard(s, DAY0, DAY0 - timedelta(days=1))
    assert e.value.where == "to"


def test_budget_used_and_status_come_with_each_campaign(store: Store) -> None:
    outbox_store(store)
    with store.session() as s:
        board = dashboard(s, DAY0, DAY0 + timedelta(days=10))
    names = [(r.program, r.campaign) for r in board.campaigns]
    assert ("autumn", "gold-sms") in names
    assert all(r.status == "running" for r in board.campaigns)
