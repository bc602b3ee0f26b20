"""Taking responses: store each once, attribute it, understand it, act on it.

Every way a response comes in (a gateway's webhook, an e-mail reply, a tracked
link, a call-centre outcome file) ends in :func:`take_responses`, which in one
transaction per batch:

1. drops what was already taken (the same ``message_id`` from the same source);
2. attributes each response to the contact it answers: the contact its token or
   link names, otherwise the sender's latest contact on that channel still within
   its campaign's response window; unattributable responses are kept and listed;
3. classifies replies with the deployment's rules (an outcome the source already
   knows, such as a call-centre agent's, is taken as given);
4. acts: ``opt_out`` puts the customer on the opt-out list (that channel, or all
   of them) before the transaction commits, so no later decision can miss it;
   ``order`` books an order for the contact's offer; ``interest`` opens a lead and
   assigns it; ``other`` waits in the review queue.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tactica.domain.lists import ALL_CHANNELS, ListKind
from tactica.domain.replies import Classification, ReplyOutcome, classify, sender_variants
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit, orders, sales
from tactica.services.reply_rules import active_rules
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import (
    Campaign,
    Contact,
    Program,
    Response,
    SpecialList,
    SpecialListEntry,
)

log = logging.getLogger(__name__)

#: An order is booked from a reply only when the rules agree it is one; a reply that
#: also reads as a question ("yes, how much?") becomes a lead for a person instead.
ORDER_CONFIDENCE = 0.7
#: Responses a person should look at: not understood, or understood but unattributed.
REVIEW_PENDING = "pending"
KINDS = ("reply", "click", "call")
OPT_OUT_SCOPES = ("channel", "all")
_ANSWERED = ("sent", "delivered")
_MAX_WINDOW = timedelta(days=366)
#: How far a source's clock may be behind ours when it stamps a reply.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Inbound:
    """One response as a source hands it over, before it is stored.

    ``contact_id`` is set when the source knows which contact is answered (a reply
    token, a tracked link, a call-centre row); ``customer_id`` when it knows the
    customer; otherwise ``sender`` (an address on ``channel``) identifies them.
    ``outcome`` is set when the source already knows it (a call agent's result).
    """

    message_id: str
    channel: str
    text: str = ""
    sender: str | None = None
    customer_id: str | None = None
    contact_id: int | None = None
    received_at: datetime | None = None
    kind: str = "reply"
    outcome: str | None = None
    language: str | None = None
    discount: Decimal | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Taken:
    """What a batch of responses did."""

    accepted: int = 0
    duplicates: int = 0
    orders: int = 0
    pending_orders: int = 0
    leads: int = 0
    opt_outs: int = 0
    review: int = 0
    unattributed: int = 0
    clicks: int = 0
    ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts, for the API and the CLI."""
        return {k: v for k, v in vars(self).items() if k != "ids"}


def check_inbound(item: Inbound, where: str) -> None:
    """Raise :class:`InvalidInput` naming ``where`` when ``item`` cannot be taken."""
    if not item.message_id or len(item.message_id) > 200:
        raise InvalidInput("id: a message id of 1 to 200 characters is required", where=where)
    if item.kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}, got {item.kind!r}", where=where)
    if item.outcome is not None and item.outcome not in {o.value for o in ReplyOutcome}:
        known = ", ".join(o.value for o in ReplyOutcome)
        raise InvalidInput(f"outcome: one of {known}, got {item.outcome!r}", where=where)
    if not (item.sender or item.customer_id or item.contact_id is not None):
        raise InvalidInput("from: the sender's address (or a customer or contact)", where=where)
    if len(item.text) > 20_000:
        raise InvalidInput("text: longer than 20,000 characters", where=where)


