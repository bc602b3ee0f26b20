"""The compact suppression log reads back as pairs with their reasons in words."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from tactica.engine.suppression_log import (
    ARBITRATION,
    EXCLUDED,
    META_KEY,
    POLICY,
    LogCodes,
    read_log,
)

CODES = LogCodes(
    campaigns=["zeta", "alpha"],
    channels=["email", "sms"],
    campaign_channels=[[0, 1], [1]],
    rules=["cap-30d", "gap-48h", "offer-14d"],
    per_run=2,
)


def _file(table: pa.Table, codes: LogCodes | None) -> bytes:
    if codes is not None:
        table = table.replace_schema_metadata({META_KEY: codes.to_json()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_codes_become_words_in_campaign_order() -> None:
    table = pa.table(
        {
            "customer_id": ["a", "b"],
            "why0": ["no email", None],
            "why1": ["opted out (list 'opt_out')", None],
            "st0": pa.array([EXCLUDED, POLICY], pa.uint8()),
            "pr0": pa.array([None, 0b101], pa.uint8()),
            "cut0": [None, None],
            "st1": pa.array([EXCLUDED, 1], pa.uint8()),
            "pr1": pa.array([None, None], pa.uint8()),
            "cut1": [None, "channel sms daily capacity 6 (0 already decided today)"],
        }
    )
    rows = read_log(_file(table, CODES)).to_pylist()
    assert [(r["customer_id"], r["campaign"], r["stage"], r["reason"]) for r in rows] == [
        ("a", "alpha", "exclusion", "opted out (list 'opt_out')"),
        ("a", "zeta", "exclusion", "no email; opted out (list 'opt_out')"),
        ("b", "alpha", "capacity", "channel sms daily capacity 6 (0 already decided today)"),
        ("b", "zeta", "policy", "cap-30d, offer-14d"),
    ]
    assert read_log(_file(table, CODES), "b").num_rows == 2


def test_arbitration_and_policies_with_names_instead_of_bits() -> None:
    codes = LogCodes(["k"], ["sms"], [[0]], None, 1)
    table = pa.table(
        {
            "customer_id": ["a", "b"],
            "why0": [None, None],
            "st0": pa.array([ARBITRATION, POLICY], pa.uint8()),
            "pr0": [None, "r1, r2"],
            "cut0": pa.array([None, None], pa.string()),
        }
    )
    assert [r["reason"] for r in read_log(_file(table, codes)).to_pylist()] == [
        "1 per run already chosen",
        "r1, r2",
    ]


def test_a_log_of_one_row_per_pair_reads_as_it_is() -> None:
    table = pa.table(
        {
            "customer_id": ["a"],
            "campaign": ["k"],
            "stage": ["policy"],
            "reason": ["cap-30d"],
        }
    )
    assert read_log(_file(table, None), "a").to_pylist() == table.to_pylist()
    assert read_log(b"").num_rows == 0
