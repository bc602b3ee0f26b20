"""The dashboard's rollup: figures per day, program, campaign, channel and offer.

The dashboard must answer in milliseconds over years of history (tens of millions of
contacts), so it does not count rows per request: it sums ``daily_figures``, a few
rows per campaign and day, which the database keeps up to date itself. Triggers on
the tables the figures come from (contacts, held-out members, responses, orders,
leads) add each row's contribution when it is written, take it back when it is
deleted, and move it when it changes (a contact that fails, is sent, is delivered;
an order booked or rejected). Whatever writes those tables — a run, a triggered
decision, dispatch, a receipt, a reply, a rep — the rollup follows in the same
transaction, so it is never ahead of or behind what it sums.

SQLite runs its triggers once per row, each an upsert of the rollup (one writer at a
time: nobody waits on a row). PostgreSQL runs them once per statement, over the
statement's rows (transition tables), so a run's ``COPY`` of a million contacts
costs one grouped insert, not a million; and they append to ``daily_figures_delta``
rather than update the rollup, so concurrent writers never queue on a rollup row.
:func:`fold` moves the deltas into ``daily_figures`` (the dashboard does before it
reads, and reads both tables).

:func:`rebuild` recomputes the whole rollup from the records (set-based, the same
definitions): the migration that creates the rollup fills it that way, and the tests
check the triggers against it.

A *fact* is one thing a row counts for: a contact is planned on the day it was
decided (and failed then, if it failed), sent on the day it was sent (with its cost),
delivered on the day it was delivered. Keys the records leave empty (a response
nobody's campaign) are stored as ``''``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

#: The rollup's key columns, in key order.
KEYS = ("day", "program", "campaign", "channel", "offer")
#: Its measures: counts, then the two amounts.
COUNTS = ("planned", "failed", "sent", "delivered", "held_out", "responses", "orders", "leads")
AMOUNTS = ("cost", "revenue")
MEASURES = COUNTS + AMOUNTS


@dataclass(frozen=True)
class Fact:
    """What a row of ``table`` adds to the rollup: measures on the day of ``when``.

    ``values`` maps a measure to an SQL expression over the row (written with ``R.``
    for the row); ``channel`` is the channel's expression (orders and leads take it
    from the contact they answer); ``where`` says when the row counts at all.
    """

    table: str
    when: str
    values: dict[str, str]
    where: str = "TRUE"
    channel: str = "R.channel"


_CONTACT_CHANNEL = "(SELECT c.channel FROM contacts c WHERE c.id = R.contact_id)"

FACTS: tuple[Fact, ...] = (
    Fact("contacts", "decided_at", {"planned": "1", "failed": "R.status = 'failed'"}),
    Fact(
        "contacts",
        "sent_at",
        {"sent": "1", "cost": "coalesce(R.spent, R.cost)"},
        where="R.sent_at IS NOT NULL",
    ),
    Fact("contacts", "delivered_at", {"delivered": "1"}, where="R.delivered_at IS NOT NULL"),
    Fact("held_out", "decided_at", {"held_out": "1"}),
    Fact("responses", "received_at", {"responses": "1"}),
    Fact(
        "orders",
        "created_at",
        {"orders": "1", "revenue": "R.amount"},
        where="R.status = 'booked'",
        channel=_CONTACT_CHANNEL,
    ),
    Fact("leads", "created_at", {"leads": "1"}, channel=_CONTACT_CHANNEL),
)

#: The tables whose rows make the figures.
TABLES = tuple(dict.fromkeys(f.table for f in FACTS))


def _day(dialect: str, expr: str) -> str:
    """The UTC day of a stored time as 'YYYY-MM-DD' text."""
    if dialect == "sqlite":
        return f"substr({expr}, 1, 10)"  # stored as UTC text 'YYYY-MM-DD HH:MM:SS...'
    return f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _truth(dialect: str, expr: str) -> str:
    """A condition as 0/1 (PostgreSQL does not add booleans)."""
    return expr if dialect == "sqlite" else f"CASE WHEN {expr} THEN 1 ELSE 0 END"


def _rows(dialect: str, fact: Fact, source: str, sign: int, *, grouped: bool) -> str:
    """A SELECT of the fact's key and signed measures.

    ``source`` is a table or subquery (read as R), or ``NEW`` / ``OLD``: the row of a
    SQLite row trigger, read in place.
    """
    row = source in ("NEW", "OLD")

    def over(expr: str) -> str:
        return expr.replace("R.", f"{source}.") if row else expr

    keys = [
        _day(dialect, f"R.{fact.when}"),
        "coalesce(R.program, '')",
        "coalesce(R.campaign, '')",
        f"coalesce({fact.channel}, '')",
        "coalesce(R.offer, '')",
    ]
    names, values = list(KEYS), [over(k) for k in keys]
    for m in MEASURES:
        expr = fact.values.get(m)
        if expr is None:
            if row:
                continue  # a row trigger's upsert names only the fact's own measures
            expr = "0"
        elif m in COUNTS and expr != "1":
            expr = _truth(dialect, expr)
        term = over(f"{'-' if sign < 0 else ''}({expr})")
        names.append(m)
        values.append(f"sum({term})" if grouped and expr != "0" else term)
    cols = ", ".join(f"{e} AS {n}" for e, n in zip(values, names, strict=True))
    where = over(f"R.{fact.when} IS NOT NULL AND ({fact.where})")
    if row:
        return f"SELECT {cols} WHERE {where}"
    sql = f"SELECT {cols} FROM {source} R WHERE {where}"
    if grouped:
        sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(KEYS)))}"
    return sql


def _upsert(selects: list[str], measures: tuple[str, ...] = MEASURES) -> str:
    """Add the rows of ``selects`` (each giving KEYS and ``measures``) into the rollup."""
    keys = ", ".join(KEYS)
    update = ", ".join(f"{m} = daily_figures.{m} + excluded.{m}" for m in measures)
    into = f"INSERT INTO daily_figures ({keys}, {', '.join(measures)}) "
    conflict = f" ON CONFLICT ({keys}) DO UPDATE SET {update}"
    if len(selects) == 1 and "GROUP BY" not in selects[0] and " FROM " not in selects[0]:
        return into + selects[0] + conflict
    sums = ", ".join(f"sum({m}) AS {m}" for m in measures)
    body = " UNION ALL ".join(selects)
    # Sorted by key: concurrent writers lock the rollup's rows in the same order.
    return (
        f"{into}SELECT {keys}, {sums} FROM ({body}) f WHERE TRUE "
        f"GROUP BY {keys} ORDER BY {keys}{conflict}"
    )


def _append(selects: list[str]) -> str:
    """PostgreSQL: add the rows of ``selects``, grouped, to ``daily_figures_delta``.

    An insert takes no lock that another writer waits for: were the triggers to upsert
    ``daily_figures`` itself, every transaction writing a contact of the same campaign
    and day would queue on that one row until the previous one committed (events
    decided one by one at 500 a second did). :func:`fold` moves the deltas in.
    """
    keys = ", ".join(KEYS)
    sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
    body = " UNION ALL ".join(selects)
    return (
        f"INSERT INTO daily_figures_delta ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {keys}, {sums} FROM ({body}) f GROUP BY {keys}"
    )


def _sqlite_trigger_body(table: str, parts: list[tuple[str, int]]) -> str:
    """A SQLite row trigger's body: one small upsert per (row, fact)."""
    stmts = []
    for source, sign in parts:
        for fact in FACTS:
            if fact.table == table:
                measures = tuple(m for m in MEASURES if m in fact.values)
                select = _rows("sqlite", fact, source, sign, grouped=False)
                stmts.append(_upsert([select], measures) + ";")
    return " ".join(stmts)


