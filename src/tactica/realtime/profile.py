"""What a decision reads of its customers, in four queries for a whole batch of events.

The customer rows, their unexpired special-list entries, their memberships of the
static segments live rules read, and their contacts in the policies' horizon (the
ledger: queued, scheduled, sent and delivered contacts of runs and of events alike).
Every read goes by an index on the customer id. Nothing is cached between batches:
an import, an opt-out or a contact committed a moment ago is what the next decision
sees.
"""

from __future__ import annotations

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
    wanted = sorted(set(ids))
    out: dict[str, Profile] = {}
    for chunk in _chunks(wanted):
        for r in session.execute(sa.select(customers).where(customers.c.id.in_(chunk))):
            row = dict(r._mapping)
            out[row["id"]] = Profile(row)
    found = sorted(out)
    if not found:
        return out
    for chunk in _chunks(found):
        marks = session.execute(
            sa.select(
                SpecialListEntry.customer_id,
                SpecialList.name,
                SpecialList.kind,
                SpecialListEntry.channel,
            )
            .join(SpecialList, SpecialList.id == SpecialListEntry.list_id)
            .where(
                SpecialListEntry.customer_id.in_(chunk),
                sa.or_(SpecialListEntry.expires_at.is_(None), SpecialListEntry.expires_at > now),
            )
        )
        for cid, name, kind, channel in marks:
            out[cid].lists.append(ListMark(name, kind, channel))
        if static_segments:
            members = session.execute(
                sa.select(SegmentMember.customer_id, Segment.name)
                .join(Segment, Segment.id == SegmentMember.segment_id)
                .where(
                    Segment.name.in_(sorted(static_segments)),
                    SegmentMember.customer_id.in_(chunk),
                )
            )
            for cid, name in members:
                out[cid].segments.add(name)
        ledger = session.execute(
            sa.select(
                Contact.customer_id,
                Contact.decided_at,
                Contact.channel,
                Contact.campaign,
                Contact.campaign_kind,
                Contact.offer,
                Contact.status,
            ).where(
                Contact.customer_id.in_(chunk),
                Contact.decided_at > now - horizon,
                Contact.status.not_in(_NOT_COUNTED),
            )
        )
        for cid, at, channel, campaign, kind, offer, status in ledger:
            out[cid].ledger.append(
                LedgerEntry(at, channel, campaign, kind, offer, ContactStatus(status))
            )
    return out
