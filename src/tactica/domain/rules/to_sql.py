"""Compile a rule to a SQL condition for SQLite, DuckDB, PostgreSQL and Spark.

The condition is built as :mod:`sqlglot` nodes and printed per dialect. sqlglot's
transpilation is *not* trusted for anything whose meaning differs between backends:
such constructs are emitted per dialect here (mostly as ``exp.Anonymous`` calls), and
the printer raises instead of silently dropping anything it cannot express.

Semantics are identical on every dialect and equal to :mod:`.to_python`:

* three-valued logic as SQL has it; ``between`` inclusive; ``in`` with SQL null rules;
* ``/`` casts both sides to double and divides by ``NULLIF(divisor, 0)``: float result,
  null on division by zero, never integer division;
* ``%`` on integers is the backend's truncated remainder (sign of the dividend) with
  ``NULLIF(divisor, 0)``; on floats it is ``a - b * trunc(a / b)`` (PostgreSQL has no
  float ``%`` and SQLite's ``%`` truncates its operands to integers);
* ``like`` compares ASCII-lower-cased text with an ASCII-lower-cased pattern; ``%`` and
  ``_`` are the only special characters (PostgreSQL gets ``ESCAPE ''``; Spark, whose
  default escape is ``\\``, gets backslashes doubled). ASCII-only folding is what
  SQLite's ``LOWER`` does; elsewhere ``TRANSLATE`` gives exactly that;
* text ordering is by code point: PostgreSQL comparisons get ``COLLATE "C"`` (its
  default collation may be a locale one); the others compare bytes already;
* float literals are exact doubles: ``CAST('1.1' AS DOUBLE)`` where the backend parses
  text correctly, and on SQLite (whose literal parser is not always correctly rounded) an
  exact ``mantissa / 2^k`` unless the value is a simple binary fraction.

SQLite storage conventions (SQLAlchemy defaults): dates are ``'YYYY-MM-DD'`` text,
timestamps ``'YYYY-MM-DD HH:MM:SS.ffffff'`` text (always six fraction digits), booleans
the integers 0/1; literals are emitted the same way and dates are compared as text.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from tactica.domain.schema import FieldType
from tactica.errors import RuleError, RuleProblem

from .ast import (
    ARITHMETIC_OPS,
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
    Unary,
    children,
    start_pos,
)
from .to_python import ascii_lower
from .types import EVENT_PREFIX, Analysis, analyse

#: Dialects a rule compiles to (sqlglot dialect names).
DIALECTS = ("sqlite", "duckdb", "postgres", "spark")
_ALIASES = {"postgresql": "postgres", "pg": "postgres", "pyspark": "spark"}

_SQL_TYPES = {
    FieldType.INT: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.TEXT: "TEXT",
    FieldType.CATEGORY: "TEXT",
    FieldType.BOOL: "BOOLEAN",
    FieldType.DATE: "DATE",
    FieldType.TIMESTAMP: "TIMESTAMP",
}

_COMPARISONS: dict[str, type[exp.Expression]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
_ARITHMETIC: dict[str, type[exp.Expression]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}


def _unavailable(what: str) -> RuleError:
    # Line 0: the compiler puts the position of the call in before it reaches the user.
    return RuleError([RuleProblem(f"{what} is not available here", 0, 0)])


@dataclass(frozen=True)
class SqlContext:
    """How a rule's names become SQL, and the as-of date.

    ``column(name)`` references a customer field: by default the quoted column ``name``,
    qualified by ``table`` when given. ``in_segment(name)`` and ``on_list(name)`` return
    boolean conditions; by default they call ``segment_sql``/``list_sql`` and, when
    those are not given, fail with a :class:`RuleError`. Subclass and override the
    methods for anything else (the store builds membership as subqueries).
    ``fields`` (built-ins added) and ``event_fields`` are used to type-check the rule.
    """

    fields: Mapping[str, FieldType]
    as_of: dt.date
    table: str | None = None
    segment_sql: Callable[[str], exp.Expression] | None = None
    list_sql: Callable[[str], exp.Expression] | None = None
    event_fields: Mapping[str, FieldType] | None = None

    def column(self, name: str) -> exp.Expression:
        """SQL for customer field ``name`` (``event.x`` is not in the customer table)."""
        if name.startswith(EVENT_PREFIX):
            raise _unavailable(f"event attribute '{name}'")
        return exp.column(name, table=self.table, quoted=True)

    def in_segment(self, name: str) -> exp.Expression:
        """Boolean SQL condition: the customer is in segment ``name``."""
        if self.segment_sql is None:
            raise _unavailable("in_segment()")
        return self.segment_sql(name)

    def on_list(self, name: str) -> exp.Expression:
        """Boolean SQL condition: the customer is on list ``name``."""
        if self.list_sql is None:
            raise _unavailable("on_list()")
        return self.list_sql(name)


def _dialect(dialect: str) -> str:
    d = _ALIASES.get(dialect.lower(), dialect.lower())
    if d not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    return d


# Nodes printed as one unbreakable unit. Listed explicitly: sqlglot's ``exp.Func`` is no
# guide (``And``, ``Or`` and ``Collate`` are Func subclasses).
_ATOMIC = (
    exp.Column,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Paren,
    exp.Cast,
    exp.Anonymous,
    exp.Nullif,
    exp.Extract,
)


def _p(e: exp.Expression) -> exp.Expression:
    """Parenthesise anything that is not atomic: sqlglot prints trees as built, without
    adding the parentheses operator precedence would need."""
    if isinstance(e, exp.Literal) and e.is_number and e.name.startswith("-"):
        return exp.Paren(this=e)
    if isinstance(e, _ATOMIC):
        return e
    return exp.Paren(this=e)


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _cast(e: exp.Expression, sql_type: str) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build(sql_type))


def _num(value: int) -> exp.Expression:
    return exp.Literal.number(str(value))


_UPPER = exp.Literal.string(string.ascii_uppercase)
_LOWER = exp.Literal.string(string.ascii_lowercase)
_POW62 = 2**62


class _SqlCompiler:
    def __init__(self, ctx: SqlContext, dialect: str, analysis: Analysis) -> None:
        self.ctx = ctx
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        self.analysis = analysis

    def type_of(self, node: Expr) -> FieldType:
        return self.analysis.type_of(node)

    # -- literals ----------------------------------------------------------------------

    def literal(self, node: Literal) -> exp.Expression:
        t, v = self.type_of(node), node.value
        if v is None:
            # Typed nulls: PostgreSQL cannot resolve e.g. ABS(NULL) otherwise.
            return exp.Null() if self.sqlite else _cast(exp.Null(), _SQL_TYPES[t])
        if t is FieldType.BOOL:
            if self.sqlite:
                return _num(1 if v else 0)
            return exp.Boolean(this=bool(v))
        if t is FieldType.INT:
            assert isinstance(v, int)
            return _p(_num(v))
        if t is FieldType.FLOAT:
            assert isinstance(v, int | float)
            return self.float_literal(float(v))
        if t is FieldType.TIMESTAMP:
            assert isinstance(v, dt.datetime)
            return self.temporal_literal(v.strftime("%Y-%m-%d %H:%M:%S.%f"), t)
        if t is FieldType.DATE:
            assert isinstance(v, dt.date)
            return self.temporal_literal(v.isoformat(), t)
        assert isinstance(v, str)
        return exp.Literal.string(v)

    def temporal_literal(self, text: str, t: FieldType) -> exp.Expression:
        if self.sqlite:
            return exp.Literal.string(text)
        return _cast(exp.Literal.string(text), _SQL_TYPES[t])

    def float_literal(self, v: float) -> exp.Expression:
        if not self.sqlite:
            # Text-to-double casts are correctly rounded on these backends; a bare 1.1
            # would be a DECIMAL/NUMERIC and make arithmetic exact-decimal there.
            return _cast(exp.Literal.string(repr(v)), "DOUBLE")
        n, d = v.as_integer_ratio()
        if d <= 1024 and abs(n) < 2**53:
            # A short binary fraction: its decimal form is parsed exactly by SQLite.
            return _p(exp.Literal.number(repr(v)))
        # Otherwise build the double exactly: integer mantissa times/divided by 2^k.
        frac, e = math.frexp(v)
        mantissa, k = int(math.ldexp(frac, 53)), e - 53
        out: exp.Expression = _cast(_num(mantissa), "DOUBLE")
        step = exp.Mul if k > 0 else exp.Div
        k = abs(k)
        while k > 0:
            chunk = min(k, 62)
            out = step(this=out, expression=_num(2**chunk))
            k -= chunk
        return exp.Paren(this=out)

    # -- nodes -------------------------------------------------------------------------

    def compile(self, node: Expr) -> exp.Expression:
        match node:
            case Literal():
                return self.literal(node)
            case Name(name=name):
                return self.guard(node, lambda: self.ctx.column(name))
            case Unary(operand=operand):
                return exp.Neg(this=_p(self.compile(operand)))
            case Not(operand=operand):
                return exp.Not(this=_p(self.compile(operand)))
            case Binary(op="and", left=left, right=right):
                return exp.And(this=_p(self.compile(left)), expression=_p(self.compile(right)))
            case Binary(op="or", left=left, right=right):
                return exp.Or(this=_p(self.compile(left)), expression=_p(self.compile(right)))
            case Binary(op=op) if op in ARITHMETIC_OPS:
                return self.arithmetic(node)
            case Binary():
                return self.comparison(node)
            case In(expr=e, items=items, negated=negated):
                cond: exp.Expression = exp.In(
                    this=_p(self.compile(e)), expressions=[self.compile(i) for i in items]
                )
                return exp.Not(this=exp.Paren(this=cond)) if negated else cond
            case Between(expr=e, low=low, high=high, negated=negated):
                cond = exp.Between(
                    this=self.ordered(e),
                    low=_p(self.compile(low)),
                    high=_p(self.compile(high)),
                )
                return exp.Not(this=exp.Paren(this=cond)) if negated else cond
            case IsNull(expr=e, negated=negated):
                cond = exp.Is(this=_p(self.compile(e)), expression=exp.Null())
                return exp.Not(this=exp.Paren(this=cond)) if negated else cond
            case Like():
                return self.like(node)
            case Call():
                return self.call(node)

    def guard(self, node: Expr, build: Callable[[], exp.Expression]) -> exp.Expression:
        """Run a context callback, giving its position-less errors the node's position."""
        try:
            return build()
        except RuleError as err:
            line, col = node.pos
            problems = [
                RuleProblem(p.message, line, col, p.snippet) if p.line == 0 else p
                for p in err.problems
            ]
            raise RuleError(problems, err.source) from err

    def ordered(self, node: Expr) -> exp.Expression:
        """Operand of an ordering comparison; text is compared by code point everywhere."""
        e = _p(self.compile(node))
        if self.dialect == "postgres" and self.type_of(node).is_textual:
            return exp.Collate(this=e, expression=exp.Identifier(this="C", quoted=True))
        return e

    def comparison(self, node: Binary) -> exp.Expression:
        equality = node.op in ("=", "!=")
        left = _p(self.compile(node.left)) if equality else self.ordered(node.left)
        return _COMPARISONS[node.op](this=left, expression=_p(self.compile(node.right)))

    def double(self, node: Expr) -> exp.Expression:
        """The operand as a double. SQLite values may be integers whatever the static type."""
        e = self.compile(node)
        if self.type_of(node) is FieldType.FLOAT and not self.sqlite:
            return _p(e)
        return _cast(e, "DOUBLE")

    def trunc(self, e: exp.Expression) -> exp.Expression:
        if self.dialect in ("postgres", "duckdb"):
            return _fn("TRUNC", e)
        # SQLite and Spark truncate toward zero when casting a double to an integer
        # (PostgreSQL and DuckDB round, hence TRUNC there).
        return _cast(e, "BIGINT")

    def arithmetic(self, node: Binary) -> exp.Expression:
        op = node.op
        if op == "/":
            return exp.Div(
                this=self.double(node.left),
                expression=exp.Nullif(this=self.double(node.right), expression=_num(0)),
            )
        if op == "%":
            if self.type_of(node) is FieldType.INT:
                return exp.Mod(
                    this=_p(self.compile(node.left)),
                    expression=exp.Nullif(this=self.compile(node.right), expression=_num(0)),
                )
            a, b = self.double(node.left), self.double(node.right)
            quotient = exp.Div(this=a, expression=exp.Nullif(this=b.copy(), expression=_num(0)))
            product = exp.Mul(this=b, expression=self.trunc(quotient))
            return exp.Sub(this=a.copy(), expression=exp.Paren(this=product))
        left, right = _p(self.compile(node.left)), _p(self.compile(node.right))
        return _ARITHMETIC[op](this=left, expression=right)

    def fold(self, e: exp.Expression) -> exp.Expression:
        """ASCII-only lower case (SQLite's LOWER is ASCII-only; elsewhere TRANSLATE)."""
        if self.sqlite:
            return _fn("LOWER", e)
        return _fn("TRANSLATE", e, _UPPER.copy(), _LOWER.copy())

    def like(self, node: Like) -> exp.Expression:
        value = self.fold(self.compile(node.expr))
        pattern_node = node.pattern
        pattern: exp.Expression
        if isinstance(pattern_node, Literal) and isinstance(pattern_node.value, str):
            text = ascii_lower(pattern_node.value)
            if self.dialect == "spark":
                text = text.replace("\\", "\\\\")
            pattern = exp.Literal.string(text)
        else:
            pattern = self.fold(self.compile(pattern_node))
            if self.dialect == "spark":
                pattern = _fn(
                    "REPLACE", pattern, exp.Literal.string("\\"), exp.Literal.string("\\\\")
                )
        cond: exp.Expression = exp.Like(this=value, expression=_p(pattern))
        if self.dialect == "postgres":
            # PostgreSQL's LIKE treats backslash as an escape unless told otherwise.
            cond = exp.Escape(this=cond, expression=exp.Literal.string(""))
        return exp.Not(this=exp.Paren(this=cond)) if node.negated else cond

    # -- functions ---------------------------------------------------------------------

    def as_of(self) -> exp.Expression:
        return self.temporal_literal(self.ctx.as_of.isoformat(), FieldType.DATE)

    def date_part(self, node: Expr) -> exp.Expression:
        """The date of a date or timestamp operand."""
        e = self.compile(node)
        if self.type_of(node) is FieldType.DATE:
            return e
        if self.sqlite:
            return _fn("SUBSTR", e, _num(1), _num(10))
        return _cast(e, "DATE")

    def day_difference(self, start: exp.Expression, end: exp.Expression) -> exp.Expression:
        """Whole days from date ``start`` to date ``end``."""
        if self.sqlite:
            diff = exp.Sub(this=_fn("JULIANDAY", end), expression=_fn("JULIANDAY", start))
            return _cast(diff, "BIGINT")
        if self.dialect == "postgres":
            return _cast(exp.Sub(this=_p(end), expression=_p(start)), "BIGINT")
        if self.dialect == "duckdb":
            return _fn("DATE_DIFF", exp.Literal.string("day"), start, end)
        return _fn("DATEDIFF", end, start)

    def date_field(self, node: Expr, part: str) -> exp.Expression:
        e = self.compile(node)
        if self.sqlite:
            start, length = {"YEAR": (1, 4), "MONTH": (6, 2), "DAY": (9, 2)}[part]
            return _cast(_fn("SUBSTR", e, _num(start), _num(length)), "BIGINT")
        if self.dialect == "postgres":
            # EXTRACT gives NUMERIC on PostgreSQL.
            return _cast(exp.Extract(this=exp.Var(this=part), expression=e), "BIGINT")
        name = "DAYOFMONTH" if part == "DAY" and self.dialect == "spark" else part
        return _fn(name, e)

    def call(self, node: Call) -> exp.Expression:
        func, args = node.func, node.args
        if func == "in_segment" or func == "on_list":
            arg = args[0]
            assert isinstance(arg, Literal) and isinstance(arg.value, str)
            name = arg.value
            lookup = self.ctx.in_segment if func == "in_segment" else self.ctx.on_list
            return exp.Paren(this=self.guard(node, lambda: lookup(name)))
        if func == "today":
            return self.as_of()
        if func == "days_since":
            return self.day_difference(self.date_part(args[0]), self.as_of())
        if func == "days_until":
            return self.day_difference(self.as_of(), self.date_part(args[0]))
        if func == "date":
            return self.date_part(args[0])
        if func in ("year", "month", "day"):
            return self.date_field(args[0], func.upper())
        if func in ("lower", "upper"):
            e = self.compile(args[0])
            if self.sqlite:
                return _fn(func.upper(), e)
            src, dst = (_UPPER, _LOWER) if func == "lower" else (_LOWER, _UPPER)
            return _fn("TRANSLATE", e, src.copy(), dst.copy())
        if func in ("length", "abs", "coalesce"):
            return _fn(func.upper(), *(self.compile(a) for a in args))
        raise AssertionError(f"unchecked function {func}")  # the checker rejects it


