"""Property tests: random well-typed rules select the same rows everywhere.

A Hypothesis strategy builds typed syntax trees over a fixed schema (ints, floats, text,
a category, a bool, a date, a timestamp; nulls everywhere; division, modulo, like,
between, in, date functions, membership). Each tree is rendered to source and compiled
like a user rule, then run on random customer rows by the Python predicate, SQLite,
DuckDB and PostgreSQL (skipped when unreachable, a failure under ``CI=true``); all must
select exactly the same rows, and numeric expressions must have exactly the same values.

Value ranges are chosen so that the properties test *semantics*, not float formatting or
locale behaviour:

* floats are multiples of 1/4 with small magnitude: sums and products stay exact, so a
  difference can only come from a semantic difference (division results are inexact but
  IEEE-identical on every backend);
* text uses a small lower-case ASCII alphabet (plus ``%`` and ``_`` in patterns): case
  folding and code-point order are then the same whatever the database's locale;
* ints stay small so that no 32/64-bit overflow is reachable.

One database connection per backend is reused for the whole module; every example
replaces the rows of the table.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from tactica.domain.rules import (
    Between,
    Binary,
    Call,
    Expr,
    In,
    IsNull,
    Like,
    Literal,
    Name,
    Not,
    PyContext,
    SqlContext,
    Unary,
    compile_rule,
    parse,
    render,
    to_python,
    to_sql,
)
from tactica.domain.schema import FieldType

F = FieldType
AS_OF = dt.date(2024, 6, 30)
PG_URL = "postgresql://127.0.0.1:5432/test"
FIELDS: dict[str, FieldType] = {
    "i1": F.INT,
    "i2": F.INT,
    "f1": F.FLOAT,
    "t1": F.TEXT,
    "c1": F.CATEGORY,
    "b1": F.BOOL,
    "d1": F.DATE,
    "ts1": F.TIMESTAMP,
}
# Hidden membership columns: in_segment('s1') / on_list('l1') read them.
COLUMNS = ["id", *FIELDS, "m_s1", "m_l1"]
SQL_TYPES = {
    F.INT: "BIGINT",
    F.FLOAT: "DOUBLE PRECISION",
    F.TEXT: "TEXT",
    F.CATEGORY: "TEXT",
    F.BOOL: "BOOLEAN",
    F.DATE: "DATE",
    F.TIMESTAMP: "TIMESTAMP",
}
SQLITE_TYPES = {
    F.INT: "INTEGER",
    F.FLOAT: "FLOAT",
    F.TEXT: "VARCHAR",
    F.CATEGORY: "VARCHAR",
    F.BOOL: "BOOLEAN",
    F.DATE: "DATE",
    F.TIMESTAMP: "DATETIME",
}
EXAMPLES = 200

# -- strategies: syntax trees -----------------------------------------------------------

NUMERIC = (F.INT, F.FLOAT)
DATES = [AS_OF + dt.timedelta(days=k) for k in range(-10, 11)]


def lit(value: Any, ty: FieldType | None) -> Literal:
    return Literal(value, ty)


NULL = st.just(Literal(None, None))


class Trees:
    """Typed tree strategies; ``texts`` are the text literals to use."""

    def __init__(self, texts: st.SearchStrategy[str], patterns: st.SearchStrategy[str]):
        self.texts = texts
        self.patterns = patterns

    @functools.cache  # noqa: B019 - a handful of instances, kept for the module's lifetime
    def of(self, ty: FieldType, depth: int) -> st.SearchStrategy[Expr]:
        leaves = self.leaves(ty)
        if depth == 0:
            return leaves
        return st.one_of(leaves, self.compound(ty, depth - 1))

    def number(self, depth: int) -> st.SearchStrategy[Expr]:
        return st.one_of(self.of(F.INT, depth), self.of(F.FLOAT, depth))

    def leaves(self, ty: FieldType) -> st.SearchStrategy[Expr]:
        names = [Name(n) for n, t in FIELDS.items() if t is ty]
        if ty is F.TEXT:
            names.append(Name("c1"))
        options: list[st.SearchStrategy[Expr]] = [NULL]
        if names:
            options.append(st.sampled_from(names))
        if ty is F.INT:
            options.append(st.integers(0, 6).map(lambda v: lit(v, F.INT)))
        elif ty is F.FLOAT:
            options.append(st.integers(0, 24).map(lambda k: lit(k / 4, F.FLOAT)))
        elif ty is F.TEXT:
            options.append(self.texts.map(lambda s: lit(s, F.TEXT)))
        elif ty is F.BOOL:
            options.append(st.booleans().map(lambda b: lit(b, F.BOOL)))
        elif ty is F.DATE:
            options.append(st.just(Call("today", ())))
            options.append(
                st.sampled_from(DATES).map(lambda d: Call("date", (lit(d.isoformat(), F.TEXT),)))
            )
        # Nulls are one leaf in five: frequent enough to matter, not so frequent that
        # most rules are trivially null.
        values = st.one_of(options[1:])
        return st.one_of(values, values, values, values, options[0])

    def date_text(self, ty: FieldType) -> st.SearchStrategy[Expr]:
        """A string literal that the checker reads as a date/timestamp."""
        if ty is F.DATE:
            return st.sampled_from(DATES).map(lambda d: lit(d.isoformat(), F.TEXT))
        return st.builds(
            lambda d, h, us: lit(
                dt.datetime.combine(d, dt.time(h, 0, 0, us)).isoformat(sep=" "), F.TEXT
            ),
            st.sampled_from(DATES),
            st.sampled_from([0, 12, 23]),
            st.sampled_from([0, 1, 999999]),
        )

    def compound(self, ty: FieldType, d: int) -> st.SearchStrategy[Expr]:
        of, num = self.of, self.number
        temporal = st.one_of(of(F.DATE, d), of(F.TIMESTAMP, d))
        if ty is F.INT:
            return st.one_of(
                st.builds(lambda e: Unary("-", e), of(F.INT, d)),
                st.builds(Binary, st.sampled_from("+-*%"), of(F.INT, d), of(F.INT, d)),
                st.builds(
                    lambda f, e: Call(f, (e,)),
                    st.sampled_from(["days_since", "days_until", "year", "month", "day"]),
                    temporal,
                ),
                st.builds(lambda e: Call("length", (e,)), of(F.TEXT, d)),
                st.builds(lambda e: Call("abs", (e,)), of(F.INT, d)),
                st.builds(lambda a, b: Call("coalesce", (a, b)), of(F.INT, d), of(F.INT, d)),
            )
        if ty is F.FLOAT:
            return st.one_of(
                st.builds(Binary, st.sampled_from("+-*%"), of(F.FLOAT, d), num(d)),
                st.builds(Binary, st.sampled_from("+-*%"), num(d), of(F.FLOAT, d)),
                st.builds(lambda a, b: Binary("/", a, b), num(d), num(d)),
                st.builds(lambda e: Unary("-", e), of(F.FLOAT, d)),
                st.builds(lambda e: Call("abs", (e,)), of(F.FLOAT, d)),
                st.builds(lambda a, b: Call("coalesce", (a, b)), of(F.FLOAT, d), num(d)),
            )
        if ty is F.TEXT:
            return st.one_of(
                st.builds(
                    lambda f, e: Call(f, (e,)), st.sampled_from(["lower", "upper"]), of(F.TEXT, d)
                ),
                st.builds(lambda a, b: Call("coalesce", (a, b)), of(F.TEXT, d), of(F.TEXT, d)),
            )
        if ty is F.DATE:
            return st.one_of(
                st.builds(lambda e: Call("date", (e,)), of(F.TIMESTAMP, d)),
                st.builds(lambda a, b: Call("coalesce", (a, b)), of(F.DATE, d), of(F.DATE, d)),
            )
        if ty is F.TIMESTAMP:
            return st.builds(
                lambda a, b: Call("coalesce", (a, b)), of(F.TIMESTAMP, d), of(F.TIMESTAMP, d)
            )
        return self.conditions(d)

    def conditions(self, d: int) -> st.SearchStrategy[Expr]:
        of, num = self.of, self.number
        cmp = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
        any_value = st.one_of(num(d), of(F.TEXT, d), of(F.DATE, d), of(F.TIMESTAMP, d))
        temporal_cmp = [
            st.builds(Binary, cmp, of(t, d), st.one_of(of(t, d), self.date_text(t)))
            for t in (F.DATE, F.TIMESTAMP)
        ]
        return st.one_of(
            st.builds(Binary, cmp, num(d), num(d)),
            st.builds(Binary, cmp, of(F.TEXT, d), of(F.TEXT, d)),
            *temporal_cmp,
            st.builds(Binary, st.sampled_from(["=", "!="]), of(F.BOOL, d), of(F.BOOL, d)),
            st.builds(Binary, st.sampled_from(["and", "or"]), of(F.BOOL, d), of(F.BOOL, d)),
            st.builds(Not, of(F.BOOL, d)),
            st.builds(
                lambda e, items, neg: In(e, tuple(items), neg),
                num(d),
                st.lists(num(d), min_size=1, max_size=3),
                st.booleans(),
            ),
            st.builds(
                lambda e, items, neg: In(e, tuple(items), neg),
                of(F.TEXT, d),
                st.lists(of(F.TEXT, d), min_size=1, max_size=3),
                st.booleans(),
            ),
            st.builds(Between, num(d), num(d), num(d), st.booleans()),
            st.builds(Between, of(F.TEXT, d), of(F.TEXT, d), of(F.TEXT, d), st.booleans()),
            st.builds(Between, of(F.DATE, d), self.date_text(F.DATE), of(F.DATE, d), st.booleans()),
            st.builds(IsNull, any_value, st.booleans()),
            st.builds(
                Like,
                of(F.TEXT, d),
                st.one_of(self.patterns.map(lambda p: lit(p, F.TEXT)), of(F.TEXT, d)),
                st.booleans(),
            ),
            st.sampled_from(
                [Call("in_segment", (lit("s1", F.TEXT),)), Call("on_list", (lit("l1", F.TEXT),))]
            ),
        )


def always_null(tree: Expr) -> bool:
    """``null`` or ``coalesce(null, ...)`` of nulls: no type, not a rule on its own."""
    if isinstance(tree, Literal):
        return tree.value is None
    return isinstance(tree, Call) and tree.func == "coalesce" and all(map(always_null, tree.args))


def rules(trees: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    """Whole rules: anything but an always-null expression."""
    return trees.filter(lambda t: not always_null(t))


# Text values for the database properties: see the module docstring.
DB_TREES = Trees(
    texts=st.text(alphabet="abc", max_size=3),
    patterns=st.text(alphabet="abcAB%_", max_size=4),
)
# Any text for the render/parse round trip: quotes, newlines, unicode.
ANY_TREES = Trees(texts=st.text(max_size=8), patterns=st.text(max_size=8))

# -- strategies: rows ------------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


ROW = st.fixed_dictionaries(
    {
        "i1": maybe(st.integers(-6, 6)),
        "i2": maybe(st.integers(-6, 6)),
        "f1": maybe(st.integers(-24, 24).map(lambda k: k / 4)),
        "t1": maybe(st.text(alphabet="abcAB", max_size=3)),
        "c1": maybe(st.sampled_from(["a", "b", "ab"])),
        "b1": maybe(st.booleans()),
        "d1": maybe(st.sampled_from(DATES)),
        "ts1": maybe(
            st.builds(
                lambda d, h, us: dt.datetime.combine(d, dt.time(h, 0, 0, us)),
                st.sampled_from(DATES),
                st.sampled_from([0, 12, 23]),
                st.sampled_from([0, 1, 999999]),
            )
        ),
        "m_s1": st.booleans(),
        "m_l1": st.booleans(),
    }
)
ROWS = st.lists(ROW, min_size=1, max_size=8).map(
    lambda rows: [{"id": f"r{k}", **row} for k, row in enumerate(rows)]
)

# -- backends --------------------------------------------------------------------------


def sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def sql_context(dialect: str) -> SqlContext:
    def member(column: str) -> Callable[[str], exp.Expression]:
        def build(_: str) -> exp.Expression:
            col = exp.column(column, "c")
            return col.eq(1) if dialect == "sqlite" else col

        return build

    return SqlContext(FIELDS, AS_OF, table="c", segment_sql=member("m_s1"), list_sql=member("m_l1"))


PY_CTX = PyContext(
    AS_OF,
    in_segment=lambda _, row: bool(row["m_s1"]),
    on_list=lambda _, row: bool(row["m_l1"]),
)


class Db:
    """One connection; ``load`` replaces the rows, ``query`` runs a SELECT."""

    def __init__(
        self,
        dialect: str,
        run: Callable[[str, list[list[Any]] | None], list[tuple[Any, ...]]],
        convert: Callable[[Any], Any],
        mark: str,
    ) -> None:
        self.dialect = dialect
        self.run = run
        self.convert = convert
        self.mark = mark
        self.ctx = sql_context(dialect)

    def load(self, rows: list[dict[str, Any]]) -> None:
        self.run("DELETE FROM customers", None)
        marks = ", ".join(self.mark for _ in COLUMNS)
        values = [[self.convert(row[c]) for c in COLUMNS] for row in rows]
        self.run(f"INSERT INTO customers VALUES ({marks})", values)

    def select_ids(self, tree: Expr) -> set[str]:
        condition = to_sql(tree, self.ctx, self.dialect)
        return {r[0] for r in self.run(f"SELECT c.id FROM customers AS c WHERE {condition}", None)}

    def values(self, tree: Expr) -> dict[str, Any]:
        value = to_sql(tree, self.ctx, self.dialect)
        rows = self.run(f"SELECT c.id, {value} FROM customers AS c", None)
        return {r[0]: r[1] for r in rows}


def ddl(types: dict[FieldType, str], temp: bool) -> str:
    cols = ", ".join(f"{name} {types[t]}" for name, t in FIELDS.items())
    kind = "TEMP TABLE" if temp else "TABLE"
    member = types[F.BOOL]
    text = types[F.TEXT]
    return f"CREATE {kind} customers (id {text}, {cols}, m_s1 {member}, m_l1 {member})"


@pytest.fixture(scope="module")
def sqlite_db() -> Iterator[Db]:
    conn = sqlite3.connect(":memory:")
    conn.execute(ddl(SQLITE_TYPES, temp=False))

    def run(sql: str, many: list[list[Any]] | None) -> list[tuple[Any, ...]]:
        if many is not None:
            conn.executemany(sql, many)
            return []
        return conn.execute(sql).fetchall()

    yield Db("sqlite", run, sqlite_value, "?")
    conn.close()


@pytest.fixture(scope="module")
def duckdb_db() -> Iterator[Db]:
    conn = duckdb.connect(":memory:")
    conn.execute(ddl(SQL_TYPES, temp=False))

    def run(sql: str, many: list[list[Any]] | None) -> list[tuple[Any, ...]]:
        if many is not None:
            conn.executemany(sql, many)
            return []
        return conn.execute(sql).fetchall()

    yield Db("duckdb", run, lambda v: v, "?")
    conn.close()


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Db | None]:
    try:
        import psycopg

        conn = psycopg.connect(PG_URL, connect_timeout=5, autocommit=True)
    except Exception as err:  # any connection problem means "no PostgreSQL here"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {err}")
        yield None  # the properties still run on the other backends
        return
    conn.execute(ddl(SQL_TYPES, temp=True))

    def run(sql: str, many: list[list[Any]] | None) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            if many is not None:
                cur.executemany(sql, many)
                return []
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description is not None else []

    yield Db("postgres", run, lambda v: v, "%s")
    conn.close()


@pytest.fixture(scope="module")
def databases(sqlite_db: Db, duckdb_db: Db, postgres_db: Db | None) -> list[Db]:
    return [db for db in (sqlite_db, duckdb_db, postgres_db) if db is not None]


def checked(tree: Expr, expect: FieldType | None) -> Expr:
    """Compile the tree the way a user rule is compiled: render, parse, type-check."""
    return compile_rule(render(tree), FIELDS, segments=["s1"], lists=["l1"], expect=expect).ast


COMMON = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # leave no .hypothesis directory behind
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@COMMON
@given(tree=rules(DB_TREES.of(F.BOOL, 3)), rows=ROWS)
def test_backends_select_the_same_rows(
    databases: list[Db], tree: Expr, rows: list[dict[str, Any]]
) -> None:
    rule = checked(tree, F.BOOL)
    keep = to_python(rule, PY_CTX)
    expected = {row["id"] for row in rows if keep(row) is True}
    for db in databases:
        db.load(rows)
        assert db.select_ids(rule) == expected, (db.dialect, render(rule))


@settings(COMMON, max_examples=EXAMPLES // 2)
@given(tree=rules(DB_TREES.number(3)), rows=ROWS)
def test_backends_compute_the_same_numbers(
    databases: list[Db], tree: Expr, rows: list[dict[str, Any]]
) -> None:
    rule = checked(tree, F.FLOAT)
    evaluate = to_python(rule, PY_CTX)
    expected = {row["id"]: evaluate(row) for row in rows}
    for db in databases:
        db.load(rows)
        got = db.values(rule)
        for rid, value in expected.items():
            assert got[rid] == value, (db.dialect, render(rule), rid, got[rid], value)


@settings(COMMON, max_examples=300)
@given(tree=st.one_of(ANY_TREES.of(F.BOOL, 3), ANY_TREES.number(3)))
def test_render_then_parse_gives_the_same_tree(tree: Expr) -> None:
    assert parse(render(tree)) == tree


@settings(COMMON, max_examples=100)
@given(tree=rules(DB_TREES.of(F.BOOL, 3)))
def test_checked_tree_renders_to_an_equivalent_rule(tree: Expr) -> None:
    """Checking is stable: the checked tree renders to a rule that checks to itself."""
    once = checked(tree, F.BOOL)
    assert checked(once, F.BOOL) == once


# -- the real-time path: rules reading the event --------------------------------------

#: Fields a triggered campaign's rule reads from the event rather than the profile.
EVENT_FIELDS = ("i2", "f1", "t1")
_EVENT_NAME = re.compile(r"(?<![\w.])(" + "|".join(EVENT_FIELDS) + r")\b")


@settings(COMMON, max_examples=EXAMPLES // 2)
@given(tree=rules(DB_TREES.of(F.BOOL, 3)), rows=ROWS)
def test_event_rules_in_python_select_what_sql_selects_on_the_same_rows(
    databases: list[Db], tree: Expr, rows: list[dict[str, Any]]
) -> None:
    """A rule reading ``event.x`` (the real-time path, in Python) decides as the same rule
    over a column ``x`` decides in every database: same rows, same values."""
    rule = checked(tree, F.BOOL)
    # Text literals use letters only, so only field names match the pattern.
    source = _EVENT_NAME.sub(lambda m: f"event.{m.group(1)}", render(rule))
    profile_fields = {k: v for k, v in FIELDS.items() if k not in EVENT_FIELDS}
    event_fields = {k: FIELDS[k] for k in EVENT_FIELDS}
    live = compile_rule(
        source, profile_fields, segments=["s1"], lists=["l1"], event_fields=event_fields
    )
    keep = live.predicate(PY_CTX)
    split = [
        {
            **{k: v for k, v in row.items() if k not in EVENT_FIELDS},
            "event": {k: row[k] for k in EVENT_FIELDS},
        }
        for row in rows
    ]
    expected = {row["id"] for row in split if keep(row)}
    for db in databases:
        db.load(rows)
        assert db.select_ids(rule) == expected, (db.dialect, source)
