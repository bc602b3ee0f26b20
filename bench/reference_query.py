"""Time the bare reference query of DESIGN §5: one hand-written DuckDB statement.

    python -m bench.reference_query --rows 1000000 --campaigns 20 [--repeat 5] [--threads N]

The yardstick for ``bench.decide_batch``: the same synthetic data (its generator, so
both benchmarks read identical tables) and one ``CREATE TABLE … AS`` that does what a
batch run does, written by hand for these campaigns: candidates per campaign rule (a
UNION ALL branch each, per channel), contact point, consent and opt-out per channel, a
10 % control group by an integer hash, a contact policy from history (fewer than 3
contacts in 30 days, none within 48 hours, not the same offer within 14 days),
per-customer arbitration (best by priority, then score × value) and per-campaign
capacity. No reasons are kept and nothing is explained: that is the engine's extra work.

The data is loaded into DuckDB tables once; each run drops and re-creates the result.
Prints the median time of the runs and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import duckdb

from bench.decide_batch import NOW, data

REGIONS = ["north", "south", "east", "west"]
DAY_US = 86_400 * 1_000_000


def reference_sql(campaigns: int) -> str:
    """The reference statement for ``campaigns`` campaigns shaped like bench.decide_batch's."""
    branches = []
    caps = []
    for i in range(campaigns):
        lo = 18 + (i * 3) % 50
        channels = ("sms", "email") if i % 3 == 0 else ("sms",)
        caps.append(f"('k{i}', {'NULL' if i % 4 else 20_000})")
        for ch in channels:
            point, consent = ("msisdn", "sms_ok") if ch == "sms" else ("email", "email_ok")
            branches.append(
                f"SELECT c.id, 'k{i}' AS campaign, 'O{i}' AS offer, '{ch}' AS channel, "
                f"{i % 3} AS priority, c.balance / 1000 * {10 + i} AS sv FROM customers c "
                f"WHERE c.age BETWEEN {lo} AND {lo + 25} AND c.region <> '{REGIONS[i % 4]}' "
                f"AND c.{point} IS NOT NULL AND c.{consent} "
                # The control group: 10 % of each campaign's customers, by an integer hash.
                f"AND hash(c.id, 'k{i}') % 100 >= 10"
            )
    now = f"TIMESTAMPTZ '{NOW.isoformat()}'"
    return (
        "CREATE TABLE ref_contacts AS "
        'WITH led AS (SELECT customer_id, "at", offer FROM ledger '
        "WHERE status NOT IN ('failed', 'held_out')), "
        "hist AS (SELECT customer_id, "
        f'count(*) FILTER (WHERE "at" > {now} - INTERVAL 30 DAY) AS n30, '
        f'bool_or(abs(epoch_us("at") - epoch_us({now})) < {2 * DAY_US}) AS recent '
        "FROM led GROUP BY customer_id), "
        "rep AS (SELECT DISTINCT customer_id, offer FROM led "
        f'WHERE abs(epoch_us("at") - epoch_us({now})) < {14 * DAY_US}), '
        f"cand AS ({' UNION ALL '.join(branches)}), "
        "ok AS (SELECT k.* FROM cand k LEFT JOIN hist h ON h.customer_id = k.id "
        "WHERE coalesce(h.n30, 0) < 3 AND NOT coalesce(h.recent, FALSE) "
        "AND NOT EXISTS (SELECT 1 FROM exclusions x WHERE x.customer_id = k.id "
        "AND x.channel IN ('all', k.channel)) "
        "AND NOT EXISTS (SELECT 1 FROM rep r WHERE r.customer_id = k.id AND r.offer = k.offer)), "
        "best AS (SELECT * FROM ok QUALIFY row_number() OVER (PARTITION BY id "
        "ORDER BY priority DESC, sv DESC, campaign, offer, channel) = 1) "
        f"SELECT b.* FROM best b JOIN (VALUES {', '.join(caps)}) t(campaign, cap) USING (campaign) "
        "QUALIFY t.cap IS NULL OR row_number() OVER (PARTITION BY b.campaign "
        "ORDER BY b.priority DESC, b.sv DESC, b.id) <= t.cap"
    )


def main() -> None:
    """Load the data once, run the reference statement ``--repeat`` times, print the median."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: its default)")
    args = ap.parse_args()
    customers, ledger, exclusions, vip = data(args.rows)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    for name, table in (("customers", customers), ("ledger", ledger), ("exclusions", exclusions)):
        con.register(f"in_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM in_{name}")
        con.unregister(f"in_{name}")
    del customers, ledger, exclusions, vip
    sql = reference_sql(args.campaigns)
    times = []
    for _ in range(args.repeat):
        con.execute("DROP TABLE IF EXISTS ref_contacts")
        t = time.perf_counter()
        con.execute(sql)
        times.append(time.perf_counter() - t)
    row = con.execute("SELECT count(*) FROM ref_contacts").fetchone()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"reference query: {args.rows:,} customers × {args.campaigns} campaigns: "
        f"median {statistics.median(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}), "
        f"{row[0] if row else 0:,} contacts; peak RSS {rss_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
