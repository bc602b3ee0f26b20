"""The dashboard's rollup follows every write as a recount of the records would have it."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tactica.services.dashboard import dashboard
from tactica.store import daily_figures
from tactica.store.db import Store
from tactica.store.models import (
    Contact,
    DailyFigures,
    HeldOut,
    Lead,
    Order,
    Response,
    daily_figures_delta,
)
from tactica.store.run_writes import insert_contacts
from tests.integration.dispatch.conftest import outbox_store
from tests.integration.services.test_dashboard import _records

_MEASURES = daily_figures.MEASURES


def _rollup(store: Store) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """The rollup's rows with any figure, amounts to the cent's hundredth."""
    with store.session() as s:
        daily_figures.fold(s)  # PostgreSQL's triggers leave deltas until folded
        s.commit()
        rows = s.execute(sa.select(DailyFigures)).scalars().all()
        out = {}
        for r in rows:
            values = tuple(
                round(Decimal(str(getattr(r, m))), 4)
                if m in daily_figures.AMOUNTS
                else int(getattr(r, m))
                for m in _MEASURES
            )
            if any(values):
                out[tuple(getattr(r, k) for k in daily_figures.KEYS)] = values
        return out


def _recounted(store: Store) -> dict[tuple[str, ...], tuple[Any, ...]]:
    with store.session() as s:
        daily_figures.rebuild(s)
        s.commit()
    return _rollup(store)


def _change_everything(store: Store, seed: int) -> None:
    """Dispatch, receipts, failures, bookings, rejections and deletions, as the app does."""
    rng = random.Random(seed)
    later = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    with store.session() as s:
        contacts = s.scalars(sa.select(Contact).order_by(Contact.id)).all()
        for c in rng.sample(list(contacts), 40):
            step = rng.choice(["send", "deliver", "fail", "reprice"])
            if step == "send" and c.sent_at is None:
                c.status, c.sent_at, c.spent = "sent", later, Decimal("0.07")
            elif step == "deliver" and c.sent_at is not None:
                c.status, c.delivered_at = "delivered", later + timedelta(days=1)
            elif step == "fail":
                c.status, c.sent_at, c.delivered_at = "failed", None, None
            else:
                c.spent = Decimal("0.02")
        s.flush()
        # One statement over many rows (PostgreSQL's triggers see them all at once).
        s.execute(
            sa.update(Contact)
            .where(Contact.status == "queued", Contact.channel == "email")
            .values(status="failed")
        )
        for o in s.scalars(sa.select(Order)).all():
            if o.status == "booked" and rng.random() < 0.4:
                o.status = "rejected"
            elif o.status == "pending_approval":
                o.status, o.amount = "booked", Decimal("120.00")
        for table in (Response, Lead, HeldOut):
            doomed = rng.sample(list(s.scalars(sa.select(table)).all()), 3)
            for row in doomed:
                s.delete(row)
        s.flush()
        s.execute(sa.delete(Order).where(Order.amount == Decimal("10.00")))
        s.commit()


@pytest.mark.parametrize("seed", [3, 4])
def test_the_rollup_follows_every_write_as_a_recount_would(store: Store, seed: int) -> None:
    outbox_store(store)  # a real run: its contacts and held-out members go in in bulk
    _records(store, seed)
    assert _rollup(store) == _recounted(store)
    _change_everything(store, seed)
    after = _rollup(store)
    assert after == _recounted(store)
    totals = [sum(v[i] for v in after.values()) for i in range(len(_MEASURES))]
    named = dict(zip(_MEASURES, totals, strict=True))
    assert named["sent"] and named["delivered"] and named["failed"] and named["orders"]


def test_a_run_adds_its_contacts_and_control_groups_to_the_day_it_decided(store: Store) -> None:
    outbox_store(store)
    with store.session() as s:
        daily_figures.fold(s)
        planned = s.scalar(sa.select(sa.func.count()).select_from(Contact))
        held = s.scalar(sa.select(sa.func.count()).select_from(HeldOut))
        day = s.scalar(sa.select(Contact.decided_at).limit(1))
        rolled = s.execute(
            sa.select(sa.func.sum(DailyFigures.planned), sa.func.sum(DailyFigures.held_out))
        ).one()
        days = s.scalars(sa.select(DailyFigures.day).distinct()).all()
    assert planned and (int(rolled[0]), int(rolled[1] or 0)) == (planned, held)
    assert day is not None and days == [day.date().isoformat()]


def test_a_bulk_insert_that_fails_leaves_the_rollup_and_its_triggers_as_they_were(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    store.upgrade()

    def triggers() -> set[str]:
        with store.engine.connect() as c:
            return set(
                c.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            )

    before = triggers()
    assert {"rollup_contacts_insert", "rollup_held_out_delete"} <= before
    rows = pa.table(
        {
            "run_id": pa.array([404, 404], pa.int64()),  # no such run: the insert fails
            "program": ["p", "p"],
            "campaign": ["k", "k"],
            "campaign_kind": ["outbound", "outbound"],
            "customer_id": ["a", "b"],
            "offer": ["O", "O"],
            "channel": ["sms", "sms"],
            "score": [0.0, 0.0],
            "cost": ["0.05", "0.05"],
            "rank": [1, 1],
            "status": ["queued", "queued"],
        }
    )
    with store.session() as s, pytest.raises(sqlite3.IntegrityError):
        insert_contacts(s, rows, datetime(2026, 11, 24, tzinfo=UTC))
    assert triggers() == before
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DailyFigures)) == 0
    store.dispose()


def test_postgresql_writers_append_deltas_that_the_dashboard_counts_and_folds(
    store: Store,
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite's triggers write the rollup itself")
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    with store.session() as s:
        for i in range(3):
            s.add(
                Contact(
                    program="p",
                    campaign="k",
                    customer_id=f"c{i}",
                    offer="O",
                    channel="sms",
                    cost=Decimal("0.05"),
                    status="queued",
                    decided_at=at,
                )
            )
        s.commit()
        pending = s.scalar(sa.select(sa.func.sum(daily_figures_delta.c.planned)))
        assert pending == 3 and s.scalar(sa.select(sa.func.count()).select_from(DailyFigures)) == 0
        board = dashboard(s, at.date(), at.date())
        assert board.total.planned == 3
        assert s.scalar(sa.select(sa.func.count()).select_from(daily_figures_delta)) == 0
        assert s.scalar(sa.select(DailyFigures.planned)) == 3
