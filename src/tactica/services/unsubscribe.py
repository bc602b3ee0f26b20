"""Unsubscribe links: a signed link per customer and channel, and what a click does.

The link carries ``{customer_id, channel}`` signed with the workspace's secret key
(:attr:`tactica.config.Settings.secret`), so the link itself is the authority: whoever
holds it may take that customer off that channel, and nobody can forge one for
another customer. A click puts the customer on the ``opt_out`` special list for the
channel; a second click changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from tactica.config import Settings
from tactica.domain.lists import ALL_CHANNELS
from tactica.domain.schema import CHANNELS
from tactica.errors import InvalidInput
from tactica.services import lists
from tactica.store.models import SpecialListEntry

#: The special list a click puts the customer on.
OPT_OUT_LIST = "opt_out"
#: How the entry's source and the audit log name a click.
SOURCE = "unsubscribe link"
#: Where links point when no public address is given (a local ``tactica serve``); the
#: installation's own is ``Settings.public_url`` (``TACTICA_PUBLIC_URL``).
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_SALT = "unsubscribe"


def _serializer(secret: str) -> URLSafeSerializer:
    # The salt keeps these signatures apart from anything else signed with the same key.
    return URLSafeSerializer(secret, salt=_SALT)


def unsubscribe_token(secret: str, customer_id: str, channel: str = "email") -> str:
    """The signed token naming ``customer_id`` and ``channel`` (the last part of a link)."""
    return _serializer(secret).dumps({"customer_id": customer_id, "channel": channel})


def unsubscribe_url(
    settings_or_secret: Settings | str, base_url: str, customer_id: str, channel: str = "email"
) -> str:
    """The link that takes ``customer_id`` off ``channel``: ``{base_url}/unsubscribe/{token}``.

    ``base_url`` is the address the API is reached at from the outside.
    """
    if isinstance(settings_or_secret, Settings):
        secret = settings_or_secret.secret
    else:
        secret = settings_or_secret
    token = unsubscribe_token(secret, customer_id, channel)
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The e-mail headers that offer ``url`` as one-click unsubscribe (RFC 2369, RFC 8058)."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def read_token(token: str, *, secret: str) -> tuple[str, str]:
    """The (customer_id, channel) a token names; InvalidInput when it is not one of ours."""
    bad = InvalidInput("this unsubscribe link is not valid (it may have been cut or changed)")
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        raise bad from None
    if not isinstance(data, dict):
        raise bad
    customer_id, channel = data.get("customer_id"), data.get("channel")
    if not isinstance(customer_id, str) or not customer_id or channel not in CHANNELS:
        raise bad
    return customer_id, str(channel)


def _opted_out(session: Session, customer_id: str, channel: str) -> bool:
    """True when a lasting opt-out (this channel or all) is already in place."""
    lst = lists.get_list(session, OPT_OUT_LIST)
    found = session.scalar(
        sa.select(SpecialListEntry.id).where(
            SpecialListEntry.list_id == lst.id,
            SpecialListEntry.customer_id == customer_id,
            SpecialListEntry.channel.in_((channel, ALL_CHANNELS)),
            # An entry that ends some day is not what the customer asked for: replace it.
            SpecialListEntry.expires_at.is_(None),
        )
    )
    return found is not None


def unsubscribe(session: Session, token: str, *, secret: str) -> str:
    """Act on a click: put the token's customer on ``opt_out`` for its channel.

    Returns the customer id. Idempotent: when a lasting opt-out for the channel (or for
    every channel) is there already, nothing changes. InvalidInput on a bad token. The
    caller commits.
    """
    customer_id, channel = read_token(token, secret=secret)
    if _opted_out(session, customer_id, channel):
        return customer_id
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lists.add_entry(
        session,
        OPT_OUT_LIST,
        lists.EntryInput(
            customer_id, channel, source=SOURCE, reason=f"clicked the unsubscribe link, {when}"
        ),
        actor=SOURCE,
    )
    return customer_id
