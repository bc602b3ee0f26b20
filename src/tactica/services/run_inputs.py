"""What a run of a program reads from the store, handed to the engine as Arrow.

A run first takes a *snapshot*: the program and its contact policy as documents, the
value and eligibility of every offer it makes, and the rule of every segment. The
snapshot is stored with the run, so the run (or a restart of it after a crash, or an
explanation of it later) decides from the definitions as they were, whatever is edited
afterwards. The customers, their contact history and the special lists are read at
decision time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.capacity import BudgetRoom, ChannelRoom, Limits, campaign_room
from tactica.domain.lists import EXCLUSION_WORDS, ListKind
from tactica.domain.policy import (
    ContactPolicy,
    ContactStatus,
    history_horizon,
)
from tactica.domain.rules import compile_rule
from tactica.domain.rules.ast import render_literal
from tactica.domain.schema import CustomerSchema, FieldType
from tactica.engine.membership import MEMBERS_SCHEMA
from tactica.engine.plan import (
    EXCLUSIONS_SCHEMA,
    LEDGER_SCHEMA,
    VIP_SCHEMA,
    BatchInputs,
    CampaignPlan,
    OfferPlan,
)
from tactica.errors import InvalidInput
from tactica.services.policies import parse_policy, policy_data
from tactica.services.programs import parse_program, program_data
from tactica.store.arrow import LARGE_READ_ROWS, fetch_arrow_many
from tactica.store.customer_table import load_schema
from tactica.store.db import Store
from tactica.store.models import (
    Contact,
    ContactPolicyRow,
    CostBooking,
    EventFigure,
    Offer,
    Program,
    Run,
    RunCampaign,
    Segment,
)

#: Campaign kinds a batch run decides (triggered campaigns answer events, in real time).
BATCH_KINDS = frozenset({"outbound"})


def take_snapshot(session: Session, program: Program) -> dict[str, Any]:
    """The definitions a run of ``program`` decides from, as plain JSON-able data."""
    doc = program_data(session, program)
    policy_row = session.scalar(
        sa.select(ContactPolicyRow).where(ContactPolicyRow.name == program.policy)
    )
    if policy_row is None:
        raise InvalidInput(f"no contact policy {program.policy!r}", "policy")
    codes = sorted({code for c in doc["campaigns"] for code in c["offers"]})
    offers = {
        o.code: {"value": format(o.value, "f"), "eligibility": o.eligibility}
        for o in session.scalars(sa.select(Offer).where(Offer.code.in_(codes)))
    }
    segments = {
        s.name: s.rule if s.kind == "dynamic" else None for s in session.scalars(sa.select(Segment))
    }
    return {
        "program": doc,
        "policy": policy_data(policy_row),
        "offers": offers,
        "segments": segments,
    }


def policy_of(snapshot: Mapping[str, Any]) -> ContactPolicy:
    """The contact policy a snapshot was taken with."""
    return parse_policy(snapshot["policy"], "policy")[2]


def campaign_rule(segment: str | None, eligibility: str | None) -> str | None:
    """One rule for a campaign's target: its segment and its eligibility rule."""
    parts = []
    if segment:
        parts.append(f"in_segment({render_literal(segment)})")
    if eligibility:
        parts.append(f"({eligibility})")
    return " and ".join(parts) or None


def campaign_plans(snapshot: Mapping[str, Any]) -> list[CampaignPlan]:
    """The engine's view of the program's batch campaigns, in their written order."""
    spec, _ = parse_program(snapshot["program"], "snapshot")
    offers = snapshot["offers"]
    out: list[CampaignPlan] = []
    for c in spec.campaigns:
        if c.kind not in BATCH_KINDS:
            continue
        out.append(
            CampaignPlan(
                name=c.name,
                kind=c.kind,
                offers=tuple(
                    OfferPlan(
                        code,
                        Decimal(offers[code]["value"]),
                        offers[code].get("eligibility") or None,
                    )
                    for code in c.offers
                ),
                channels=c.channels,
                rule=campaign_rule(c.segment, c.eligibility),
                score=c.score,
                priority=c.priority,
                capacity=c.capacity,
                control_share=c.control_share,
                cost_per_contact=c.cost_per_contact,
            )
        )
    return out


