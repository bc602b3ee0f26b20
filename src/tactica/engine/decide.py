"""``decide_batch``: one batch decision, set-based, in an in-process DuckDB.

The steps are those of a batch run (DESIGN §2.1): candidates (campaign rule ∧ offer
rule, per channel), exclusions with their reasons, score, control group, contact policy
and arbitration, capacity.

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
candidates of every other campaign. Capacity is applied last, as
:func:`tactica.domain.capacity.allocate` defines it (campaign room, channel day, program
budget, each best first); a customer cut by capacity does not fall back to another
campaign (the run stops there).

How it is laid out, for speed: one customer is one row. Every candidate of a customer
(a *branch*: campaign × offer × channel) is a set of columns of that row, and every
round is a projection over those columns, so policy, arbitration and the control group
need no join, sort or group over the candidates at all. The whole decision is one
statement that scans the customers once and materialises a narrow per-customer table
(a stage code per campaign, the winner of each round); the outputs are read from it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from tactica.domain.capacity import CampaignRoom
from tactica.domain.control import BUCKETS, PRIME, campaign_key
from tactica.domain.policy import (
    Calendar,
    ContactPolicy,
    ContactStatus,
    FrequencyCap,
    MinGap,
    NoRepeatOffer,
    Scope,
)
from tactica.domain.rules import compile_rule
from tactica.domain.schema import FieldType

from .membership import MEMBERS_SCHEMA, MEMBERS_TABLE, rule_context
from .plan import (
    BatchDecision,
    BatchInputs,
    CampaignPlan,
    FunnelRow,
    OfferPlan,
    written,
)
from .suppression_log import ARBITRATION, CHOSEN, EXCLUDED, HELD, META_KEY, POLICY, LogCodes

_US_PER_DAY = 86_400 * 1_000_000
#: Ledger statuses that do not count (the customer was not reached).
_NOT_COUNTED = tuple(s.value for s in ContactStatus if not s.counts)
#: Stage codes of a (customer, campaign) pair in the decision table.
_CHOSEN, _HELD, _EXCLUDED, _ARBITRATION, _POLICY = CHOSEN, HELD, EXCLUDED, ARBITRATION, POLICY
#: Up to this many rules, the rules a candidate broke are a bit mask, else their names.
_MAX_BITS = 62

_CONTACTS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("campaign", pa.string()),
        ("campaign_kind", pa.string()),
        ("offer", pa.string()),
        ("channel", pa.string()),
        ("score", pa.float64()),
        ("cost", pa.decimal128(18, 6)),
        ("rank", pa.int64()),
    ]
)
_HELD_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("campaign", pa.string()),
        ("offer", pa.string()),
        ("channel", pa.string()),
        ("score", pa.float64()),
    ]
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


def _any(parts: list[str]) -> str:
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _all(parts: list[str]) -> str:
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


def _in(col: str, values: list[str]) -> str:
    return f"{col} IN ({', '.join(values)})" if values else "FALSE"


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


@dataclass(frozen=True)
class _Branch:
    """One candidate kind: campaign ``j`` × offer × channel ``k``.

    ``b`` is the branch's place in (campaign, offer, channel) order, the last tie-break of
    :func:`tactica.domain.policy.rank_key`; its columns in the wide row are named by it.
    """

    b: int
    j: int
    campaign: CampaignPlan
    offer: OfferPlan
    channel: str
    k: int

    @property
    def p(self) -> int:
        return int(self.campaign.priority)

    def above(self, wp: str, wv: str, wb: str) -> str:
        """CASE arms: this branch ranks above the candidate (priority wp, sv wv, branch wb).

        Written as CASE arms, not AND/OR, because DuckDB then evaluates each arm only on
        the rows that reach it (several times faster on wide rows); wp, wv and wb must be
        non-null where they are reached.
        """
        sv = f"sv{self.b}"
        return (
            f"WHEN {wp} <> {self.p} THEN {wp} < {self.p} "
            f"WHEN {sv} <> {wv} THEN {sv} > {wv} ELSE {wb} > {self.b}"
        )

    def below(self, wp: str, wv: str, wb: str) -> str:
        """CASE arms: this branch ranks below the candidate (see :meth:`above`)."""
        sv = f"sv{self.b}"
        return (
            f"WHEN {wp} <> {self.p} THEN {wp} > {self.p} "
            f"WHEN {sv} <> {wv} THEN {sv} < {wv} ELSE {wb} < {self.b}"
        )


def _branches(camps: list[CampaignPlan], channels: list[str]) -> list[_Branch]:
    raw = [
        (camp.name, offer.code, ch, j, oi, camp, offer)
        for j, camp in enumerate(camps)
        for oi, offer in enumerate(camp.offers)
        for ch in camp.channels
    ]
    raw.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4]))
    return [
        _Branch(b, j, camp, offer, ch, channels.index(ch))
        for b, (_, _, ch, j, _, camp, offer) in enumerate(raw)
    ]


def _lookup(values: list[str], index: str) -> str:
    """SQL for ``values[index]`` (0-based) over a constant list; NULL when index is NULL."""
    return f"[{', '.join(values)}][{index} + 1]"


class _Plan:
    """The run's constants and the SQL text built from them."""

    def __init__(self, inputs: BatchInputs) -> None:
        self.inputs = inputs
        self.policy: ContactPolicy = inputs.policy
        self.camps: list[CampaignPlan] = list(inputs.campaigns)
        self.channels = sorted({ch for c in self.camps for ch in c.channels})
        self.branches = _branches(self.camps, self.channels)
        self.by_camp: list[list[_Branch]] = [[] for _ in self.camps]
        for br in self.branches:
            self.by_camp[br.j].append(br)
        now = inputs.now.astimezone(UTC)
        self.now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        self.now_ts = f"make_timestamptz(CAST({self.now_us} AS BIGINT))"
        self.bits = len(self.policy.rules) <= _MAX_BITS
        # At most one contact per campaign: there are never more rounds than campaigns.
        self.rounds = min(max(self.policy.per_run, 0), len(self.camps))

    # -- history ---------------------------------------------------------------------------

    def history_sql(self) -> str | None:
        """Per-customer history: ``cap<i>`` counts, ``gap<i>`` nearest hours, ``rep<i>`` offers.

        ``cap<i>`` counts counted ledger contacts in scope and window of rule i; ``gap<i>``
        is the hours to the nearest one in scope (before or after ``now``), computed as the
        domain does: microseconds / 1e6 / 3600 in doubles; ``rep<i>`` lists the offers made
        within rule i's days.
        """
        now_us = self.now_us
        aggs: list[str] = []
        calendar = False
        for i, rule in enumerate(self.policy.rules):
            if isinstance(rule, FrequencyCap):
                if rule.days is not None:
                    window = f"l.at_us > {now_us - rule.days * _US_PER_DAY}"
                else:
                    calendar = True
                    same = _calendar_same(rule, "l.ts", self.now_ts, "z.tz")
                    window = f"(l.at_us >= {now_us} OR {same})"
                aggs.append(
                    f"count(*) FILTER (WHERE {_covers(rule.scope, 'l')} AND {window}) AS cap{i}"
                )
            elif isinstance(rule, MinGap):
                hours = f"CAST(abs(l.at_us - {now_us}) AS DOUBLE) / 1000000.0 / 3600.0"
                aggs.append(f"min({hours}) FILTER (WHERE {_covers(rule.scope, 'l')}) AS gap{i}")
            else:
                aggs.append(
                    f"list(l.offer) FILTER (WHERE abs(l.at_us - {now_us}) "
                    f"< {rule.days * _US_PER_DAY}) AS rep{i}"
                )
        if not aggs:
            return None
        tz_join = ""
        if calendar:
            col = self.inputs.timezone_column
            # Unknown or missing zones count in UTC, as the domain does.
            zone = (
                f"coalesce((SELECT name FROM pg_timezone_names() WHERE name = c.{_q(col)}), 'UTC')"
                if col
                else "'UTC'"
            )
            tz_join = (
                f"LEFT JOIN (SELECT c.id AS customer_id, {zone} AS tz FROM in_customers c) z "
                "USING (customer_id)"
            )
        not_counted = ", ".join(_s(s) for s in _NOT_COUNTED)
        return (
            f"CREATE TABLE hist AS SELECT l.customer_id, {', '.join(aggs)} FROM ("
            'SELECT customer_id, epoch_us(CAST("at" AS TIMESTAMPTZ)) AS at_us, '
            'CAST("at" AS TIMESTAMPTZ) AS ts, channel, campaign_kind AS kind, offer '
            f"FROM in_ledger WHERE coalesce(status, '') NOT IN ({not_counted})) l {tz_join} "
            "GROUP BY l.customer_id"
        )

    def exclusions_sql(self) -> str:
        """Exclusion-list reasons per customer, one column per channel ('all' counts in each)."""
        cols = [
            f"string_agg(DISTINCT reason, '; ' ORDER BY reason) "
            f"FILTER (WHERE channel = 'all' OR channel = {_s(ch)}) AS xr{k}"
            for k, ch in enumerate(self.channels)
        ]
        return (
            f"CREATE TABLE excl AS SELECT customer_id, {', '.join(cols)} "
            "FROM in_exclusions GROUP BY customer_id"
        )

    # -- the decision ----------------------------------------------------------------------

    def decision_sql(self, has_hist: bool) -> str:
        """The statement that fills ``dec``: one row per customer with any candidate."""
        inputs = self.inputs
        ctx = rule_context(
            inputs.fields, inputs.now.astimezone(UTC).date(), "c", inputs.segment_rules
        )

        def rule_sql(src: str) -> str:
            return f"coalesce(({compile_rule(src, inputs.fields).sql(ctx, 'duckdb')}), FALSE)"

        # Level 1, over the customer row: its reasons per channel, history, campaign rules.
        # The columns added start with '_', which no field name does.
        l1 = ["c.*", "(v.customer_id IS NOT NULL) AS _vip"]
        for k, ch in enumerate(self.channels):
            point = _q(inputs.channel_points[ch])
            consent = _q(inputs.channel_consents[ch])
            # The exclusion list comes first, then the contact point, then consent.
            l1.append(
                f"coalesce(e.xr{k}, CASE WHEN c.{point} IS NULL "
                f"OR trim(CAST(c.{point} AS VARCHAR)) = '' "
                f"THEN {_s('no ' + inputs.channel_points[ch])} "
                f"WHEN c.{consent} IS NOT TRUE THEN {_s('no consent for ' + ch)} END) AS _why{k}"
            )
        hist_cols = [
            ("cap" if isinstance(r, FrequencyCap) else "gap" if isinstance(r, MinGap) else "rep")
            + str(i)
            for i, r in enumerate(self.policy.rules)
        ]
        if has_hist:
            l1.extend(f"h.{col} AS _{col}" for col in hist_cols)
        for j, camp in enumerate(self.camps):
            l1.append(f"{rule_sql(camp.rule) if camp.rule else 'TRUE'} AS _r{j}")
        src = (
            "in_customers c LEFT JOIN excl e ON e.customer_id = c.id "
            "LEFT JOIN (SELECT DISTINCT customer_id FROM in_vip) v ON v.customer_id = c.id"
            + (" LEFT JOIN hist h ON h.customer_id = c.id" if has_hist else "")
        )
        sql = f"SELECT {', '.join(l1)} FROM {src}"

        # Level 2: scores and offer rules, only where the campaign's rule holds (as a WHERE
        # would: they are not evaluated elsewhere); e<b>: branch b is a candidate.
        l2 = ["c.id AS id", "c._vip AS vip"]
        l2.extend(f"c._why{k} AS why{k}" for k in range(len(self.channels)))
        if has_hist:
            l2.extend(f"c._{col} AS {col}" for col in hist_cols)
        for j, camp in enumerate(self.camps):
            score = "0.0"
            if camp.score:
                checked = compile_rule(camp.score, inputs.fields, expect=FieldType.FLOAT)
                score = f"coalesce(CAST({checked.sql(ctx, 'duckdb')} AS DOUBLE), 0.0)"
            l2.append(f"CASE WHEN c._r{j} THEN CAST({score} AS DOUBLE) END AS sc{j}")
        for br in self.branches:
            cond = f"c._r{br.j}"
            if br.offer.rule:
                cond = f"CASE WHEN c._r{br.j} THEN {rule_sql(br.offer.rule)} ELSE FALSE END"
            l2.append(f"{cond} AS e{br.b}")
        sql = f"SELECT {', '.join(l2)} FROM ({sql}) c"
        # Only customers with a candidate somewhere go on.
        sql = f"SELECT * FROM ({sql}) WHERE {_any([f'e{br.b}' for br in self.branches])}"
        # score × value + 0.0 turns -0.0 into 0.0, which Python's sort treats as equal.
        sv = [f"sc{br.j} * {_f(float(br.offer.value))} + 0.0 AS sv{br.b}" for br in self.branches]
        control = any(camp.control_share > 0 for camp in self.camps)
        if control:
            # The customer's half of the control hash (see tactica.domain.control), once
            # per customer: md5 per (customer, campaign) pair cost a third of the decision.
            sv.append("md5(CAST(id AS VARCHAR)) AS ctl")
        sql = f"SELECT *, {', '.join(sv)} FROM ({sql})"

        # Pairs — any candidate left after exclusion (a<j>), the control group (h<j>).
        l2 = []
        if control:
            l2.append(f"CAST('0x' || left(ctl, 8) AS UBIGINT) % {PRIME} AS ca")
            l2.append(f"CAST('0x' || substr(ctl, 9, 8) AS UBIGINT) % {PRIME} AS cb")
        for j in range(len(self.camps)):
            ok = [f"(e{br.b} AND why{br.k} IS NULL)" for br in self.by_camp[j]]
            l2.append(f"{_any(ok)} AS a{j}")
        l3 = []
        for j, camp in enumerate(self.camps):
            if camp.control_share > 0:
                # Same hash as control.control_bucket, only for pairs with a candidate.
                bucket = f"(ca * {campaign_key(camp.name)} + cb) % {PRIME} % {BUCKETS}"
                l3.append(
                    f"CASE WHEN a{j} THEN {bucket} < {_f(camp.control_share * BUCKETS)} "
                    f"ELSE FALSE END AS h{j}"
                )
                held = [(br, f"e{br.b} AND why{br.k} IS NULL") for br in self.by_camp[j]]
                l3.append(f"{self._pick_sv(held)} AS hsv{j}")
            else:
                l3.append(f"FALSE AS h{j}")
        l4 = [
            f"(e{br.b} AND why{br.k} IS NULL AND NOT h{br.j}) AS live{br.b}" for br in self.branches
        ]
        for cols in (l2, l3, l4):
            sql = f"SELECT *, {', '.join(cols)} FROM ({sql})"

        # Rounds: alive<b>_<r> is branch b still in play before round r (1-based).
        alive = {br.b: f"live{br.b}" for br in self.branches}
        for r in range(1, self.rounds + 1):
            sql = self._round(sql, r, alive)
            alive = {br.b: f"alive{br.b}_{r + 1}" for br in self.branches}

        # Final level: a stage code per campaign, and what the outputs need.
        out = ["id"]
        out.extend(f"why{k}" for k in range(len(self.channels)))
        for r in range(1, self.rounds + 1):
            out.extend([f"wb{r}", f"ws{r}", f"wv{r}"])
        for j, camp in enumerate(self.camps):
            brs = self.by_camp[j]
            lo, hi = brs[0].b, brs[-1].b
            chosen = _any([f"wb{r} BETWEEN {lo} AND {hi}" for r in range(1, self.rounds + 1)])
            left = _any([alive[br.b] for br in brs])
            pol = f"pr{j}_{self.rounds}" if self.rounds else "NULL"
            pair = _any([f"e{br.b}" for br in brs])
            # dec holds a row per customer: the narrowest types keep it small.
            out.append(
                f"CAST(CASE WHEN NOT {pair} THEN NULL WHEN {chosen} THEN {_CHOSEN} "
                f"WHEN h{j} THEN {_HELD} WHEN NOT a{j} THEN {_EXCLUDED} "
                f"WHEN {left} THEN {_ARBITRATION} WHEN {pol} IS NOT NULL THEN {_POLICY} "
                f"END AS UTINYINT) AS st{j}"
            )
            out.append(
                f"CAST({pol} AS {self.bits_type()}) AS pr{j}" if self.bits else f"{pol} AS pr{j}"
            )
            if camp.control_share > 0:
                # The held-out candidate: the best one the control group kept back.
                held = [(br, f"e{br.b} AND why{br.k} IS NULL") for br in brs]
                best = self._pick(held, f"hsv{j}", {br.b: str(br.b) for br in brs})
                branch = "USMALLINT" if len(self.branches) < 65_536 else "UINTEGER"
                out.append(f"CAST(CASE WHEN h{j} THEN {best} END AS {branch}) AS hb{j}")
                out.append(f"CASE WHEN h{j} THEN sc{j} END AS hs{j}")
        return f"CREATE TABLE dec AS SELECT {', '.join(out)} FROM ({sql})"

    def bits_type(self) -> str:
        """The narrowest unsigned integer that holds a bit per policy rule."""
        n = len(self.policy.rules)
        return (
            "UTINYINT"
            if n <= 8
            else "USMALLINT"
            if n <= 16
            else "UINTEGER"
            if n <= 32
            else "UBIGINT"
        )

    @staticmethod
    def _greatest(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"greatest({', '.join(items)})"

    @staticmethod
    def _pick_sv(cands: list[tuple[_Branch, str]]) -> str:
        """SQL: the highest sv among candidates of one priority whose condition holds.

        DuckDB orders NaN above every number in greatest(), comparisons and ORDER BY alike,
        so a NaN score ranks as ``ORDER BY sv DESC`` would rank it.
        """
        return _Plan._greatest([f"CASE WHEN {c} THEN sv{br.b} END" for br, c in cands])

    @staticmethod
    def _pick(cands: list[tuple[_Branch, str]], wsv: str, what: dict[int, str]) -> str:
        """SQL: ``what[b]`` of the first candidate b, in branch order, whose condition holds
        and whose sv is ``wsv``: the best candidate of one priority."""
        whens = " ".join(
            f"WHEN {c} AND sv{br.b} = {wsv} THEN {what[br.b]}"
            for br, c in sorted(cands, key=lambda x: x[0].b)
        )
        return f"CASE {whens} END"

    def _broken(self, fails: list[str]) -> str:
        """SQL: the rules broken, as a bit mask (or their names when there are too many)."""
        if self.bits:
            bits = " + ".join(
                f"CASE WHEN {f} THEN {1 << i} ELSE 0 END"
                for i, f in enumerate(fails)
                if f != "FALSE"
            )
            return f"CAST({bits or '0'} AS BIGINT)"
        names = [rule.name for rule in self.policy.rules]
        texts = ", ".join(
            f"CASE WHEN {f} THEN {_s(n)} END" for n, f in zip(names, fails, strict=True)
        )
        return f"concat_ws(', ', {texts})"

    def _fails(self, br: _Branch, r: int) -> list[str]:
        """SQL true when rule i fails for branch ``br`` in round ``r`` (one per rule).

        In round r > 1, ``cc<i>_<r>`` / ``cg<i>_<r>`` count the contacts chosen in earlier
        rounds that the rule covers, and ``offs_<r>`` lists their offers: all at ``now``,
        so in every cap window, 0 hours away, same-offer within any positive number of days.
        """
        out: list[str] = []
        for i, rule in enumerate(self.policy.rules):
            if isinstance(rule, FrequencyCap):
                if not rule.scope.covers(br.channel, br.campaign.kind):
                    out.append("FALSE")
                    continue
                chosen = f" + cc{i}_{r}" if r > 1 else ""
                fail = f"NOT vip AND coalesce(cap{i}, 0){chosen} >= {int(rule.max_contacts)}"
            elif isinstance(rule, MinGap):
                if not rule.scope.covers(br.channel, br.campaign.kind):
                    out.append("FALSE")
                    continue
                hours = _f(rule.hours)
                parts = [f"(gap{i} IS NOT NULL AND NOT (gap{i} >= {hours}))"]
                # "0 hours away is too close", NaN-safe as the domain's comparison is.
                if r > 1 and not (rule.hours <= 0.0):
                    parts.append(f"cg{i}_{r} > 0")
                fail = f"NOT vip AND {_any(parts)}"
            else:
                parts = [f"list_contains(rep{i}, {_s(br.offer.code)})"]
                if r > 1 and rule.days > 0:
                    parts.append(f"list_contains(offs_{r}, {_s(br.offer.code)})")
                fail = _any(parts)
            out.append(f"coalesce({fail}, FALSE)")
        return out

    def _round(self, sql: str, r: int, alive: dict[int, str]) -> str:
        """Wrap ``sql`` with the projections of round ``r`` (see the module docstring)."""
        l1: list[str] = []  # per branch: passes now
        fails = {br.b: self._fails(br, r) for br in self.branches}
        for br in self.branches:
            l1.append(
                f"CASE WHEN {alive[br.b]} THEN NOT {_any(fails[br.b])} ELSE FALSE END "
                f"AS ok{br.b}_{r}"
            )
        sql = f"SELECT *, {', '.join(l1)} FROM ({sql})"
        # The winner: each customer's best candidate that passes now, found as the highest
        # priority (wp), then the highest sv at that priority (wv), then the first branch.
        wp, wv, wb = f"wp{r}", f"wv{r}", f"wb{r}"
        oks = [f"CASE WHEN ok{br.b}_{r} THEN {br.p} END" for br in self.branches]
        sql = f"SELECT *, {self._greatest(oks)} AS {wp} FROM ({sql})"
        levels = sorted({br.p for br in self.branches})
        by_p = {p: [(br, f"ok{br.b}_{r}") for br in self.branches if br.p == p] for p in levels}
        pick_sv = " ".join(f"WHEN {p} THEN {self._pick_sv(c)}" for p, c in by_p.items())
        sql = f"SELECT *, CASE {wp} {pick_sv} END AS {wv} FROM ({sql})"
        pick_b = " ".join(
            f"WHEN {p} THEN {self._pick(c, wv, {br.b: str(br.b) for br, _ in c})}"
            for p, c in by_p.items()
        )
        sql = f"SELECT *, CASE {wp} {pick_b} END AS {wb} FROM ({sql})"
        # The campaigns' branches are consecutive: campaign j is chosen iff wb is in its range.
        spans = {j: (brs[0].b, brs[-1].b) for j, brs in enumerate(self.by_camp)}
        score_of = " ".join(
            f"WHEN {wb} BETWEEN {lo} AND {hi} THEN sc{j}" for j, (lo, hi) in spans.items()
        )
        l2 = [f"CASE {score_of} END AS ws{r}"]
        # Dropped by the policy: ranked above the winner (or no winner) and so failing. A
        # pair's reason is its best dropped candidate's, from the first round that dropped
        # one (later rounds only drop candidates ranked lower).
        dropped = {
            br.b: f"CASE WHEN NOT {alive[br.b]} THEN FALSE WHEN {wb} IS NULL THEN TRUE "
            f"{br.above(wp, wv, wb)} END"
            for br in self.branches
        }
        l3 = []
        for j, brs in enumerate(self.by_camp):
            # The rules broken are only worked out for the candidate that gives the reason.
            if len(brs) == 1:
                br = brs[0]
                now_reason = f"CASE WHEN {dropped[br.b]} THEN {self._broken(fails[br.b])} END"
            else:
                for br in brs:
                    l2.append(f"{dropped[br.b]} AS d{br.b}_{r}")
                cands = [(br, f"d{br.b}_{r}") for br in brs]
                l2.append(f"{self._pick_sv(cands)} AS dsv{j}_{r}")
                now_reason = self._pick(
                    cands, f"dsv{j}_{r}", {br.b: self._broken(fails[br.b]) for br in brs}
                )
            prev = f"pr{j}_{r - 1}" if r > 1 else "NULL"
            l3.append(f"coalesce({prev}, {now_reason}) AS pr{j}_{r}")
        # Still in play: ranked below the winner, and not of the winner's campaign.
        for br in self.branches:
            lo, hi = spans[br.j]
            l2.append(
                f"CASE WHEN NOT {alive[br.b]} OR {wb} IS NULL OR {wb} BETWEEN {lo} AND {hi} "
                f"THEN FALSE {br.below(wp, wv, wb)} END AS alive{br.b}_{r + 1}"
            )
        # What the next round counts: the winner joins the ledger, at now.
        if r < self.rounds:
            for i, rule in enumerate(self.policy.rules):
                if isinstance(rule, FrequencyCap | MinGap):
                    covered = [
                        str(br.b)
                        for br in self.branches
                        if rule.scope.covers(br.channel, br.campaign.kind)
                    ]
                    prev = f"cc{i}_{r}" if isinstance(rule, FrequencyCap) else f"cg{i}_{r}"
                    name = "cc" if isinstance(rule, FrequencyCap) else "cg"
                    prev_sql = prev if r > 1 else "0"
                    counted = f"CASE WHEN {_in(wb, covered)} THEN 1 ELSE 0 END"
                    l2.append(f"CAST({prev_sql} + {counted} AS BIGINT) AS {name}{i}_{r + 1}")
            if any(isinstance(rule, NoRepeatOffer) for rule in self.policy.rules):
                offers = _lookup([_s(br.offer.code) for br in self.branches], f"wb{r}")
                prev = f"offs_{r}" if r > 1 else "CAST([] AS VARCHAR[])"
                l2.append(
                    f"CASE WHEN wb{r} IS NULL THEN {prev} "
                    f"ELSE list_append({prev}, {offers}) END AS offs_{r + 1}"
                )
        sql = f"SELECT *, {', '.join(l2)} FROM ({sql})"
        return f"SELECT *, {', '.join(l3)} FROM ({sql})"

    # -- outputs ---------------------------------------------------------------------------

    def room(self, camp: CampaignPlan) -> CampaignRoom:
        """The campaign's room in this run: from the limits if they name it, else its capacity."""
        room = self.inputs.limits.campaigns.get(camp.name)
        if room is not None:
            return room
        if camp.capacity is None:
            return CampaignRoom(None)
        return CampaignRoom(camp.capacity, f"campaign capacity {camp.capacity} per run")

    def meta_sql(self) -> str:
        """``bm``: per branch its names, priority, cost, and its campaign's room in this run."""
        rows = []
        for br in self.branches:
            room = self.room(br.campaign)
            rows.append(
                f"({br.b}, {br.j}, {_s(br.campaign.name)}, {_s(br.campaign.kind)}, "
                f"{_s(br.offer.code)}, {_s(br.channel)}, {br.p}, "
                f"{'NULL' if room.limit is None else int(room.limit)}, {_s(room.reason)}, "
                f"CAST({_s(str(br.campaign.cost_per_contact))} AS DECIMAL(18, 6)))"
            )
        return (
            "CREATE TABLE bm AS SELECT * FROM (VALUES "
            + ", ".join(rows)
            + ") t(b, j, campaign, kind, offer, channel, prio, cap, cap_why, cost)"
        )

    def chosen_sql(self) -> str:
        """``chosen``: every round's winners; ``cut`` says which capacity limit cut them.

        The limits of :func:`tactica.domain.capacity.allocate`, in its order: campaign
        room, then the channels' daily room, then the program budget, each best first
        over the contacts the limits before it kept.
        """
        rounds = " UNION ALL ".join(
            f"SELECT id, wb{r} AS b, ws{r} AS score, wv{r} AS sv, CAST({r} AS BIGINT) AS rnd "
            f"FROM dec WHERE wb{r} IS NOT NULL"
            for r in range(1, self.rounds + 1)
        )
        # Branches are numbered in (campaign, offer, channel) order: b stands for the names.
        best = "m.prio DESC, w.sv DESC, w.b, w.id"
        cut = "CAST(NULL AS VARCHAR)"
        if any(self.room(c).limit is not None for c in self.camps):
            cut = (
                "CASE WHEN m.cap IS NOT NULL AND row_number() OVER (PARTITION BY m.j "
                f"ORDER BY {best}) > m.cap THEN m.cap_why END"
            )
        sql = (
            "SELECT w.*, m.j, m.campaign, m.kind, m.offer, m.channel, m.prio, m.cost, "
            f"{cut} AS cut FROM ({rounds}) w JOIN bm m USING (b)"
        )
        limits = self.inputs.limits
        best = best.replace("m.", "").replace("w.", "")
        channels = [limits.channels[ch] for ch in self.channels if ch in limits.channels]
        if channels:
            rows = ", ".join(f"({_s(c.channel)}, {c.left}, {_s(c.reason)})" for c in channels)
            sql = (
                "SELECT x.* REPLACE (CASE WHEN x.cut IS NULL AND r.room IS NOT NULL AND "
                "row_number() OVER (PARTITION BY x.channel, x.cut IS NULL "
                f"ORDER BY {best}) > r.room THEN r.why ELSE x.cut END AS cut) "
                f"FROM ({sql}) x LEFT JOIN (VALUES {rows}) r(channel, room, why) USING (channel)"
            )
        if limits.budget is not None:
            left = f"CAST({_s(str(limits.budget.left))} AS DECIMAL(38, 6))"
            sql = (
                "SELECT * REPLACE (CASE WHEN cut IS NULL AND sum(cost) OVER ("
                f"PARTITION BY cut IS NULL ORDER BY {best} ROWS UNBOUNDED PRECEDING) > {left} "
                f"THEN {_s(limits.budget.reason)} ELSE cut END AS cut) FROM ({sql})"
            )
        return f"CREATE TABLE chosen AS SELECT *, cut IS NULL AS kept FROM ({sql})"

    def exclusion_reason(self, j: int) -> str:
        """SQL for the exclusion reason of campaign j's pair: its channels' reasons, sorted."""
        ks = sorted({self.channels.index(ch) for ch in self.camps[j].channels})
        if len(ks) == 1:
            return f"why{ks[0]}"
        items = ", ".join(f"why{k}" for k in ks)
        return f"array_to_string(list_sort(list_distinct([{items}])), '; ')"

    def log_codes(self) -> LogCodes:
        """What the suppression log's codes mean for this run."""
        return LogCodes(
            campaigns=[c.name for c in self.camps],
            channels=list(self.channels),
            campaign_channels=[
                sorted({self.channels.index(ch) for ch in c.channels}) for c in self.camps
            ],
            rules=[r.name for r in self.policy.rules] if self.bits else None,
            per_run=self.policy.per_run,
        )

    def suppression_log_sql(self) -> str:
        """The compact suppression log (see :mod:`tactica.engine.suppression_log`).

        Not sorted: at 10 M customers a sort costs more than it saves; one customer's
        row is found by a scan of the customer_id column.
        """
        n = len(self.camps)
        cuts = ", ".join(f"max(cut) FILTER (WHERE j = {j}) AS cut{j}" for j in range(n))
        cols = ["d.id AS customer_id"]
        cols.extend(f"d.why{k}" for k in range(len(self.channels)))
        for j in range(n):
            cols.extend([f"d.st{j}", f"d.pr{j}", f"x.cut{j}"])
        left_out = _any([f"d.st{j} >= {_EXCLUDED}" for j in range(n)] + ["x.id IS NOT NULL"])
        return (
            f"SELECT {', '.join(cols)} FROM dec d LEFT JOIN "
            f"(SELECT id, {cuts} FROM chosen WHERE NOT kept GROUP BY id) x USING (id) "
            f"WHERE {left_out}"
        )

    def held_sql(self) -> str | None:
        """The held-out output: per held pair, its best candidate."""
        parts = [
            f"SELECT id, hb{j} AS b, hs{j} AS score FROM dec WHERE st{j} = {_HELD}"
            for j, camp in enumerate(self.camps)
            if camp.control_share > 0
        ]
        if not parts:
            return None
        return (
            "SELECT h.id AS customer_id, m.campaign, m.offer, m.channel, h.score "
            f"FROM ({' UNION ALL '.join(parts)}) h JOIN bm m USING (b)"
        )

    def stage_counts_sql(self) -> str:
        """Pairs per campaign and stage (j, st, count): a narrow scan of one column each."""
        return " UNION ALL ".join(
            f"SELECT {j} AS j, st{j} AS st, count(*) FROM dec WHERE st{j} IS NOT NULL GROUP BY ALL"
            for j in range(len(self.camps))
        )

    def exclusion_counts_sql(self) -> str:
        """Excluded pairs per campaign and reason (the reason built only where excluded)."""
        parts = [
            f"SELECT {j} AS j, {self.exclusion_reason(j)} AS reason, count(*) "
            f"FROM dec WHERE st{j} = {_EXCLUDED} GROUP BY ALL"
            for j in range(len(self.camps))
        ]
        return " UNION ALL ".join(parts)


def _covers(scope: Scope, alias: str) -> str:
    """SQL for ``scope.covers(channel, kind)`` on a row with ``channel`` and ``kind``."""
    parts = ["TRUE"]
    if scope.channel is not None:
        parts.append(f"{alias}.channel = {_s(scope.channel)}")
    if scope.campaign_kind is not None:
        parts.append(f"{alias}.kind = {_s(scope.campaign_kind)}")
    return " AND ".join(parts)


def _calendar_same(rule: FrequencyCap, at: str, now: str, tz: str) -> str:
    unit = {Calendar.DAY: "day", Calendar.WEEK: "week", Calendar.MONTH: "month"}[
        rule.calendar or Calendar.DAY
    ]
    # date_trunc('week') is the ISO week (Monday); local wall-clock time in the customer's zone.
    local = "date_trunc('{unit}', {ts} AT TIME ZONE {tz})"
    return local.format(unit=unit, ts=at, tz=tz) + " = " + local.format(unit=unit, ts=now, tz=tz)


def decide_batch(
    inputs: BatchInputs, *, suppression_log: bool = True, memory_limit: str | None = None
) -> BatchDecision:
    """Decide a batch run: who gets which campaign, offer and channel, and why not.

    Runs in a private DuckDB; see the module docstring for the semantics. Without
    ``suppression_log`` the log of who was left out and why is not written (a preview
    needs only the funnel). With it, the log is written in a thread after the decision
    is returned (see :class:`BatchDecision`): a run inserts its contacts into the
    store, single-threaded, while DuckDB writes the log. ``memory_limit`` (e.g.
    ``"4GB"``) bounds DuckDB's working memory; past it, DuckDB moves data to a private
    temporary folder instead of growing. Raises :class:`tactica.errors.RuleError`
    when a rule does not compile and ``ValueError`` on inconsistent inputs.
    """
    _check_inputs(inputs)
    tmp = Path(tempfile.mkdtemp(prefix="tactica-decide-"))
    config: dict[str, str | bool | int | float | list[str]] = {"temp_directory": str(tmp / "spill")}
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(":memory:", config=config)
    handed_over = False
    try:
        decision, write_log = _decide(con, inputs, tmp / "suppressed.parquet")
        if not suppression_log or write_log is None:
            return decision
        writing: Future[bytes] = Future()

        def write() -> None:
            try:
                writing.set_result(write_log())
            except BaseException as exc:  # handed to whoever reads the log
                writing.set_exception(exc)
            finally:
                _close(con, tmp)

        threading.Thread(target=write, name="suppression-log", daemon=True).start()
        handed_over = True
        return replace(decision, log_writing=writing)
    finally:
        if not handed_over:
            _close(con, tmp)


def _close(con: duckdb.DuckDBPyConnection, tmp: Path) -> None:
    con.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _decide(
    con: duckdb.DuckDBPyConnection, inputs: BatchInputs, log_path: Path
) -> tuple[BatchDecision, Callable[[], bytes] | None]:
    """The decision, without its suppression log, and what writes that log (if any)."""
    plan = _Plan(inputs)
    if not plan.branches:
        empty = BatchDecision(
            _CONTACTS_SCHEMA.empty_table(), _HELD_SCHEMA.empty_table(), written(b""), 0, []
        )
        return empty, None
    con.execute("SET TimeZone = 'UTC'")
    # No statement here relies on row order: let DuckDB skip keeping it.
    con.execute("SET preserve_insertion_order = false")
    for name, table in (
        ("in_customers", inputs.customers),
        ("in_ledger", inputs.ledger),
        ("in_exclusions", inputs.exclusions),
        ("in_vip", inputs.vip),
        (MEMBERS_TABLE, inputs.members or MEMBERS_SCHEMA.empty_table()),
    ):
        con.register(name, table)
    hist = plan.history_sql()
    if hist:
        con.execute(hist)
    con.execute(plan.exclusions_sql())
    con.execute(plan.decision_sql(hist is not None))
    con.execute("DROP TABLE IF EXISTS hist")
    con.execute(plan.meta_sql())
    con.execute(plan.chosen_sql())
    contacts = con.sql(
        "SELECT id AS customer_id, campaign, kind AS campaign_kind, offer, channel, score, "
        "cost, rnd AS rank FROM chosen WHERE kept"
    ).to_arrow_table()
    held_sql = plan.held_sql()
    held_out = con.sql(held_sql).to_arrow_table() if held_sql else _HELD_SCHEMA.empty_table()
    funnel = _funnel(con, plan)
    # Every pair but the held-out and the contacted ones is left out with a reason.
    rows = sum(f.candidates - f.held_out - f.after_capacity for f in funnel)
    decision = BatchDecision(
        contacts.cast(_CONTACTS_SCHEMA),
        held_out.cast(_HELD_SCHEMA),
        written(b""),
        int(rows),
        funnel,
    )
    path = str(log_path).replace("'", "''")
    codes = _s(plan.log_codes().to_json().decode())
    copy = (
        f"COPY ({plan.suppression_log_sql()}) TO '{path}' (FORMAT parquet, "
        f"COMPRESSION zstd, ROW_GROUP_SIZE 64000, KV_METADATA {{{_s(META_KEY.decode())}: "
        f"{codes}}})"
    )

    def write_log() -> bytes:
        # Written by DuckDB straight to Parquet: at 10 M customers the log has tens of
        # millions of rows, which as Arrow strings would take gigabytes.
        con.execute(copy)
        return log_path.read_bytes()

    return decision, write_log


def _funnel(con: duckdb.DuckDBPyConnection, plan: _Plan) -> list[FunnelRow]:
    """Counts per campaign, in customers: every stage keeps a subset of the one before."""
    stages = {(j, st): int(n) for j, st, n in con.execute(plan.stage_counts_sql()).fetchall()}
    excluded: dict[int, dict[str, int]] = {}
    for j, reason, n in con.execute(plan.exclusion_counts_sql()).fetchall():
        excluded.setdefault(j, {})[reason] = int(n)
    kept = dict(
        con.execute("SELECT campaign, count(*) FROM chosen WHERE kept GROUP BY campaign").fetchall()
    )
    out: list[FunnelRow] = []
    for j, c in enumerate(plan.camps):
        n = sum(v for (jj, _), v in stages.items() if jj == j)
        held = stages.get((j, _HELD), 0)
        after_policy = n - stages.get((j, _EXCLUDED), 0) - held - stages.get((j, _POLICY), 0)
        after_arbitration = after_policy - stages.get((j, _ARBITRATION), 0)
        k = int(kept.get(c.name, 0))
        out.append(
            FunnelRow(
                campaign=c.name,
                candidates=n,
                excluded=dict(sorted(excluded.get(j, {}).items())),
                held_out=held,
                after_policy=after_policy,
                after_arbitration=after_arbitration,
                after_capacity=k,
                cost=c.cost_per_contact * k if k else Decimal("0"),
            )
        )
    return out