def create_triggers(dialect: str) -> list[str]:
    """The statements that create the rollup's triggers on ``dialect``'s database."""
    out: list[str] = []
    events = {
        "INSERT": [("new", 1)],
        "UPDATE": [("old", -1), ("new", 1)],
        "DELETE": [("old", -1)],
    }
    for table in TABLES:
        for event, parts in events.items():
            name = f"rollup_{table}_{event.lower()}"
            if dialect == "sqlite":
                body = _sqlite_trigger_body(table, [(s.upper(), sign) for s, sign in parts])
                out.append(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body} END"
                )
                continue
            selects = [
                _rows(dialect, fact, f"{s}_rows", sign, grouped=True)
                for s, sign in parts
                for fact in FACTS
                if fact.table == table
            ]
            refs = " ".join(f"{s.upper()} TABLE AS {s}_rows" for s, _ in parts)
            out.append(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
                f"BEGIN {_append(selects)}; RETURN NULL; END $body$"
            )
            out.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    return out


def drop_triggers(dialect: str) -> list[str]:
    """The statements that drop what :func:`create_triggers` made."""
    out: list[str] = []
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            name = f"rollup_{table}_{event}"
            if dialect == "sqlite":
                out.append(f"DROP TRIGGER IF EXISTS {name}")
            else:
                out.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                out.append(f"DROP FUNCTION IF EXISTS {name}()")
    return out


