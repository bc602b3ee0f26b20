"""Segments: dynamic (a rule) or static (an imported id list) — size, profile, overlap."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.schema import FieldKind, FieldType
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.services.rules import check_rule, condition_sql, referenced_segments, rules_using
from tactica.store.arrow import fetch_arrow
from tactica.store.customer_table import load_schema
from tactica.store.db import Store
from tactica.store.models import Segment, SegmentMember

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
DYNAMIC = "dynamic"
STATIC = "static"


def segment_view(seg: Segment, size: int | None = None) -> dict[str, Any]:
    """A segment as shown to people."""
    out: dict[str, Any] = {
        "name": seg.name,
        "kind": seg.kind,
        "rule": seg.rule,
        "description": seg.description,
        "created_by": seg.created_by,
    }
    if size is not None:
        out["size"] = size
    return out


def get_segment(session: Session, name: str) -> Segment:
    """The segment called ``name``; NotFound names the segments that exist."""
    seg = session.scalar(sa.select(Segment).where(Segment.name == name))
    if seg is None:
        known = ", ".join(session.scalars(sa.select(Segment.name).order_by(Segment.name)))
        raise NotFound(f"no segment {name!r}; segments are: {known or '(none yet)'}")
    return seg


def list_segments(session: Session) -> list[Segment]:
    """Every segment, by name."""
    return list(session.scalars(sa.select(Segment).order_by(Segment.name)))


def _check_cycle(session: Session, name: str, rule: str) -> None:
    # A rule may use in_segment('other'); following those references must never come back.
    seen: list[str] = [name]
    todo = [(s, [name]) for s in referenced_segments(session, rule)]
    while todo:
        current, path = todo.pop()
        if current == name:
            chain = " → ".join([*path, current])
            raise InvalidInput(f"segments would refer to each other in a loop: {chain}", "rule")
        if current in seen:
            continue
        seen.append(current)
        other = session.scalar(sa.select(Segment).where(Segment.name == current))
        if other is not None and other.kind == DYNAMIC and other.rule:
            todo += [(s, [*path, current]) for s in referenced_segments(session, other.rule)]


def create_segment(
    session: Session,
    name: str,
    *,
    rule: str | None = None,
    ids: Iterable[str] | None = None,
    description: str = "",
    actor: str,
) -> Segment:
    """A dynamic segment (give ``rule``) or a static one (give ``ids``, possibly empty)."""
    if not _NAME.match(name):
        raise InvalidInput("lower-case letters, digits, '_' or '-'", where=f"segment name {name!r}")
    if (rule is None) == (ids is None):
        raise InvalidInput("give either a rule (dynamic) or a list of ids (static)", "segment")
    if session.scalar(sa.select(Segment.id).where(Segment.name == name)) is not None:
        raise Conflict(f"segment {name!r} exists already")
    if rule is not None:
        check_rule(session, rule, where="rule")
        _check_cycle(session, name, rule)
    seg = Segment(
        name=name,
        kind=DYNAMIC if rule is not None else STATIC,
        rule=rule,
        description=description,
        created_by=actor,
    )
    session.add(seg)
    session.flush()
    if ids is not None:
        _add_members(session, seg, ids)
    audit.record(session, actor, "create", "segment", name, None, segment_view(seg))
    return seg


def update_segment(
    session: Session,
    name: str,
    *,
    rule: str | None = None,
    description: str | None = None,
    actor: str,
) -> Segment:
    """Change a dynamic segment's rule, or any segment's description."""
    seg = get_segment(session, name)
    before = segment_view(seg)
    if rule is not None:
        if seg.kind != DYNAMIC:
            raise Conflict(f"segment {name!r} is static: it has members, not a rule")
        check_rule(session, rule, where="rule")
        _check_cycle(session, name, rule)
        seg.rule = rule
    if description is not None:
        seg.description = description
    session.flush()
    audit.record(session, actor, "update", "segment", name, before, segment_view(seg))
    return seg


def delete_segment(session: Session, name: str, *, actor: str) -> None:
    """Remove a segment, unless another segment's rule uses it."""
    seg = get_segment(session, name)
    users = rules_using(session, "in_segment", name)
    if users:
        raise Conflict(f"segment {name!r} is used by {', '.join(users)}; change those first")
    before = segment_view(seg)
    session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == seg.id))
    session.delete(seg)
    audit.record(session, actor, "delete", "segment", name, before, None)


