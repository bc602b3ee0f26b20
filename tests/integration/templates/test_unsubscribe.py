"""Unsubscribe links: signed per customer and channel, a click opts out exactly once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tactica.config import Settings
from tactica.errors import InvalidInput
from tactica.services import lists
from tactica.services.unsubscribe import (
    read_token,
    unsubscribe,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_url,
)
from tactica.store.db import Store

SECRET = "unsubscribe-test-secret"


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _opt_outs(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as s:
        return [(e["customer_id"], e["channel"], e["source"]) for e in lists.entries(s, "opt_out")]


def test_links_are_signed_per_customer_and_channel() -> None:
    url = unsubscribe_url(SECRET, "https://go.example.com/", "c1")
    assert url.startswith("https://go.example.com/unsubscribe/")
    assert read_token(_token(url), secret=SECRET) == ("c1", "email")
    assert unsubscribe_url(Settings(secret_key=SECRET), "https://go.example.com", "c1") == url
    sms = unsubscribe_token(SECRET, "c1", "sms")
    assert read_token(sms, secret=SECRET) == ("c1", "sms")
    assert _token(url) != sms
    assert unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_a_click_opts_out_exactly_once(store: Store) -> None:
    token = _token(unsubscribe_url(SECRET, "http://localhost:8000", "c42"))
    for _ in range(2):
        with store.session() as s:
            assert unsubscribe(s, token, secret=SECRET) == "c42"
            s.commit()
    assert _opt_outs(store) == [("c42", "email", "unsubscribe link")]
    with store.session() as s:
        audit = s.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE actor = 'unsubscribe link'")
        ).scalar_one()
    assert audit == 1


def test_an_opt_out_from_every_channel_already_covers_the_click(store: Store) -> None:
    with store.session() as s:
        lists.add_entry(s, "opt_out", lists.EntryInput("c7", "all"), actor="t")
        unsubscribe(s, unsubscribe_token(SECRET, "c7"), secret=SECRET)
        s.commit()
    assert [(c, ch) for c, ch, _ in _opt_outs(store)] == [("c7", "all")]


def test_a_tampered_or_foreign_token_is_refused(store: Store) -> None:
    token = unsubscribe_token(SECRET, "c1")
    payload, signature = token.split(".")
    other = unsubscribe_token(SECRET, "c2").split(".")[0]
    for bad in (
        f"{other}.{signature}",  # another customer under c1's signature
        f"{payload}.{signature[:-2]}xx",
        unsubscribe_token("another-secret", "c1"),
        "not-a-token",
        "",
    ):
        with store.session() as s, pytest.raises(InvalidInput, match="link is not valid"):
            unsubscribe(s, bad, secret=SECRET)
    assert _opt_outs(store) == []