def take_responses(
    store: Store,
    source: str,
    items: Sequence[Inbound],
    *,
    actor: str = "system",
    opt_out_scope: str = "channel",
    now: datetime | None = None,
) -> Taken:
    """Store, attribute, classify and act on a batch of responses from ``source``, atomically.

    Two takers racing on the same message: the loser's batch is retried once, and
    finds the message taken.
    """
    if opt_out_scope not in OPT_OUT_SCOPES:
        raise InvalidInput(f"opt-out scope: one of channel, all, got {opt_out_scope!r}")
    for i, item in enumerate(items):
        check_inbound(item, f"responses[{i}]")
    for attempt in (1, 2):
        try:
            with _one_writer(store), store.session() as s:
                if store.dialect == "sqlite":
                    # Write first: the transaction holds SQLite's write lock from its
                    # start (waiting for it, up to the busy timeout, while another
                    # process writes), so no other writer can commit between its reads
                    # and its writes, which SQLite would refuse ("database is locked").
                    s.execute(
                        sa.delete(Response)
                        .where(sa.false())
                        .execution_options(synchronize_session=False)
                    )
                taken = take_in(s, source, items, actor=actor, scope=opt_out_scope, now=now)
                s.commit()
                return taken
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("responses from %s raced another taker; retrying once", source)
    raise AssertionError("unreachable")  # pragma: no cover


#: Per SQLite database, the lock its takers in this process write under, one at a time.
_sqlite_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


@contextmanager
def _one_writer(store: Store) -> Iterator[None]:
    """On SQLite, one taker at a time in this process (the others wait their turn here,
    rather than in SQLite's busy handler, which polls); elsewhere, no wait."""
    if store.dialect != "sqlite":
        yield
        return
    with _writers_lock:
        lock = _sqlite_writers.setdefault(store.engine, threading.Lock())
    with lock:
        yield


def take_in(
    s: Session,
    source: str,
    items: Sequence[Inbound],
    *,
    actor: str = "system",
    scope: str = "channel",
    now: datetime | None = None,
) -> Taken:
    """:func:`take_responses` inside the caller's transaction (the caller commits)."""
    now = now or datetime.now(UTC)
    taken = Taken()
    fresh = _not_yet_taken(s, source, items)
    taken.duplicates = len(items) - len(fresh)
    if not fresh:
        return taken
    attributed = _attribute(s, fresh, now)
    rules = active_rules(s) if any(i.outcome is None and i.kind == "reply" for i in fresh) else []
    rows: list[tuple[Inbound, Response, Contact | None]] = []
    for item in fresh:
        contact, customer_id, by = attributed[item.message_id]
        verdict = _understand(item, rules)
        row = Response(
            source=source,
            message_id=item.message_id,
            channel=item.channel,
            kind=item.kind,
            received_at=item.received_at or now,
            sender=item.sender,
            text=item.text,
            customer_id=customer_id,
            contact_id=contact.id if contact else None,
            program=contact.program if contact else None,
            campaign=contact.campaign if contact else None,
            offer=contact.offer if contact else None,
            attributed_by=by,
            language=verdict.language,
            outcome=verdict.outcome.value,
            rule=verdict.rule,
            confidence=verdict.confidence,
            result="",
            data=dict(item.data),
        )
        s.add(row)
        rows.append((item, row, contact))
    s.flush()
    opt_outs = [(item, row) for item, row, _ in rows if row.outcome == ReplyOutcome.OPT_OUT]
    _opt_out(s, opt_outs, scope=scope, actor=actor, now=now)
    for item, row, contact in rows:
        _act(s, item, row, contact, actor=actor, now=now)
        taken.ids.append(row.id)
        _count(taken, row.result)
    taken.accepted = len(rows)
    s.flush()
    return taken


def _count(taken: Taken, result: str) -> None:
    attr = {
        "order": "orders",
        "order_pending": "pending_orders",
        "lead": "leads",
        "opt_out": "opt_outs",
        "review": "review",
        "unattributed": "unattributed",
        "clicked": "clicks",
    }.get(result)
    if attr:
        setattr(taken, attr, getattr(taken, attr) + 1)


# ------------------------------------------------------------------ dedupe


def _not_yet_taken(s: Session, source: str, items: Sequence[Inbound]) -> list[Inbound]:
    """``items`` less those taken before and less repeats within the batch."""
    first: dict[str, Inbound] = {}
    for item in items:
        first.setdefault(item.message_id, item)
    seen: set[str] = set()
    ids = list(first)
    for i in range(0, len(ids), 500):
        seen.update(
            s.scalars(
                sa.select(Response.message_id).where(
                    Response.source == source, Response.message_id.in_(ids[i : i + 500])
                )
            )
        )
    return [item for mid, item in first.items() if mid not in seen]


# ------------------------------------------------------------------ attribution


