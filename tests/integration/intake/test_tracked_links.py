"""Tracked links: the link in a delivered e-mail redirects every time and counts once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tactica.channels.local_peers import LocalSmtpSink
from tactica.services import links
from tactica.store.db import Store
from tests.integration.intake.conftest import (
    PUBLIC_URL,
    contact_to,
    responses,
    send_emails,
)

LINK = re.compile(re.escape(PUBLIC_URL) + r"/r/[A-Za-z0-9_.\-]+")


def _link_in_mail_to(smtp: LocalSmtpSink, address: str) -> str:
    mail = next(m for m in smtp.messages if m["To"] == address)
    found = LINK.findall(mail.get_content())
    assert len(found) == 1, mail.get_content()
    return found[0]


def test_a_link_from_a_delivered_email_redirects_twice_and_counts_one_click(
    store: Store, smtp: LocalSmtpSink, client: TestClient
) -> None:
    send_emails(store, smtp)
    link = _link_in_mail_to(smtp, "c04@example.com")
    path = link.removeprefix(PUBLIC_URL)
    for _ in range(2):
        got = client.get(path, follow_redirects=False)
        assert got.status_code == 302
        assert got.headers["location"] == "https://shop.example/gold?from=mail"
    (click,) = responses(store)
    contact = contact_to(store, "c04")
    assert (click.kind, click.source, click.channel) == ("click", "link", "email")
    assert (click.contact_id, click.customer_id, click.attributed_by) == (contact.id, "c04", "link")
    assert (click.campaign, click.offer, click.result) == ("gold-email", "GOLD", "clicked")
    # Another customer's click is theirs.
    client.get(_link_in_mail_to(smtp, "c06@example.com").removeprefix(PUBLIC_URL))
    assert [r.customer_id for r in responses(store)] == ["c04", "c06"]


def test_each_customer_gets_their_own_link(store: Store, smtp: LocalSmtpSink) -> None:
    send_emails(store, smtp)
    every = [LINK.findall(m.get_content())[0] for m in smtp.messages]
    assert len(set(every)) == len(every) == 16


def test_a_changed_or_foreign_link_gets_a_404_page_and_nothing_is_stored(
    store: Store, smtp: LocalSmtpSink, client: TestClient
) -> None:
    send_emails(store, smtp)
    path = _link_in_mail_to(smtp, "c04@example.com").removeprefix(PUBLIC_URL)
    changed = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    contact = contact_to(store, "c04")
    foreign = links.link_token("another key", contact.id, "email", "https://evil.example/")
    for bad in (changed, path[:-10], f"/r/{foreign}", "/r/not-a-token"):
        got = client.get(bad, follow_redirects=False)
        assert got.status_code == 404, bad
        assert "Link not found" in got.text
        assert "location" not in got.headers
    assert responses(store) == []
    # The link made with our key still works.
    assert client.get(path, follow_redirects=False).status_code == 302
