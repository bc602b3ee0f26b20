"""The real-time loop: events in over HTTP, contacts out through the gateway, and the next
batch run respecting the caps those contacts used up.

Real peers: the API served over HTTP on a local port (a machine's token of role
``integration``), the local SMS gateway taking the messages dispatch sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
import yaml

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.channels.local_peers import LocalSmsGateway
from tactica.config import Settings
from tactica.domain.schema import FieldDef, FieldType
from tactica.services import as_code, dispatch, explain, programs, runs, users
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import Contact, MessageTemplate
from tests.integration.dispatch.conftest import add_channel, customers

DOCS = """\
kind: ContactPolicy
name: weekly
per_run: 1
rules:
  - {type: cap, name: one-a-week, max: 1, days: 7}
---
kind: Offer
code: GOLD
name: Gold card
value: 100
---
kind: EventType
name: top_up
fields: {amount: float}
required: [amount]
---
kind: Program
name: moments
owner: ana
policy: weekly
campaigns:
  - name: top-up-gold
    kind: triggered
    events: [top_up]
    eligibility: "event.amount >= 20"
    offers: [GOLD]
    channels: [sms]
    template: gold
    priority: 10
  - name: gold-sms
    offers: [GOLD]
    channels: [sms]
    template: gold
"""


def test_events_are_decided_dispatched_and_counted_by_the_next_run(store: Store) -> None:
    with store.session() as s:
        add_fields(s, [FieldDef("age", FieldType.INT)])
        s.execute(sa.insert(customer_table(load_schema(s))), customers(24))
        as_code.apply_documents(s, list(yaml.safe_load_all(DOCS)), source="t", actor="t")
        s.add(
            MessageTemplate(
                name="gold",
                channel="sms",
                language="en",
                body="Hi {{ customer.id }}: {{ offer.name }}",
            )
        )
        programs.set_status(s, "moments", "running", actor="t")
        feed = users.create_user(s, "billing", "long-enough-secret", "integration", actor="t")
        token, _ = users.create_token(s, feed, name="feed", actor="t")
        s.commit()
    now = datetime.now(UTC)
    events = [
        {
            "id": f"topup-{i}",
            "type": "top_up",
            "customer_id": f"c{i:02d}",
            "time": now.isoformat(),
            "payload": {"amount": 50.0 if i < 8 else 5.0},
        }
        for i in range(12)
    ]

    with serving(create_app(Settings(secret_key="test"), store)) as url:
        r = httpx.post(
            f"{url}/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 12 and body["contacts"] == 8

    with LocalSmsGateway(api_key="k") as gateway:
        add_channel(store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"})
        options = dispatch.WorkerOptions(batch_size=50, secret="test", public_url="http://x")
        dispatch.run_dispatch(store, options, drain=True)
        texted = sorted(str(m["to"]) for m in gateway.messages)
    assert texted == [f"+35191{i:07d}" for i in range(8)]
    with store.session() as s:
        sent = s.scalars(sa.select(Contact).where(Contact.campaign_kind == "triggered")).all()
        assert {c.status for c in sent} == {"sent"} and len(sent) == 8

    # The batch run an hour later: the customers the events reached are at their cap.
    done = runs.run_program(store, "moments", actor="ana", now=now + timedelta(hours=1))
    assert done is not None and done.run_id is not None
    with store.session() as s:
        batch = set(s.scalars(sa.select(Contact.customer_id).where(Contact.run_id == done.run_id)))
    assert batch == {f"c{i:02d}" for i in range(8, 24)}
    why = explain.explain_customer(store, "c03", run_id=done.run_id)
    (camp,) = why.campaigns
    assert camp.outcome.startswith("excluded: contacted 1 time in the last 7 days, limit 1")
    assert "(policy 'one-a-week')" in camp.outcome