#: Largest SQL a rule may compile to, in (estimated) nodes. A float ``%`` repeats both of
#: its operands, so nested float ``%`` grows exponentially; this keeps that bounded.
MAX_SQL_NODES = 20_000


def _sql_size(node: Expr, analysis: Analysis) -> int:
    size = 1 + sum(_sql_size(child, analysis) for child in children(node))
    if isinstance(node, Binary) and node.op == "%" and analysis.type_of(node) is FieldType.FLOAT:
        size = 2 * size + 8
    return size


def to_sql_condition(expr: Expr, ctx: SqlContext, dialect: str) -> exp.Expression:
    """Compile rule ``expr`` to a sqlglot expression for ``dialect``.

    The tree holds dialect-specific nodes: print it with the same dialect. Raises
    :class:`RuleError` when the rule does not type-check against ``ctx.fields`` or uses
    something the context cannot provide; ``ValueError`` for an unknown dialect.
    """
    d = _dialect(dialect)
    analysis = analyse(expr, ctx.fields, event_fields=ctx.event_fields)
    if _sql_size(analysis.expr, analysis) > MAX_SQL_NODES:
        line, col = start_pos(expr)
        message = "rule is too complex to compile to SQL (nested '%' on floats repeat operands)"
        raise RuleError([RuleProblem(message, line, col)])
    return _SqlCompiler(ctx, d, analysis).compile(analysis.expr)


def to_sql(expr: Expr, ctx: SqlContext, dialect: str) -> str:
    """Compile rule ``expr`` to SQL text for ``dialect`` (sqlite, duckdb, postgres, spark)."""
    d = _dialect(dialect)
    condition = to_sql_condition(expr, ctx, d)
    return condition.sql(dialect=d, unsupported_level=ErrorLevel.RAISE)
