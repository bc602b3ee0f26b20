"""Bulk contact writes: every value lands as given, whatever the bulk path does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tactica.store.db import Store
from tactica.store.models import Contact, HeldOut, Run
from tactica.store.run_writes import insert_contacts, insert_held_out

AT = datetime(2026, 11, 23, 9, 30, 1, 123456, tzinfo=UTC)


def _run(store: Store) -> int:
    with store.session() as s:
        run = Run(
            run_key="p@manual-1",
            program="o'brien",
            trigger="manual",
            as_of=AT,
            status="running",
            started_at=AT,
            heartbeat_at=AT,
            host="h",
            pid=1,
            attempts=1,
            policy="default",
            snapshot={},
            candidates=0,
            contacts=0,
            held_out=0,
            cost=Decimal("0"),
        )
        s.add(run)
        s.commit()
        return run.id


def _rows(run_id: int, customers: list[str], **columns: list[Any]) -> pa.Table:
    n = len(customers)
    base: dict[str, Any] = {
        "run_id": [run_id] * n,
        "program": ["o'brien"] * n,
        "campaign": ["k1"] * n,
        "campaign_kind": ["outbound"] * n,
        "customer_id": customers,
        "offer": ["GOLD"] * n,
        "channel": ["sms"] * n,
        "score": [0.5] * n,
        "cost": ["0.050000"] * n,
        "rank": [1] * n,
        "status": ["queued"] * n,
    }
    base.update(columns)
    return pa.table(base)


def _stored(store: Store) -> list[tuple[Any, ...]]:
    with store.session() as s:
        got = s.execute(
            sa.select(
                Contact.run_id,
                Contact.program,
                Contact.campaign,
                Contact.campaign_kind,
                Contact.customer_id,
                Contact.offer,
                Contact.channel,
                Contact.score,
                Contact.cost,
                Contact.rank,
                Contact.status,
                Contact.decided_at,
            )
        ).all()
    return sorted(tuple(r) for r in got)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_contacts_land_exactly(store: Store, n: int) -> None:
    run_id = _run(store)
    customers = [f"z{i}" if i % 2 else f"a'{i}" for i in range(n)]
    rows = _rows(
        run_id,
        customers,
        campaign=[f"k{i % 2}" for i in range(n)],
        score=[i / 3 for i in range(n)],
        cost=["0.050000" if i % 3 else "0" for i in range(n)],
        rank=[i % 2 for i in range(n)],
        status=["failed" if i % 3 == 2 else "queued" for i in range(n)],
    )
    with store.session() as s:
        assert insert_contacts(s, rows, AT) == n
        s.commit()
    assert _stored(store) == sorted(
        (
            run_id,
            "o'brien",
            f"k{i % 2}",
            "outbound",
            customers[i],
            "GOLD",
            "sms",
            i / 3,
            Decimal("0.05") if i % 3 else Decimal("0"),
            i % 2,
            "failed" if i % 3 == 2 else "queued",
            AT,
        )
        for i in range(n)
    )


def test_a_failed_insert_leaves_nothing_and_the_connection_as_it_was(store: Store) -> None:
    run_id = _run(store)
    rows = _rows(run_id, ["a", "b", "a"])  # the same (run, customer, campaign) twice
    with store.session() as s:
        before = (
            s.execute(sa.text("PRAGMA cache_size")).scalar_one()
            if store.dialect == "sqlite"
            else None
        )
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            insert_contacts(s, rows, AT)
        s.rollback()
        if store.dialect == "sqlite":
            assert s.execute(sa.text("PRAGMA cache_size")).scalar_one() == before
    assert _stored(store) == []


def test_held_out_members_land_exactly(store: Store) -> None:
    run_id = _run(store)
    customers = ["b", "a'1", "c"]
    rows = pa.table(
        {
            "run_id": [run_id] * 3,
            "customer_id": customers,
            "campaign": ["k2", "k1", "k1"],
            "program": ["o'brien"] * 3,
            "offer": ["GOLD", "SILVER", "GOLD"],
            "channel": ["sms", "email", "sms"],
            "score": [0.25, 1.5, 0.0],
        }
    )
    with store.session() as s:
        assert insert_held_out(s, rows, AT) == 3
        s.commit()
    with store.session() as s:
        got = s.execute(
            sa.select(
                HeldOut.run_id,
                HeldOut.customer_id,
                HeldOut.campaign,
                HeldOut.program,
                HeldOut.offer,
                HeldOut.channel,
                HeldOut.score,
                HeldOut.decided_at,
            )
        ).all()
    assert sorted(tuple(r) for r in got) == sorted(
        (run_id, c, k, "o'brien", o, ch, sc, AT)
        for c, k, o, ch, sc in zip(
            customers,
            ["k2", "k1", "k1"],
            ["GOLD", "SILVER", "GOLD"],
            ["sms", "email", "sms"],
            [0.25, 1.5, 0.0],
            strict=True,
        )
    )
    assert _stored(store) == []  # the ledger holds contacts only
