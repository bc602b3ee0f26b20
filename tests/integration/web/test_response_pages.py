"""The responses pages: the review queue (each reply, what the rules guessed, a person's
reading and what follows from it) and the recent responses with filters."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services.reply_rules import add_rule
from tactica.services.responses import Inbound, take_responses
from tactica.store.db import Store
from tactica.store.models import (
    AuditEntry,
    Lead,
    Order,
    ReplyRuleRow,
    Response,
    SpecialList,
    SpecialListEntry,
)
from tests.integration.responses.conftest import NOW, contact_of, ran_store
from tests.integration.web.conftest import csrf_of, post_form, sign_in

DAY = NOW.date().isoformat()


def sms(mid: str, customer: int, text: str) -> Inbound:
    """An SMS reply from customer c<nn>'s number."""
    return Inbound(mid, "sms", text, sender=f"35191{customer:07d}", received_at=NOW)


@pytest.fixture
def replied(store: Store) -> Store:
    """The 'autumn' run sent; c01 wrote something unclear, a stranger wrote YES (no
    customer), c02 ordered (nothing to review), c15 (e-mail) asked a question."""
    ran_store(store)
    take_responses(
        store,
        "gw",
        [
            sms("m1", 1, "hmm, maybe later"),
            Inbound("m2", "sms", "YES", sender="+999", received_at=NOW),
            sms("m3", 2, "Yes please"),
        ],
        now=NOW,
    )
    take_responses(
        store,
        "smtp",
        [Inbound("e1", "email", "what is this?", sender="c15@example.com", received_at=NOW)],
        now=NOW,
    )
    return store


def _response(store: Store, mid: str) -> Response:
    with store.session() as s:
        r = s.scalar(sa.select(Response).where(Response.message_id == mid))
        assert r is not None
        s.expunge(r)
        return r


