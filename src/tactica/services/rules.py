"""Rules against the store: check a rule with the real schema, compile it to the store's SQL.

The rule language itself is pure (:mod:`tactica.domain.rules`); this module
supplies what it cannot know: the declared fields, which segments and lists
exist, and how ``in_segment`` / ``on_list`` become subqueries on this database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

import sqlalchemy as sa
import sqlglot
from sqlalchemy.orm import Session
from sqlglot import exp

from tactica.domain.rules import CheckedRule, SqlContext, compile_rule, parse, walk
from tactica.domain.rules.ast import Call, Literal
from tactica.domain.schema import FieldType
from tactica.errors import InvalidInput, RuleError
from tactica.store.customer_table import load_schema
from tactica.store.models import Offer, Segment, SpecialList

CUSTOMERS = "customers"


def check_rule(
    session: Session,
    source: str,
    *,
    where: str = "rule",
    expect: FieldType | None = FieldType.BOOL,
    event_fields: Mapping[str, FieldType] | None = None,
) -> CheckedRule:
    """Parse and type-check ``source`` against the declared fields, segments and lists
    (and, for a triggered campaign's rule, the payload fields it reads as ``event.x``)."""
    fields = load_schema(session).types()
    segments = set(session.scalars(sa.select(Segment.name)))
    lists = set(session.scalars(sa.select(SpecialList.name)))
    try:
        return compile_rule(
            source,
            fields,
            segments=segments,
            lists=lists,
            expect=expect,
            event_fields=event_fields,
        )
    except RuleError as e:
        e.where = where
        raise


def rule_type(checked: CheckedRule) -> str:
    """The rule's type as a word (``bool``, ``int``, ``float``, ``text``, ``date``...)."""
    return checked.type.value


def _called_with(source: str, func: str) -> frozenset[str]:
    return frozenset(
        node.args[0].value
        for node in walk(parse(source))
        if isinstance(node, Call)
        and node.func == func
        and node.args
        and isinstance(node.args[0], Literal)
        and isinstance(node.args[0].value, str)
    )


def referenced_segments(session: Session, source: str) -> frozenset[str]:
    """Names of the segments a rule refers to with ``in_segment('...')`` (parse only)."""
    del session  # kept in the signature: names may later resolve through aliases
    return _called_with(source, "in_segment")


def rules_using(session: Session, func: str, name: str) -> list[str]:
    """Which saved rules (segments, offer eligibility) call ``func('name')``.

    ``func`` is ``in_segment`` or ``on_list``: what must not be deleted while in use.
    """
    users = [
        f"segment {seg_name}"
        for seg_name, rule in session.execute(sa.select(Segment.name, Segment.rule))
        if rule and name in _called_with(rule, func)
    ]
    users += [
        f"offer {code}"
        for code, rule in session.execute(sa.select(Offer.code, Offer.eligibility))
        if rule and name in _called_with(rule, func)
    ]
    return users


def _sql_dialect(dialect: str) -> str:
    return "postgres" if dialect.startswith("postgres") else dialect


def _now_literal(dialect: str) -> exp.Expression:
    now = datetime.now(UTC)
    if dialect == "sqlite":
        # SQLite keeps timestamps as text, UTC, with six fractional digits.
        return exp.Literal.string(
            now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    return exp.cast(exp.Literal.string(now.isoformat()), exp.DataType.build("timestamptz"))


def _list_condition(name: str, dialect: str) -> exp.Expression:
    sub = sqlglot.parse_one(
        "SELECT e.customer_id FROM special_list_entries AS e "
        "JOIN special_lists AS l ON l.id = e.list_id "
        "WHERE l.name = :name AND (e.expires_at IS NULL OR e.expires_at > :now)",
        read=dialect,
    )
    sub = sub.transform(
        lambda n: (
            (exp.Literal.string(name) if n.name == "name" else _now_literal(dialect))
            if isinstance(n, exp.Placeholder)
            else n
        )
    )
    return exp.column("id", table=CUSTOMERS).isin(query=sub)


class _Compiler:
    """Compiles rules of one session to one dialect, inlining the segments they use."""

    def __init__(self, session: Session, dialect: str, as_of: date) -> None:
        self.session = session
        self.dialect = _sql_dialect(dialect)
        self.as_of = as_of
        self.fields = load_schema(session).types()
        self.stack: list[str] = []

    def context(self) -> SqlContext:
        return SqlContext(
            fields=self.fields,
            as_of=self.as_of,
            table=CUSTOMERS,
            segment_sql=self.segment,
            list_sql=lambda name: _list_condition(name, self.dialect),
        )

    def segment(self, name: str) -> exp.Expression:
        seg = self.session.scalar(sa.select(Segment).where(Segment.name == name))
        if seg is None:
            raise InvalidInput(f"segment {name!r} does not exist", where="in_segment")
        if seg.kind != "dynamic" or not seg.rule:
            sub = (
                exp.select("customer_id")
                .from_("segment_members")
                .where(exp.column("segment_id").eq(exp.Literal.number(seg.id)))
            )
            return exp.column("id", table=CUSTOMERS).isin(query=sub)
        if name in self.stack:
            chain = " → ".join([*self.stack, name])
            raise InvalidInput(f"segments refer to each other in a loop: {chain}", "in_segment")
        self.stack.append(name)
        try:
            rule = compile_rule(seg.rule, self.fields)
            return exp.paren(rule.sql_condition(self.context(), self.dialect))
        finally:
            self.stack.pop()

    def condition(self, source: str) -> exp.Expression:
        rule = compile_rule(source, self.fields)
        return rule.sql_condition(self.context(), self.dialect)


def condition_sql(session: Session, source: str, dialect: str, *, as_of: date | None = None) -> str:
    """The rule as a WHERE condition over the ``customers`` table, in the store's SQL."""
    return condition_compiler(session, dialect, as_of=as_of)(source)


def condition_compiler(
    session: Session, dialect: str, *, as_of: date | None = None, correlated: bool = False
) -> Callable[[str], str]:
    """What :func:`condition_sql` does, for many rules: the returned function compiles
    one rule to a WHERE condition, all of them against one read of the schema.

    ``correlated`` turns every membership test (``in_segment``, ``on_list``) into a
    lookup of the customer at hand (``EXISTS (... AND customer_id = customers.id)``):
    the form for a rule evaluated on one customer, where reading a whole segment's
    members first (what a database may do with ``id IN (SELECT ...)``, and what is
    best over the whole table) would cost as much as the segment is big.
    """
    compiler = _Compiler(session, dialect, as_of or date.today())

    def compile_(source: str) -> str:
        condition = compiler.condition(source)
        if correlated:
            condition = condition.transform(_as_lookup)
        return condition.sql(dialect=compiler.dialect)

    return compile_


def _as_lookup(node: exp.Expression) -> exp.Expression:
    """``customers.id IN (SELECT x FROM ... WHERE w)`` as ``EXISTS (SELECT 1 FROM ...
    WHERE w AND x = customers.id)``; any other node as it is. The same truth: ``x`` is
    a membership's customer_id, never NULL."""
    if not isinstance(node, exp.In) or node.this != exp.column("id", table=CUSTOMERS):
        return node
    query = node.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else query
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return node
    (member,) = select.expressions
    lookup = select.copy()
    lookup.set("expressions", [exp.Literal.number(1)])
    lookup = lookup.where(member.copy().eq(exp.column("id", table=CUSTOMERS)))
    return exp.Exists(this=lookup)
