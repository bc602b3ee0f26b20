"""``decide_batch``: one batch decision, set-based, in an in-process DuckDB.

The steps are those of a batch run (DESIGN §2.1), each one SQL statement over every
customer at once: candidates (campaign rule ∧ offer rule, per channel), exclusions with
their reasons, score, control group, contact policy and arbitration, capacity.

Policy and arbitration reproduce :func:`tactica.domain.policy.decide` exactly, in
``policy.per_run`` set-based rounds. The domain takes a customer's candidates best first
and accepts each one that passes every rule against the ledger plus the contacts already
accepted. Every rule is monotone (a longer ledger can only make a rule fail, never pass),
so a candidate that fails once fails for the rest of the run; hence the next contact the
domain accepts is always "the best remaining candidate that passes now", which is what
one round picks for every customer at once. Candidates ranked above a round's winner
that fail are dropped with the rules they broke ("policy"); those of the winner's
campaign are dropped (one per campaign); what is left after the last round lost to
``per_run`` ("arbitration"). A customer with no winner in a round is done.

Held-out customers (control group) are held out of that campaign only: they remain
candidates of every other campaign. Capacity is applied last, per campaign, best first;
a customer cut by capacity does not fall back to another campaign (the run stops there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb

from tactica.domain.policy import (
    Calendar,
    ContactPolicy,
    FrequencyCap,
    MinGap,
    NoRepeatOffer,
    Scope,
)
from tactica.domain.rules import compile_rule
from tactica.domain.schema import FieldType

from .membership import MEMBERS_SCHEMA, MEMBERS_TABLE, rule_context
from .plan import BUCKETS, BatchDecision, BatchInputs, CampaignPlan, FunnelRow

_US_PER_DAY = 86_400 * 1_000_000
#: Ledger statuses that do not count (the customer was not reached).
_NOT_COUNTED = ("failed", "held_out")
#: The candidate columns, typed, for a run without campaigns.
_NO_CANDIDATES = (
    "SELECT c.id AS customer_id, '' AS campaign, '' AS kind, '' AS offer, '' AS channel, "
    "CAST(0 AS BIGINT) AS priority, 0.0 AS score, 0.0 AS value, CAST(NULL AS VARCHAR) AS why "
    "FROM cust c WHERE FALSE"
)


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _f(value: float) -> str:
    """A double, exactly: repr() round-trips and DuckDB parses text correctly rounded."""
    return f"CAST({_s(repr(float(value)))} AS DOUBLE)"


def _covers(scope: Scope, alias: str) -> str:
    """SQL for ``scope.covers(channel, kind)`` on a row with ``channel`` and ``kind``."""
    parts = ["TRUE"]
    if scope.channel is not None:
        parts.append(f"{alias}.channel = {_s(scope.channel)}")
    if scope.campaign_kind is not None:
        parts.append(f"{alias}.kind = {_s(scope.campaign_kind)}")
    return " AND ".join(parts)


def _check_inputs(inputs: BatchInputs) -> None:
    if inputs.now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    names = [c.name for c in inputs.campaigns]
    if len(set(names)) != len(names):
        raise ValueError("campaign names must be unique")
    channels = {ch for c in inputs.campaigns for ch in c.channels}
    unmapped = sorted(
        ch
        for ch in channels
        if ch not in inputs.channel_points or ch not in inputs.channel_consents
    )
    if unmapped:
        # Never contact on a channel whose address or consent we do not know how to check.
        raise ValueError(f"no contact point or consent column for channel(s): {unmapped}")


def _branches(inputs: BatchInputs) -> Iterator[str]:
    """One SELECT per campaign × offer × channel: the candidates and their static reason."""
    ctx = rule_context(
        inputs.fields, inputs.now.astimezone(UTC).date(), "c", inputs.segment_rules
    )
    for camp in inputs.campaigns:
        where = [compile_rule(camp.rule, inputs.fields).sql(ctx, "duckdb")] if camp.rule else []
        score = "0.0"
        if camp.score:
            checked = compile_rule(camp.score, inputs.fields, expect=FieldType.FLOAT)
            score = f"coalesce(CAST({checked.sql(ctx, 'duckdb')} AS DOUBLE), 0.0)"
        for offer in camp.offers:
            conds = [*where]
            if offer.rule:
                conds.append(compile_rule(offer.rule, inputs.fields).sql(ctx, "duckdb"))
            for ch in camp.channels:
                point = _q(inputs.channel_points[ch])
                consent = _q(inputs.channel_consents[ch])
                why = (
                    f"CASE WHEN c.{point} IS NULL OR trim(CAST(c.{point} AS VARCHAR)) = '' "
                    f"THEN {_s('no ' + inputs.channel_points[ch])} "
                    f"WHEN c.{consent} IS NOT TRUE THEN {_s('no consent for ' + ch)} END"
                )
                # score × value + 0.0 turns -0.0 into 0.0, which Python's sort treats as equal.
                yield (
                    f"SELECT c.id AS customer_id, {_s(camp.name)} AS campaign, "
                    f"{_s(camp.kind)} AS kind, {_s(offer.code)} AS offer, {_s(ch)} AS channel, "
                    f"CAST({int(camp.priority)} AS BIGINT) AS priority, {score} AS score, "
                    f"{_f(float(offer.value))} AS value, {why} AS why "
                    f"FROM cust c"
                    + (" WHERE " + " AND ".join(f"({w})" for w in conds) if conds else "")
                )


def _values(rows: list[str], columns: str) -> str:
    """A VALUES list as a subquery (never empty: a NULL row filtered out keeps the types)."""
    return f"(SELECT * FROM (VALUES {', '.join(rows)}) t({columns}))"


class _Sql:
    """The connection plus the run's constants, so each step reads as one statement."""

    def __init__(self, con: duckdb.DuckDBPyConnection, inputs: BatchInputs) -> None:
        self.con = con
        self.inputs = inputs
        self.policy: ContactPolicy = inputs.policy
        now = inputs.now.astimezone(UTC)
        self.now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        self.now_ts = f"make_timestamptz(CAST({self.now_us} AS BIGINT))"

    def run(self, sql: str) -> None:
        self.con.execute(sql)

    def count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def _calendar_same(rule: FrequencyCap, at: str, now: str, tz: str) -> str:
    unit = {Calendar.DAY: "day", Calendar.WEEK: "week", Calendar.MONTH: "month"}[
        rule.calendar or Calendar.DAY
    ]
    # date_trunc('week') is the ISO week (Monday); local wall-clock time in the customer's zone.
    local = "date_trunc('{unit}', {ts} AT TIME ZONE {tz})"
    return local.format(unit=unit, ts=at, tz=tz) + " = " + local.format(unit=unit, ts=now, tz=tz)


