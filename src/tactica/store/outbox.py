"""The transactional outbox: contacts waiting to be sent, and the workers' claims on them.

A contact enters the outbox in the transaction that creates it and leaves it in the
one that records it sent or failed, so nothing decided is ever lost or sent twice
by the database's doing. Workers take due entries in key order (channel, due time,
contact). A claim moves an entry's due time to the end of the worker's lease: if
the worker dies, the entry simply falls due again and another worker takes it; if
it lives, it deletes the entry with the key it claimed, and a late worker whose
lease ran out finds nothing to delete and records nothing.

Claims are safe with many workers: on PostgreSQL the due entries are locked with
``FOR UPDATE SKIP LOCKED`` (two workers never wait on or take the same rows); on
SQLite the claim's transaction starts with a write, which takes the database's
single write lock, so claims simply follow each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.store.models import Contact, OutboxEntry


@dataclass(frozen=True)
class Claimed:
    """An outbox entry a worker holds until ``lease_until`` (the entry's new due time)."""

    contact_id: int
    channel: str
    lease_until: datetime
    attempts: int


def enqueue_run(session: Session, run_id: int, due_at: datetime) -> int:
    """Put every queued contact of run ``run_id`` in the outbox, due at ``due_at``.

    One INSERT ... SELECT inside the database, in the caller's transaction.
    """
    rows = sa.select(
        Contact.channel,
        sa.literal(due_at, OutboxEntry.due_at.type),
        Contact.id,
        sa.literal(0, sa.Integer()),
    ).where(Contact.run_id == run_id, Contact.status == "queued")
    result = session.execute(
        sa.insert(OutboxEntry).from_select(["channel", "due_at", "contact_id", "attempts"], rows)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_due(
    session: Session,
    channel: str,
    *,
    worker: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[Claimed]:
    """Claim up to ``limit`` entries of ``channel`` due by ``now`` for ``worker``.

    The caller commits right after, and on SQLite has already written in this
    transaction (so it holds the write lock: see the module's docstring).
    """
    if limit <= 0:
        return []
    due = (
        sa.select(OutboxEntry.due_at, OutboxEntry.contact_id, OutboxEntry.attempts)
        .where(OutboxEntry.channel == channel, OutboxEntry.due_at <= now)
        .order_by(OutboxEntry.due_at, OutboxEntry.contact_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(due).all()
    if not rows:
        return []
    t = sa.Table("outbox", OutboxEntry.metadata)
    session.execute(
        sa.update(t)
        .where(
            t.c.channel == channel,
            t.c.due_at == sa.bindparam("old_due"),
            t.c.contact_id == sa.bindparam("cid"),
        )
        .values(due_at=lease_until, claimed_by=worker),
        [{"old_due": due_at, "cid": cid} for due_at, cid, _ in rows],
    )
    return [Claimed(cid, channel, lease_until, attempts) for _, cid, attempts in rows]
