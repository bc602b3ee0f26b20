"""Syntax tree of the rule language, and :func:`render` back to source text.

Nodes are frozen dataclasses. Each carries ``pos``, the 1-based ``(line, col)`` where it
was written; ``pos`` takes no part in equality so that a tree rendered and parsed again
compares equal to the original. Operator nodes are placed at their operator (``Binary``
at ``+``, ``In`` at ``in`` or at the ``not`` of ``not in``); use :func:`start_pos` for
the first character of a whole expression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from tactica.domain.schema import FieldType

#: 1-based (line, column).
Pos: TypeAlias = tuple[int, int]

#: Python value of a literal. Dates and timestamps never come from the parser: the type
#: checker turns a string compared with a date field into a date literal.
LiteralValue: TypeAlias = int | float | str | bool | dt.date | dt.datetime | None

#: Operators of :class:`Binary`, in their canonical spelling.
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%"})
COMPARISON_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
LOGICAL_OPS = frozenset({"and", "or"})


@dataclass(frozen=True)
class Literal:
    """A constant: ``30``, ``1.5``, ``'north'``, ``true``, ``null``.

    ``type`` is None only for ``null`` as parsed; the type checker gives every null the
    type its context implies, and turns strings used as dates into date literals.
    """

    value: LiteralValue
    type: FieldType | None
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Name:
    """A customer attribute (``age``) or, in real-time triggers, an event one (``event.x``)."""

    name: str
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Unary:
    """Unary minus: ``-x``."""

    op: str
    operand: Expr
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Binary:
    """Arithmetic (``+ - * / %``), comparison (``= != < <= > >=``) or ``and``/``or``."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Not:
    """Logical negation: ``not x``."""

    operand: Expr
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class In:
    """``x in (a, b, ...)`` or ``x not in (...)``."""

    expr: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Between:
    """``x between low and high`` (inclusive) or ``x not between ...``."""

    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class IsNull:
    """``x is null`` or ``x is not null``."""

    expr: Expr
    negated: bool = False
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Like:
    """``x like pattern`` or ``x not like pattern`` (``%`` any text, ``_`` one character)."""

    expr: Expr
    pattern: Expr
    negated: bool = False
    pos: Pos = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Call:
    """A function call; ``func`` is the lower-case function name."""

    func: str
    args: tuple[Expr, ...]
    pos: Pos = field(default=(0, 0), compare=False)


#: Any node of the rule language.
Expr: TypeAlias = Literal | Name | Unary | Binary | Not | In | Between | IsNull | Like | Call


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, left to right."""
    match node:
        case Literal() | Name():
            return ()
        case Unary(operand=o) | Not(operand=o):
            return (o,)
        case Binary(left=left, right=right):
            return (left, right)
        case In(expr=e, items=items):
            return (e, *items)
        case Between(expr=e, low=low, high=high):
            return (e, low, high)
        case IsNull(expr=e):
            return (e,)
        case Like(expr=e, pattern=p):
            return (e, p)
        case Call(args=args):
            return args


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children (iterative: no recursion limit)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


#: Deepest syntax tree accepted, weighed as :func:`nesting_cost` does. Every stage (checker,
#: compilers, sqlglot's printer) walks the tree recursively, so its height must stay well
#: inside Python's recursion limit: this allows about 60 nested operators, or chains of
#: about 240 conditions joined by ``and``/``or``.
MAX_COST = 240


def nesting_cost(expr: Expr) -> int:
    """Height of the tree where a link of an ``and``/``or`` chain costs 1 and others 4.

    Chains of ``and``/``or`` are cheap to compile (sqlglot flattens them); other nodes
    cost several stack frames per level when printed as SQL.
    """
    best = 0
    stack: list[tuple[Expr, int]] = [(expr, 4)]
    while stack:
        node, cost = stack.pop()
        best = max(best, cost)
        for child in children(node):
            chained = (
                isinstance(node, Binary)
                and isinstance(child, Binary)
                and node.op in ("and", "or")
                and child.op == node.op
            )
            stack.append((child, cost + (1 if chained else 4)))
    return best


def start_pos(node: Expr) -> Pos:
    """Position of the first character of the whole expression ``node``."""
    while True:
        match node:
            case Binary(left=left):
                node = left
            case In(expr=e) | Between(expr=e) | IsNull(expr=e) | Like(expr=e):
                node = e
            case _:
                return node.pos


# Binding strength, loosest first; mirrors the parser.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _ATOM = range(1, 9)
_BINARY_PREC = {"or": _OR, "and": _AND, "+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "%": _MUL}


def _render_float(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        # The language has no exponent syntax: write the exact decimal expansion instead.
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return text


def render_literal(value: LiteralValue) -> str:
    """Source text of a literal value (dates and timestamps as quoted strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _render_float(value)
    if isinstance(value, dt.datetime):
        spec = "microseconds" if value.microsecond else "seconds"
        return "'" + value.isoformat(sep=" ", timespec=spec) + "'"
    if isinstance(value, dt.date):
        return "'" + value.isoformat() + "'"
    return "'" + value.replace("'", "''") + "'"


def _render(node: Expr) -> tuple[str, int]:
    def sub(child: Expr, minimum: int) -> str:
        text, prec = _render(child)
        return f"({text})" if prec < minimum else text

    match node:
        case Literal(value=value):
            return render_literal(value), _ATOM
        case Name(name=name):
            return name, _ATOM
        case Unary(op=op, operand=operand):
            inner = sub(operand, _NEG)
            if inner.startswith("-"):
                # "--" would start a comment.
                inner = f"({inner})"
            return f"{op}{inner}", _NEG
        case Not(operand=operand):
            return f"not {sub(operand, _NOT)}", _NOT
        case Binary(op=op, left=left, right=right):
            if op in COMPARISON_OPS:
                return f"{sub(left, _ADD)} {op} {sub(right, _ADD)}", _CMP
            prec = _BINARY_PREC[op]
            # Left-associative: an equal-precedence right operand needs parentheses.
            return f"{sub(left, prec)} {op} {sub(right, prec + 1)}", prec
        case In(expr=e, items=items, negated=negated):
            word = "not in" if negated else "in"
            inside = ", ".join(sub(item, _OR) for item in items)
            return f"{sub(e, _ADD)} {word} ({inside})", _CMP
        case Between(expr=e, low=low, high=high, negated=negated):
            word = "not between" if negated else "between"
            return f"{sub(e, _ADD)} {word} {sub(low, _ADD)} and {sub(high, _ADD)}", _CMP
        case IsNull(expr=e, negated=negated):
            word = "is not null" if negated else "is null"
            return f"{sub(e, _ADD)} {word}", _CMP
        case Like(expr=e, pattern=p, negated=negated):
            word = "not like" if negated else "like"
            return f"{sub(e, _ADD)} {word} {sub(p, _ADD)}", _CMP
        case Call(func=func, args=args):
            return f"{func}({', '.join(sub(a, _OR) for a in args)})", _ATOM


def render(expr: Expr) -> str:
    """Source text for ``expr`` that parses back to an equal tree.

    Parentheses are added only where precedence requires them.
    """
    return _render(expr)[0]
