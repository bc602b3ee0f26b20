"""How campaign rules see segments and special lists inside the engine's DuckDB.

A dynamic segment is its rule, inlined (segments may use segments; loops are refused
when a segment is saved, and again here). A static segment and a special list are
rows of the ``members`` input (customer_id, kind ``segment`` or ``list``, name),
registered in DuckDB as ``in_members``; a rule that names one becomes a semi-join
against it. Nothing is read from the store here: the caller hands everything over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pyarrow as pa
from sqlglot import exp

from tactica.domain.rules import SqlContext, compile_rule
from tactica.domain.schema import FieldType
from tactica.errors import InvalidInput

#: Arrow schema of the membership input.
MEMBERS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("kind", pa.string()), ("name", pa.string())]
)
#: The DuckDB name the membership input is registered under.
MEMBERS_TABLE = "in_members"


def _member_of(table: str, kind: str, name: str) -> exp.Expression:
    sub = (
        exp.select("customer_id")
        .from_(MEMBERS_TABLE)
        .where(exp.column("kind").eq(exp.Literal.string(kind)))
        .where(exp.column("name").eq(exp.Literal.string(name)))
    )
    return exp.column("id", table=table).isin(query=sub)


def rule_context(
    fields: Mapping[str, FieldType],
    as_of: date,
    table: str,
    segment_rules: Mapping[str, str],
) -> SqlContext:
    """A DuckDB :class:`SqlContext` over customer rows ``table`` that resolves segments.

    ``segment_rules`` maps each dynamic segment to its rule; any other segment name is
    static and read from ``in_members`` (kind ``segment``); lists from ``in_members``
    (kind ``list``).
    """
    stack: list[str] = []

    def segment(name: str) -> exp.Expression:
        rule = segment_rules.get(name)
        if rule is None:
            return _member_of(table, "segment", name)
        if name in stack:
            chain = " → ".join([*stack, name])
            raise InvalidInput(f"segments refer to each other in a loop: {chain}", "in_segment")
        stack.append(name)
        try:
            checked = compile_rule(rule, fields)
            return exp.paren(checked.sql_condition(ctx, "duckdb"))
        finally:
            stack.pop()

    ctx = SqlContext(
        fields=fields,
        as_of=as_of,
        table=table,
        segment_sql=segment,
        list_sql=lambda name: _member_of(table, "list", name),
    )
    return ctx