def segment_rules(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Dynamic segment name → rule, as the snapshot has them."""
    return {name: rule for name, rule in snapshot["segments"].items() if rule}


def _referenced(
    plans: Sequence[CampaignPlan], seg_rules: Mapping[str, str], fields: Mapping[str, FieldType]
) -> tuple[set[str], set[str], set[str]]:
    """Fields, static segments and lists the plans' rules read, through nested segments."""
    names: set[str] = set()
    static: set[str] = set()
    lists: set[str] = set()
    todo: list[tuple[str, FieldType]] = []
    for p in plans:
        if p.rule:
            todo.append((p.rule, FieldType.BOOL))
        if p.score:
            todo.append((p.score, FieldType.FLOAT))
        todo.extend((o.rule, FieldType.BOOL) for o in p.offers if o.rule)
    seen: set[str] = set()
    while todo:
        source, expect = todo.pop()
        checked = compile_rule(source, fields, expect=expect)
        names |= checked.fields
        lists |= checked.lists
        for seg in checked.segments:
            if seg in seen:
                continue
            seen.add(seg)
            if seg in seg_rules:
                todo.append((seg_rules[seg], FieldType.BOOL))
            else:
                static.add(seg)
    return names, static, lists


def _in(ids: Iterable[str] | None) -> Any:
    return None if ids is None else sorted(set(ids))


def _sql_ids(column: str, ids: list[str] | None) -> str:
    if ids is None:
        return ""
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids) or "NULL"
    return f" AND {column} IN ({quoted})"


def _sql_time(store: Store, t: datetime) -> str:
    """A UTC timestamp literal as the store keeps timestamps."""
    if store.dialect == "sqlite":
        return "'" + t.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + "'"
    return "TIMESTAMPTZ '" + t.isoformat() + "'"


