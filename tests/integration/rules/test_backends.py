"""Every rule of the case table, on every backend, selects exactly the expected customers.

Backends: the Python predicate, SQLite (stdlib ``sqlite3``, storage conventions of the
store: dates and timestamps as text, booleans as 0/1), DuckDB (typed columns) and
PostgreSQL (``postgresql://127.0.0.1:5432/test``, TEMP tables so parallel test runs do
not clash). PostgreSQL is skipped when unreachable, except under ``CI=true`` where that
is a failure. ``in_segment``/``on_list`` are answered by membership tables (SQL) and set
lookups (Python).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from sqlglot import exp

from tactica.domain.rules import (
    DIALECTS,
    Literal,
    PyContext,
    SqlContext,
    compile_rule,
    to_python,
    to_sql,
)
from tactica.domain.rules.types import parse_date_literal, parse_timestamp_literal
from tactica.domain.schema import FieldType
from tactica.errors import RuleError

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "rules" / "cases.yaml"
PG_URL = "postgresql://127.0.0.1:5432/test"


@dataclass(frozen=True)
class CaseTable:
    """The parsed case table: schema, customers (Python values), memberships, rules."""

    as_of: dt.date
    fields: dict[str, FieldType]
    customers: list[dict[str, Any]]
    segments: dict[str, set[str]]
    lists: dict[str, set[str]]
    rules: list[tuple[str, str, set[str]]]  # (note, rule, expected ids)


def _value(t: FieldType, raw: Any) -> Any:
    if raw is None:
        return None
    if t is FieldType.DATE:
        return parse_date_literal(raw)
    if t is FieldType.TIMESTAMP:
        return parse_timestamp_literal(raw)
    if t is FieldType.FLOAT:
        return float(raw)
    return raw


def load_cases() -> CaseTable:
    """Read ``tests/fixtures/rules/cases.yaml``."""
    data = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    fields = {name: FieldType(t) for name, t in data["fields"].items()}
    customers = [
        {k: (_value(fields[k], v) if k in fields else v) for k, v in c.items()}
        for c in data["customers"]
    ]
    return CaseTable(
        as_of=dt.date.fromisoformat(data["as_of"]),
        fields=fields,
        customers=customers,
        segments={k: set(v) for k, v in data["segments"].items()},
        lists={k: set(v) for k, v in data["lists"].items()},
        rules=[(r["note"], r["rule"], set(r["expect"])) for r in data["rules"]],
    )


TABLE = load_cases()
COLUMNS = ["id", *TABLE.fields]

# Column types per backend. SQLite declarations are those SQLAlchemy emits for the store.
SQLITE_TYPES = {
    FieldType.INT: "INTEGER",
    FieldType.FLOAT: "FLOAT",
    FieldType.TEXT: "VARCHAR",
    FieldType.CATEGORY: "VARCHAR",
    FieldType.BOOL: "BOOLEAN",
    FieldType.DATE: "DATE",
    FieldType.TIMESTAMP: "DATETIME",
}
TYPED_SQL = {
    FieldType.INT: "BIGINT",
    FieldType.FLOAT: "DOUBLE PRECISION",
    FieldType.TEXT: "TEXT",
    FieldType.CATEGORY: "TEXT",
    FieldType.BOOL: "BOOLEAN",
    FieldType.DATE: "DATE",
    FieldType.TIMESTAMP: "TIMESTAMP",
}


def sqlite_value(value: Any) -> Any:
    """A Python value in the store's SQLite storage format."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def membership_sql(table: str, key: str) -> Callable[[str], exp.Expression]:
    """``EXISTS (SELECT 1 FROM table AS m WHERE m.<key> = name AND m.customer_id = c.id)``."""

    def build(name: str) -> exp.Expression:
        query = (
            exp.select("1")
            .from_(exp.to_table(table).as_("m"))
            .where(exp.column(key, "m").eq(exp.Literal.string(name)))
            .where(exp.column("customer_id", "m").eq(exp.column("id", "c")))
        )
        return exp.Exists(this=query)

    return build


