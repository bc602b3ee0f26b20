"""Customers: the declared fields (the schema) and looking customers up.

Importing customers lives in :mod:`tactica.services.importing`. Like the other
services these functions work in the caller's session; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.replies import sender_variants
from tactica.domain.schema import FieldDef, FieldKind
from tactica.errors import InvalidInput, NotFound
from tactica.services import audit
from tactica.services.rules import condition_compiler
from tactica.services.segments import STATIC as STATIC_SEGMENT
from tactica.store.customer_table import add_fields, customer_table, load_schema
from tactica.store.models import Contact, EventRow, HeldOut, Lead, Segment, SegmentMember


def field_view(f: FieldDef) -> dict[str, Any]:
    """A field as shown to people and recorded in the audit log."""
    return {
        "name": f.name,
        "type": f.type.value,
        "kind": f.kind.value,
        "channel": f.channel,
        "categories": list(f.categories),
        "description": f.description,
    }


def declare_fields(session: Session, fields: Iterable[FieldDef], actor: str) -> list[FieldDef]:
    """Add fields to the customer schema, each a new typed column; audited one by one.

    Raises InvalidInput (nothing added) when any definition is bad or exists already.
    """
    added = add_fields(session, list(fields))
    for f in added:
        audit.record(session, actor, "declare", "customer_field", f.name, after=field_view(f))
    return added


def list_fields(session: Session) -> list[FieldDef]:
    """Every declared customer field, in declaration order."""
    return list(load_schema(session).fields)


def _row(row: sa.RowMapping) -> dict[str, Any]:
    return dict(row)


def get_customer(session: Session, customer_id: str) -> dict[str, Any]:
    """Every column of one customer (built-ins and declared fields); NotFound if absent."""
    table = customer_table(load_schema(session))
    row = session.execute(sa.select(table).where(table.c.id == customer_id)).mappings().first()
    if row is None:
        raise NotFound(f"no customer {customer_id!r}")
    return _row(row)


def count_customers(session: Session) -> int:
    """How many customers there are."""
    return int(session.execute(sa.text("SELECT count(*) FROM customers")).scalar_one())


def search_customers(session: Session, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """A page of customers with every column, ordered by id."""
    table = customer_table(load_schema(session))
    q = sa.select(table).order_by(table.c.id).limit(limit).offset(offset)
    return [_row(r) for r in session.execute(q).mappings()]


# ------------------------------------------------------------------ one customer's page
#
# Every read below is by customer id (or by an indexed contact point) and limited, so a
# customer's page costs the same with ten contacts in the store or ten million.

#: Channels whose addresses are written several ways (see ``sender_variants``).
_VARIANT_CHANNELS = ("email", "sms", "phone")


def find_customers(session: Session, text: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Customers whose id is ``text`` exactly, or whose contact point (e-mail, mobile...)
    is ``text`` as it may be written (``+351 91...``, ``00351...``, any case of an
    address); every column, by id. Exact matches on indexed columns only: no scan.
    """
    text = text.strip()
    if not text:
        return []
    schema = load_schema(session)
    table = customer_table(schema)
    matches: list[sa.ColumnElement[bool]] = [table.c.id == text]
    for f in schema.fields:
        if f.kind is not FieldKind.CONTACT_POINT:
            continue
        channel = f.channel or ""
        values = sender_variants(channel, text) if channel in _VARIANT_CHANNELS else [text]
        matches.append(table.c[f.name].in_(values))
    q = sa.select(table).where(sa.or_(*matches)).order_by(table.c.id).limit(limit)
    return [_row(r) for r in session.execute(q).mappings()]


