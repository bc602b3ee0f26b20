"""One call from rule source to a checked rule: parse, type-check, check the result type."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from tactica.domain.schema import FieldType
from tactica.errors import RuleError

from .ast import Expr, start_pos
from .parser import parse
from .to_python import PyContext, predicate, to_python
from .to_sql import SqlContext, to_sql, to_sql_condition
from .tokens import problem
from .types import analyse, describe_type


@dataclass(frozen=True)
class CheckedRule:
    """A rule that parsed and type-checked.

    ``ast`` is the checked tree (string dates already parsed, nulls typed), ready for
    :func:`to_sql`/:func:`to_python`; ``type`` its type; ``fields``, ``segments`` and
    ``lists`` the customer fields, segments and lists it refers to (``event_fields`` the
    event attributes, for real-time triggers).
    """

    source: str
    ast: Expr
    type: FieldType
    fields: frozenset[str]
    segments: frozenset[str]
    lists: frozenset[str]
    event_fields: frozenset[str] = frozenset()

    def sql(self, ctx: SqlContext, dialect: str) -> str:
        """SQL text of the rule for ``dialect``."""
        return to_sql(self.ast, ctx, dialect)

    def sql_condition(self, ctx: SqlContext, dialect: str) -> exp.Expression:
        """The rule as a sqlglot expression for ``dialect``, to embed in a larger query."""
        return to_sql_condition(self.ast, ctx, dialect)

    def evaluator(self, ctx: PyContext) -> Callable[[Mapping[str, Any]], Any]:
        """Python function from a row to the rule's value (None for null)."""
        return to_python(self.ast, ctx)

    def predicate(self, ctx: PyContext) -> Callable[[Mapping[str, Any]], bool]:
        """Python row filter: True only where the rule is true."""
        return predicate(self.ast, ctx)


def _expectation(expect: FieldType) -> str:
    if expect is FieldType.BOOL:
        return "this rule must be a condition (bool)"
    if expect.is_numeric:
        return "a score must be a number"
    return f"this rule must be {describe_type(expect)}"


def compile_rule(
    source: str,
    fields: Mapping[str, FieldType],
    *,
    segments: Collection[str] | None = None,
    lists: Collection[str] | None = None,
    event_fields: Mapping[str, FieldType] | None = None,
    expect: FieldType | None = FieldType.BOOL,
) -> CheckedRule:
    """Parse and type-check ``source``; raise :class:`RuleError` on any problem.

    ``expect`` is the type the rule must have: BOOL for segments, eligibility rules and
    triggers; FLOAT (or INT) for scores, where any number is accepted; None for any type.
    ``segments`` / ``lists``, when given, are the names the rule may refer to.
    """
    tree = parse(source)
    analysis = analyse(
        tree,
        fields,
        segments=segments,
        lists=lists,
        event_fields=event_fields,
        source=source,
    )
    ty = analysis.type
    if expect is not None:
        ok = (
            ty.is_numeric
            if expect.is_numeric
            else (ty.is_textual if expect.is_textual else ty is expect)
        )
        if not ok:
            line, col = start_pos(tree)
            message = f"{_expectation(expect)}, this is {describe_type(ty)}"
            raise RuleError([problem(source, message, line, col)], source)
    return CheckedRule(
        source=source,
        ast=analysis.expr,
        type=ty,
        fields=analysis.fields,
        segments=analysis.segments,
        lists=analysis.lists,
        event_fields=analysis.event_fields,
    )
