"""The audit log: who changed what, when, with the state before and after."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.store.models import AuditEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record(
    session: Session,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )
    session.add(entry)
    return entry


def _filtered(
    q: sa.Select[Any],
    *,
    entity_type: str | None,
    entity_id: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
) -> sa.Select[Any]:
    if entity_type:
        q = q.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    if until is not None:
        q = q.where(AuditEntry.at < until)
    return q


def list_entries(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Audit entries, newest first, optionally for one entity, one actor or a span of
    time (``since`` included, ``until`` not)."""
    q = _filtered(
        sa.select(AuditEntry).order_by(AuditEntry.id.desc()),
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        since=since,
        until=until,
    )
    return list(session.scalars(q.limit(limit).offset(offset)))


def entity_types(session: Session) -> list[str]:
    """The kinds of subject the log holds entries about (user, channel, offer...), by name.

    Read by walking the (entity_type, entity_id) index from one type to the next, so
    a log of millions of entries costs one index probe per type, not a scan.
    """
    log = AuditEntry.__table__
    walk = sa.select(sa.func.min(log.c.entity_type).label("t")).cte("walk", recursive=True)
    after = sa.select(sa.func.min(log.c.entity_type)).where(log.c.entity_type > walk.c.t)
    walk = walk.union_all(sa.select(after.scalar_subquery()).where(walk.c.t.is_not(None)))
    return list(session.scalars(sa.select(walk.c.t).where(walk.c.t.is_not(None))))


#: The columns of the audit log's CSV export.
CSV_COLUMNS = ("id", "at", "actor", "action", "entity_type", "entity_id", "before", "after")


def write_csv(
    session: Session,
    out: IO[str],
    *,
    entity_type: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the entries :func:`list_entries` would find (every one, newest first) as CSV
    to ``out``, the states before and after as JSON; returns how many were written.

    Rows are read a thousand at a time, so a long log never sits in memory whole.
    """
    q = _filtered(
        sa.select(AuditEntry).order_by(AuditEntry.id.desc()),
        entity_type=entity_type,
        entity_id=None,
        actor=actor,
        since=since,
        until=until,
    )
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    n = 0
    for e in session.scalars(q.execution_options(yield_per=1000)):
        w.writerow(
            [
                e.id,
                e.at.isoformat() if e.at else "",
                e.actor,
                e.action,
                e.entity_type,
                e.entity_id,
                "" if e.before is None else json.dumps(e.before, sort_keys=True),
                "" if e.after is None else json.dumps(e.after, sort_keys=True),
            ]
        )
        n += 1
    return n
