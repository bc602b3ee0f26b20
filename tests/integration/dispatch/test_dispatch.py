"""The dispatch worker against a real local SMS gateway: sent once, retried, failed, timed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from tactica.channels.local_peers import LocalSmsGateway
from tactica.services import runs
from tactica.services.dispatch import (
    ChannelWorker,
    WorkerOptions,
    dead_letters,
    idempotency_key,
    outbox_status,
)
from tactica.store.db import Store
from tactica.store.models import Contact, CostBooking, OutboxEntry, Run
from tests.integration.dispatch.conftest import Clock, add_channel, outbox_size, statuses

OPTS = WorkerOptions(batch_size=10, secret="s3cret")


def _sms(store: Store, gateway: LocalSmsGateway, **fields: object) -> None:
    add_channel(
        store,
        "gw",
        "sms_http",
        "sms",
        settings={"url": gateway.url, "api_key": "k"},
        **fields,
    )


def _drain(worker: ChannelWorker, clock: Clock, steps: int = 50, tick: float = 1.0) -> None:
    for _ in range(steps):
        r = worker.step()
        if not r.claimed:
            clock.advance(tick)


def test_every_queued_sms_reaches_the_gateway_once_with_its_template(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway, cost_per_message=Decimal("0.04"))
    queued = statuses(dispatch_store, "sms")["queued"]
    assert outbox_size(dispatch_store, "sms") == queued == 24
    worker = ChannelWorker(dispatch_store, "gw", OPTS, clock=clock)
    first = worker.step()
    assert (first.claimed, first.sent) == (10, 10)  # one batch
    _drain(worker, clock)
    worker.close()
    assert statuses(dispatch_store, "sms") == {"sent": 24}
    assert outbox_size(dispatch_store, "sms") == 0
    keys = [m["idempotency_key"] for m in gateway.messages]
    assert len(keys) == len(set(keys)) == 24
    by_to = {m["to"]: m["text"] for m in gateway.messages}
    assert by_to["+351910000000"] == "Hi c00, Gold card is yours. Reply YES."
    assert by_to["+351910000001"] == "您好 c01，Gold card。回复 YES。"
    assert by_to["+351910000002"].startswith("Здравствуйте, c02!")
    with dispatch_store.session() as s:
        c = s.scalar(
            sa.select(Contact).where(Contact.customer_id == "c01", Contact.channel == "sms")
        )
        assert c is not None and c.channel_name == "gw" and c.attempts == 1
        assert (c.provider_id and c.sent_at == clock.now) or c.sent_at is not None
        # The Chinese message is one UCS-2 segment; every message costs the channel's price.
        book = s.scalar(sa.select(CostBooking).where(CostBooking.campaign == "gold-sms"))
        assert book is not None and book.sent == 24 and book.failed == 0
        assert book.booked == Decimal("0.96") and book.planned_sent == Decimal("1.20")


def test_a_gateway_outage_is_retried_with_back_off_then_sent(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway, retry_base_seconds=60.0)
    gateway.fail_next(2, status=503, retry_after=1)
    worker = ChannelWorker(dispatch_store, "gw", OPTS, clock=clock)
    r = worker.step()
    assert (r.claimed, r.sent, r.retried) == (10, 0, 10)
    with dispatch_store.session() as s:
        waiting = s.execute(
            sa.select(OutboxEntry.due_at, OutboxEntry.attempts, OutboxEntry.last_error).where(
                OutboxEntry.attempts > 0
            )
        ).all()
    assert len(waiting) == 10
    assert {(due, n) for due, n, _ in waiting} == {(clock.now + timedelta(seconds=60), 1)}
    assert all("503" in (err or "") for *_, err in waiting)
    # The other 14 are still due; the retried 10 wait their minute.
    r = worker.step()
    assert r.claimed == 10 and r.retried == 10  # second outage
    clock.advance(61)
    _drain(worker, clock, tick=60)
    worker.close()
    assert statuses(dispatch_store, "sms") == {"sent": 24}
    assert len({m["idempotency_key"] for m in gateway.messages}) == len(gateway.messages) == 24


def test_a_rejected_number_fails_at_once_and_shows_in_the_dead_letters(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway)
    gateway.reject_prefix("+35191000000", error="unknown subscriber")  # c00..c09
    worker = ChannelWorker(dispatch_store, "gw", OPTS, clock=clock)
    _drain(worker, clock)
    worker.close()
    assert statuses(dispatch_store, "sms") == {"failed": 10, "sent": 14}
    with dispatch_store.session() as s:
        dead = dead_letters(s, channel="sms")
        book = s.scalar(sa.select(CostBooking).where(CostBooking.campaign == "gold-sms"))
    assert len(dead) == 10 and all("unknown subscriber" in d["error"] for d in dead)
    assert {d["attempts"] for d in dead} == {1}
    assert book is not None and (book.sent, book.failed) == (14, 10)
    assert book.released == Decimal("0.50")  # the failed ones' planned cost is not spent


def test_temporary_failures_give_up_after_the_channels_attempts(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway, max_attempts=3, retry_base_seconds=10.0)
    gateway.fail_next(1000, status=502, retry_after=0)
    worker = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
    for _ in range(6):
        worker.step()
        clock.advance(3600)
    worker.close()
    assert statuses(dispatch_store, "sms") == {"failed": 24}
    with dispatch_store.session() as s:
        dead = dead_letters(s, channel="sms", limit=1000)
    assert all(d["error"].startswith("gave up after 3 attempts") for d in dead)
    assert {d["attempts"] for d in dead} == {3}
    assert gateway.messages == []


def test_quiet_hours_hold_each_customer_until_their_own_morning(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    # 23:00 UTC: 23:00 in Lisbon and in UTC (no zone), 18:00 in New York, 07:00 in Shanghai.
    clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    _sms(dispatch_store, gateway, quiet_start="21:00", quiet_end="08:00")
    worker = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
    r = worker.step()
    assert (r.sent, r.deferred) == (6, 18)
    assert sorted(m["to"][-2:] for m in gateway.messages) == [
        f"{i:02d}" for i in range(24) if i % 4 == 1
    ]
    with dispatch_store.session() as s:
        due = dict(
            s.execute(
                sa.select(Contact.customer_id, OutboxEntry.due_at).join(
                    OutboxEntry, OutboxEntry.contact_id == Contact.id
                )
            ).all()
        )
    assert due["c02"] == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert due["c00"] == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 08:00 in Lisbon
    assert due["c03"] == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # no zone: the channel's
    clock.now = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert worker.step().sent == 6  # the Shanghai customers, at their 08:00
    worker.close()


def test_the_rate_limit_holds_across_workers(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway, rate_per_second=8.0)
    a = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
    b = ChannelWorker(dispatch_store, "gw", WorkerOptions(batch_size=100), clock=clock)
    assert a.step().sent == 8  # a full bucket: one second's worth
    r = b.step()
    assert r.claimed == 0 and 0 < r.wait <= 0.125 + 1e-9
    clock.advance(0.5)
    assert b.step().sent == 4
    assert a.step().claimed == 0
    clock.advance(10)
    assert a.step().sent == 8  # the bucket holds one second, not ten
    a.close()
    b.close()


def test_the_outbox_status_counts_due_and_waiting(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway)
    gateway.fail_next(1, status=503, retry_after=0)
    worker = ChannelWorker(dispatch_store, "gw", OPTS, clock=clock)
    worker.step()
    worker.close()
    with dispatch_store.session() as s:
        rows = {r["channel"]: r for r in outbox_status(s, clock.now)}
    assert rows["sms"]["pending"] == 24 and rows["sms"]["waiting"] == 10
    assert rows["sms"]["retrying"] == 10 and rows["sms"]["due"] == 14
    assert rows["email"]["pending"] == 16


def test_keys_name_their_contacts() -> None:
    assert idempotency_key(42) == "tactica-42"


def test_the_run_shows_where_its_contacts_are(
    dispatch_store: Store, gateway: LocalSmsGateway, clock: Clock
) -> None:
    _sms(dispatch_store, gateway)
    gateway.reject_prefix("+35191000000")
    worker = ChannelWorker(dispatch_store, "gw", OPTS, clock=clock)
    worker.step()
    worker.step()
    worker.close()
    with dispatch_store.session() as s:
        (run,) = s.scalars(sa.select(Run)).all()
        view = runs.run_view(s, run)
    by_campaign = {c["campaign"]: c["delivery"] for c in view["campaigns"]}
    # Two batches of 10: c00..c09 rejected, c10..c19 sent; c20..c23 still queued.
    assert by_campaign["gold-sms"] == {"failed": 10, "sent": 10, "queued": 4}
    assert by_campaign["gold-email"] == {"queued": 16}