def _history(sql: _Sql) -> tuple[bool, bool]:
    """Per-customer history features (``hist``) and per-offer repeats (``hoff``).

    ``hist.cap<i>`` counts counted ledger contacts in scope and window of rule i;
    ``hist.gap<i>`` is the hours to the nearest one in scope (before or after ``now``),
    computed as the domain does: microseconds / 1e6 / 3600 in doubles. ``hoff.rep<i>``:
    the offer was made within rule i's days.
    """
    rules = sql.policy.rules
    now_us = sql.now_us
    sql.run(
        'CREATE TABLE led AS SELECT customer_id, epoch_us(CAST("at" AS TIMESTAMPTZ)) AS at_us, '
        'CAST("at" AS TIMESTAMPTZ) AS ts, channel, campaign_kind AS kind, offer FROM in_ledger '
        f"WHERE coalesce(status, '') NOT IN ({', '.join(_s(s) for s in _NOT_COUNTED)})"
    )
    aggs: list[str] = []
    calendar = any(isinstance(r, FrequencyCap) and r.calendar is not None for r in rules)
    for i, rule in enumerate(rules):
        if isinstance(rule, FrequencyCap):
            if rule.days is not None:
                window = f"l.at_us > {now_us - rule.days * _US_PER_DAY}"
            else:
                same = _calendar_same(rule, "l.ts", sql.now_ts, "z.tz")
                window = f"(l.at_us >= {now_us} OR {same})"
            aggs.append(
                f"count(*) FILTER (WHERE {_covers(rule.scope, 'l')} AND {window}) AS cap{i}"
            )
        elif isinstance(rule, MinGap):
            hours = f"CAST(abs(l.at_us - {now_us}) AS DOUBLE) / 1000000.0 / 3600.0"
            aggs.append(f"min({hours}) FILTER (WHERE {_covers(rule.scope, 'l')}) AS gap{i}")
    has_hist = bool(aggs)
    if has_hist:
        tz_join = ""
        if calendar:
            col = sql.inputs.timezone_column
            # Unknown or missing zones count in UTC, as the domain does.
            zone = (
                f"coalesce((SELECT name FROM pg_timezone_names() WHERE name = c.{_q(col)}), 'UTC')"
                if col
                else "'UTC'"
            )
            sql.run(f"CREATE TABLE tzs AS SELECT c.id AS customer_id, {zone} AS tz FROM cust c")
            tz_join = "LEFT JOIN tzs z USING (customer_id)"
        sql.run(
            f"CREATE TABLE hist AS SELECT l.customer_id, {', '.join(aggs)} "
            f"FROM led l {tz_join} GROUP BY l.customer_id"
        )
    reps = [
        f"bool_or(abs(at_us - {now_us}) < {r.days * _US_PER_DAY}) AS rep{i}"
        for i, r in enumerate(rules)
        if isinstance(r, NoRepeatOffer)
    ]
    has_hoff = bool(reps)
    if has_hoff:
        sql.run(
            f"CREATE TABLE hoff AS SELECT customer_id, offer, {', '.join(reps)} "
            "FROM led GROUP BY customer_id, offer"
        )
    return has_hist, has_hoff