def _item(page: str, response_id: int) -> str:
    found = re.search(
        rf'<article class="card reply" data-response="{response_id}"(.*?)</article>', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def _queue_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="card reply" data-response="(\d+)"', page)]


def _review(client: TestClient, response_id: int, **form: str) -> httpx.Response:
    return post_form(client, "/ui/responses", f"/ui/responses/{response_id}/review", form)


def _opt_outs(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        rows = s.execute(
            sa.select(SpecialListEntry.customer_id, SpecialListEntry.channel)
            .join(SpecialList, SpecialList.id == SpecialListEntry.list_id)
            .where(SpecialList.kind == "opt_out")
        )
        return sorted(tuple(r) for r in rows)  # type: ignore[misc]


def test_the_queue_shows_each_waiting_reply_with_its_customer_contact_and_guess(
    client: TestClient, replied: Store
) -> None:
    m1, m2, m3, e1 = (_response(replied, m) for m in ("m1", "m2", "m3", "e1"))
    sign_in(client, "marketer")
    page = client.get("/ui/responses").text
    assert '<a href="/ui/responses" aria-current="page">Responses</a>' in page
    # The one waiting longest first; the order booked from m3 waits for nobody.
    assert _queue_ids(page) == [m1.id, m2.id, e1.id]
    assert '<span class="count" data-waiting>3</span>' in page
    one = _item(page, m1.id)
    assert "hmm, maybe later" in one
    assert '<dd data-field="customer">c01</dd>' in one
    contact = contact_of(replied, "c01")
    assert f"#{contact.id}: autumn / gold-sms, offer GOLD" in one
    assert re.search(r'data-field="guess">Other, confidence \d+\.\d%', one)
    assert "the rules could not tell what it means" in one
    # The guess is what the form offers first.
    assert re.search(r'value="other"\s+checked', one)
    stranger = _item(page, m2.id)
    assert '<dd data-field="customer">unknown</dd>' in stranger
    assert "none: it answers no contact" in stranger and "it matches no customer" in stranger
    assert re.search(
        r'data-field="guess">Order, confidence \d+\.\d% <small>\(rule [^)]+\)', stranger
    )
    assert m3.id not in _queue_ids(page)


def test_a_reply_read_as_an_opt_out_puts_the_customer_on_the_opt_out_list(
    client: TestClient, replied: Store
) -> None:
    m1 = _response(replied, "m1")
    sign_in(client, "marketer")
    r = _review(client, m1.id, outcome="opt_out", remember="")
    assert r.status_code == 303
    location = r.headers["location"]
    assert location == f"/ui/responses?done={m1.id}"
    page = client.get(location).text
    assert f"Reply {m1.id}: c01 is on the opt-out list." in page
    assert m1.id not in _queue_ids(page)
    assert _opt_outs(replied) == [("c01", "sms")]  # the channel it came on (the default)
    after = _response(replied, "m1")
    assert (after.outcome, after.result, after.review, after.reviewed_by) == (
        "opt_out",
        "opt_out",
        "done",
        "user:marketer",
    )
    with replied.session() as s:
        assert s.scalar(
            sa.select(AuditEntry.id).where(
                AuditEntry.action == "correct", AuditEntry.entity_id == str(m1.id)
            )
        )
    # The opt-out list shows them too.
    listed = client.get("/ui/lists/opt_out").text
    assert '<tr data-customer="c01" data-channel="sms">' in listed


def test_a_reply_read_as_interest_opens_a_lead_and_can_teach_the_rules(
    client: TestClient, replied: Store
) -> None:
    e1 = _response(replied, "e1")
    sign_in(client, "marketer")
    r = _review(client, e1.id, outcome="interest", remember="what is this")
    assert r.status_code == 303
    assert f"Reply {e1.id}: a lead was opened for c15." in client.get(r.headers["location"]).text
    with replied.session() as s:
        lead = s.scalar(sa.select(Lead).where(Lead.response_id == e1.id))
        assert lead is not None
        assert (lead.customer_id, lead.campaign, lead.status) == ("c15", "gold-email", "new")
        rule = s.scalar(sa.select(ReplyRuleRow).where(ReplyRuleRow.text == "what is this"))
        assert rule is not None and (rule.outcome, rule.source) == ("interest", "correction")
    # The rule reads the next such reply at once: no review needed.
    taken = take_responses(
        replied,
        "smtp",
        [Inbound("e2", "email", "What is this??", sender="c16@example.com", received_at=NOW)],
        now=NOW,
    )
    assert (taken.leads, taken.review) == (1, 0)


def test_an_order_confirmed_from_the_queue_is_booked(client: TestClient, replied: Store) -> None:
    m1 = _response(replied, "m1")
    sign_in(client, "marketer")
    r = _review(client, m1.id, outcome="order")
    assert r.status_code == 303
    with replied.session() as s:
        order = s.scalar(sa.select(Order).where(Order.response_id == m1.id))
        assert order is not None and (order.customer_id, order.offer) == ("c01", "GOLD")


def test_an_opt_out_from_no_known_customer_stays_in_the_queue(
    client: TestClient, replied: Store
) -> None:
    m2 = _response(replied, "m2")
    sign_in(client, "marketer")
    r = _review(client, m2.id, outcome="opt_out")
    page = client.get(r.headers["location"]).text
    assert "matches no customer" in page and "it stays in the queue" in page
    assert m2.id in _queue_ids(page)
    assert _opt_outs(replied) == []


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        ({"outcome": ""}, "outcome", "choose what the reply means"),
        ({"outcome": "maybe"}, "outcome", "choose what the reply means"),
        ({"outcome": "other", "remember": "hmm"}, "remember", "only an order, interest or"),
        ({"outcome": "interest", "remember": "x" * 201}, "remember", "at most 200"),
    ],
)
def test_a_refused_review_is_named_by_its_field_and_changes_nothing(
    client: TestClient, replied: Store, form: dict[str, str], field: str, says: str
) -> None:
    m1 = _response(replied, "m1")
    sign_in(client, "marketer")
    r = _review(client, m1.id, **{"remember": "", **form})
    assert r.status_code == 422
    one = _item(r.text, m1.id)
    error = re.search(rf'<span class="error" id="{field}-{m1.id}-error">([^<]*)</span>', one)
    assert error is not None and says in error.group(1), one
    assert re.search(
        rf'aria-invalid="true"[^>]*aria-describedby="[^"]*{field}-{m1.id}-error', one
    ) or re.search(rf'aria-describedby="[^"]*{field}-{m1.id}-error"[^>]*aria-invalid="true"', one)
    if form.get("remember"):
        assert f'value="{form["remember"]}"' in one  # what was typed is kept
    after = _response(replied, "m1")
    assert (after.result, after.review) == ("review", "pending")
    with replied.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0
        assert (
            s.scalar(sa.select(ReplyRuleRow.id).where(ReplyRuleRow.source == "correction")) is None
        )


def test_a_keyword_remembered_already_is_refused_and_the_reading_is_not_kept(
    client: TestClient, replied: Store
) -> None:
    m1 = _response(replied, "m1")
    with replied.session() as s:
        add_rule(s, outcome="interest", text="maybe later", language=m1.language, actor="t")
        s.commit()
    sign_in(client, "marketer")
    r = _review(client, m1.id, outcome="interest", remember="maybe later")
    assert r.status_code == 422
    error = re.search(rf'id="remember-{m1.id}-error">([^<]*)<', r.text)
    assert error is not None and "exists already" in error.group(1)
    # The reading and its lead went with the refused rule: one transaction.
    after = _response(replied, "m1")
    assert (after.result, after.review) == ("review", "pending")
    with replied.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Lead)) == 0


