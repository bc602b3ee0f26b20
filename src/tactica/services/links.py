"""Signed ways back to a contact: tracked links, reply addresses, and what comes back.

Both name one contact, signed with the workspace's secret key
(:attr:`tactica.config.Settings.secret`), so nobody can make one for another contact
and changing the key invalidates every one sent:

- a **tracked link** ``{public_url}/r/{token}`` carries the contact, its channel and the
  address to go to. Following it redirects there, every time; the first time, the click
  is taken as a response of the contact (kind ``click``), so each contact's click
  counts once however often it is followed;
- a **reply address** ``replies+{token}@example.com`` (the e-mail channel's
  ``reply_to`` setting, with the contact's token after a '+') is the ``Reply-To`` of
  every e-mail; a reply sent to it is the contact's reply. The token is short and in
  lower case, because mail systems may change the case of an address.

An e-mail reply that lost its address (forwarded, or sent to the bare ``reply_to``)
is still matched by its ``In-Reply-To``/``References`` headers, which name the
Message-ID of the e-mail answered, kept as the contact's ``provider_id``; failing
both, by its sender within the campaign's response window (see
:mod:`tactica.services.responses`).
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from tactica.domain.schema import CHANNELS
from tactica.errors import InvalidInput
from tactica.services.responses import Inbound, Taken, take_responses
from tactica.store.db import Store
from tactica.store.models import Contact

if TYPE_CHECKING:
    # Only e-mail intake needs the listener's types; dispatch imports this module too.
    from tactica.channels.inbound_smtp import InboundMail

log = logging.getLogger(__name__)

#: The source a tracked link's clicks are stored under.
CLICK_SOURCE = "link"
#: The source e-mail replies are stored under (their Message-ID is the message id).
EMAIL_SOURCE = "email"
#: Where tracked links point: ``{public_url}{LINK_PATH}{token}``.
LINK_PATH = "/r/"

_LINK_SALT = "tracked-link"
_REPLY_PURPOSE = b"tactica reply address\x00"
# 64 bits of HMAC: a forger would have to send billions of e-mails to hit one.
_REPLY_MAC_CHARS = 16
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- tracked links


@dataclass(frozen=True)
class TrackedLink:
    """What a tracked link's token says: the contact, its channel, where to go."""

    contact_id: int
    channel: str
    url: str


def _links(secret: str) -> URLSafeSerializer:
    # The salt keeps these signatures apart from unsubscribe links signed with the key.
    return URLSafeSerializer(secret, salt=_LINK_SALT)


def link_token(secret: str, contact_id: int, channel: str, url: str) -> str:
    """The signed token naming ``contact_id`` (on ``channel``) and ``url``."""
    return str(_links(secret).dumps([contact_id, channel, url]))


def tracked_url(secret: str, base_url: str, contact_id: int, channel: str, url: str) -> str:
    """The tracked link to ``url`` for one contact: ``{base_url}/r/{token}``."""
    return f"{base_url.rstrip('/')}{LINK_PATH}{link_token(secret, contact_id, channel, url)}"


def link_maker(secret: str, base_url: str, contact_id: int, channel: str) -> Callable[[str], str]:
    """What a template's ``track(url)`` calls for one contact's message."""

    def make(url: str) -> str:
        return tracked_url(secret, base_url, contact_id, channel, url)

    return make


def read_link(token: str, *, secret: str) -> TrackedLink:
    """What a token names; InvalidInput when it is not a link we made."""
    bad = InvalidInput("this link is not valid (it may have been cut or changed)")
    try:
        data = _links(secret).loads(token)
    except BadSignature:
        raise bad from None
    if not (isinstance(data, list) and len(data) == 3):
        raise bad
    contact_id, channel, url = data
    if not (isinstance(contact_id, int) and channel in CHANNELS and isinstance(url, str)):
        raise bad
    if not url.startswith(("http://", "https://")):
        raise bad
    return TrackedLink(contact_id, str(channel), url)


#: The contact id of links made for template previews (no contact has it).
PREVIEW_CONTACT = 0


def follow_link(store: Store, token: str, *, secret: str, now: datetime | None = None) -> str:
    """Where a tracked link goes; the contact's first click is taken as a response.

    InvalidInput (and nothing stored) for a token we did not make. Failing to store
    the click does not stop the redirect: the customer asked for the page, and is
    sent there; the failure is logged.
    """
    link = read_link(token, secret=secret)
    if link.contact_id == PREVIEW_CONTACT:
        return link.url  # a template preview's link: it goes where it says, for nobody
    click = Inbound(
        # One id per contact: following it again is a duplicate, not a second click.
        message_id=f"click-{link.contact_id}",
        channel=link.channel,
        text=link.url,
        contact_id=link.contact_id,
        kind="click",
        received_at=now,
        data={"url": link.url},
    )
    try:
        take_responses(store, CLICK_SOURCE, [click], actor=CLICK_SOURCE, now=now)
    except Exception:
        log.exception("tracked link of contact %s: the click was not stored", link.contact_id)
    return link.url


# --------------------------------------------------------------------------- reply addresses


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
        if n == 0:
            return out


