"""Type checker of the rule language.

:func:`check` answers "what type is this rule, and is it well typed?" and raises a
:class:`RuleError` listing *every* problem found. :func:`analyse` does the same work and
also returns the *checked tree* the compilers use:

* a string literal compared with (or ``in``/``between`` with) a date or timestamp becomes
  a date/timestamp literal, parsed once, here (a bad date is an error at the literal);
* every ``null`` literal gets the type its context implies (``age = null`` makes it an
  int), so that SQL can emit a typed ``CAST(NULL AS ...)`` where a backend needs one;
* the type of every node is recorded.

Typing rules: numbers compare with numbers (int and float mix), text and category with
text and category, bools with bools (only ``=``/``!=``), dates with dates, timestamps with
timestamps (use ``date(ts)`` to compare a timestamp's day with a date). Arithmetic takes
numbers; ``/`` always gives a float. ``and``/``or``/``not`` take conditions (bool).
``like`` takes text. The built-in customer fields (:data:`BUILTIN_FIELDS`) are always
known.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final

from tactica.domain.schema import BUILTIN_FIELDS, FieldType
from tactica.errors import RuleError, RuleProblem

from .ast import (
    ARITHMETIC_OPS,
    MAX_COST,
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
    Pos,
    Unary,
    nesting_cost,
    start_pos,
    walk,
)
from .tokens import snippet

EVENT_PREFIX = "event."


class _Special(Enum):
    # NULL: the type of a bare ``null`` until its context settles it.
    # ERROR: a problem was already reported below; stay quiet above it.
    NULL = "null"
    ERROR = "error"


_NULL: Final = _Special.NULL
_ERROR: Final = _Special.ERROR
_Ty = FieldType | _Special

_TEMPORAL = (FieldType.DATE, FieldType.TIMESTAMP)

_A_TYPE = {
    FieldType.INT: "an int",
    FieldType.FLOAT: "a float",
    FieldType.TEXT: "text",
    FieldType.CATEGORY: "a category",
    FieldType.BOOL: "a condition (bool)",
    FieldType.DATE: "a date",
    FieldType.TIMESTAMP: "a timestamp",
}


def describe_type(t: FieldType | None) -> str:
    """``an int``, ``text``, ``a condition (bool)``...: how messages name a type."""
    return "null" if t is None else _A_TYPE[t]


def _a(t: _Ty) -> str:
    return describe_type(t) if isinstance(t, FieldType) else "null"


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$"
)


def parse_date_literal(text: str) -> dt.date | None:
    """``'YYYY-MM-DD'`` as a date, or None when it is not one."""
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_timestamp_literal(text: str) -> dt.datetime | None:
    """``'YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]'`` (space or ``T``) as a timestamp, or None."""
    m = _TIMESTAMP_RE.match(text)
    if not m:
        return None
    frac = (m[7] or "").ljust(6, "0")
    try:
        return dt.datetime(
            int(m[1]),
            int(m[2]),
            int(m[3]),
            int(m[4] or 0),
            int(m[5] or 0),
            int(m[6] or 0),
            int(frac),
        )
    except ValueError:
        return None


#: Functions of the language with a one-line signature, for messages and documentation.
FUNCTIONS: dict[str, str] = {
    "abs": "abs(number) -> same type",
    "coalesce": "coalesce(a, b, ...) -> first non-null, all of one type",
    "date": "date('YYYY-MM-DD') or date(timestamp) -> date",
    "day": "day(date|timestamp) -> int",
    "days_since": "days_since(date|timestamp) -> int, whole days to the as-of date",
    "days_until": "days_until(date|timestamp) -> int, whole days from the as-of date",
    "in_segment": "in_segment('segment name') -> bool",
    "length": "length(text) -> int",
    "lower": "lower(text) -> text",
    "month": "month(date|timestamp) -> int",
    "on_list": "on_list('list name') -> bool",
    "today": "today() -> date, the as-of date",
    "upper": "upper(text) -> text",
    "year": "year(date|timestamp) -> int",
}


def suggest(name: str, known: Collection[str]) -> str | None:
    """The known name closest to ``name`` (case-insensitive match first), or None."""
    for k in known:
        if k.lower() == name.lower():
            return k
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _listing(known: Collection[str], limit: int = 60) -> str:
    names = sorted(known)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown


@dataclass(frozen=True)
class Analysis:
    """Result of type-checking a rule.

    ``expr`` is the checked tree (see the module docstring); ``types`` maps ``id(node)``
    of every node of ``expr`` to its type (use :meth:`type_of`). The ``fields``,
    ``event_fields``, ``segments`` and ``lists`` sets name what the rule refers to.
    """

    expr: Expr
    type: FieldType
    types: Mapping[int, FieldType]
    fields: frozenset[str]
    event_fields: frozenset[str]
    segments: frozenset[str]
    lists: frozenset[str]

    def type_of(self, node: Expr) -> FieldType:
        """Type of a node of :attr:`expr`."""
        return self.types[id(node)]


class _Checker:
    def __init__(
        self,
        fields: Mapping[str, FieldType],
        segments: Collection[str] | None,
        lists: Collection[str] | None,
        event_fields: Mapping[str, FieldType] | None,
        source: str,
    ) -> None:
        self.fields = {**BUILTIN_FIELDS, **fields}
        self.segments = segments
        self.lists = lists
        self.event_fields = event_fields
        self.source = source
        self.problems: list[RuleProblem] = []
        self.types: dict[int, FieldType] = {}
        self.used_fields: set[str] = set()
        self.used_event_fields: set[str] = set()
        self.used_segments: set[str] = set()
        self.used_lists: set[str] = set()

    # -- bookkeeping -----------------------------------------------------------------

    def report(self, pos: Pos, message: str) -> None:
        line, col = pos
        text = snippet(self.source, line, col) if self.source else ""
        self.problems.append(RuleProblem(message, line, col, text))

    def done(self, node: Expr, ty: _Ty) -> tuple[Expr, _Ty]:
        if isinstance(ty, FieldType):
            self.types[id(node)] = ty
        return node, ty

    def settle(self, node: Expr, ty: FieldType) -> Expr:
        """Give a null-typed subtree (a ``null``, or coalesce of nulls) the type ``ty``."""
        match node:
            case Literal(value=None, type=None):
                new: Expr = replace(node, type=ty)
            case Call(func="coalesce", args=args):
                new = replace(node, args=tuple(self.settle(a, ty) for a in args))
            case _:
                return node
        self.types[id(new)] = ty
        return new

    def coerce_temporal(self, node: Expr, target: FieldType) -> tuple[Expr, _Ty]:
        """A text literal used as a date/timestamp becomes one (or an error at it)."""
        assert isinstance(node, Literal) and isinstance(node.value, str)
        text = node.value
        value: dt.date | None
        if target is FieldType.DATE:
            value = parse_date_literal(text)
            expected = "'YYYY-MM-DD'"
        else:
            value = parse_timestamp_literal(text)
            expected = "'YYYY-MM-DD HH:MM:SS' (seconds and fraction optional)"
        if value is None:
            self.report(node.pos, f"'{text}' is not a valid {target.value}: expected {expected}")
            return node, _ERROR
        return self.done(Literal(value, target, node.pos), target)

    @staticmethod
    def is_text_literal(node: Expr) -> bool:
        return isinstance(node, Literal) and node.type is FieldType.TEXT

    # -- shared typing rules ---------------------------------------------------------

    def unify(
        self,
        items: list[tuple[Expr, _Ty]],
        *,
        ordered: bool,
        mismatch: Callable[[FieldType, FieldType], str],
        what: str,
        default: FieldType | None,
    ) -> tuple[list[Expr], _Ty]:
        """Make operands of one comparison-like construct agree on one type.

        Text literals become dates/timestamps when a date/timestamp is among the operands;
        nulls take the common type (``default`` when every operand is null; None keeps
        them null-typed). Returns the settled operands and the common type.
        """
        nodes = [n for n, _ in items]
        types = [t for _, t in items]
        temporal = next(
            (
                t
                for n, t in items
                if isinstance(t, FieldType) and t in _TEMPORAL and not self.is_text_literal(n)
            ),
            None,
        )
        if temporal is not None:
            for k, (n, t) in enumerate(items):
                if t is FieldType.TEXT and self.is_text_literal(n):
                    nodes[k], types[k] = self.coerce_temporal(n, temporal)
        if _ERROR in types:
            return nodes, _ERROR
        concrete = [t for t in types if isinstance(t, FieldType)]
        if not concrete:
            if default is None:
                return nodes, _NULL
            return [self.settle(n, default) for n in nodes], default
        ref = concrete[0]
        failed = False
        for n, t in zip(nodes, types, strict=True):
            if isinstance(t, FieldType) and not _compatible(ref, t):
                self.report(start_pos(n), mismatch(ref, t))
                failed = True
        if failed:
            return nodes, _ERROR
        if ref.is_numeric:
            common = FieldType.FLOAT if FieldType.FLOAT in concrete else FieldType.INT
        elif ref.is_textual:
            textual = all(t is FieldType.CATEGORY for t in concrete)
            common = FieldType.CATEGORY if textual else FieldType.TEXT
        else:
            common = ref
        if ordered and common is FieldType.BOOL:
            self.report(
                start_pos(nodes[0]),
                f"{what} does not apply to conditions (bool); only = and != compare them",
            )
            return nodes, _ERROR
        return [self.settle(n, common) for n in nodes], common

    def need(
        self, node: Expr, ty: _Ty, wanted: FieldType, message: Callable[[_Ty], str]
    ) -> tuple[Expr, bool]:
        """Require ``ty`` to be ``wanted`` (a null is settled to it); report otherwise."""
        if ty is _ERROR:
            return node, False
        if ty is _NULL:
            return self.settle(node, wanted), True
        if ty is not wanted:
            self.report(start_pos(node), message(ty))
            return node, False
        return node, True

    # -- nodes -----------------------------------------------------------------------

    def visit(self, node: Expr) -> tuple[Expr, _Ty]:
        match node:
            case Literal():
                return self.visit_literal(node)
            case Name():
                return self.visit_name(node)
            case Unary():
                return self.visit_unary(node)
            case Not():
                return self.visit_not(node)
            case Binary():
                if node.op in ("and", "or"):
                    return self.visit_logical(node)
                if node.op in ARITHMETIC_OPS:
                    return self.visit_arithmetic(node)
                return self.visit_comparison(node)
            case In():
                return self.visit_in(node)
            case Between():
                return self.visit_between(node)
            case IsNull():
                return self.visit_is_null(node)
            case Like():
                return self.visit_like(node)
            case Call():
                return self.visit_call(node)

    def visit_literal(self, node: Literal) -> tuple[Expr, _Ty]:
        if node.type is None:
            return node, _NULL
        fresh = replace(node)
        return self.done(fresh, node.type)

    def visit_name(self, node: Name) -> tuple[Expr, _Ty]:
        name = node.name
        line, col = node.pos
        if name.startswith(EVENT_PREFIX):
            attr = name[len(EVENT_PREFIX) :]
            if self.event_fields is None:
                self.report(
                    node.pos,
                    f"event attributes such as '{name}' are only available in real-time triggers",
                )
                return node, _ERROR
            if attr in self.event_fields:
                self.used_event_fields.add(attr)
                return self.done(replace(node), self.event_fields[attr])
            known = [EVENT_PREFIX + k for k in self.event_fields]
            self.report(node.pos, _unknown("event attribute", name, known, line, col))
            return node, _ERROR
        if name in self.fields:
            self.used_fields.add(name)
            return self.done(replace(node), self.fields[name])
        message = _unknown("attribute", name, self.fields, line, col)
        if name.lower() in FUNCTIONS:
            message = (
                f"unknown attribute '{name}' at line {line}, col {col}; "
                f"did you mean the function {name.lower()}()?"
            )
        self.report(node.pos, message)
        return node, _ERROR

    def visit_unary(self, node: Unary) -> tuple[Expr, _Ty]:
        operand, ty = self.visit(node.operand)
        if ty is _ERROR:
            return node, _ERROR
        if ty is _NULL:
            return self.done(
                replace(node, operand=self.settle(operand, FieldType.INT)), FieldType.INT
            )
        if not ty.is_numeric:
            self.report(node.pos, f"'-' needs a number, got {_a(ty)}")
            return node, _ERROR
        return self.done(replace(node, operand=operand), ty)

    def visit_not(self, node: Not) -> tuple[Expr, _Ty]:
        operand, ty = self.visit(node.operand)
        operand, ok = self.need(
            operand, ty, FieldType.BOOL, lambda t: f"'not' needs a condition (bool), got {_a(t)}"
        )
        return self.done(replace(node, operand=operand), FieldType.BOOL if ok else _ERROR)

    def visit_logical(self, node: Binary) -> tuple[Expr, _Ty]:
        left, lt = self.visit(node.left)
        right, rt = self.visit(node.right)

        def message(side: str) -> Callable[[_Ty], str]:
            return lambda t: (
                f"'{node.op}' needs conditions (bool) on both sides; its {side} is {_a(t)}"
            )

        left, lok = self.need(left, lt, FieldType.BOOL, message("left side"))
        right, rok = self.need(right, rt, FieldType.BOOL, message("right side"))
        ty: _Ty = FieldType.BOOL if lok and rok else _ERROR
        return self.done(replace(node, left=left, right=right), ty)

    def visit_arithmetic(self, node: Binary) -> tuple[Expr, _Ty]:
        left, lt = self.visit(node.left)
        right, rt = self.visit(node.right)
        ok = True
        for side, child, t in (("left side", left, lt), ("right side", right, rt)):
            if isinstance(t, FieldType) and not t.is_numeric:
                hint = ""
                if t in _TEMPORAL:
                    hint = " (for dates use days_since(), days_until(), year()...)"
                self.report(
                    start_pos(child),
                    f"'{node.op}' needs numbers on both sides; its {side} is {_a(t)}{hint}",
                )
                ok = False
        if not ok or _ERROR in (lt, rt):
            return node, _ERROR
        if lt is _NULL and rt is _NULL:
            left, right = self.settle(left, FieldType.INT), self.settle(right, FieldType.INT)
            lt = rt = FieldType.INT
        elif lt is _NULL:
            assert isinstance(rt, FieldType)
            left, lt = self.settle(left, rt), rt
        elif rt is _NULL:
            assert isinstance(lt, FieldType)
            right, rt = self.settle(right, lt), lt
        is_float = node.op == "/" or FieldType.FLOAT in (lt, rt)
        ty = FieldType.FLOAT if is_float else FieldType.INT
        return self.done(replace(node, left=left, right=right), ty)

    def visit_comparison(self, node: Binary) -> tuple[Expr, _Ty]:
        items = [self.visit(node.left), self.visit(node.right)]
        ordered = node.op not in ("=", "!=")
        (left, right), ty = self.unify(
            items,
            ordered=ordered,
            mismatch=lambda a, b: _cannot_compare(a, b, ""),
            what=f"'{node.op}'",
            default=FieldType.TEXT,
        )
        result: _Ty = _ERROR if ty is _ERROR else FieldType.BOOL
        return self.done(replace(node, left=left, right=right), result)

    def visit_in(self, node: In) -> tuple[Expr, _Ty]:
        items = [self.visit(node.expr), *(self.visit(i) for i in node.items)]
        nodes, ty = self.unify(
            items,
            ordered=False,
            mismatch=lambda a, b: _cannot_compare(a, b, " in the 'in' list"),
            what="'in'",
            default=FieldType.TEXT,
        )
        result: _Ty = _ERROR if ty is _ERROR else FieldType.BOOL
        return self.done(replace(node, expr=nodes[0], items=tuple(nodes[1:])), result)

    def visit_between(self, node: Between) -> tuple[Expr, _Ty]:
        items = [self.visit(node.expr), self.visit(node.low), self.visit(node.high)]
        (expr, low, high), ty = self.unify(
            items,
            ordered=True,
            mismatch=lambda a, b: _cannot_compare(a, b, " in 'between'"),
            what="'between'",
            default=FieldType.TEXT,
        )
        result: _Ty = _ERROR if ty is _ERROR else FieldType.BOOL
        return self.done(replace(node, expr=expr, low=low, high=high), result)

    def visit_is_null(self, node: IsNull) -> tuple[Expr, _Ty]:
        expr, ty = self.visit(node.expr)
        if ty is _ERROR:
            return node, _ERROR
        if ty is _NULL:
            expr = self.settle(expr, FieldType.TEXT)
        return self.done(replace(node, expr=expr), FieldType.BOOL)

    def visit_like(self, node: Like) -> tuple[Expr, _Ty]:
        expr, et = self.visit(node.expr)
        pattern, pt = self.visit(node.pattern)
        expr, eok = self.text_arg(expr, et, lambda t: f"'like' needs text on its left, got {_a(t)}")
        pattern, pok = self.text_arg(
            pattern, pt, lambda t: f"'like' needs a text pattern, got {_a(t)}"
        )
        ty: _Ty = FieldType.BOOL if eok and pok else _ERROR
        return self.done(replace(node, expr=expr, pattern=pattern), ty)

    def text_arg(self, node: Expr, ty: _Ty, message: Callable[[_Ty], str]) -> tuple[Expr, bool]:
        if ty is _ERROR:
            return node, False
        if ty is _NULL:
            return self.settle(node, FieldType.TEXT), True
        if not ty.is_textual:
            self.report(start_pos(node), message(ty))
            return node, False
        return node, True

    # -- functions -------------------------------------------------------------------

    def visit_call(self, node: Call) -> tuple[Expr, _Ty]:
        func = node.func
        if func not in FUNCTIONS:
            hint = suggest(func, FUNCTIONS)
            did = f"; did you mean {hint}()?" if hint else ";"
            self.report(
                node.pos,
                f"unknown function '{func}'{did} known functions: {', '.join(sorted(FUNCTIONS))}",
            )
            for arg in node.args:  # still report problems inside the arguments
                self.visit(arg)
            return node, _ERROR
        if func in ("in_segment", "on_list"):
            return self.call_membership(node)
        visited = [self.visit(a) for a in node.args]
        handler = getattr(self, f"call_{func}")
        result: tuple[Expr, _Ty] = handler(node, visited)
        return result

    def arity(self, node: Call, count: int, what: str) -> bool:
        if len(node.args) != count:
            plural = "" if count == 1 else "s"
            detail = f" ({what})" if what else ""
            self.report(
                node.pos,
                f"{node.func}() takes {count} argument{plural}{detail}, got {len(node.args)}",
            )
            return False
        return True

    def temporal_arg(self, node: Call, arg: Expr, ty: _Ty) -> tuple[Expr, _Ty]:
        """A date or timestamp argument; a text literal is read as one."""
        if ty is FieldType.TEXT and self.is_text_literal(arg):
            assert isinstance(arg, Literal) and isinstance(arg.value, str)
            target = FieldType.DATE if _DATE_RE.match(arg.value) else FieldType.TIMESTAMP
            return self.coerce_temporal(arg, target)
        if ty is _NULL:
            return self.settle(arg, FieldType.DATE), FieldType.DATE
        if isinstance(ty, FieldType) and ty not in _TEMPORAL:
            self.report(start_pos(arg), f"{node.func}() needs a date or timestamp, got {_a(ty)}")
            return arg, _ERROR
        return arg, ty

    def call_temporal_to_int(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        if not self.arity(node, 1, "a date or timestamp"):
            return node, _ERROR
        arg, ty = self.temporal_arg(node, *visited[0])
        if ty is _ERROR:
            return node, _ERROR
        return self.done(replace(node, args=(arg,)), FieldType.INT)

    call_days_since = call_temporal_to_int
    call_days_until = call_temporal_to_int
    call_year = call_temporal_to_int
    call_month = call_temporal_to_int
    call_day = call_temporal_to_int

    def call_today(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        if not self.arity(node, 0, ""):
            return node, _ERROR
        return self.done(replace(node), FieldType.DATE)

    def call_date(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        if not self.arity(node, 1, "a 'YYYY-MM-DD' text or a timestamp"):
            return node, _ERROR
        arg, ty = visited[0]
        if ty is FieldType.TEXT and self.is_text_literal(arg):
            arg, ty = self.coerce_temporal(arg, FieldType.DATE)
        elif ty is _NULL:
            arg, ty = self.settle(arg, FieldType.TIMESTAMP), FieldType.TIMESTAMP
        elif isinstance(ty, FieldType) and ty not in _TEMPORAL:
            self.report(
                start_pos(arg),
                f"date() takes a 'YYYY-MM-DD' text or a timestamp, got {_a(ty)}",
            )
            ty = _ERROR
        if ty is _ERROR:
            return node, _ERROR
        return self.done(replace(node, args=(arg,)), FieldType.DATE)

    def call_text_fn(
        self, node: Call, visited: list[tuple[Expr, _Ty]], result: FieldType
    ) -> tuple[Expr, _Ty]:
        if not self.arity(node, 1, "text"):
            return node, _ERROR
        arg, ok = self.text_arg(*visited[0], lambda t: f"{node.func}() needs text, got {_a(t)}")
        return self.done(replace(node, args=(arg,)), result if ok else _ERROR)

    def call_lower(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        return self.call_text_fn(node, visited, FieldType.TEXT)

    call_upper = call_lower

    def call_length(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        return self.call_text_fn(node, visited, FieldType.INT)

    def call_abs(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        if not self.arity(node, 1, "a number"):
            return node, _ERROR
        arg, ty = visited[0]
        if ty is _ERROR:
            return node, _ERROR
        if ty is _NULL:
            arg, ty = self.settle(arg, FieldType.INT), FieldType.INT
        if not ty.is_numeric:
            self.report(start_pos(arg), f"abs() needs a number, got {_a(ty)}")
            return node, _ERROR
        return self.done(replace(node, args=(arg,)), ty)

    def call_coalesce(self, node: Call, visited: list[tuple[Expr, _Ty]]) -> tuple[Expr, _Ty]:
        if len(node.args) < 2:
            self.report(node.pos, f"coalesce() takes at least 2 arguments, got {len(node.args)}")
            return node, _ERROR
        args, ty = self.unify(
            visited,
            ordered=False,
            mismatch=lambda a, b: (
                f"coalesce() arguments must all have one type: {_a(a)} and {_a(b)}"
            ),
            what="coalesce()",
            default=None,
        )
        if ty is _ERROR:
            return node, _ERROR
        return self.done(replace(node, args=tuple(args)), ty)

    def call_membership(self, node: Call) -> tuple[Expr, _Ty]:
        kind = "segment" if node.func == "in_segment" else "list"
        example = "young_savers" if kind == "segment" else "vip"
        arg = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
            self.report(
                node.pos,
                f"{node.func}() takes one {kind} name in quotes, e.g. {node.func}('{example}')",
            )
            return node, _ERROR
        name = arg.value
        known = self.segments if kind == "segment" else self.lists
        if known is not None and name not in known:
            hint = suggest(name, known)
            did = f"; did you mean '{hint}'?" if hint else ""
            listing = f" known {kind}s: {_listing(known)}" if known else f" no {kind}s are defined"
            self.report(arg.pos, f"unknown {kind} '{name}'{did}{listing}")
            return node, _ERROR
        (self.used_segments if kind == "segment" else self.used_lists).add(name)
        new_arg = self.done(replace(arg), FieldType.TEXT)[0]
        return self.done(replace(node, args=(new_arg,)), FieldType.BOOL)


def _compatible(a: FieldType, b: FieldType) -> bool:
    return (a.is_numeric and b.is_numeric) or (a.is_textual and b.is_textual) or a is b


def _cannot_compare(a: FieldType, b: FieldType, where: str) -> str:
    message = f"cannot compare {_a(a)} with {_a(b)}{where}"
    if {a, b} == set(_TEMPORAL):
        message += "; use date(x) to take the date part of a timestamp"
    return message


def _unknown(kind: str, name: str, known: Collection[str], line: int, col: int) -> str:
    hint = suggest(name, known)
    did = f"; did you mean '{hint}'?" if hint else ";"
    listing = f" known {kind}s: {_listing(known)}" if known else f" no {kind}s are defined"
    return f"unknown {kind} '{name}' at line {line}, col {col}{did}{listing}"


def analyse(
    expr: Expr,
    fields: Mapping[str, FieldType],
    *,
    segments: Collection[str] | None = None,
    lists: Collection[str] | None = None,
    event_fields: Mapping[str, FieldType] | None = None,
    source: str = "",
) -> Analysis:
    """Type-check ``expr`` and return the checked tree with every node's type.

    ``fields`` are the customer fields (the built-in ones are added); ``segments`` and
    ``lists``, when given, are the names ``in_segment()``/``on_list()`` may use;
    ``event_fields`` are the attributes ``event.x`` may read (real-time triggers only).
    ``source``, when given, is used for caret snippets in problems. Raises
    :class:`RuleError` listing every problem.
    """
    if nesting_cost(expr) > MAX_COST:
        # Trees built in code skip the parser's limit; every stage below recurses.
        line, col = start_pos(expr)
        message = "rule is nested too deeply; split it or use fewer nested operations"
        raise RuleError([RuleProblem(message, line, col)], source)
    checker = _Checker(fields, segments, lists, event_fields, source)
    checked, ty = checker.visit(expr)
    if ty is _NULL and not checker.problems:
        checker.report(start_pos(expr), "the rule is always null, so it has no type")
    if checker.problems or not isinstance(ty, FieldType):
        problems = sorted(checker.problems, key=lambda p: (p.line, p.col))
        raise RuleError(problems, source)
    types = {id(n): checker.types[id(n)] for n in walk(checked)}
    return Analysis(
        expr=checked,
        type=ty,
        types=types,
        fields=frozenset(checker.used_fields),
        event_fields=frozenset(checker.used_event_fields),
        segments=frozenset(checker.used_segments),
        lists=frozenset(checker.used_lists),
    )


def check(
    expr: Expr,
    fields: Mapping[str, FieldType],
    *,
    segments: Collection[str] | None = None,
    lists: Collection[str] | None = None,
    event_fields: Mapping[str, FieldType] | None = None,
    source: str = "",
) -> FieldType:
    """The type of rule ``expr``; raises :class:`RuleError` listing every problem.

    See :func:`analyse` for the arguments.
    """
    return analyse(
        expr, fields, segments=segments, lists=lists, event_fields=event_fields, source=source
    ).type
