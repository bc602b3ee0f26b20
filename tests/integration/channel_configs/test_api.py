"""Templates, channels and the unsubscribe pages over HTTP, on both databases."""

from __future__ import annotations

import sqlalchemy as sa

from tactica.services import lists
from tactica.services.unsubscribe import unsubscribe_token
from tests.integration.api.conftest import Api

# The api fixture's app signs with Settings(secret_key="test").
SECRET = "test"


def _customer(api: Api) -> None:
    with api.store.session() as s:
        s.execute(
            sa.text("INSERT INTO customers (id, language, email) VALUES ('c1', 'ru', 'a@x.org')")
        )
        s.commit()


def test_templates_crud_and_preview(api: Api) -> None:
    c, h = api.client, api.as_("marketer")
    _customer(api)
    body = {
        "name": "hello",
        "channel": "sms",
        "language": "ru",
        "body": "Привет, {{ customer.id }}",
    }
    r = c.put("/templates", json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["sms_length"]["encoding"] == "UCS-2"
    email = {
        "name": "hello",
        "channel": "email",
        "subject": "Hi",
        "body": "{{ unsubscribe_url }}",
    }
    assert c.put("/templates", json=email, headers=h).status_code == 200
    bad = {**body, "body": "{{ customer.nope }}"}
    r = c.put("/templates", json=bad, headers=h)
    assert r.status_code == 422
    assert "body, line 1: unknown customer field 'nope'" in r.json()["detail"]
    r = c.get("/templates", params={"channel": "sms"}, headers=api.as_("analyst"))
    assert [t["language"] for t in r.json()] == ["ru"]
    assert c.get("/templates/hello/sms/ru", headers=h).json()["body"] == body["body"]
    assert c.get("/templates/hello/sms/en", headers=h).status_code == 404
    r = c.get("/templates/hello/preview", params={"channel": "sms", "customer_id": "c1"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["body"], r.json()["language"]) == ("Привет, c1", "ru")
    r = c.get(
        "/templates/hello/preview", params={"channel": "email", "customer_id": "c1"}, headers=h
    )
    link = r.json()["unsubscribe_url"]
    assert link.startswith("http://127.0.0.1:8000/unsubscribe/") and r.json()["body"] == link
    assert c.put("/templates", json=body, headers=api.as_("analyst")).status_code == 403
    assert c.get("/templates", headers=api.as_("sales_rep")).status_code == 403
    assert c.delete("/templates/hello/sms/ru", headers=h).status_code == 204
    assert c.delete("/templates/hello/sms/ru", headers=h).status_code == 404


def test_channels_crud_masks_secrets(api: Api) -> None:
    c, h = api.client, api.as_("marketer")
    doc = {
        "name": "hook",
        "kind": "webhook",
        "settings": {"url": "https://h.example.com/in", "secret": "whsec-123"},
        "rate_per_second": 10,
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "cost_per_message": "0.002",
    }
    r = c.put("/channels", json=doc, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["channel"] == "webhook" and out["settings"]["secret"] == "********"
    assert "whsec-123" not in r.text
    # Read, change, put back: the masked secret keeps the saved one.
    out["rate_per_second"] = 20
    r = c.put("/channels", json=out, headers=h)
    assert r.status_code == 200, r.text
    with api.store.session() as s:
        from tactica.services.channel_configs import get_channel

        assert get_channel(s, "hook").settings["secret"] == "whsec-123"
    r = c.put("/channels", json={**doc, "settings": {"url": "x"}}, headers=h)
    assert r.status_code == 422
    assert "settings.secret: is required for kind webhook" in r.json()["detail"]
    r = c.put("/channels", json={**doc, "channel": "sms"}, headers=h)
    assert r.status_code == 422 and "kind webhook serves webhook" in r.json()["detail"]
    listed = c.get("/channels", headers=api.as_("analyst"))
    assert [x["name"] for x in listed.json()] == ["hook"] and "whsec-123" not in listed.text
    assert c.get("/channels/hook", headers=h).json()["rate_per_second"] == 20
    assert c.put("/channels", json=doc, headers=api.as_("analyst")).status_code == 403
    assert c.delete("/channels/hook", headers=h).status_code == 204
    assert c.get("/channels/hook", headers=h).status_code == 404


def test_unsubscribe_pages(api: Api) -> None:
    c = api.client
    token = unsubscribe_token(SECRET, "c9", "email")
    page = c.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Unsubscribe" in page.text and 'method="post"' in page.text
    with api.store.session() as s:
        assert lists.entries(s, "opt_out") == []  # looking is not unsubscribing
    for _ in range(2):
        r = c.post(
            f"/unsubscribe/{token}",
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200 and "You are unsubscribed" in r.text
    with api.store.session() as s:
        got = [(e["customer_id"], e["channel"]) for e in lists.entries(s, "opt_out")]
    assert got == [("c9", "email")]
    for bad in (token[:-3] + "abc", "nonsense"):
        for call in (c.get, c.post):
            r = call(f"/unsubscribe/{bad}")
            assert r.status_code == 400
            assert r.headers["content-type"].startswith("text/plain")
            assert "link is not valid" in r.text
