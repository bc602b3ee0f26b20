"""Compile a checked rule to a Python callable over one customer row.

The callable is built from closures, one per node; no source text is generated and
nothing is evaluated. It follows SQL semantics exactly as :mod:`.to_sql` emits them, so a
rule selects the same customers in memory and in every database:

* null (``None``) propagates through arithmetic, comparisons and functions; ``and``/``or``
  /``not`` use three-valued (Kleene) logic; ``x in (...)`` is null when ``x`` is null, or
  when nothing matches and the list holds a null; ``between`` is inclusive;
* ``/`` is true division on floats; ``/`` and ``%`` by zero give null; ``%`` is the
  truncated remainder (sign of the dividend); on floats it is ``a - b * trunc(a / b)``;
* ``like`` folds ASCII letters only (``A``-``Z``) on both sides, ``%`` matches any text
  and ``_`` one character; ``lower``/``upper`` also change ASCII letters only;
* ``days_since(x)`` is ``as_of - date part of x`` in whole days.

Rows map field names to ``int``, ``float``, ``str``, ``bool``, ``datetime.date``,
``datetime.datetime`` or ``None``; a missing key reads as null. ``event.x`` reads
``row["event"]["x"]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tactica.domain.schema import FieldType
from tactica.errors import RuleError, RuleProblem

from .ast import Between, Binary, Call, Expr, In, IsNull, Like, Literal, Name, Not, Unary
from .types import EVENT_PREFIX, analyse

Row = Mapping[str, Any]
#: A compiled rule: row in, value out (None for null).
Evaluator = Callable[[Row], Any]
#: Membership lookup: (segment or list name, row) -> True, False or None (unknown).
Membership = Callable[[str, Row], bool | None]

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


@dataclass(frozen=True)
class PyContext:
    """What a compiled rule needs besides the row.

    ``as_of`` is the date ``today()`` and ``days_since()`` count from. ``in_segment`` and
    ``on_list`` answer membership; a rule using them without a lookup fails to compile.
    When ``fields`` is given the rule is type-checked first (so a raw parsed tree can be
    passed); otherwise it must already be checked (e.g. ``CheckedRule.ast``).
    """

    as_of: dt.date
    in_segment: Membership | None = None
    on_list: Membership | None = None
    fields: Mapping[str, FieldType] | None = None
    event_fields: Mapping[str, FieldType] | None = None


def ascii_lower(text: str) -> str:
    """``text`` with A-Z turned into a-z and every other character left alone."""
    return text.translate(_ASCII_LOWER)


def ascii_upper(text: str) -> str:
    """``text`` with a-z turned into A-Z and every other character left alone."""
    return text.translate(_ASCII_UPPER)


@functools.lru_cache(maxsize=1024)
def like_regex(pattern: str) -> re.Pattern[str]:
    """Regular expression for a ``like`` pattern (already ASCII-folded by the caller)."""
    parts = []
    for ch in pattern:
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def like(value: str, pattern: str) -> bool:
    """SQL ``LOWER(value) LIKE LOWER(pattern)`` with ASCII-only folding and no escape."""
    return like_regex(ascii_lower(pattern)).fullmatch(ascii_lower(value)) is not None


def sql_mod(a: int | float, b: int | float) -> int | float | None:
    """``a % b`` as the rule language defines it: null when ``b`` is zero, sign of ``a``.

    Integers use the exact truncated remainder; floats ``a - b * trunc(a / b)``, the very
    formula the SQL backends evaluate (PostgreSQL has no float ``%``).
    """
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            return None
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    fa, fb = float(a), float(b)
    if fb == 0:
        return None
    return fa - fb * math.trunc(fa / fb)


def sql_div(a: int | float, b: int | float) -> float | None:
    """``a / b`` on floats; null when ``b`` is zero."""
    fb = float(b)
    if fb == 0:
        return None
    return float(a) / fb


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    """SQL ``AND``: false wins, then null."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def kleene_or(a: bool | None, b: bool | None) -> bool | None:
    """SQL ``OR``: true wins, then null."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _date_part(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": sql_div,
    "%": sql_mod,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_UNARY_FUNCS: dict[str, Callable[[Any], Any]] = {
    "year": lambda v: v.year,
    "month": lambda v: v.month,
    "day": lambda v: v.day,
    "date": _date_part,
    "lower": ascii_lower,
    "upper": ascii_upper,
    "length": len,
    "abs": abs,
}


class _Compiler:
    def __init__(self, ctx: PyContext) -> None:
        self.ctx = ctx

    def compile(self, node: Expr) -> Evaluator:
        match node:
            case Literal(value=value):
                return lambda row: value
            case Name(name=name):
                return self.name(name)
            case Unary(operand=operand):
                inner = self.compile(operand)

                def negate(row: Row) -> Any:
                    v = inner(row)
                    return None if v is None else -v

                return negate
            case Not(operand=operand):
                inner = self.compile(operand)

                def not_(row: Row) -> Any:
                    v = inner(row)
                    return None if v is None else not v

                return not_
            case Binary(op="and", left=left, right=right):
                lf, rf = self.compile(left), self.compile(right)

                def and_(row: Row) -> bool | None:
                    a = lf(row)
                    if a is False:  # short cut: nothing raises, so order is invisible
                        return False
                    return kleene_and(a, rf(row))

                return and_
            case Binary(op="or", left=left, right=right):
                lf, rf = self.compile(left), self.compile(right)

                def or_(row: Row) -> bool | None:
                    a = lf(row)
                    if a is True:
                        return True
                    return kleene_or(a, rf(row))

                return or_
            case Binary(op=op, left=left, right=right):
                lf, rf, fn = self.compile(left), self.compile(right), _BINARY[op]

                def binary(row: Row) -> Any:
                    a = lf(row)
                    if a is None:
                        return None
                    b = rf(row)
                    if b is None:
                        return None
                    return fn(a, b)

                return binary
            case In():
                return self.in_(node)
            case Between():
                return self.between(node)
            case IsNull(expr=expr, negated=negated):
                inner = self.compile(expr)
                return lambda row: (inner(row) is None) != negated
            case Like():
                return self.like(node)
            case Call():
                return self.call(node)

    def name(self, name: str) -> Evaluator:
        if name.startswith(EVENT_PREFIX):
            attr = name[len(EVENT_PREFIX) :]

            def event_attr(row: Row) -> Any:
                event = row.get("event")
                return None if event is None else event.get(attr)

            return event_attr
        return lambda row: row.get(name)

    def in_(self, node: In) -> Evaluator:
        value = self.compile(node.expr)
        items = [self.compile(i) for i in node.items]
        negated = node.negated

        def in_list(row: Row) -> bool | None:
            x = value(row)
            if x is None:
                return None
            saw_null = False
            for item in items:
                v = item(row)
                if v is None:
                    saw_null = True
                elif v == x:
                    return not negated
            return None if saw_null else negated

        return in_list

    def between(self, node: Between) -> Evaluator:
        value, low, high = (self.compile(n) for n in (node.expr, node.low, node.high))
        negated = node.negated

        def between(row: Row) -> bool | None:
            x, lo, hi = value(row), low(row), high(row)
            ge = None if x is None or lo is None else x >= lo
            le = None if x is None or hi is None else x <= hi
            result = kleene_and(ge, le)
            return None if result is None else result != negated

        return between

    def like(self, node: Like) -> Evaluator:
        value = self.compile(node.expr)
        negated = node.negated
        if isinstance(node.pattern, Literal) and isinstance(node.pattern.value, str):
            regex = like_regex(ascii_lower(node.pattern.value))

            def like_literal(row: Row) -> bool | None:
                v = value(row)
                if v is None:
                    return None
                return (regex.fullmatch(ascii_lower(v)) is not None) != negated

            return like_literal
        pattern = self.compile(node.pattern)

        def like_expr(row: Row) -> bool | None:
            v, p = value(row), pattern(row)
            if v is None or p is None:
                return None
            return like(v, p) != negated

        return like_expr

    def call(self, node: Call) -> Evaluator:
        func = node.func
        as_of = self.ctx.as_of
        if func in ("in_segment", "on_list"):
            return self.membership(node)
        if func == "today":
            return lambda row: as_of
        if func == "coalesce":
            args = [self.compile(a) for a in node.args]

            def coalesce(row: Row) -> Any:
                for arg in args:
                    v = arg(row)
                    if v is not None:
                        return v
                return None

            return coalesce
        inner = self.compile(node.args[0])
        if func == "days_since":

            def days_since(row: Row) -> int | None:
                v = inner(row)
                return None if v is None else (as_of - _date_part(v)).days

            return days_since
        if func == "days_until":

            def days_until(row: Row) -> int | None:
                v = inner(row)
                return None if v is None else (_date_part(v) - as_of).days

            return days_until
        fn = _UNARY_FUNCS[func]

        def unary_call(row: Row) -> Any:
            v = inner(row)
            return None if v is None else fn(v)

        return unary_call

    def membership(self, node: Call) -> Evaluator:
        lookup = self.ctx.in_segment if node.func == "in_segment" else self.ctx.on_list
        arg = node.args[0]
        assert isinstance(arg, Literal) and isinstance(arg.value, str)
        name = arg.value
        if lookup is None:
            line, col = node.pos
            raise RuleError(
                [
                    RuleProblem(
                        f"{node.func}() is not available here: no lookup was given", line, col
                    )
                ]
            )
        return lambda row: lookup(name, row)


def to_python(expr: Expr, ctx: PyContext) -> Evaluator:
    """Compile rule ``expr`` to a function from a row to the rule's value (None for null)."""
    if ctx.fields is not None:
        expr = analyse(expr, ctx.fields, event_fields=ctx.event_fields).expr
    return _Compiler(ctx).compile(expr)


def predicate(expr: Expr, ctx: PyContext) -> Callable[[Row], bool]:
    """Compile a condition to a row filter: True only when the rule is true (null is not).

    This is what a SQL ``WHERE`` does with the same rule.
    """
    evaluate = to_python(expr, ctx)
    return lambda row: evaluate(row) is True