def _failures(policy: ContactPolicy) -> list[tuple[str, str]]:
    """(rule name, SQL that is true when the rule fails) for a live row ``l``.

    ``h`` is the history, ``o`` the offer history, ``s`` the contacts chosen in earlier
    rounds (all at ``now``: in every cap window, 0 hours away, same-offer within any
    positive number of days).
    """
    out: list[tuple[str, str]] = []
    for i, rule in enumerate(policy.rules):
        if isinstance(rule, FrequencyCap):
            fail = (
                f"NOT l.vip AND {_covers(rule.scope, 'l')} AND "
                f"coalesce(h.cap{i}, 0) + coalesce(s.cc{i}, 0) >= {int(rule.max_contacts)}"
            )
        elif isinstance(rule, MinGap):
            hours = _f(rule.hours)
            fail = (
                f"NOT l.vip AND {_covers(rule.scope, 'l')} AND ("
                f"(coalesce(s.cg{i}, 0) > 0 AND NOT (0.0 >= {hours})) "
                f"OR (h.gap{i} IS NOT NULL AND NOT (h.gap{i} >= {hours})))"
            )
        else:
            chosen_same = (
                "list_contains(coalesce(s.offers, []), l.offer)" if rule.days > 0 else "FALSE"
            )
            fail = f"coalesce(o.rep{i}, FALSE) OR {chosen_same}"
        out.append((rule.name, f"coalesce({fail}, FALSE)"))
    return out


def _state_columns(policy: ContactPolicy, alias: str) -> list[tuple[str, str]]:
    """(column, SQL 0/1 for one chosen row ``alias``) of the per-customer round state."""
    cols: list[tuple[str, str]] = []
    for i, rule in enumerate(policy.rules):
        if isinstance(rule, FrequencyCap):
            cols.append((f"cc{i}", f"CAST({_covers(rule.scope, alias)} AS BIGINT)"))
        elif isinstance(rule, MinGap):
            cols.append((f"cg{i}", f"CAST({_covers(rule.scope, alias)} AS BIGINT)"))
    return cols


