"""What a decision reads of its customers, in at most three queries for a batch of events.

The customer rows, their unexpired special-list entries, their memberships of the
static segments live rules read, and their contacts in the policies' horizon (the
ledger: queued, scheduled, sent and delivered contacts of runs and of events alike).
Every read goes by an index on the customer id. Nothing is cached between batches:
an import, an opt-out or a contact committed a moment ago is what the next decision
sees.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.policy import ContactStatus, LedgerEntry
from tactica.realtime.decide import ListMark, Profile
from tactica.store.models import Contact, Segment, SegmentMember, SpecialList, SpecialListEntry

#: Ids per ``IN (...)`` list (SQLite allows 32,766 parameters; keep statements small).
CHUNK = 500
_NOT_COUNTED = [s.value for s in ContactStatus if not s.counts]


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


class _Reads:
    """The statements, built once per customer table: a batch binds its ids and
    times to them, so SQLAlchemy neither rebuilds nor recompiles them."""

    def __init__(self, customers: sa.Table) -> None:
        ids: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
        self.customers = sa.select(customers).where(customers.c.id.in_(ids))
        member, segment = SegmentMember.__table__, Segment.__table__
        self.members = (
            sa.select(member.c.customer_id, segment.c.name)
            .join(segment, segment.c.id == member.c.segment_id)
            .where(
                segment.c.name.in_(sa.bindparam("segments", expanding=True)),
                member.c.customer_id.in_(ids),
            )
        )
        # The ledger and the special-list marks in one statement (one round trip to a
        # server): a contact row is marked 1, a list entry 0, in the same columns.
        c = Contact.__table__.c
        ledger = sa.select(
            c.customer_id,
            sa.literal_column("1").label("is_contact"),
            c.decided_at,
            c.channel,
            c.campaign,
            c.campaign_kind,
            c.offer,
            c.status,
        ).where(
            c.customer_id.in_(ids),
            c.decided_at > sa.bindparam("since"),
            c.status.not_in(_NOT_COUNTED),
        )
        entry, lst = SpecialListEntry.__table__, SpecialList.__table__
        marks = (
            sa.select(
                entry.c.customer_id,
                sa.literal_column("0"),
                sa.null(),
                entry.c.channel,
                lst.c.name,
                lst.c.kind,
                sa.null(),
                sa.null(),
            )
            .join(lst, lst.c.id == entry.c.list_id)
            .where(
                entry.c.customer_id.in_(ids),
                sa.or_(entry.c.expires_at.is_(None), entry.c.expires_at > sa.bindparam("now")),
            )
        )
        self.history = sa.union_all(ledger, marks)


_reads: weakref.WeakKeyDictionary[sa.Table, _Reads] = weakref.WeakKeyDictionary()
_reads_lock = threading.Lock()


def _reads_for(customers: sa.Table) -> _Reads:
    with _reads_lock:
        reads = _reads.get(customers)
        if reads is None:
            reads = _reads[customers] = _Reads(customers)
        return reads


def read_profiles(
    session: Session,
    customers: sa.Table,
    ids: Collection[str],
    *,
    now: datetime,
    horizon: timedelta,
    static_segments: Collection[str] = (),
) -> dict[str, Profile]:
    """Profiles of the customers of ``ids`` that exist (unknown ids are left out)."""
    reads = _reads_for(customers)
    conn = session.connection()
    wanted = sorted(set(ids))
    out: dict[str, Profile] = {}
    for chunk in _chunks(wanted):
        for r in conn.execute(reads.customers, {"ids": list(chunk)}):
            row = dict(r._mapping)
            out[row["id"]] = Profile(row)
    found = sorted(out)
    if not found:
        return out
    segments = sorted(static_segments)
    since = now - horizon
    for chunk in _chunks(found):
        history = conn.execute(reads.history, {"ids": chunk, "now": now, "since": since})
        for cid, is_contact, at, channel, name, kind, offer, status in history:
            if is_contact:
                out[cid].ledger.append(
                    LedgerEntry(at, channel, name, kind, offer, ContactStatus(status))
                )
            else:
                out[cid].lists.append(ListMark(name, kind, channel))
        if segments:
            members = conn.execute(reads.members, {"ids": chunk, "segments": segments})
            for cid, name in members:
                out[cid].segments.add(name)
    return out