def sql_context(table: CaseTable) -> SqlContext:
    """The SQL context of the case table: customers aliased ``c``, membership tables."""
    return SqlContext(
        fields=table.fields,
        as_of=table.as_of,
        table="c",
        segment_sql=membership_sql("segment_members", "segment"),
        list_sql=membership_sql("list_members", "list"),
    )


def memberships(table: CaseTable) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    segs = [(name, cid) for name, ids in table.segments.items() for cid in sorted(ids)]
    lists = [(name, cid) for name, ids in table.lists.items() for cid in sorted(ids)]
    return segs, lists


def create_sql(types: Mapping[FieldType, str], table: CaseTable, temp: bool) -> list[str]:
    """DDL for the customers table and the two membership tables."""
    kind = "TEMP TABLE" if temp else "TABLE"
    id_type = types[FieldType.TEXT]
    cols = ", ".join([f"id {id_type}", *(f"{n} {types[t]}" for n, t in table.fields.items())])
    return [
        f"CREATE {kind} customers ({cols})",
        f"CREATE {kind} segment_members (segment {id_type}, customer_id {id_type})",
        f'CREATE {kind} list_members ("list" {id_type}, customer_id {id_type})',
    ]


class Backend:
    """Runs a rule and returns the selected customer ids."""

    name = ""

    def select(self, rule: str) -> set[str]:
        raise NotImplementedError


class PythonBackend(Backend):
    name = "python"

    def __init__(self, table: CaseTable) -> None:
        self.table = table
        self.ctx = PyContext(
            as_of=table.as_of,
            in_segment=lambda name, row: row["id"] in table.segments[name],
            on_list=lambda name, row: row["id"] in table.lists[name],
        )

    def select(self, rule: str) -> set[str]:
        checked = compile_rule(rule, self.table.fields)
        keep = checked.predicate(self.ctx)
        return {row["id"] for row in self.table.customers if keep(row)}


class SqlBackend(Backend):
    """Shared by the SQL backends: compile, run ``SELECT c.id ... WHERE <rule>``."""

    dialect = ""

    def __init__(self, table: CaseTable, execute: Callable[[str], list[tuple[Any, ...]]]):
        self.table = table
        self.ctx = sql_context(table)
        self.execute = execute
        self.name = self.dialect

    def select(self, rule: str) -> set[str]:
        checked = compile_rule(rule, self.table.fields)
        condition = to_sql(checked.ast, self.ctx, self.dialect)
        rows = self.execute(f"SELECT c.id FROM customers AS c WHERE {condition}")
        return {r[0] for r in rows}


class SqliteBackend(SqlBackend):
    dialect = "sqlite"


class DuckdbBackend(SqlBackend):
    dialect = "duckdb"


class PostgresBackend(SqlBackend):
    dialect = "postgres"


@pytest.fixture(scope="module")
def sqlite_backend() -> Iterator[Backend]:
    conn = sqlite3.connect(":memory:")
    for ddl in create_sql(SQLITE_TYPES, TABLE, temp=False):
        conn.execute(ddl)
    marks = ", ".join("?" for _ in COLUMNS)
    conn.executemany(
        f"INSERT INTO customers VALUES ({marks})",
        [[sqlite_value(c[k]) for k in COLUMNS] for c in TABLE.customers],
    )
    segs, lists = memberships(TABLE)
    conn.executemany("INSERT INTO segment_members VALUES (?, ?)", segs)
    conn.executemany("INSERT INTO list_members VALUES (?, ?)", lists)
    yield SqliteBackend(TABLE, lambda sql: conn.execute(sql).fetchall())
    conn.close()