def _rounds(sql: _Sql, has_hist: bool, has_hoff: bool) -> None:
    """Policy and arbitration: ``per_run`` set-based rounds (see the module docstring).

    Fills ``chosen`` (winners, with ``rnd``), ``pol`` (rows dropped by the policy, with the
    rules they broke) and leaves in ``live`` the rows that lost to ``per_run``.
    """
    policy = sql.policy
    fails = _failures(policy)
    ok = " AND ".join(f"NOT {f}" for _, f in fails) or "TRUE"
    failed = (
        "concat_ws(', ', " + ", ".join(f"CASE WHEN {f} THEN {_s(n)} END" for n, f in fails) + ")"
        if fails
        else "''"
    )
    state = _state_columns(policy, "w")
    sql.run(
        "CREATE TABLE st AS SELECT customer_id, "
        + "".join(f"CAST(0 AS BIGINT) AS {c}, " for c, _ in state)
        + "CAST([] AS VARCHAR[]) AS offers FROM live WHERE FALSE"
    )
    sql.run("CREATE TABLE chosen AS SELECT *, CAST(0 AS BIGINT) AS rnd FROM live WHERE FALSE")
    sql.run(
        "CREATE TABLE pol AS SELECT customer_id, campaign, rk, '' AS failed FROM live WHERE FALSE"
    )
    joins = (" LEFT JOIN hist h USING (customer_id)" if has_hist else "") + (
        " LEFT JOIN hoff o USING (customer_id, offer)" if has_hoff else ""
    )
    for rnd in range(1, max(policy.per_run, 0) + 1):
        sql.run(
            f"CREATE OR REPLACE TABLE ev AS SELECT l.*, ({ok}) AS ok, {failed} AS failed "
            f"FROM live l{joins} LEFT JOIN st s USING (customer_id)"
        )
        # The winner: each customer's best candidate that passes now.
        sql.run(
            "CREATE OR REPLACE TABLE win AS SELECT customer_id, "
            "min(rk) FILTER (WHERE ok) AS win_rk FROM ev GROUP BY customer_id"
        )
        sql.run(
            "INSERT INTO pol SELECT e.customer_id, e.campaign, e.rk, e.failed "
            "FROM ev e JOIN win w USING (customer_id) "
            "WHERE NOT e.ok AND (w.win_rk IS NULL OR e.rk < w.win_rk)"
        )
        sql.run(
            "CREATE OR REPLACE TABLE won AS SELECT e.* EXCLUDE (ok, failed) "
            "FROM ev e JOIN win w ON e.customer_id = w.customer_id AND e.rk = w.win_rk"
        )
        sql.run(f"INSERT INTO chosen SELECT *, {rnd} FROM won")
        sql.run(
            "CREATE OR REPLACE TABLE live AS SELECT e.* EXCLUDE (ok, failed) "
            "FROM ev e JOIN won w USING (customer_id) "
            "WHERE e.rk > w.rk AND e.campaign <> w.campaign"
        )
        if rnd == policy.per_run or sql.count("live") == 0:
            break
        sql.run(
            "CREATE OR REPLACE TABLE st AS SELECT w.customer_id, "
            + "".join(f"coalesce(s.{c}, 0) + {e} AS {c}, " for c, e in state)
            + "list_append(coalesce(s.offers, CAST([] AS VARCHAR[])), w.offer) AS offers "
            "FROM won w LEFT JOIN st s USING (customer_id)"
        )


def decide_batch(inputs: BatchInputs) -> BatchDecision:
    """Decide a batch run: who gets which campaign, offer and channel, and why not.

    Runs in a private in-memory DuckDB; see the module docstring for the semantics.
    Raises :class:`tactica.errors.RuleError` when a rule does not compile and
    ``ValueError`` on inconsistent inputs.
    """
    _check_inputs(inputs)
    con = duckdb.connect(":memory:")
    try:
        return _decide(con, inputs)
    finally:
        con.close()