def rebuild_sql(dialect: str) -> list[str]:
    """Statements that recompute the whole rollup from the records."""
    selects = [_rows(dialect, fact, fact.table, 1, grouped=True) for fact in FACTS]
    return ["DELETE FROM daily_figures_delta", "DELETE FROM daily_figures", _upsert(selects)]


def fold_sql() -> str:
    """PostgreSQL: move every delta into ``daily_figures``, in one statement.

    A delta is deleted and added in the same statement, so a reader summing both
    tables never counts it twice nor misses it; two folds at once split the deltas
    between them (a row deleted by one is skipped by the other).
    """
    keys = ", ".join(KEYS)
    names = ", ".join(MEASURES)
    sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
    update = ", ".join(f"{m} = daily_figures.{m} + excluded.{m}" for m in MEASURES)
    return (
        f"WITH moved AS (DELETE FROM daily_figures_delta RETURNING {keys}, {names}) "
        f"INSERT INTO daily_figures ({keys}, {names}) "
        f"SELECT {keys}, {sums} FROM moved GROUP BY {keys} ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {update}"
    )


def fold(session: Session) -> None:
    """Move the deltas PostgreSQL's triggers wrote into the rollup (nothing on SQLite,
    whose triggers write the rollup itself), in the session's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(fold_sql()))


def rebuild(session: Session) -> None:
    """Recompute the rollup from the records, in the session's transaction."""
    dialect = session.get_bind().dialect.name
    for stmt in rebuild_sql(dialect):
        session.execute(sa.text(stmt))


# --------------------------------------------------------------------------- bulk writes


@contextmanager
def triggers_aside(cursor: Any, table_name: str) -> Iterator[None]:
    """SQLite: ``table_name``'s triggers stand aside while the block bulk-inserts rows.

    Row triggers would cost more than the insert itself (and even a ``WHEN`` test per
    row costs a few microseconds). They are dropped and created again, as they were,
    inside the caller's transaction: SQLite's DDL is transactional, no other
    connection can write meanwhile (one writer at a time), and readers see the
    triggers all along. The block then adds its rows' figures itself, grouped
    (:func:`add_bulk_rows`).
    """
    if not cursor.connection.in_transaction:
        # Python's driver begins a transaction only before a write, and the DROP below
        # must not commit on its own.
        cursor.execute("BEGIN")
    saved = cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
        "AND name LIKE 'rollup\\_%' ESCAPE '\\'",
        (table_name,),
    ).fetchall()
    for name, _ in saved:
        cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        for _, sql in saved:
            cursor.execute(sql)


def add_bulk_rows(cursor: Any, table_name: str, rows: pa.Table) -> int:
    """Add to the rollup what ``rows``, just bulk-inserted into ``table_name``, count for.

    For a run's contacts and held-out members, and contact history loaded in bulk: rows
    with a ``decided_at`` (UTC text) and no sending yet, so they count as planned (and
    failed) or held out on the day they were decided — what the insert triggers would
    have added row by row. Returns the rollup rows touched.
    """
    measures: tuple[str, ...]
    if table_name == "contacts":
        if "sent_at" in rows.column_names or "delivered_at" in rows.column_names:
            raise ValueError("bulk contacts carry no sending; the triggers count those")
        measures = ("planned", "failed")
        flag = pc.cast(pc.equal(rows["status"], "failed"), pa.int64())
    elif table_name == "held_out":
        measures = ("held_out",)
        flag = None
    else:
        raise ValueError(f"no bulk figures for {table_name!r}")
    keyed = pa.table(
        {
            "day": pc.utf8_slice_codeunits(rows["decided_at"], 0, 10),
            **{k: pc.fill_null(rows[k], "") for k in KEYS[1:]},
            "one": pa.repeat(pa.scalar(1, pa.int64()), rows.num_rows),
            **({"flag": flag} if flag is not None else {}),
        }
    )
    aggs = [("one", "sum")] + ([("flag", "sum")] if flag is not None else [])
    grouped = keyed.group_by(list(KEYS)).aggregate(aggs)
    columns = [grouped[k].to_pylist() for k in KEYS]
    columns += [grouped[f"{name}_sum"].to_pylist() for name, _ in aggs]
    names = ", ".join((*KEYS, *measures))
    update = ", ".join(f"{m} = daily_figures.{m} + excluded.{m}" for m in measures)
    cursor.executemany(
        f"INSERT INTO daily_figures ({names}) VALUES ({', '.join('?' * len(KEYS + measures))}) "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {update}",
        zip(*columns, strict=True),
    )
    return int(grouped.num_rows)
