"""Reply addresses and tracked links name one contact, and only with our key."""

from __future__ import annotations

import pytest

from tactica.errors import InvalidInput
from tactica.services import links

KEY = "s3cret"


@pytest.mark.parametrize("contact_id", [0, 1, 35, 36, 123_456_789, 2**62])
def test_a_reply_token_gives_back_its_contact(contact_id: int) -> None:
    token = links.reply_token(KEY, contact_id)
    assert token == token.lower() and len(token) <= 30
    assert links.contact_of_reply_token(token, secret=KEY) == contact_id
    # Mail systems may change the case of an address.
    assert links.contact_of_reply_token(token.upper(), secret=KEY) == contact_id


def test_a_reply_token_cannot_be_forged_or_moved_to_another_contact() -> None:
    token = links.reply_token(KEY, 42)
    contact, mac = token.split("-")
    assert links.contact_of_reply_token(token, secret="another key") is None
    assert (
        links.contact_of_reply_token(f"{links.reply_token(KEY, 43)[:-16]}{mac}", secret=KEY) is None
    )
    assert links.contact_of_reply_token(f"{contact}-{'0' * 16}", secret=KEY) is None
    for junk in ("", "-", "abc", "zz-", "1-2-3", "é1-" + mac, "x" * 40 + "-" + mac):
        assert links.contact_of_reply_token(junk, secret=KEY) is None


def test_a_reply_address_keeps_the_mailbox_and_the_name() -> None:
    plain = links.reply_address(KEY, "replies@bank.example", 7)
    assert plain == f"replies+{links.reply_token(KEY, 7)}@bank.example"
    named = links.reply_address(KEY, "Bank Offers <replies@bank.example>", 7)
    assert named == f"Bank Offers <{plain}>"
    assert links.contact_of_address(named, secret=KEY) == 7
    assert links.contact_of_address(plain.upper(), secret=KEY) == 7
    assert links.contact_of_address("replies@bank.example", secret=KEY) is None
    with pytest.raises(ValueError, match="not an e-mail address"):
        links.reply_address(KEY, "replies", 7)


def test_a_tracked_link_names_contact_channel_and_address() -> None:
    url = links.tracked_url(KEY, "https://mkt.example/", 9, "sms", "https://shop.example/a?b=1")
    assert url.startswith("https://mkt.example/r/")
    token = url.rsplit("/", 1)[1]
    got = links.read_link(token, secret=KEY)
    assert (got.contact_id, got.channel, got.url) == (9, "sms", "https://shop.example/a?b=1")
    for bad in (token[:-2], token + "x", "nothing"):
        with pytest.raises(InvalidInput, match="not valid"):
            links.read_link(bad, secret=KEY)
    with pytest.raises(InvalidInput):
        links.read_link(token, secret="another key")