def _decide(con: duckdb.DuckDBPyConnection, inputs: BatchInputs) -> BatchDecision:
    con.execute("SET TimeZone = 'UTC'")
    for name, table in (
        ("in_customers", inputs.customers),
        ("in_ledger", inputs.ledger),
        ("in_exclusions", inputs.exclusions),
        ("in_vip", inputs.vip),
        (MEMBERS_TABLE, inputs.members or MEMBERS_SCHEMA.empty_table()),
    ):
        con.register(name, table)
    sql = _Sql(con, inputs)
    camps: list[CampaignPlan] = list(inputs.campaigns)
    channels = sorted({ch for c in camps for ch in c.channels})

    sql.run("CREATE TABLE cust AS SELECT * FROM in_customers")
    # Exclusion-list entries per (customer, channel); 'all' applies to every channel.
    ch_values = _values([f"({_s(ch)})" for ch in channels] or ["(NULL)"], "channel")
    sql.run(
        "CREATE TABLE excl AS SELECT x.customer_id, ch.channel, "
        "string_agg(DISTINCT x.reason, '; ' ORDER BY x.reason) AS reason "
        f"FROM in_exclusions x JOIN {ch_values} ch ON x.channel = ch.channel OR x.channel = 'all' "
        "GROUP BY x.customer_id, ch.channel"
    )
    branches = list(_branches(inputs))
    union = " UNION ALL ".join(branches) if branches else _NO_CANDIDATES
    # The exclusion list comes first, then the contact point, then consent.
    sql.run(
        "CREATE TABLE cand AS SELECT k.* EXCLUDE (why), "
        "k.score * k.value + 0.0 AS sv, coalesce(e.reason, k.why) AS reason "
        f"FROM ({union}) k LEFT JOIN excl e USING (customer_id, channel)"
    )

    shares = [c for c in camps if c.control_share > 0]
    thresholds = _values(
        [f"({_s(c.name)}, {_f(c.control_share * BUCKETS)})" for c in shares] or ["(NULL, NULL)"],
        "campaign, threshold",
    )
    # Same hash as plan.control_bucket: first 8 hex digits of md5(id:campaign), mod BUCKETS.
    sql.run(
        "CREATE TABLE held AS SELECT p.customer_id, p.campaign FROM "
        "(SELECT DISTINCT customer_id, campaign FROM cand WHERE reason IS NULL) p "
        f"JOIN {thresholds} t USING (campaign) "
        "WHERE CAST('0x' || left(md5(CAST(p.customer_id AS VARCHAR) || ':' || p.campaign), 8) "
        f"AS UBIGINT) % {BUCKETS} < t.threshold"
    )
    # rk: the customer's candidates in domain.policy.rank_key order.
    sql.run(
        "CREATE TABLE live AS SELECT k.customer_id, k.campaign, k.kind, k.offer, "
        "k.channel, k.priority, k.score, k.sv, (v.customer_id IS NOT NULL) AS vip, "
        "row_number() OVER (PARTITION BY k.customer_id "
        "ORDER BY k.priority DESC, k.sv DESC, k.campaign, k.offer, k.channel) AS rk "
        "FROM cand k LEFT JOIN (SELECT DISTINCT customer_id FROM in_vip) v USING (customer_id) "
        "WHERE k.reason IS NULL AND NOT EXISTS (SELECT 1 FROM held h "
        "WHERE h.customer_id = k.customer_id AND h.campaign = k.campaign)"
    )
    has_hist, has_hoff = _history(sql)
    _rounds(sql, has_hist, has_hoff)

    caps = _values(
        [
            f"({_s(c.name)}, {'NULL' if c.capacity is None else int(c.capacity)}, "
            f"CAST({_s(str(c.cost_per_contact))} AS DECIMAL(18, 6)))"
            for c in camps
        ]
        or ["(NULL, NULL, NULL)"],
        "campaign, cap, cost",
    )
    sql.run(
        "CREATE TABLE contacts AS SELECT * EXCLUDE (pos) FROM ("
        "SELECT c.*, t.cap, t.cost, row_number() OVER (PARTITION BY c.campaign "
        "ORDER BY c.priority DESC, c.sv DESC, c.offer, c.channel, c.customer_id) AS pos "
        f"FROM chosen c JOIN {caps} t USING (campaign)) WHERE cap IS NULL OR pos <= cap"
    )
    per_run = f"{sql.policy.per_run} per run already chosen"
    sql.run(
        "CREATE TABLE sup AS "
        "SELECT customer_id, campaign, 'exclusion' AS stage, "
        "string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason FROM cand "
        "GROUP BY customer_id, campaign HAVING bool_and(reason IS NOT NULL) "
        "UNION ALL SELECT customer_id, campaign, 'policy', arg_min(failed, rk) FROM pol p "
        "WHERE NOT EXISTS (SELECT 1 FROM chosen c "
        "WHERE c.customer_id = p.customer_id AND c.campaign = p.campaign) "
        "AND NOT EXISTS (SELECT 1 FROM live l "
        "WHERE l.customer_id = p.customer_id AND l.campaign = p.campaign) "
        "GROUP BY customer_id, campaign "
        f"UNION ALL SELECT DISTINCT customer_id, campaign, 'arbitration', {_s(per_run)} FROM live "
        "UNION ALL SELECT customer_id, campaign, 'capacity', 'capacity ' || cap FROM chosen c "
        f"JOIN {caps} t USING (campaign) WHERE NOT EXISTS (SELECT 1 FROM contacts k "
        "WHERE k.customer_id = c.customer_id AND k.campaign = c.campaign)"
    )
    contacts = con.sql(
        "SELECT customer_id, campaign, kind AS campaign_kind, offer, channel, score, cost, "
        "rnd AS rank FROM contacts ORDER BY customer_id, rnd"
    ).to_arrow_table()
    held_out = con.sql(
        "SELECT customer_id, campaign, offer, channel, score FROM cand k "
        "SEMI JOIN held h USING (customer_id, campaign) WHERE k.reason IS NULL "
        "QUALIFY row_number() OVER (PARTITION BY customer_id, campaign "
        "ORDER BY sv DESC, offer, channel) = 1 ORDER BY customer_id, campaign"
    ).to_arrow_table()
    suppressed = con.sql(
        "SELECT customer_id, campaign, stage, reason FROM sup ORDER BY customer_id, campaign"
    ).to_arrow_table()
    return BatchDecision(contacts, held_out, suppressed, _funnel(con, camps))


