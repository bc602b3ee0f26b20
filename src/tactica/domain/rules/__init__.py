"""The rule language: one small expression language for segments, eligibility rules,
triggers and scores.

Examples::

    age >= 30 and region in ('north', 'east') and not on_list('vip')
    days_since(last_purchase) between 7 and 30 or (balance * 1.1 > 1000 and job like 'tech%')
    pdays is null and in_segment('young_savers')
    0.5 * previous + duration / 60

Pipeline: :func:`parse` (source to tree, with line/col of every node), :func:`check` /
:func:`analyse` (types, every problem at once), then :func:`to_sql` for SQLite, DuckDB,
PostgreSQL and Spark, or :func:`to_python` / :func:`predicate` for in-memory evaluation,
all with the same semantics. :func:`compile_rule` does the first steps in one call.
"""

from .ast import (
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
    render,
    start_pos,
    walk,
)
from .compile import CheckedRule, compile_rule
from .parser import parse
from .to_python import PyContext, predicate, to_python
from .to_sql import DIALECTS, SqlContext, to_sql, to_sql_condition
from .tokens import Token, TokenKind, tokenize
from .types import FUNCTIONS, Analysis, analyse, check

__all__ = [
    "DIALECTS",
    "FUNCTIONS",
    "Analysis",
    "Between",
    "Binary",
    "Call",
    "CheckedRule",
    "Expr",
    "In",
    "IsNull",
    "Like",
    "Literal",
    "Name",
    "Not",
    "Pos",
    "PyContext",
    "SqlContext",
    "Token",
    "TokenKind",
    "Unary",
    "analyse",
    "check",
    "compile_rule",
    "parse",
    "predicate",
    "render",
    "start_pos",
    "to_python",
    "to_sql",
    "to_sql_condition",
    "tokenize",
    "walk",
]
