"""The suppression log: why a run left each customer out of each campaign, kept compact.

A run over 10 M customers and 20 campaigns leaves tens of millions of (customer,
campaign) pairs out. Written as one row per pair with its reason in words, the log
takes gigabytes to build and minutes to write. It is written instead as one row per
customer, in codes, the way the engine decides:

``customer_id``  the customer
``why<k>``       the exclusion reasons on channel k (list, contact point, consent)
``st<j>``        campaign j's stage for this customer (the engine's stage codes)
``pr<j>``        the policy rules campaign j's best candidate broke: a bit per rule, or
                 their names when the policy has too many rules for bits
``cut<j>``       the capacity limit that cut campaign j's contact, in words

with what the codes mean (campaign, channel and rule names) in the
Parquet file's metadata. :func:`decode` turns rows back into the pairs and their
reasons in words, exactly as a marketer reads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Stage codes, shared with the engine (:mod:`tactica.engine.decide`).
CHOSEN, HELD, EXCLUDED, ARBITRATION, POLICY = 1, 2, 3, 4, 5
#: The key of the codes' meaning in the Parquet metadata.
META_KEY = b"tactica.suppression_log"

SUPPRESSED_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("campaign", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class LogCodes:
    """What a log's codes mean: names by position, and the arbitration reason."""

    campaigns: Sequence[str]
    channels: Sequence[str]
    #: per campaign, the positions of its channels
    campaign_channels: Sequence[Sequence[int]]
    #: rule names by bit, or None when ``pr<j>`` holds the names themselves
    rules: Sequence[str] | None
    per_run: int

    def to_json(self) -> bytes:
        """The codes as the metadata value stored in the file."""
        return json.dumps(
            {
                "version": 1,
                "campaigns": list(self.campaigns),
                "channels": list(self.channels),
                "campaign_channels": [list(ks) for ks in self.campaign_channels],
                "rules": None if self.rules is None else list(self.rules),
                "per_run": self.per_run,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LogCodes:
        """The codes from a file's metadata value."""
        d = json.loads(raw)
        return cls(d["campaigns"], d["channels"], d["campaign_channels"], d["rules"], d["per_run"])


def _policy_reason(value: Any, rules: Sequence[str] | None) -> str:
    if rules is None:
        return str(value or "")
    bits = int(value or 0)
    return ", ".join(name for i, name in enumerate(rules) if bits & (1 << i))


def _exclusion_reason(row: Mapping[str, Any], ks: Sequence[int]) -> str:
    reasons = {row[f"why{k}"] for k in ks if row.get(f"why{k}") is not None}
    return "; ".join(sorted(reasons))


def decode_rows(rows: Iterable[Mapping[str, Any]], codes: LogCodes) -> list[dict[str, Any]]:
    """Rows of the compact log as pairs: customer_id, campaign, stage and reason in words.

    One customer's pairs come in campaign-name order.
    """
    order = sorted(range(len(codes.campaigns)), key=lambda j: codes.campaigns[j])
    arbitration = f"{codes.per_run} per run already chosen"
    out: list[dict[str, Any]] = []
    for row in rows:
        cid = row["customer_id"]
        for j in order:
            st = row.get(f"st{j}")
            cut = row.get(f"cut{j}")
            if cut is not None:
                stage, reason = "capacity", str(cut)
            elif st == EXCLUDED:
                stage, reason = "exclusion", _exclusion_reason(row, codes.campaign_channels[j])
            elif st == ARBITRATION:
                stage, reason = "arbitration", arbitration
            elif st == POLICY:
                stage, reason = "policy", _policy_reason(row.get(f"pr{j}"), codes.rules)
            else:
                continue
            out.append(
                {
                    "customer_id": cid,
                    "campaign": codes.campaigns[j],
                    "stage": stage,
                    "reason": reason,
                }
            )
    return out


def codes_of(data: bytes) -> LogCodes | None:
    """The codes of a log file; None for a log written one row per pair (older runs)."""
    meta = pq.read_schema(io.BytesIO(data)).metadata or {}
    raw = meta.get(META_KEY)
    return LogCodes.from_json(raw) if raw is not None else None


def read_log(data: bytes, customer_id: str | None = None) -> pa.Table:
    """The pairs of a log file (all, or one customer's) as a table in words, sorted by
    customer and campaign."""
    if not data:
        return SUPPRESSED_SCHEMA.empty_table()
    filters = [("customer_id", "=", customer_id)] if customer_id is not None else None
    table = pq.read_table(io.BytesIO(data), filters=filters)
    codes = codes_of(data)
    if codes is None:  # one row per pair already
        out = table.select(SUPPRESSED_SCHEMA.names).cast(SUPPRESSED_SCHEMA)
    else:
        out = pa.Table.from_pylist(decode_rows(table.to_pylist(), codes), schema=SUPPRESSED_SCHEMA)
    return out.sort_by([("customer_id", "ascending"), ("campaign", "ascending")])