def _attribute(
    s: Session, items: Sequence[Inbound], now: datetime
) -> dict[str, tuple[Contact | None, str | None, str]]:
    """Per message id: the contact answered, the customer, and how it was found."""
    named = {i.contact_id for i in items if i.contact_id is not None}
    contacts: dict[int, Contact] = {}
    if named:
        contacts = {
            c.id: c for c in s.scalars(sa.select(Contact).where(Contact.id.in_(sorted(named))))
        }
    customers = _customers_by_sender(s, [i for i in items if i.customer_id is None])
    out: dict[str, tuple[Contact | None, str | None, str]] = {}
    wanted: list[tuple[Inbound, str]] = []
    for item in items:
        c = contacts.get(item.contact_id) if item.contact_id is not None else None
        if c is not None:
            out[item.message_id] = (c, c.customer_id, "link" if item.kind == "click" else "token")
            continue
        customer = item.customer_id or customers.get((item.channel, item.sender or ""))
        out[item.message_id] = (None, customer, "none")
        if customer is not None:
            wanted.append((item, customer))
    if wanted:
        latest = _latest_contacts(s, wanted, now)
        for item, customer in wanted:
            c = latest.get(item.message_id)
            if c is not None:
                out[item.message_id] = (c, customer, "window")
    return out