def _funnel(con: duckdb.DuckDBPyConnection, camps: list[CampaignPlan]) -> list[FunnelRow]:
    """Counts per campaign, in customers: every stage keeps a subset of the one before."""
    candidates = dict(
        con.execute(
            "SELECT campaign, count(DISTINCT customer_id) FROM cand GROUP BY campaign"
        ).fetchall()
    )
    held = dict(con.execute("SELECT campaign, count(*) FROM held GROUP BY campaign").fetchall())
    contacts = dict(
        con.execute("SELECT campaign, count(*) FROM contacts GROUP BY campaign").fetchall()
    )
    stages: dict[tuple[str, str], int] = {}
    excluded: dict[str, dict[str, int]] = {}
    for campaign, stage, reason, n in con.execute(
        "SELECT campaign, stage, reason, count(*) FROM sup GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        stages[campaign, stage] = stages.get((campaign, stage), 0) + int(n)
        if stage == "exclusion":
            excluded.setdefault(campaign, {})[reason] = int(n)
    out: list[FunnelRow] = []
    for c in camps:
        n = int(candidates.get(c.name, 0))
        after_policy = (
            n
            - stages.get((c.name, "exclusion"), 0)
            - int(held.get(c.name, 0))
            - stages.get((c.name, "policy"), 0)
        )
        after_arbitration = after_policy - stages.get((c.name, "arbitration"), 0)
        k = int(contacts.get(c.name, 0))
        out.append(
            FunnelRow(
                campaign=c.name,
                candidates=n,
                excluded=excluded.get(c.name, {}),
                held_out=int(held.get(c.name, 0)),
                after_policy=after_policy,
                after_arbitration=after_arbitration,
                after_capacity=k,
                cost=c.cost_per_contact * k if k else Decimal("0"),
            )
        )
    return out
