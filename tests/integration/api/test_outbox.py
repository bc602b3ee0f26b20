"""The outbox over the API: what waits per channel, and the dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from tactica.channels.local_peers import LocalSmsGateway
from tactica.services.dispatch import ChannelWorker, WorkerOptions
from tests.integration.api.conftest import Api
from tests.integration.dispatch.conftest import Clock, add_channel, outbox_store


def test_outbox_status_and_dead_letters(api: Api) -> None:
    store = outbox_store(api.store)
    with LocalSmsGateway(api_key="k") as gateway:
        add_channel(store, "gw", "sms_http", "sms", settings={"url": gateway.url, "api_key": "k"})
        gateway.reject_prefix("+35191000000", error="unknown subscriber")
        worker = ChannelWorker(
            store, "gw", WorkerOptions(batch_size=100), clock=Clock(datetime.now(UTC))
        )
        worker.step()
        worker.close()
    r = api.client.get("/outbox", headers=api.as_("analyst"))
    assert r.status_code == 200
    assert {q["channel"]: q["pending"] for q in r.json()} == {"email": 16}
    r = api.client.get("/outbox/failed", params={"channel": "sms"}, headers=api.as_("marketer"))
    assert r.status_code == 200
    dead = r.json()
    assert len(dead) == 10 and {d["error"] for d in dead} == {"unknown subscriber"}
    assert (
        api.client.get("/outbox/failed", params={"limit": 0}, headers=api.as_("admin")).status_code
        == 422
    )
    assert api.client.get("/outbox", headers=api.as_("sales_rep")).status_code == 403
    assert api.client.get("/outbox").status_code == 401