def _add_members(session: Session, seg: Segment, ids: Iterable[str]) -> int:
    wanted = sorted({i.strip() for i in ids if i and i.strip()})
    if not wanted:
        return 0
    known: set[str] = set()
    chunk = 5000  # stays under every driver's bound-parameter limit
    for i in range(0, len(wanted), chunk):
        part = wanted[i : i + chunk]
        known.update(
            session.scalars(
                sa.text("SELECT id FROM customers WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", part, expanding=True)
                )
            )
        )
    unknown = [i for i in wanted if i not in known]
    if unknown:
        shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise InvalidInput(f"{len(unknown)} id(s) are not customers: {shown}", where=seg.name)
    present = set(
        session.scalars(
            sa.select(SegmentMember.customer_id).where(SegmentMember.segment_id == seg.id)
        )
    )
    new = [{"segment_id": seg.id, "customer_id": i} for i in wanted if i not in present]
    if new:
        session.execute(sa.insert(SegmentMember), new)
    return len(new)


def add_members(session: Session, name: str, ids: Iterable[str], *, actor: str) -> int:
    """Add customers to a static segment (all must exist); returns how many were new."""
    seg = get_segment(session, name)
    if seg.kind != STATIC:
        raise Conflict(f"segment {name!r} is dynamic: its rule decides who is in it")
    n = _add_members(session, seg, ids)
    audit.record(session, actor, "add_members", "segment", name, None, {"added": n})
    return n


