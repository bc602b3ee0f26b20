"""Time the batch decision on synthetic data, set-based from DuckDB ``range()``.

    python -m bench.decide_batch --rows 1000000 --campaigns 20 [--repeat 3] [--per-run 1]
        [--memory-limit 4GB]

N customers (an int ``age``, ``region``, msisdn/email with consents, timezone), 3 ledger
rows per customer over the last 40 days, 1 % opted out, 1 % VIP, and C campaigns (a
rule each, one or two channels, 10 % control group, a score) under the DESIGN §5 policy:
fewer than 3 contacts in 30 days, none within 48 hours, not the same offer within 14
days. Prints the median of the runs of ``decide_batch`` and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa

from tactica.domain.policy import ContactPolicy, FrequencyCap, MinGap, NoRepeatOffer
from tactica.domain.schema import FieldType
from tactica.engine.decide import decide_batch
from tactica.engine.plan import BatchInputs, CampaignPlan, OfferPlan

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIELDS = {
    "id": FieldType.TEXT,
    "age": FieldType.INT,
    "region": FieldType.CATEGORY,
    "balance": FieldType.FLOAT,
    "msisdn": FieldType.TEXT,
    "email": FieldType.TEXT,
    "sms_ok": FieldType.BOOL,
    "email_ok": FieldType.BOOL,
    "timezone": FieldType.TEXT,
}
POLICY = ContactPolicy(
    rules=(
        FrequencyCap("global-30d", 3, days=30),
        MinGap("gap-48h", 48),
        NoRepeatOffer("no-repeat-14d", 14),
    )
)


def data(rows: int) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """Customers, ledger, exclusions and VIPs as Arrow tables."""
    con = duckdb.connect()
    customers = con.sql(
        "SELECT 'c' || range AS id, 18 + (range * 7) % 70 AS age, "
        "['north', 'south', 'east', 'west'][1 + range % 4] AS region, "
        "((range * 37) % 10000) / 2.0 AS balance, "
        "CASE WHEN range % 10 = 0 THEN NULL ELSE '+351' || range END AS msisdn, "
        "CASE WHEN range % 5 = 0 THEN NULL ELSE 'c' || range || '@x.org' END AS email, "
        "range % 13 <> 0 AS sms_ok, range % 17 <> 0 AS email_ok, "
        "['Europe/Lisbon', 'America/New_York', 'Asia/Shanghai'][1 + range % 3] AS timezone "
        f"FROM range({rows})"
    ).to_arrow_table()
    ledger = con.sql(
        "SELECT 'c' || (range // 3) AS customer_id, "
        "TIMESTAMPTZ '2026-11-23 12:00:00+00' "
        "- to_microseconds(((range * 7919) % 40000) * 86400000) AS at, "
        " CASE WHEN range % 2 = 0 THEN 'sms' ELSE 'email' END AS channel, "
        "'k' || (range % 20) AS campaign, 'outbound' AS campaign_kind, "
        "'O' || (range % 20) AS offer, "
        "CASE WHEN range % 11 = 0 THEN 'failed' ELSE 'sent' END AS status "
        f"FROM range({rows * 3})"
    ).to_arrow_table()
    exclusions = con.sql(
        "SELECT 'c' || range AS customer_id, 'all' AS channel, 'opt_out' AS reason "
        f"FROM range(0, {rows}, 100)"
    ).to_arrow_table()
    vip = con.sql(f"SELECT 'c' || range AS customer_id FROM range(7, {rows}, 100)").to_arrow_table()
    return customers, ledger, exclusions, vip


def campaigns(n: int) -> list[CampaignPlan]:
    """N campaigns, each a different age band and region, one or two channels."""
    regions = ["north", "south", "east", "west"]
    out = []
    for i in range(n):
        lo = 18 + (i * 3) % 50
        out.append(
            CampaignPlan(
                name=f"k{i}",
                rule=f"age between {lo} and {lo + 25} and region != '{regions[i % 4]}'",
                offers=(OfferPlan(f"O{i}", Decimal(10 + i)),),
                channels=("sms", "email") if i % 3 == 0 else ("sms",),
                score="balance / 1000",
                priority=i % 3,
                control_share=0.1,
                capacity=None if i % 4 else 20_000,
                cost_per_contact=Decimal("0.05"),
            )
        )
    return out


def main() -> None:
    """Build the data, run the decision ``--repeat`` times, print median and peak RSS."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-run", type=int, default=1)
    ap.add_argument("--memory-limit", default=None, help="DuckDB's memory limit, e.g. 4GB")
    args = ap.parse_args()
    customers, ledger, exclusions, vip = data(args.rows)
    inputs = BatchInputs(
        customers=customers,
        fields=FIELDS,
        campaigns=campaigns(args.campaigns),
        ledger=ledger,
        exclusions=exclusions,
        vip=vip,
        policy=ContactPolicy(rules=POLICY.rules, per_run=args.per_run),
        now=NOW,
        channel_points={"sms": "msisdn", "email": "email"},
        channel_consents={"sms": "sms_ok", "email": "email_ok"},
        timezone_column="timezone",
    )
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        decision = decide_batch(inputs, memory_limit=args.memory_limit)
        times.append(time.perf_counter() - t)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"decide_batch: {args.rows:,} customers × {args.campaigns} campaigns, "
        f"per_run {args.per_run}: median {statistics.median(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}), "
        f"{decision.contacts.num_rows:,} contacts, {decision.held_out.num_rows:,} held out, "
        f"{decision.suppressed_rows:,} suppressed; peak RSS {rss_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
