"""Sent messages book what they cost; budgets read real spend, failures give money back."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tactica.channels.local_peers import LocalSmsGateway
from tactica.services.dispatch import ChannelWorker, WorkerOptions
from tactica.services.run_inputs import _spent
from tactica.store.db import Store
from tactica.store.models import CostBooking
from tests.integration.dispatch.conftest import Clock, add_channel


def test_budgets_read_booked_spend_and_released_failures(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    with dispatch_store.session() as s:
        total, per = _spent(s, "autumn", None)
    # Planned: 24 SMS at 0.05 and 16 e-mails at 0.01.
    assert per == {"gold-sms": Decimal("1.20"), "gold-email": Decimal("0.16")}
    add_channel(
        dispatch_store,
        "gw",
        "sms_http",
        "sms",
        settings={"url": gateway.url, "api_key": "k"},
        cost_per_message=Decimal("0.02"),
    )
    gateway.reject_prefix("+35191000000")  # c00..c09 fail for good
    worker = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
    worker.step()
    worker.close()
    with dispatch_store.session() as s:
        total, per = _spent(s, "autumn", None)
        books = s.scalars(sa.select(CostBooking)).all()
    # 14 sent at the channel's 0.02 per segment (each one segment), 10 failed: nothing.
    assert per["gold-sms"] == Decimal("0.28")
    assert per["gold-email"] == Decimal("0.16")  # not sent yet: still planned
    assert total == Decimal("0.44")
    assert [(b.campaign, b.channel, b.sent, b.failed, b.day) for b in books] == [
        ("gold-sms", "sms", 14, 10, clock.now.date())
    ]
