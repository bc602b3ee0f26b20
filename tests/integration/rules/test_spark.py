"""The case table on Spark (PySpark, local[1]): every rule selects the expected customers.

Skipped when ``pyspark`` is not installed (it is not a dependency of Tactica; the Spark SQL
of every rule is still checked to be valid Spark syntax by ``test_backends.py``).
Timestamps are handed to Spark as UTC and the session time zone is UTC, so Spark's
time-zone-aware TIMESTAMP behaves as the naive timestamps of the other backends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot import exp

from tactica.domain.rules import SqlContext, compile_rule, to_sql
from tactica.domain.rules.types import parse_date_literal, parse_timestamp_literal
from tactica.domain.schema import FieldType

pyspark = pytest.importorskip(
    "pyspark", reason="pyspark is not installed: Spark execution of the case table is skipped"
)

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "rules" / "cases.yaml"
DATA = yaml.safe_load(CASES.read_text(encoding="utf-8"))
FIELDS = {name: FieldType(t) for name, t in DATA["fields"].items()}
AS_OF = dt.date.fromisoformat(DATA["as_of"])
RULES = [(r["note"], r["rule"], set(r["expect"])) for r in DATA["rules"]]


def spark_value(t: FieldType, raw: Any) -> Any:
    if raw is None:
        return None
    if t is FieldType.DATE:
        return parse_date_literal(raw)
    if t is FieldType.TIMESTAMP:
        value = parse_timestamp_literal(raw)
        assert value is not None
        return value.replace(tzinfo=dt.UTC)
    if t is FieldType.FLOAT:
        return float(raw)
    return raw


def membership(kind: str) -> Any:
    """Membership as ``c.id IN (...)``: Spark allows predicate subqueries only in filters,
    and all rules are evaluated in one projection (see ``spark_results``). The store's
    subquery form is exercised on the other backends by ``test_backends.py``."""

    def build(name: str) -> exp.Expression:
        ids = sorted(DATA[kind][name])
        return exp.In(this=exp.column("id", "c"), expressions=[exp.Literal.string(i) for i in ids])

    return build


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T

    try:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("tactica-rules")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .getOrCreate()
        )
    except Exception as err:  # no Java, no network: Spark cannot run here
        pytest.skip(f"a local Spark session cannot start: {err}")
    spark_types = {
        FieldType.INT: T.LongType(),
        FieldType.FLOAT: T.DoubleType(),
        FieldType.TEXT: T.StringType(),
        FieldType.CATEGORY: T.StringType(),
        FieldType.BOOL: T.BooleanType(),
        FieldType.DATE: T.DateType(),
        FieldType.TIMESTAMP: T.TimestampType(),
    }
    schema = T.StructType(
        [
            T.StructField("id", T.StringType(), False),
            *(T.StructField(n, spark_types[t], True) for n, t in FIELDS.items()),
        ]
    )
    rows = [
        tuple([c["id"], *(spark_value(t, c.get(n)) for n, t in FIELDS.items())])
        for c in DATA["customers"]
    ]
    session.createDataFrame(rows, schema).createOrReplaceTempView("customers")
    yield session
    session.stop()


CTX = SqlContext(
    fields=FIELDS,
    as_of=AS_OF,
    table="c",
    segment_sql=membership("segments"),
    list_sql=membership("lists"),
)


def condition(rule: str) -> str:
    return to_sql(compile_rule(rule, FIELDS).ast, CTX, "spark")


@pytest.fixture(scope="module")
def spark_results(spark: Any) -> dict[int, set[str] | Exception]:
    """Ids selected by every rule, from one query with one column per rule (each Spark
    job costs a fraction of a second). Rule by rule only if that query fails, so that
    the failure is reported against its own rule."""
    conditions = [condition(rule) for _, rule, _ in RULES]
    columns = ", ".join(f"({cond}) AS r{k}" for k, cond in enumerate(conditions))
    try:
        rows = spark.sql(f"SELECT c.id, {columns} FROM customers AS c").collect()
    except Exception:  # find out which rule Spark rejects
        results: dict[int, set[str] | Exception] = {}
        for k, cond in enumerate(conditions):
            try:
                query = f"SELECT c.id FROM customers AS c WHERE {cond}"
                results[k] = {row["id"] for row in spark.sql(query).collect()}
            except Exception as err:
                results[k] = err
        return results
    # As in a WHERE clause, only true selects: null and false do not.
    return {k: {row["id"] for row in rows if row[f"r{k}"] is True} for k in range(len(conditions))}


@pytest.mark.parametrize(
    ("index", "note", "rule", "expected"),
    [(k, *case) for k, case in enumerate(RULES)],
    ids=[f"{i:03d}" for i in range(len(RULES))],
)
def test_case_table_on_spark(
    spark_results: dict[int, set[str] | Exception],
    index: int,
    note: str,
    rule: str,
    expected: set[str],
) -> None:
    got = spark_results[index]
    if isinstance(got, Exception):
        pytest.fail(f"spark rejected {rule!r} ({note}): {got}")
    assert got == expected, f"spark: {rule!r} ({note}): {sorted(got)} != {sorted(expected)}"