def customers_after(
    session: Session, after: str | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The next ``limit`` customers by id after ``after`` (from the first when None),
    every column: a page of the list that costs the same deep in it as at its start."""
    table = customer_table(load_schema(session))
    q = sa.select(table).order_by(table.c.id).limit(limit)
    if after is not None:
        q = q.where(table.c.id > after)
    return [_row(r) for r in session.execute(q).mappings()]


def segments_of(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """The segments the customer is in now, by name: the static ones they were added to,
    and the dynamic ones whose rule holds for them.

    Each rule is compiled by the store's rule compiler and evaluated in SQL on this one
    customer's row (one statement for all the rules), its segment and list memberships
    as lookups of this customer (not reads of every member); a rule that no longer compiles (a
    field it reads was dropped) is returned with ``error`` set instead of a verdict.
    """
    out: list[dict[str, Any]] = []
    static = session.scalars(
        sa.select(Segment)
        .where(
            Segment.kind == STATIC_SEGMENT,
            # One key lookup per segment: segment_members is keyed (segment, customer).
            sa.exists().where(
                SegmentMember.segment_id == Segment.id,
                SegmentMember.customer_id == customer_id,
            ),
        )
        .order_by(Segment.name)
    )
    out += [{"name": s.name, "kind": s.kind, "rule": None, "error": None} for s in static]
    dynamic = list(
        session.scalars(
            sa.select(Segment)
            .where(Segment.kind != STATIC_SEGMENT, Segment.rule.is_not(None))
            .order_by(Segment.name)
        )
    )
    compile_ = condition_compiler(session, session.get_bind().dialect.name, correlated=True)
    conditions: dict[str, str] = {}
    for seg in dynamic:
        try:
            conditions[seg.name] = compile_(seg.rule or "")
        except InvalidInput as e:
            out.append({"name": seg.name, "kind": seg.kind, "rule": seg.rule, "error": e.detail})
    held = _rules_holding(session, customer_id, conditions)
    out += [
        {"name": seg.name, "kind": seg.kind, "rule": seg.rule, "error": None}
        for seg in dynamic
        if seg.name in held
    ]
    return sorted(out, key=lambda x: str(x["name"]))


def _rules_holding(session: Session, customer_id: str, conditions: dict[str, str]) -> set[str]:
    """Which of the named WHERE conditions hold for the customer.

    One branch per rule, each ``WHERE customers.id = :id AND (rule)``: as a WHERE
    condition (not a value in the select list) the database reads the customer by key
    and turns a rule's ``in_segment``/``on_list`` subqueries into lookups.
    """
    held: set[str] = set()
    names = list(conditions)
    # SQLite allows at most 500 terms in one compound SELECT.
    for start in range(0, len(names), 100):
        part = names[start : start + 100]
        sql = " UNION ALL ".join(
            f"SELECT :n{i} AS name FROM customers WHERE customers.id = :cid AND ({conditions[n]})"
            for i, n in enumerate(part, start=start)
        )
        params: dict[str, Any] = {f"n{i}": n for i, n in enumerate(part, start=start)}
        params["cid"] = customer_id
        held.update(str(x) for x in session.scalars(sa.text(sql), params))
    return held


def decisions_of(
    session: Session, customer_id: str, *, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """The customer's decision history, newest first: every contact (queued, sent,
    delivered, failed...) and every time a run held them out in a control group.

    Returns the newest ``limit`` and whether older ones exist. Both reads walk an index
    on ``(customer_id, decided_at)`` backwards and stop after ``limit + 1`` rows.
    """
    contacts = session.scalars(
        sa.select(Contact)
        .where(Contact.customer_id == customer_id)
        .order_by(Contact.decided_at.desc(), Contact.id.desc())
        .limit(limit + 1)
    )
    held = session.scalars(
        sa.select(HeldOut)
        .where(HeldOut.customer_id == customer_id)
        .order_by(HeldOut.decided_at.desc(), HeldOut.campaign)
        .limit(limit + 1)
    )
    rows = [_contact_row(c) for c in contacts] + [_held_out_row(h) for h in held]
    # Newest first, a run's rows together (the sort is stable: contacts by id, then
    # the run's held-out rows).
    rows.sort(key=lambda r: (r["decided_at"], r["run_id"] or 0), reverse=True)
    return rows[:limit], len(rows) > limit


def _contact_row(c: Contact) -> dict[str, Any]:
    return {
        "held_out": False,
        "id": c.id,
        "run_id": c.run_id,
        "event_id": c.event_id,
        "program": c.program,
        "campaign": c.campaign,
        "offer": c.offer,
        "channel": c.channel,
        "status": c.status,
        "score": c.score,
        "cost": c.spent if c.spent is not None else c.cost,
        "decided_at": c.decided_at,
        "sent_at": c.sent_at,
        "delivered_at": c.delivered_at,
        "error": c.error,
    }


def _held_out_row(h: HeldOut) -> dict[str, Any]:
    return {
        "held_out": True,
        "id": None,
        "run_id": h.run_id,
        "event_id": None,
        "program": h.program,
        "campaign": h.campaign,
        "offer": h.offer,
        "channel": h.channel,
        "status": "held_out",
        "score": h.score,
        "cost": None,
        "decided_at": h.decided_at,
        "sent_at": None,
        "delivered_at": None,
        "error": None,
    }


def events_by_id(session: Session, ids: Iterable[int]) -> dict[int, EventRow]:
    """The events (by their store id) that triggered the given contacts."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {e.id: e for e in session.scalars(sa.select(EventRow).where(EventRow.id.in_(wanted)))}


def leads_of(session: Session, customer_id: str, *, limit: int = 100) -> list[Lead]:
    """The customer's leads, newest first (at most ``limit``)."""
    return list(
        session.scalars(
            sa.select(Lead)
            .where(Lead.customer_id == customer_id)
            .order_by(Lead.created_at.desc(), Lead.id.desc())
            .limit(limit)
        )
    )