@pytest.fixture(scope="module")
def duckdb_backend() -> Iterator[Backend]:
    conn = duckdb.connect(":memory:")
    for ddl in create_sql(TYPED_SQL, TABLE, temp=False):
        conn.execute(ddl)
    marks = ", ".join("?" for _ in COLUMNS)
    conn.executemany(
        f"INSERT INTO customers VALUES ({marks})",
        [[c[k] for k in COLUMNS] for c in TABLE.customers],
    )
    segs, lists = memberships(TABLE)
    conn.executemany("INSERT INTO segment_members VALUES (?, ?)", segs)
    conn.executemany("INSERT INTO list_members VALUES (?, ?)", lists)
    yield DuckdbBackend(TABLE, lambda sql: conn.execute(sql).fetchall())
    conn.close()


def pg_connect() -> Any:
    """A PostgreSQL connection, or skip (fail under CI=true) when there is none."""
    try:
        import psycopg

        return psycopg.connect(PG_URL, connect_timeout=5, autocommit=True)
    except Exception as err:  # any connection problem means "no PostgreSQL here"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {err}")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {err}")


@pytest.fixture(scope="module")
def postgres_backend() -> Iterator[Backend]:
    conn = pg_connect()
    with conn.cursor() as cur:
        # TEMP tables live in this session's own schema: no clash with other test runs.
        for ddl in create_sql(TYPED_SQL, TABLE, temp=True):
            cur.execute(ddl)
        marks = ", ".join("%s" for _ in COLUMNS)
        cur.executemany(
            f"INSERT INTO customers VALUES ({marks})",
            [[c[k] for k in COLUMNS] for c in TABLE.customers],
        )
        segs, lists = memberships(TABLE)
        cur.executemany("INSERT INTO segment_members VALUES (%s, %s)", segs)
        cur.executemany("INSERT INTO list_members VALUES (%s, %s)", lists)

    def execute(sql: str) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    yield PostgresBackend(TABLE, execute)
    conn.close()


BACKENDS = ["python", "sqlite", "duckdb", "postgres"]
RULE_IDS = [f"{i:03d}" for i in range(len(TABLE.rules))]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "python":
        return PythonBackend(TABLE)
    result: Backend = request.getfixturevalue(f"{request.param}_backend")
    return result


@pytest.mark.parametrize(("note", "rule", "expected"), TABLE.rules, ids=RULE_IDS)
def test_case_table(backend: Backend, note: str, rule: str, expected: set[str]) -> None:
    got = backend.select(rule)
    assert got == expected, (
        f"{backend.name}: rule {rule!r} ({note}) selected {sorted(got)}, "
        f"expected {sorted(expected)}; missing {sorted(expected - got)}, "
        f"extra {sorted(got - expected)}"
    )


def test_case_table_is_big_enough() -> None:
    assert len(TABLE.rules) >= 60
    assert len(TABLE.customers) == 12


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_rule_compiles_and_reparses(dialect: str) -> None:
    """The SQL of every rule is valid for sqlglot's own parser of the dialect (Spark too,
    which may not be installed here to run it)."""
    import sqlglot

    ctx = sql_context(TABLE)
    for _, rule, _ in TABLE.rules:
        sql = to_sql(compile_rule(rule, TABLE.fields).ast, ctx, dialect)
        parsed = sqlglot.parse_one(f"SELECT 1 FROM customers AS c WHERE {sql}", read=dialect)
        assert parsed is not None


# -- contexts and values ---------------------------------------------------------------


def test_sql_context_without_membership_reports_the_call_position() -> None:
    ctx = SqlContext(fields=TABLE.fields, as_of=TABLE.as_of)
    tree = compile_rule("age > 1 and\n  in_segment('loyal')", TABLE.fields).ast
    with pytest.raises(RuleError) as info:
        to_sql(tree, ctx, "sqlite")
    p = info.value.problems[0]
    assert p.message == "in_segment() is not available here"
    assert (p.line, p.col) == (2, 3)