def _customers_by_sender(s: Session, items: Sequence[Inbound]) -> dict[tuple[str, str], str]:
    """(channel, sender) → customer id, for every sender found by their address."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for i in items:
        if i.sender:
            by_channel[i.channel].add(i.sender)
    if not by_channel:
        return {}
    schema = load_schema(s)
    table = customer_table(schema)
    out: dict[tuple[str, str], str] = {}
    for channel, senders in by_channel.items():
        point = schema.contact_point("sms" if channel == "phone" else channel)
        if point is None:
            continue
        variants: dict[str, str] = {}
        for sender in senders:
            for v in sender_variants(channel, sender):
                variants.setdefault(v, sender)
        col = table.c[point.name]
        keys = list(variants)
        for k in range(0, len(keys), 500):
            for cid, value in s.execute(
                sa.select(table.c.id, col).where(col.in_(keys[k : k + 500])).order_by(table.c.id)
            ):
                out.setdefault((channel, variants[str(value)]), cid)
    return out


def _latest_contacts(
    s: Session, wanted: Sequence[tuple[Inbound, str]], now: datetime
) -> dict[str, Contact]:
    """Per message id: the latest contact on its channel it can answer (inside the window)."""
    customers = sorted({c for _, c in wanted})
    times = [(i.received_at or now) for i, _ in wanted]
    since = min(times) - _MAX_WINDOW
    channels = sorted({("sms" if i.channel == "phone" else i.channel) for i, _ in wanted})
    found: dict[str, list[Contact]] = defaultdict(list)
    for k in range(0, len(customers), 500):
        for c in s.scalars(
            sa.select(Contact).where(
                Contact.customer_id.in_(customers[k : k + 500]),
                Contact.channel.in_(channels + (["phone"] if "sms" in channels else [])),
                Contact.status.in_(_ANSWERED),
                Contact.decided_at >= since,
            )
        ):
            found[c.customer_id].append(c)
    windows = _windows(s, {(c.program, c.campaign) for cs in found.values() for c in cs})
    out: dict[str, Contact] = {}
    for item, customer in wanted:
        at = item.received_at or now
        best: tuple[datetime, int, Contact] | None = None
        for c in found.get(customer, ()):
            if c.channel != item.channel:
                continue
            went = c.sent_at or c.decided_at
            days = windows.get((c.program, c.campaign), 14)
            # Gateways stamp replies to the second, with their own clock: a reply may
            # look a little older than the message it answers.
            if went - CLOCK_SKEW <= at <= went + timedelta(days=days):
                key = (went, c.id, c)
                if best is None or key[:2] > best[:2]:
                    best = key
        if best is not None:
            out[item.message_id] = best[2]
    return out


def _windows(s: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not pairs:
        return {}
    rows = s.execute(
        sa.select(Program.name, Campaign.name, Campaign.response_window_days)
        .join(Campaign, Campaign.program_id == Program.id)
        .where(Program.name.in_(sorted({p for p, _ in pairs})))
    )
    return {(p, c): int(d) for p, c, d in rows}


# ------------------------------------------------------------------ understanding


def _understand(item: Inbound, rules: Sequence[Any]) -> Classification:
    if item.outcome is not None:
        return Classification(ReplyOutcome(item.outcome), item.language or "", "given", 1.0)
    if item.kind == "click":
        return Classification(ReplyOutcome.INTEREST, item.language or "", "click", 1.0)
    return classify(item.text, rules, language=item.language)


# ------------------------------------------------------------------ acting


def _opt_out_list(s: Session) -> SpecialList:
    lst = s.scalar(sa.select(SpecialList).where(SpecialList.kind == ListKind.OPT_OUT.value))
    if lst is None:
        raise NotFound("no opt-out list: create a list of kind opt_out")
    return lst


def _opt_out(
    s: Session,
    items: Sequence[tuple[Inbound, Response]],
    *,
    scope: str,
    actor: str,
    now: datetime,
) -> None:
    """Put every known customer who asked to stop on the opt-out list, in this transaction."""
    known = [(i, r) for i, r in items if r.customer_id]
    for _, r in items:
        if not r.customer_id:
            r.result, r.review = "unattributed", REVIEW_PENDING
    if not known:
        return
    lst = _opt_out_list(s)
    existing: set[tuple[str, str]] = set(
        s.execute(
            sa.select(SpecialListEntry.customer_id, SpecialListEntry.channel).where(
                SpecialListEntry.list_id == lst.id,
                SpecialListEntry.customer_id.in_(sorted({r.customer_id for _, r in known})),
                sa.or_(SpecialListEntry.expires_at.is_(None), SpecialListEntry.expires_at > now),
            )
        ).all()
    )
    for item, r in known:
        assert r.customer_id is not None
        channel = ALL_CHANNELS if scope == "all" else item.channel
        r.result = "opt_out"
        if (r.customer_id, channel) in existing or (r.customer_id, ALL_CHANNELS) in existing:
            continue
        existing.add((r.customer_id, channel))
        # Delete-then-insert: an expired entry for the same channel is replaced.
        s.execute(
            sa.delete(SpecialListEntry).where(
                SpecialListEntry.list_id == lst.id,
                SpecialListEntry.customer_id == r.customer_id,
                SpecialListEntry.channel == channel,
            )
        )
        s.add(
            SpecialListEntry(
                list_id=lst.id,
                customer_id=r.customer_id,
                channel=channel,
                source=f"{r.kind}:{r.source}",
                reason=f"replied {r.text[:200]!r} (rule {r.rule})",
                created_by=actor,
                created_at=now,
            )
        )
        audit.record(
            s,
            actor,
            "add",
            "special_list",
            lst.name,
            None,
            {"customer_id": r.customer_id, "channel": channel, "response": r.id},
        )


def _act(
    s: Session,
    item: Inbound,
    row: Response,
    contact: Contact | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    outcome = ReplyOutcome(row.outcome)
    if outcome is ReplyOutcome.OPT_OUT:
        return  # done with every opt-out of the batch, see _opt_out
    if row.kind == "click":
        row.result = "clicked" if contact is not None else "unattributed"
        return
    if outcome is ReplyOutcome.OTHER:
        row.result = "review" if row.kind == "reply" else "recorded"
        row.review = REVIEW_PENDING if row.kind == "reply" else None
        return
    if contact is None or row.customer_id is None:
        row.result, row.review = "unattributed", REVIEW_PENDING
        return
    apply_outcome(s, row, outcome, actor=actor, now=now, discount=item.discount)


def apply_outcome(
    s: Session,
    row: Response,
    outcome: ReplyOutcome,
    *,
    actor: str,
    now: datetime,
    discount: Decimal | None = None,
) -> None:
    """Turn an attributed order or interest into its order or lead; sets ``row.result``."""
    assert row.customer_id is not None
    if outcome is ReplyOutcome.ORDER and row.offer and row.confidence >= ORDER_CONFIDENCE:
        order = orders.book_order(
            s,
            customer_id=row.customer_id,
            offer_code=row.offer,
            actor=actor,
            program=row.program,
            campaign=row.campaign,
            contact_id=row.contact_id,
            response_id=row.id,
            discount=discount or Decimal(0),
        )
        row.result = "order" if order.status == orders.BOOKED else "order_pending"
        return
    sales.open_lead(
        s,
        customer_id=row.customer_id,
        reply=row.text,
        program=row.program,
        campaign=row.campaign,
        offer=row.offer,
        contact_id=row.contact_id,
        response_id=row.id,
        now=now,
    )
    row.result = "lead"


# ------------------------------------------------------------------ views and review


def response_view(r: Response) -> dict[str, Any]:
    """A response as the API and CLI show it."""
    return {
        "id": r.id,
        "source": r.source,
        "message_id": r.message_id,
        "channel": r.channel,
        "kind": r.kind,
        "received_at": r.received_at.isoformat(),
        "sender": r.sender,
        "text": r.text,
        "customer_id": r.customer_id,
        "contact_id": r.contact_id,
        "program": r.program,
        "campaign": r.campaign,
        "offer": r.offer,
        "attributed_by": r.attributed_by,
        "language": r.language,
        "outcome": r.outcome,
        "rule": r.rule,
        "confidence": r.confidence,
        "result": r.result,
        "review": r.review,
        "reviewed_by": r.reviewed_by,
    }


def list_responses(
    s: Session,
    *,
    review: bool = False,
    unattributed: bool = False,
    outcome: str | None = None,
    customer_id: str | None = None,
    limit: int = 100,
) -> list[Response]:
    """Responses, newest first: all, the review queue, or the unattributed ones."""
    q = sa.select(Response).order_by(Response.id.desc()).limit(limit)
    if review:
        q = q.where(Response.review == REVIEW_PENDING)
    if unattributed:
        q = q.where(Response.contact_id.is_(None))
    if outcome:
        q = q.where(Response.outcome == outcome)
    if customer_id:
        q = q.where(Response.customer_id == customer_id)
    return list(s.scalars(q))


def get_response(s: Session, response_id: int) -> Response:
    """The response ``response_id``."""
    r = s.get(Response, response_id)
    if r is None:
        raise NotFound(f"no response {response_id}")
    return r


def correct(
    s: Session,
    response_id: int,
    outcome: str,
    *,
    actor: str,
    remember: str | None = None,
    opt_out_scope: str = "channel",
    now: datetime | None = None,
) -> Response:
    """A person's reading of a response: act on it, and optionally remember it as a rule.

    Only a response that has not yet led anywhere (review queue, unattributed, or
    recorded) can be corrected; an order, lead or opt-out already made stays, and is
    undone where it lives (the order, the lead, the list). ``remember`` is the keyword
    to add as a rule for the response's language (e.g. the reply itself).
    """
    from tactica.services.reply_rules import add_rule

    now = now or datetime.now(UTC)
    r = s.scalar(sa.select(Response).where(Response.id == response_id).with_for_update())
    if r is None:
        raise NotFound(f"no response {response_id}")
    try:
        target = ReplyOutcome(outcome)
    except ValueError:
        known = ", ".join(o.value for o in ReplyOutcome)
        raise InvalidInput(f"outcome: one of {known}, got {outcome!r}") from None
    if r.result in ("order", "order_pending", "lead", "opt_out"):
        raise Conflict(
            f"response {response_id} already led to {r.result.replace('_', ' ')}; "
            "change that instead"
        )
    before = response_view(r)
    r.outcome, r.rule, r.confidence = target.value, f"corrected by {actor}", 1.0
    r.review, r.reviewed_by, r.reviewed_at = "done", actor, now
    if target is ReplyOutcome.OPT_OUT:
        item = Inbound(r.message_id, r.channel, r.text, customer_id=r.customer_id)
        _opt_out(s, [(item, r)], scope=opt_out_scope, actor=actor, now=now)
        if r.result == "unattributed":
            r.review = REVIEW_PENDING
    elif target is ReplyOutcome.OTHER:
        r.result = "recorded"
    elif r.contact_id is None or r.customer_id is None:
        r.result = "unattributed"
    else:
        apply_outcome(s, r, target, actor=actor, now=now)
    if remember:
        add_rule(
            s,
            outcome=target.value,
            text=remember,
            language=r.language or None,
            actor=actor,
            source="correction",
        )
    s.flush()
    audit.record(s, actor, "correct", "response", r.id, before, response_view(r))
    return r


def taken_summary(rows: Iterable[Response]) -> dict[str, int]:
    """How many responses ended in each result."""
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r.result] += 1
    return dict(out)
