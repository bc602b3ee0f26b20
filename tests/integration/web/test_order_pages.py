"""The orders page: discounts beyond bounds wait there for a marketer or an admin."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tactica.services import orders
from tactica.store.db import Store
from tactica.store.models import Order
from tests.integration.web.conftest import csrf_of, post_form, sign_in


def _pending(store: Store, asked_by: str = "user:sales_rep") -> int:
    with store.session() as s:
        o = orders.book_order(
            s, customer_id="c01", offer_code="GOLD", actor=asked_by, discount="15", note="loyal"
        )
        s.commit()
        assert o.status == orders.PENDING
        return o.id


def _status(store: Store, order_id: int) -> str:
    with store.session() as s:
        return str(s.scalar(sa.select(Order.status).where(Order.id == order_id)))


def test_a_marketer_approves_a_waiting_discount_and_the_order_is_booked(
    client: TestClient, marketing: Store
) -> None:
    order_id = _pending(marketing)
    sign_in(client, "marketer")
    page = client.get("/ui/orders")
    assert page.status_code == 200 and f'data-order="{order_id}"' in page.text
    assert "Approve" in page.text and 'href="/ui/orders"' in page.text  # in the navigation
    r = post_form(
        client, "/ui/orders", f"/ui/orders/{order_id}/decide", {"decision": "approve", "note": "ok"}
    )
    assert r.status_code == 303 and "approved" in r.headers["location"]
    assert _status(marketing, order_id) == orders.BOOKED
    booked = client.get("/ui/orders?status=booked").text
    assert f'data-order="{order_id}"' in booked and "marketer" in booked
    # Deciding it again is a conflict, shown on the page; nothing changes.
    again = post_form(client, "/ui/orders", f"/ui/orders/{order_id}/decide", {"decision": "reject"})
    assert again.status_code == 409 and "not waiting for approval" in again.text
    assert _status(marketing, order_id) == orders.BOOKED


def test_nobody_approves_their_own_discount_and_a_rep_may_not_approve(
    client: TestClient, marketing: Store
) -> None:
    mine = _pending(marketing, asked_by="user:marketer")  # as the app names its users
    sign_in(client, "marketer")
    r = post_form(client, "/ui/orders", f"/ui/orders/{mine}/decide", {"decision": "approve"})
    assert r.status_code == 403 and "asked for themselves" in r.text
    assert _status(marketing, mine) == orders.PENDING
    other = _pending(marketing)
    post_form(client, "/ui/orders", "/ui/logout", {})
    sign_in(client, "sales_rep")
    page = client.get("/ui/orders")
    assert page.status_code == 200 and "Approve" not in page.text
    r = client.post(
        f"/ui/orders/{other}/decide", data={"decision": "approve", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 403 and _status(marketing, other) == orders.PENDING


def test_bad_input_on_the_orders_page_is_named_and_changes_nothing(
    client: TestClient, marketing: Store
) -> None:
    order_id = _pending(marketing)
    sign_in(client, "admin")
    assert client.get("/ui/orders?status=lost").status_code == 422
    r = post_form(client, "/ui/orders", f"/ui/orders/{order_id}/decide", {"decision": "maybe"})
    assert r.status_code == 422 and "approve or reject" in r.text
    missing = post_form(client, "/ui/orders", "/ui/orders/999999/decide", {"decision": "approve"})
    assert missing.status_code == 404
    forged = client.post(f"/ui/orders/{order_id}/decide", data={"decision": "approve"})
    assert forged.status_code == 403
    assert _status(marketing, order_id) == orders.PENDING