def read_ledger(
    store: Store,
    since: datetime,
    customer_ids: list[str] | None = None,
    *,
    until: datetime | None = None,
    exclude_run: int | None = None,
    large: bool = False,
) -> pa.Table:
    """Contacts decided after ``since`` that count (queued, sent or later), as the ledger.

    Failed contacts count for no rule (``ContactStatus.counts``),
    so they are not read. ``until`` and ``exclude_run`` give the ledger as a past run
    saw it: nothing decided after it, and not its own contacts. ``large`` reads in a
    child process (:func:`tactica.store.arrow.fetch_arrow_many`).
    """
    not_counted = _text_list(c.value for c in ContactStatus if not c.counts)
    table_ref = "contacts"
    if customer_ids is None and store.dialect == "sqlite":
        # SQLite knows nothing of how the decision times spread, and always takes the
        # decided_at index: row by row, twice as slow as reading the table when the
        # window holds most of the history. A few hundred rows spread over the table
        # tell which is the case.
        with store.engine.connect() as conn:
            lo, hi = conn.execute(sa.text("SELECT min(id), max(id) FROM contacts")).one()
            if lo is not None and hi - lo >= 1_000:
                probe = ", ".join(str(lo + (hi - lo) * i // 255) for i in range(256))
                found, inside = conn.execute(
                    sa.text(
                        "SELECT count(*), coalesce(sum(decided_at > "
                        f"{_sql_time(store, since)}), 0) FROM contacts WHERE id IN ({probe})"
                    )
                ).one()
                if found >= 64 and inside * 5 >= found:
                    table_ref = "contacts NOT INDEXED"
    sql = (
        "SELECT customer_id, decided_at AS at, channel, campaign, campaign_kind, offer, status "
        f"FROM {table_ref} WHERE decided_at > {_sql_time(store, since)}"
        f" AND coalesce(status, '') NOT IN ({not_counted})"
        + _sql_ids("customer_id", customer_ids)
        + (f" AND decided_at <= {_sql_time(store, until)}" if until is not None else "")
        + (
            f" AND (run_id IS NULL OR run_id <> {int(exclude_run)})"
            if exclude_run is not None
            else ""
        )
    )
    kinds = dict.fromkeys(LEDGER_SCHEMA.names, "text")
    (table,) = fetch_arrow_many(store, [(sql, kinds)], large=large)
    if store.dialect == "sqlite":
        # UTC text; a cast reads it exactly (strptime has no fraction-of-second format).
        at = table["at"].cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        table = table.set_column(1, "at", at)
    return table.cast(LEDGER_SCHEMA)


def read_inputs(
    store: Store,
    session: Session,
    snapshot: Mapping[str, Any],
    now: datetime,
    *,
    customer_ids: Iterable[str] | None = None,
    past_run: int | None = None,
) -> BatchInputs:
    """Everything the engine needs to decide ``snapshot`` at ``now``.

    ``customer_ids`` restricts the run to those customers (to explain one of them);
    ``past_run`` reads the ledger as that run (decided at ``now``) saw it.
    Only the customer columns some rule or channel reads are fetched.
    """
    ids = _in(customer_ids)
    schema: CustomerSchema = load_schema(session)
    fields = schema.types()
    plans = campaign_plans(snapshot)
    seg_rules = segment_rules(snapshot)
    names, static, lists = _referenced(plans, seg_rules, fields)
    channels = sorted({ch for p in plans for ch in p.channels})
    points: dict[str, str] = {}
    consents: dict[str, str] = {}
    for ch in channels:
        point, consent = schema.contact_point(ch), schema.consent(ch)
        if point is None or consent is None:
            missing = "contact point" if point is None else "consent"
            raise InvalidInput(
                f"channel {ch!r} has no {missing} field in the customer schema; "
                "declare one before running campaigns on it",
                "channels",
            )
        points[ch], consents[ch] = point.name, consent.name
    columns = sorted({"id", "timezone", *names, *points.values(), *consents.values()})
    select = ", ".join(f'"{c}"' for c in columns)
    customers_sql = f"SELECT {select} FROM customers WHERE TRUE" + _sql_ids("id", ids)
    policy = policy_of(snapshot)
    since = now - history_horizon(policy)
    until = now if past_run is not None else None
    # A whole run reads its customers and its contact history at once: in two child
    # processes on SQLite (from LARGE_READ_ROWS rows), in two connections on PostgreSQL.
    large = ids is None
    if large and store.dialect == "sqlite":
        rows = session.execute(
            sa.text(
                "SELECT (SELECT coalesce(max(rowid), 0) FROM customers) "
                "+ (SELECT coalesce(max(id), 0) FROM contacts)"
            )
        ).scalar_one()
        large = rows >= LARGE_READ_ROWS
    # A child process needs every column's kind; elsewhere the columns come typed as
    # the database has them and _typed_customers converts them.
    kinds = (
        {
            c: {FieldType.INT: "int", FieldType.BOOL: "int", FieldType.FLOAT: "float"}.get(
                fields.get(c, FieldType.TEXT), "text"
            )
            for c in columns
        }
        if large and store.dialect == "sqlite"
        else {}
    )
    queries = [(customers_sql, kinds), *_lists(store, now, static, lists, ids)]
    if large:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ledger") as pool:
            reading = pool.submit(
                read_ledger, store, since, ids, until=until, exclude_run=past_run, large=True
            )
            tables = fetch_arrow_many(store, queries, large=True)
            ledger = reading.result()
    else:
        tables = fetch_arrow_many(store, queries)
        ledger = read_ledger(store, since, ids, until=until, exclude_run=past_run)
    customers = _typed_customers(tables[0], columns, fields)
    exclusions, vip = tables[1].cast(EXCLUSIONS_SCHEMA), tables[2].cast(VIP_SCHEMA)
    members = tables[3].cast(MEMBERS_SCHEMA) if len(tables) > 3 else MEMBERS_SCHEMA.empty_table()
    return BatchInputs(
        customers=customers,
        fields=fields,
        campaigns=plans,
        ledger=ledger,
        exclusions=exclusions,
        vip=vip,
        policy=policy,
        now=now,
        channel_points=points,
        channel_consents=consents,
        timezone_column="timezone",
        segment_rules=seg_rules,
        members=members,
    )


_ARROW = {
    FieldType.TEXT: pa.string(),
    FieldType.CATEGORY: pa.string(),
    FieldType.INT: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOL: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}


def _typed_customers(
    table: pa.Table,
    columns: list[str],
    fields: Mapping[str, FieldType],
) -> pa.Table:
    """The customer columns as the rule types say (SQLite hands back text and integers)."""
    arrays = []
    for name in columns:
        col = table[name]
        target = _ARROW.get(fields.get(name, FieldType.TEXT), pa.string())
        if col.type != target:
            if pa.types.is_null(col.type):
                col = pa.nulls(len(col), target)
            elif pa.types.is_timestamp(target) and pa.types.is_string(col.type):
                # SQLite keeps UTC text: read it as such.
                col = col.cast(pa.timestamp("us")).cast(target)
            else:
                col = col.cast(target)
        arrays.append(col)
    return pa.table(arrays, names=columns)


def _text_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) or "NULL"


def _lists(
    store: Store,
    now: datetime,
    static: set[str],
    lists: set[str],
    ids: list[str] | None,
) -> list[tuple[str, dict[str, str]]]:
    """Queries for the exclusions (with reasons), the VIP whitelist and the memberships.

    In this order; the memberships only when some rule reads a list or a static
    segment. Read set-based into Arrow: an opt-out list may hold millions of entries.
    """
    entries = (
        "FROM special_list_entries e JOIN special_lists l ON l.id = e.list_id "
        f"WHERE (e.expires_at IS NULL OR e.expires_at > {_sql_time(store, now)})"
        + _sql_ids("e.customer_id", ids)
    )
    # What a marketer reads in the funnel and in explain: "opted out (list 'opt_out')".
    said = " ".join(f"WHEN '{k.value}' THEN '{w}'" for k, w in EXCLUSION_WORDS.items())
    reason = f"CASE l.kind {said} ELSE 'on ' || l.kind END || ' (list ''' || l.name || ''')'"
    queries = [
        (
            f"SELECT e.customer_id, e.channel, {reason} AS reason {entries} "
            f"AND l.kind <> '{ListKind.VIP.value}'",
            dict.fromkeys(EXCLUSIONS_SCHEMA.names, "text"),
        ),
        (
            f"SELECT e.customer_id {entries} AND l.kind = '{ListKind.VIP.value}'",
            dict.fromkeys(VIP_SCHEMA.names, "text"),
        ),
    ]
    parts = []
    if lists:
        parts.append(
            f"SELECT e.customer_id, 'list' AS kind, l.name {entries} "
            f"AND l.name IN ({_text_list(lists)})"
        )
    if static:
        parts.append(
            "SELECT m.customer_id, 'segment' AS kind, s.name FROM segment_members m "
            f"JOIN segments s ON s.id = m.segment_id WHERE s.name IN ({_text_list(static)})"
            + _sql_ids("m.customer_id", ids)
        )
    if parts:
        queries.append((" UNION ALL ".join(parts), dict.fromkeys(MEMBERS_SCHEMA.names, "text")))
    return queries


# --------------------------------------------------------------------------- capacity

#: Ledger statuses that do not use a channel's day (the customer was not reached).
_NOT_REACHED = tuple(s.value for s in ContactStatus if not s.counts)


def _spent(
    session: Session, program: str, before: Run | None
) -> tuple[Decimal, dict[str, Decimal]]:
    """What the program has spent (before run ``before``): in all, per campaign.

    The completed runs' planned cost, corrected by what dispatch booked since, plus
    the planned cost of the contacts events made. A past run (``before``) is explained
    with its plan only: bookings carry no run.
    """
    q = (
        sa.select(RunCampaign.campaign, sa.func.sum(RunCampaign.cost))
        .join(Run, Run.id == RunCampaign.run_id)
        .where(Run.program == program, Run.status == "completed")
        .group_by(RunCampaign.campaign)
    )
    if before is not None:
        q = q.where(Run.id != before.id, Run.finished_at < before.finished_at)
    rows = session.execute(q).all()
    per = {name: Decimal(total or 0) for name, total in rows}
    # Dispatch books what sending really cost: a sent message's price replaces its
    # planned cost, and a failed contact's planned cost is released.
    if before is None:
        booked = session.execute(
            sa.select(
                CostBooking.campaign,
                sa.func.sum(CostBooking.booked - CostBooking.planned_sent - CostBooking.released),
            )
            .where(CostBooking.program == program)
            .group_by(CostBooking.campaign)
        ).all()
        for name, delta in booked:
            per[name] = per.get(name, Decimal("0")) + Decimal(delta or 0)
    # Contacts decided by events have no run: their planned cost is in the figures.
    from_events = sa.select(EventFigure.campaign, sa.func.sum(EventFigure.cost)).where(
        EventFigure.program == program, EventFigure.outcome == "contacted"
    )
    if before is not None:
        from_events = from_events.where(EventFigure.day <= before.as_of.date())
    for name, cost in session.execute(from_events.group_by(EventFigure.campaign)):
        per[name] = per.get(name, Decimal("0")) + Decimal(cost or 0)
    return sum(per.values(), Decimal("0")), per


def program_spent(session: Session, program: str) -> tuple[Decimal, dict[str, Decimal]]:
    """What ``program`` has spent so far, in all and per campaign: its completed runs'
    planned cost, corrected by what dispatch booked, and what its events' contacts cost."""
    return _spent(session, program, None)


def day_bounds(as_of: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start and end of ``as_of``'s day in ``timezone``, as aware datetimes."""
    tz = ZoneInfo(timezone)
    day = as_of.astimezone(tz).date()
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start, end


def run_limits(
    session: Session,
    snapshot: Mapping[str, Any],
    as_of: datetime,
    *,
    past_run: int | None = None,
) -> Limits:
    """The capacity limits a run decides under (see :mod:`tactica.domain.capacity`).

    Campaign budgets and the program budget count what the program's completed runs
    spent; the channels' daily capacities count every contact any program decided on
    that channel the same day (the policy's time zone). Read under the ledger lock, so
    two runs never both spend the same room. With ``past_run``, the limits as that
    completed run saw them: what was spent and decided before it committed.
    """
    spec, _ = parse_program(snapshot["program"], "snapshot")
    policy = policy_of(snapshot)
    before = session.get(Run, past_run) if past_run is not None else None
    if before is not None and before.finished_at is None:
        before = None
    total, per = _spent(session, spec.name, before)
    rooms = {
        c.name: campaign_room(
            c.capacity, c.budget, per.get(c.name, Decimal("0")), c.cost_per_contact
        )
        for c in spec.campaigns
        if c.kind in BATCH_KINDS and c.budget is not None
    }
    channels: dict[str, ChannelRoom] = {}
    if policy.daily_capacity:
        start, end = day_bounds(as_of, policy.timezone)
        caps = {d.channel: d.per_day for d in policy.daily_capacity}
        q = (
            sa.select(Contact.channel, sa.func.count())
            .where(
                Contact.channel.in_(sorted(caps)),
                Contact.decided_at >= start,
                Contact.decided_at < end,
                Contact.status.not_in(_NOT_REACHED),
            )
            .group_by(Contact.channel)
        )
        if before is not None:
            # Runs commit one at a time (the ledger lock): those before finished earlier.
            earlier = sa.select(Run.id).where(Run.finished_at < before.finished_at)
            q = q.where(Contact.run_id.in_(earlier), Contact.run_id != before.id)
        used = dict(session.execute(q).all())
        channels = {ch: ChannelRoom(ch, n, int(used.get(ch, 0))) for ch, n in caps.items()}
    budget = BudgetRoom(Decimal(spec.budget), total) if spec.budget is not None else None
    return Limits(rooms, channels, budget)
