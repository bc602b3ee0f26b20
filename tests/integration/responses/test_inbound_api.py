"""Replies from a real local SMS gateway to the API served over HTTP, and the review API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from tactica.api.app import create_app
from tactica.api.local_server import serving
from tactica.channels.local_peers import LocalSmsGateway
from tactica.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tactica.config import Settings
from tactica.services import users
from tactica.store.db import Store
from tactica.store.models import ChannelConfig, Order, Response, SpecialListEntry

from .conftest import ran_store

SECRET = "inbound-secret"


@pytest.fixture
def api(store: Store) -> Iterator[tuple[Store, str]]:
    """A run sent an hour ago, an SMS channel 'gw' with an inbound token, the app on HTTP."""
    ran_store(store, sent=datetime.now(UTC) - timedelta(hours=1))
    with store.session() as s:
        s.add(
            ChannelConfig(
                name="gw",
                channel="sms",
                kind="sms_http",
                settings={"url": "http://127.0.0.1:9", "inbound_token": SECRET},
                tokens=0.0,
            )
        )
        s.commit()
    with serving(create_app(Settings(secret_key="test"), store)) as url:
        yield store, url


def _count(store: Store, model: type) -> int:
    with store.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_replies_from_the_gateway_become_orders_leads_and_opt_outs(
    api: tuple[Store, str],
) -> None:
    store, url = api
    with LocalSmsGateway(replies_url=f"{url}/responses/inbound/gw", replies_secret=SECRET) as g:
        got = g.replies(
            [
                ("+351910000001", "YES", "mo-1"),
                ("+351910000002", "退订", "mo-2"),
                ("+351910000003", "расскажите подробнее", "mo-3"),
                ("+351910000004", "what is this", "mo-4"),
            ]
        )
        assert got.status_code == 200, got.text
        assert got.json() | {} == {
            "accepted": 4,
            "duplicates": 0,
            "orders": 1,
            "pending_orders": 0,
            "leads": 1,
            "opt_outs": 1,
            "review": 1,
            "unattributed": 0,
            "clicks": 0,
        }
        # The gateway retries the same message: 200, and nothing happens twice.
        again = g.reply("+351910000001", "YES", message_id="mo-1")
        assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert _count(store, Order) == 1
    with store.session() as s:
        assert s.scalar(sa.select(SpecialListEntry.customer_id)) == "c02"


def test_a_bad_signature_gets_401_and_stores_nothing(api: tuple[Store, str]) -> None:
    store, url = api
    with LocalSmsGateway(replies_url=f"{url}/responses/inbound/gw", replies_secret="wrong") as g:
        assert g.reply("+351910000001", "STOP").status_code == 401
    with LocalSmsGateway(replies_url=f"{url}/responses/inbound/gw") as g:
        assert g.reply("+351910000001", "STOP").status_code == 401
    assert _count(store, Response) == 0 and _count(store, SpecialListEntry) == 0


def test_a_malformed_batch_gets_400_naming_the_item_and_stores_nothing(
    api: tuple[Store, str],
) -> None:
    store, url = api
    body = json.dumps(
        {"replies": [{"id": "a", "from": "+351910000001", "text": "STOP"}, {"id": "b"}]}
    ).encode()
    ts = int(time.time())
    got = httpx.post(
        f"{url}/responses/inbound/gw",
        content=body,
        headers={TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)},
    )
    assert got.status_code == 400
    assert "replies.1.from" in got.json()["detail"]
    assert _count(store, Response) == 0 and _count(store, SpecialListEntry) == 0


def test_a_marketer_reviews_and_corrects_through_the_api(api: tuple[Store, str]) -> None:
    store, url = api
    with store.session() as s:
        users.create_user(s, "mia", "a-long-password", "marketer", actor="t")
        s.commit()
    token = httpx.post(
        f"{url}/auth/token", json={"username": "mia", "password": "a-long-password"}
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    with LocalSmsGateway(replies_url=f"{url}/responses/inbound/gw", replies_secret=SECRET) as g:
        g.reply("+351910000005", "hmm not sure", message_id="mo-9")
    queue = httpx.get(f"{url}/responses", params={"review": True}, headers=auth).json()
    assert [(r["text"], r["outcome"], r["customer_id"]) for r in queue] == [
        ("hmm not sure", "other", "c05")
    ]
    fixed = httpx.post(
        f"{url}/responses/{queue[0]['id']}/correct",
        json={"outcome": "interest", "remember": "not sure"},
        headers=auth,
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["result"], fixed.json()["review"]) == ("lead", "done")
    tried = httpx.post(
        f"{url}/responses/classify", json={"text": "Not sure..."}, headers=auth
    ).json()
    assert (tried["outcome"], tried["rule"]) == ("interest", "en-interest-not-sure")