def _reply_mac(secret: str, contact: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), _REPLY_PURPOSE + contact.encode(), hashlib.sha256)
    return digest.hexdigest()[:_REPLY_MAC_CHARS]


def reply_token(secret: str, contact_id: int) -> str:
    """The short signed token of a contact, for a reply address: ``<id in base 36>-<mac>``."""
    if contact_id < 0:
        raise ValueError("a contact id is not negative")
    contact = _base36(contact_id)
    return f"{contact}-{_reply_mac(secret, contact)}"


def contact_of_reply_token(token: str, *, secret: str) -> int | None:
    """The contact a reply token names, or None when it is not one we made."""
    contact, _, mac = token.strip().lower().partition("-")
    if not contact or len(contact) > 13 or any(c not in _BASE36 for c in contact):
        return None
    if not hmac.compare_digest(mac, _reply_mac(secret, contact)):
        return None
    return int(contact, 36)


def reply_address(secret: str, reply_to: str, contact_id: int) -> str:
    """``reply_to`` (``replies@example.com``, or with a name) with the contact's token.

    ``replies@example.com`` becomes ``replies+<token>@example.com``; a display name is
    kept.
    """
    name, addr = email.utils.parseaddr(reply_to)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"reply_to: {reply_to!r} is not an e-mail address")
    tagged = f"{local}+{reply_token(secret, contact_id)}@{domain}"
    return email.utils.formataddr((name, tagged)) if name else tagged


def contact_of_address(address: str, *, secret: str) -> int | None:
    """The contact an address's '+token' names (``replies+<token>@...``), or None."""
    _, addr = email.utils.parseaddr(address)
    local = addr.rpartition("@")[0]
    if "+" not in local:
        return None
    return contact_of_reply_token(local.rpartition("+")[2], secret=secret)


# --------------------------------------------------------------------------- e-mail replies


def _by_message_ids(store: Store, ids: Sequence[str]) -> int | None:
    """The e-mail contact whose Message-ID comes first in ``ids`` (nearest first)."""
    # Only our own ids can match (channels.smtp.message_id_for): skip the query otherwise.
    ours = [i for i in dict.fromkeys(ids) if i.startswith("<tactica.")][:50]
    if not ours:
        return None
    with store.session() as s:
        # provider_id has an index of its own (only set ones): no scan of the ledger.
        found = dict(
            s.execute(
                sa.select(Contact.provider_id, Contact.id).where(
                    Contact.provider_id.in_(ours), Contact.channel == "email"
                )
            ).all()
        )
    return next((found[i] for i in ours if i in found), None)


def take_email_reply(
    store: Store,
    mail: InboundMail,
    *,
    secret: str,
    opt_out_scope: str = "channel",
    now: datetime | None = None,
) -> Taken | None:
    """Take one received e-mail as the reply of the contact it answers.

    The contact is the one its recipient's reply token names; else the one whose
    e-mail its ``In-Reply-To``/``References`` name; else none, and the sender's
    address finds the customer's latest e-mail contact within the response window.
    Auto-replies and delivery reports are not replies: they are dropped (None).
    The message id is the e-mail's Message-ID, so a message delivered twice is taken
    once. ``opt_out_scope``: what a reply that says STOP stops, ``channel`` (e-mail) or
    ``all``.
    """
    if mail.automatic:
        log.info("inbound e-mail %s is an automatic reply or report: dropped", mail.message_id)
        return None
    now = now or datetime.now(UTC)
    contact_id, matched = None, "sender"
    for recipient in mail.recipients:
        contact_id = contact_of_address(recipient, secret=secret)
        if contact_id is not None:
            matched = "reply address"
            break
    if contact_id is None:
        contact_id = _by_message_ids(store, [*mail.in_reply_to, *mail.references])
        matched = "in-reply-to" if contact_id is not None else matched
    data: dict[str, Any] = {"subject": mail.subject[:500], "matched_by": matched}
    if mail.date is not None:
        data["date"] = mail.date.isoformat()
    sender = mail.sender[:200] if mail.sender else None
    reply = Inbound(
        message_id=mail.message_id,
        channel="email",
        text=mail.text,
        sender=sender,
        contact_id=contact_id,
        received_at=now,
        kind="reply",
        data=data,
    )
    return take_responses(
        store, EMAIL_SOURCE, [reply], actor=EMAIL_SOURCE, opt_out_scope=opt_out_scope, now=now
    )


def email_deliverer(
    store: Store, *, secret: str, opt_out_scope: str = "channel"
) -> Callable[[InboundMail], object]:
    """The ``deliver`` callback of an inbound SMTP listener taking replies into ``store``.

    A message that can never be taken (no sender and no reply address) is refused
    (the sending server gets a 550); any other failure makes it try again later.
    """

    from tactica.channels.inbound_smtp import MailRefused

    def deliver(mail: InboundMail) -> object:
        try:
            return take_email_reply(store, mail, secret=secret, opt_out_scope=opt_out_scope)
        except InvalidInput as e:
            raise MailRefused(e.detail) from e

    return deliver