def test_event_attributes_are_not_columns() -> None:
    fields = {"amount": FieldType.FLOAT}
    ctx = SqlContext(fields=TABLE.fields, as_of=TABLE.as_of, event_fields=fields)
    tree = compile_rule("event.amount > 10", TABLE.fields, event_fields=fields).ast
    with pytest.raises(RuleError, match=r"event attribute 'event\.amount' is not available"):
        to_sql(tree, ctx, "duckdb")


def test_python_reads_event_attributes() -> None:
    fields = {"amount": FieldType.FLOAT}
    rule = compile_rule("event.amount > 10 and age > 1", TABLE.fields, event_fields=fields)
    keep = rule.predicate(PyContext(as_of=TABLE.as_of))
    assert keep({"age": 2, "event": {"amount": 10.5}})
    assert not keep({"age": 2, "event": {"amount": 9.5}})
    assert not keep({"age": 2})


def test_python_without_membership_lookup() -> None:
    tree = compile_rule("on_list('vip')", TABLE.fields).ast
    with pytest.raises(RuleError, match=r"on_list\(\) is not available here"):
        to_python(tree, PyContext(as_of=TABLE.as_of))


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("7 / 2", 3.5),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("-7.5 % 2", -1.5),
        ("7.5 % -2", 1.5),
        ("1 / 0", None),
        ("1.5 % 0", None),
        ("abs(-2.5)", 2.5),
        ("coalesce(null, 3)", 3),
        ("days_since('2024-06-01 23:59:59')", 29),
        ("days_until(date('2024-07-01'))", 1),
        ("year(today()) * 100 + month(today())", 202406),
        ("length(upper('abÉ'))", 3),
    ],
)
def test_values_agree_everywhere(
    source: str, value: Any, sqlite_backend: Backend, duckdb_backend: Backend
) -> None:
    """Python, SQLite and DuckDB compute the same value for a constant expression."""
    tree = compile_rule(source, TABLE.fields, expect=None).ast
    assert to_python(tree, PyContext(as_of=TABLE.as_of))({}) == value
    for backend in (sqlite_backend, duckdb_backend):
        assert isinstance(backend, SqlBackend)
        sql = to_sql(tree, backend.ctx, backend.dialect)
        got = backend.execute(f"SELECT {sql}")[0][0]
        assert got == value, (backend.dialect, sql, got)


def test_upper_and_lower_change_ascii_letters_only() -> None:
    tree = compile_rule("upper('abé') = 'ABé'", TABLE.fields).ast
    assert to_python(tree, PyContext(as_of=TABLE.as_of))({}) is True


def test_unknown_dialect() -> None:
    tree = compile_rule("age > 1", TABLE.fields).ast
    with pytest.raises(ValueError, match="unknown SQL dialect 'oracle'"):
        to_sql(tree, sql_context(TABLE), "oracle")
    assert to_sql(tree, sql_context(TABLE), "postgresql") == to_sql(
        tree, sql_context(TABLE), "postgres"
    )


def test_nested_float_remainders_are_bounded() -> None:
    source = "balance" + " % 1.5" * 14 + " > 0"
    tree = compile_rule(source, TABLE.fields).ast
    with pytest.raises(RuleError, match="too complex to compile to SQL"):
        to_sql(tree, sql_context(TABLE), "sqlite")


def test_float_literals_are_exact_on_sqlite(sqlite_backend: Backend) -> None:
    """SQLite's own decimal parser is not always correctly rounded: literals that are not
    short binary fractions are built exactly instead."""
    assert isinstance(sqlite_backend, SqlBackend)
    for value in (1.1, 0.1, 3.628024469423641e-26, 123456.789, 2.91e-11, 1e22, 0.5):
        tree = Literal(value, FieldType.FLOAT)
        sql = to_sql(tree, sqlite_backend.ctx, "sqlite")
        assert sqlite_backend.execute(f"SELECT {sql}")[0][0] == value, sql
