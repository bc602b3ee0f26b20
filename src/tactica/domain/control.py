"""Control groups: which customers a campaign holds out, the same way on every path.

A customer is held out of a campaign by a hash of their id and the campaign's name,
so the batch engine (in SQL), the real-time path and an explanation later all agree,
and a customer stays in (or out of) a campaign's control group run after run.

The hash is a pairwise-independent family (Carter and Wegman): the customer's id gives
two numbers ``a`` and ``b`` (from ``md5(id)``), the campaign's name a key ``s`` (from
``md5(name)``), and the bucket is ``(a·s + b) mod P mod BUCKETS`` with ``P`` the prime
2³¹ − 1. For any two campaigns, a customer's two buckets are independent, so the
control groups of a program's campaigns overlap no more than chance has them; and
the engine hashes each customer once, not once per campaign (md5 per (customer,
campaign) pair was a third of a run's decision).
"""

from __future__ import annotations

import hashlib

#: Buckets of the control-group hash: a customer is held out of a campaign iff
#: ``control_bucket(id, campaign) < control_share × BUCKETS``.
BUCKETS = 10_000

#: The prime the control hash works modulo (2**31 - 1): ``a·s + b`` stays in 64 bits.
PRIME = 2_147_483_647


def _md5_words(text: str) -> tuple[int, int]:
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16), int(digest[8:16], 16)


def customer_key(customer_id: str) -> tuple[int, int]:
    """The customer's half of the hash: ``(a, b)``, the first two 8-hex-digit words of
    ``md5(customer_id)`` modulo :data:`PRIME`."""
    a, b = _md5_words(customer_id)
    return a % PRIME, b % PRIME


def campaign_key(campaign: str) -> int:
    """The campaign's half of the hash: ``md5(campaign)``'s first 8 hex digits mod PRIME."""
    return _md5_words(campaign)[0] % PRIME


def control_bucket(customer_id: str, campaign: str) -> int:
    """The customer's control-group bucket for ``campaign``, in ``0 .. BUCKETS - 1``.

    ``(a·s + b) mod PRIME mod BUCKETS`` with ``(a, b)`` = :func:`customer_key` and
    ``s`` = :func:`campaign_key`. The engine computes exactly this in SQL, so a
    hold-out can be re-derived (and audited) anywhere from the id and the campaign
    name alone.
    """
    a, b = customer_key(customer_id)
    return (a * campaign_key(campaign) + b) % PRIME % BUCKETS


def is_held_out(customer_id: str, campaign: str, control_share: float) -> bool:
    """True when the customer is in ``campaign``'s control group."""
    return control_bucket(customer_id, campaign) < control_share * BUCKETS