def test_a_reply_that_already_led_somewhere_is_not_read_again(
    client: TestClient, replied: Store
) -> None:
    m3 = _response(replied, "m3")  # booked an order when it came in
    sign_in(client, "marketer")
    r = _review(client, m3.id, outcome="opt_out")
    assert r.status_code == 409
    assert "already led to order; change that instead" in r.text
    assert _opt_outs(replied) == []
    assert _review(client, 999_999, outcome="other").status_code == 404


def test_the_recent_responses_filter_by_result_channel_and_days(
    client: TestClient, replied: Store
) -> None:
    ids = {m: _response(replied, m).id for m in ("m1", "m2", "m3", "e1")}
    sign_in(client, "marketer")

    def shown(query: str) -> list[int]:
        r = client.get(f"/ui/responses/recent{query}")
        assert r.status_code == 200, r.text
        return [int(x) for x in re.findall(r'<tr data-response="(\d+)"', r.text)]

    assert shown("") == [ids["e1"], ids["m3"], ids["m2"], ids["m1"]]
    assert shown("?result=order") == [ids["m3"]]
    assert shown("?result=unattributed&channel=sms") == [ids["m2"]]
    assert shown("?channel=email") == [ids["e1"]]
    assert shown(f"?from={DAY}&to={DAY}") == [ids["e1"], ids["m3"], ids["m2"], ids["m1"]]
    assert shown("?from=2026-11-25") == []
    assert shown("?to=2026-11-23") == []
    page = client.get("/ui/responses/recent?result=order").text
    row = re.search(rf'<tr data-response="{ids["m3"]}" data-result="order">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "Yes please" in row.group(1) and "order booked" in row.group(1)
    assert f"{DAY} 12:00" in row.group(1) and "gold-sms" in row.group(1)
    assert '<option value="order" selected>' in page


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("?from=24/11/2026", "from", "is not a date"),
        ("?from=2026-11-24&to=2026-11-01", "to", "ends before it starts"),
        ("?result=won", "result", "one of order"),
        ("?channel=fax", "channel", "one of email"),
    ],
)
def test_a_bad_filter_is_named_by_its_field(
    client: TestClient, replied: Store, query: str, field: str, says: str
) -> None:
    sign_in(client, "marketer")
    r = client.get(f"/ui/responses/recent{query}")
    assert r.status_code == 422
    error = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', r.text)
    assert error is not None and says in error.group(1)
    assert "<tr data-response" not in r.text


def test_the_queue_is_fifty_a_page(client: TestClient, store: Store) -> None:
    ran_store(store)
    items = [Inbound(f"x{i}", "sms", "hello?", sender=f"+9{i}", received_at=NOW) for i in range(60)]
    take_responses(store, "gw", items, now=NOW)
    sign_in(client, "marketer")
    first = client.get("/ui/responses").text
    second = client.get("/ui/responses?page=2").text
    assert len(_queue_ids(first)) == 50 and len(_queue_ids(second)) == 10
    assert max(_queue_ids(first)) < min(_queue_ids(second))
    assert '<span class="count" data-waiting>60</span>' in first and 'rel="next"' in first


@pytest.mark.parametrize("role", ["analyst", "sales_rep"])
def test_a_role_without_the_right_may_not_review(
    client: TestClient, replied: Store, role: str
) -> None:
    m1 = _response(replied, "m1")
    sign_in(client, role)
    dashboard = client.get("/ui/dashboard").text
    assert 'href="/ui/responses"' not in dashboard
    for path in ("/ui/responses", "/ui/responses/recent"):
        r = client.get(path)
        assert r.status_code == 403 and "may not review responses" in r.text
    r = client.post(
        f"/ui/responses/{m1.id}/review",
        data={"outcome": "opt_out", "csrf": csrf_of(dashboard)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _response(replied, "m1").review == "pending"
    assert _opt_outs(replied) == []


def test_a_review_from_elsewhere_is_refused(client: TestClient, replied: Store) -> None:
    m1 = _response(replied, "m1")
    sign_in(client, "marketer")
    r = client.post(
        f"/ui/responses/{m1.id}/review",
        data={"outcome": "opt_out", "csrf": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _response(replied, "m1").review == "pending"
    assert _opt_outs(replied) == []
