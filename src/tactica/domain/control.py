"""Control groups: which customers a campaign holds out, the same way on every path.

A customer is held out of a campaign by a hash of their id and the campaign's name,
so the batch engine (in SQL), the real-time path and an explanation later all agree,
and a customer stays in (or out of) a campaign's control group run after run.
"""

from __future__ import annotations

import hashlib

#: Buckets of the control-group hash: a customer is held out of a campaign iff
#: ``control_bucket(id, campaign) < control_share × BUCKETS``.
BUCKETS = 10_000


def control_bucket(customer_id: str, campaign: str) -> int:
    """The customer's control-group bucket for ``campaign``, in ``0 .. BUCKETS - 1``.

    The first 8 hex digits of ``md5(customer_id + ':' + campaign)`` as an integer, modulo
    ``BUCKETS``. The engine computes exactly this in SQL, so a hold-out can be re-derived
    (and audited) anywhere from the id and the campaign name alone.
    """
    digest = hashlib.md5(f"{customer_id}:{campaign}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16) % BUCKETS


def is_held_out(customer_id: str, campaign: str, control_share: float) -> bool:
    """True when the customer is in ``campaign``'s control group."""
    return control_bucket(customer_id, campaign) < control_share * BUCKETS
