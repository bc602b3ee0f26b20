"""Call-centre lists within the centre's daily capacity, and signed webhooks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tactica.channels.base import OutboundMessage, SendOutcome
from tactica.channels.call_centre import read_call_list
from tactica.channels.local_peers import LocalWebhookReceiver
from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.services import as_code, runs
from tactica.services.dispatch import ChannelWorker, WorkerOptions, make_adapter
from tactica.store.customer_table import add_fields
from tactica.store.db import Store
from tactica.store.models import ChannelConfig
from tests.integration.dispatch.conftest import NOW, Clock, add_channel, outbox_size, statuses

CALLS = """\
kind: Program
name: calls
owner: ana
policy: two-a-run
campaigns:
  - name: gold-call
    offers: [GOLD]
    channels: [phone]
    cost_per_contact: 1.5
"""


def test_a_call_centre_gets_a_daily_list_no_longer_than_its_capacity(
    dispatch_store: Store, tmp_path: Path, clock: Clock
) -> None:
    with dispatch_store.session() as s:
        as_code.apply_documents(s, list(yaml.safe_load_all(CALLS)), source="t", actor="t")
        add_fields(s, [FieldDef("phone", FieldType.TEXT, FieldKind.CONTACT_POINT, "phone")])
        s.execute(sa.text("UPDATE customers SET phone = msisdn, consent_phone = true"))
        s.commit()
    done = runs.run_program(dispatch_store, "calls", actor="ana", now=NOW - timedelta(minutes=1))
    assert done is not None
    queued = statuses(dispatch_store, "phone").get("queued", 0)
    assert queued > 10
    add_channel(
        dispatch_store,
        "lisbon",
        "call_centre",
        "phone",
        settings={"folder": str(tmp_path), "script": "Offer the Gold card"},
        daily_capacity=10,
        timezone="Europe/Lisbon",
    )
    worker = ChannelWorker(dispatch_store, "lisbon", WorkerOptions(batch_size=4), clock=clock)
    for _ in range(6):
        worker.step()
    today = read_call_list(tmp_path / f"lisbon-{clock.now:%Y-%m-%d}.csv")
    assert len(today) == 10  # the centre's day is full
    assert {r["script"] for r in today} == {"Offer the Gold card"}
    assert outbox_size(dispatch_store, "phone") == queued - 10
    clock.advance(24 * 3600)  # tomorrow: a new list
    for _ in range(6):
        worker.step()
    worker.close()
    tomorrow = read_call_list(tmp_path / f"lisbon-{clock.now:%Y-%m-%d}.csv")
    assert len(tomorrow) == min(10, queued - 10)
    assert not {r["contact_id"] for r in today} & {r["contact_id"] for r in tomorrow}


def test_each_channel_kind_gets_its_adapter_and_webhooks_arrive_signed() -> None:
    with LocalWebhookReceiver(secret="hook-secret") as receiver:
        config = ChannelConfig(
            name="crm",
            kind="webhook",
            channel="webhook",
            settings={"url": receiver.url, "secret": "hook-secret"},
        )
        adapter = make_adapter(config)
        try:
            msg = OutboundMessage(7, "tactica-7", "webhook", "c07", None, "hello", {}, {})
            (result,) = adapter.send_batch([msg])
        finally:
            adapter.close()
        assert result.outcome is SendOutcome.SENT
        (got,) = receiver.requests
        assert got.signature_ok and got.json["idempotency_key"] == "tactica-7"
    smtp = ChannelConfig(
        name="m", kind="smtp", channel="email", settings={"host": "h", "port": 25, "sender": "a@b"}
    )
    assert make_adapter(smtp).kind == "email"
    with pytest.raises(ValueError, match="unknown kind 'fax'"):
        make_adapter(ChannelConfig(name="f", kind="fax", channel="fax", settings={}))