def read_id_file(path: Path) -> list[str]:
    """Customer ids from a file: one per line, or a CSV with an ``id``/``customer_id`` column."""
    if not path.exists():
        raise NotFound(f"no file {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        sample = f.readline()
        f.seek(0)
        header = [h.strip().lower() for h in next(csv.reader([sample]), [])]
        column = next((c for c in ("customer_id", "id") if c in header), None)
        if column is None:
            return [line.strip() for line in f if line.strip()]
        reader = csv.DictReader(f)
        key = reader.fieldnames[header.index(column)] if reader.fieldnames else column
        return [(row.get(key) or "").strip() for row in reader]


def membership_sql(session: Session, name: str, dialect: str, as_of: date | None = None) -> str:
    """A WHERE condition over ``customers`` selecting the members of a segment."""
    seg = get_segment(session, name)
    if seg.kind == STATIC:
        return (
            f"customers.id IN (SELECT customer_id FROM segment_members WHERE segment_id = {seg.id})"
        )
    assert seg.rule is not None
    return condition_sql(session, seg.rule, dialect, as_of=as_of)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def segment_size(session: Session, name: str) -> int:
    """How many customers are in the segment now."""
    cond = membership_sql(session, name, _dialect(session))
    return int(session.scalar(sa.text(f"SELECT COUNT(*) FROM customers WHERE {cond}")) or 0)


def rule_size(session: Session, rule: str) -> int:
    """How many customers a rule selects (to size a segment before saving it)."""
    check_rule(session, rule, where="rule")
    cond = condition_sql(session, rule, _dialect(session))
    return int(session.scalar(sa.text(f"SELECT COUNT(*) FROM customers WHERE {cond}")) or 0)


def overlap(session: Session, a: str, b: str) -> dict[str, int]:
    """Sizes of two segments, of their intersection and union, and of each one alone."""
    d = _dialect(session)
    ca, cb = membership_sql(session, a, d), membership_sql(session, b, d)
    row = session.execute(
        sa.text(
            "SELECT "
            f"SUM(CASE WHEN ({ca}) THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN ({cb}) THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN ({ca}) AND ({cb}) THEN 1 ELSE 0 END) "
            f"FROM customers WHERE ({ca}) OR ({cb})"
        )
    ).one()
    size_a, size_b, both = (int(v or 0) for v in row)
    return {
        "a": size_a,
        "b": size_b,
        "both": both,
        "either": size_a + size_b - both,
        "only_a": size_a - both,
        "only_b": size_b - both,
    }


def profile(store: Store, session: Session, name: str, *, top: int = 10) -> dict[str, Any]:
    """What a segment looks like.

    Counts per category (the ``top`` most frequent, then "(other)"), quantiles and
    mean per number, share with each consent and with each contact point. The
    members' columns are read once as Arrow and summarised by DuckDB.
    """
    schema = load_schema(session)
    cond = membership_sql(session, name, _dialect(session))
    cats = [
        f.name
        for f in schema.fields
        if f.type in (FieldType.CATEGORY, FieldType.BOOL) and f.kind is FieldKind.ATTRIBUTE
    ]
    nums = [f.name for f in schema.fields if f.type.is_numeric]
    consents = [f for f in schema.fields if f.kind is FieldKind.CONSENT]
    points = [f for f in schema.fields if f.kind is FieldKind.CONTACT_POINT]
    kinds = {"id": "text"}
    for f in schema.fields:
        if f.name in cats or f.name in nums or f in consents or f in points:
            kinds[f.name] = {
                FieldType.INT: "int",
                FieldType.BOOL: "int",
                FieldType.FLOAT: "float",
            }.get(f.type, "text")
    # Columns are declared field names (validated identifiers), never user text.
    quote = session.get_bind().dialect.identifier_preparer.quote
    # Field names can be SQL words (the bank file has 'default'): always quote them.
    select = ", ".join(f"{quote(c)} AS {quote(c)}" for c in kinds)
    table = fetch_arrow(store, f"SELECT {select} FROM customers WHERE {cond}", kinds)
    con = duckdb.connect()
    try:
        con.register("members", table)
        size = table.num_rows
        out: dict[str, Any] = {
            "segment": name,
            "size": size,
            "categories": {},
            "numbers": {},
            "consent": {},
            "contact_points": {},
        }
        for c in cats:
            rows = con.execute(
                f'SELECT CAST("{c}" AS VARCHAR) AS v, COUNT(*) AS n FROM members '
                f"GROUP BY 1 ORDER BY n DESC, v NULLS LAST"
            ).fetchall()
            shown = {("(null)" if v is None else str(v)): int(n) for v, n in rows[:top]}
            rest = sum(int(n) for _v, n in rows[top:])
            if rest:
                shown["(other)"] = rest
            out["categories"][c] = shown
        for c in nums:
            r = con.execute(
                f'SELECT MIN("{c}"), quantile_cont("{c}", [0.25, 0.5, 0.75]), MAX("{c}"), '
                f'AVG("{c}"), COUNT(*) - COUNT("{c}") FROM members'
            ).fetchone()
            assert r is not None
            lo, qs, hi, mean, nulls = r
            q = list(qs) if qs is not None else [None, None, None]
            out["numbers"][c] = {
                "min": lo,
                "p25": q[0],
                "median": q[1],
                "p75": q[2],
                "max": hi,
                "mean": float(mean) if mean is not None else None,
                "nulls": int(nulls),
            }
        for f in consents:
            r = con.execute(
                f'SELECT COUNT(*) FILTER (WHERE CAST("{f.name}" AS BOOLEAN)) FROM members'
            ).fetchone()
            yes = int(r[0]) if r else 0
            out["consent"][f.channel or f.name] = {
                "customers": yes,
                "share": (yes / size) if size else 0.0,
            }
        for f in points:
            r = con.execute(
                f'SELECT COUNT(*) FILTER (WHERE "{f.name}" IS NOT NULL AND "{f.name}" <> \'\') '
                "FROM members"
            ).fetchone()
            have = int(r[0]) if r else 0
            out["contact_points"][f.name] = {
                "channel": f.channel,
                "customers": have,
                "share": (have / size) if size else 0.0,
            }
        return out
    finally:
        con.close()
