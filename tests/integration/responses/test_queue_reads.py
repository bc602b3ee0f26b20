"""The review queue and the recent responses, as the web pages read them."""

from __future__ import annotations

from datetime import timedelta

from tactica.services import responses
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store

from .conftest import NOW


def test_the_queue_oldest_first_and_recent_responses_filtered(ran: Store) -> None:
    earlier = NOW - timedelta(days=2)
    take_responses(
        ran,
        "gw",
        [
            Inbound("q1", "sms", "hmm", sender="35191" + "0000001", received_at=earlier),
            Inbound("q2", "sms", "YES", sender="+999", received_at=NOW),
            Inbound("o1", "sms", "Yes please", sender="35191" + "0000002", received_at=NOW),
        ],
        now=NOW,
    )
    with ran.session() as s:
        ids = {r.message_id: r.id for r in responses.list_responses(s)}
        assert [r.id for r in responses.review_queue(s)] == [ids["q1"], ids["q2"]]
        assert [r.id for r in responses.review_queue(s, limit=1, offset=1)] == [ids["q2"]]
        assert responses.review_waiting(s) == 2

        def recent(**kw: object) -> list[str]:
            return [r.message_id for r in responses.recent_responses(s, **kw)]  # type: ignore[arg-type]

        assert recent() == ["o1", "q2", "q1"]
        assert recent(result="order") == ["o1"]
        assert recent(result="unattributed", channel="sms") == ["q2"]
        assert recent(channel="email") == []
        assert recent(since=NOW - timedelta(hours=1)) == ["o1", "q2"]
        assert recent(until=NOW) == ["q1"]
        assert recent(limit=1, offset=1) == ["q2"]
        assert set(responses.RESULTS) >= {r.result for r in responses.list_responses(s)}
