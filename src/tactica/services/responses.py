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

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from tactica.domain.lists import ALL_CHANNELS, ListKind
from tactica.domain.replies import (
    Classification,
    ReplyOutcome,
    classify,
    sender_variants,
)
from tactica.domain.sales import (
    AssignmentStrategy,
    LeadStatus,
    sla_due,
)
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit, orders, sales
from tactica.services.reply_rules import active_rules
from tactica.store.customer_table import load_schema
from tactica.store.db import Store
from tactica.store.models import (
    AuditEntry,
    Campaign,
    Contact,
    Lead,
    Offer,
    Order,
    Program,
    ReplyRuleRow,
    Response,
    SpecialList,
    SpecialListEntry,
)
from tactica.store.writers import one_writer, raced, take_write_lock

log = logging.getLogger(__name__)

#: An order is booked from a reply only when the rules agree it is one; a reply that
#: also reads as a question ("yes, how much?") becomes a lead for a person instead.
ORDER_CONFIDENCE = 0.7
#: Responses a person should look at: not understood, or understood but unattributed.
REVIEW_PENDING = "pending"
KINDS = ("reply", "click", "call")
OPT_OUT_SCOPES = ("channel", "all")
#: What a response can have led to (its ``result``).
RESULTS = (
    "order",
    "order_pending",
    "lead",
    "opt_out",
    "review",
    "unattributed",
    "clicked",
    "recorded",
)
_ANSWERED = ("sent", "delivered")
_MAX_WINDOW = timedelta(days=366)
#: How many times a batch is tried when it races another taker.
ATTEMPTS = 3
# The tables written in bulk, as Core tables.
_RESPONSES = cast(sa.Table, Response.__table__)
_ENTRIES = cast(sa.Table, SpecialListEntry.__table__)
_AUDIT = cast(sa.Table, AuditEntry.__table__)
_ORDERS = cast(sa.Table, Order.__table__)
_LEADS = cast(sa.Table, Lead.__table__)
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

    Two takers racing on the same message: the one that commits second leaves it out
    as a duplicate. Racing on anything else (the same customer opting out in both,
    PostgreSQL choosing one of two takers that wait on each other): the loser's batch
    is taken again, up to :data:`ATTEMPTS` times in all.
    """
    if opt_out_scope not in OPT_OUT_SCOPES:
        raise InvalidInput(f"opt-out scope: one of channel, all, got {opt_out_scope!r}")
    for i, item in enumerate(items):
        check_inbound(item, f"responses[{i}]")
    # Read the replies before taking the write lock: on SQLite, writers wait for each
    # other, and reading is most of a batch's work.
    readings = _read_first(store, items)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with one_writer(store), store.session() as s:
                take_write_lock(s, _RESPONSES)
                taken = take_in(
                    s, source, items, actor=actor, scope=opt_out_scope, now=now, readings=readings
                )
                s.commit()
                return taken
        except (IntegrityError, OperationalError) as e:
            if attempt == ATTEMPTS or not raced(e):
                raise
            log.info("responses from %s raced another taker (%s); taking them again", source, e)
    raise AssertionError("unreachable")  # pragma: no cover


def take_in(
    s: Session,
    source: str,
    items: Sequence[Inbound],
    *,
    actor: str = "system",
    scope: str = "channel",
    now: datetime | None = None,
    readings: Mapping[tuple[str, str | None], Classification] | None = None,
) -> Taken:
    """:func:`take_responses` inside the caller's transaction (the caller commits).

    Set-based: a batch costs a fixed number of statements whatever its size (each
    lookup reads every item's rows at once, each kind of row is written in one
    statement), with what each response leads to decided in memory first.
    ``readings``: the replies already classified with the rules, by text and
    language (see :func:`_read_first`); otherwise they are classified here.
    """
    now = now or datetime.now(UTC)
    taken = Taken()
    fresh = _not_yet_taken(s, source, items)
    taken.duplicates = len(items) - len(fresh)
    if not fresh:
        return taken
    attributed = _attribute(s, fresh, now)
    understand: Callable[[str, str | None], Classification] = _no_rules
    if _needs_rules(fresh):
        understand = _classifier(s) if readings is None else _known(readings)
    plans = [
        _plan(item, *attributed[item.message_id], _understand(item, understand)) for item in fresh
    ]
    orders_of = _price_orders(s, [p for p in plans if p.action == "order"])
    for p in plans:
        if p.action == "order":
            booked = orders_of[p.item.message_id]["status"] == orders.BOOKED
            p.result = "order" if booked else "order_pending"
    stored = _insert_responses(s, source, plans, now)
    if len(stored) < len(plans):
        # Taken meanwhile by another taker, which committed first: a duplicate.
        plans = [p for p in plans if p.item.message_id in stored]
        taken.duplicates = len(items) - len(plans)
    for p in plans:
        p.response_id = stored[p.item.message_id]
    _opt_out(
        s,
        [_opt_out_of(p, source) for p in plans if p.action == "opt_out"],
        scope=scope,
        actor=actor,
        now=now,
    )
    _book_orders(s, plans, orders_of, actor=actor)
    _open_leads(s, [p for p in plans if p.action == "lead"], now=now)
    for p in plans:
        _count(taken, p.result)
    taken.ids = [p.response_id for p in plans]
    taken.accepted = len(plans)
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


class _Sent(NamedTuple):
    """A contact as attribution needs it."""

    id: int
    customer_id: str
    channel: str
    program: str
    campaign: str
    offer: str | None
    sent_at: datetime | None
    decided_at: datetime


_SENT_COLUMNS = (
    Contact.id,
    Contact.customer_id,
    Contact.channel,
    Contact.program,
    Contact.campaign,
    Contact.offer,
    Contact.sent_at,
    Contact.decided_at,
)


def _attribute(
    s: Session, items: Sequence[Inbound], now: datetime
) -> dict[str, tuple[_Sent | None, str | None, str]]:
    """Per message id: the contact answered, the customer, and how it was found."""
    named = {i.contact_id for i in items if i.contact_id is not None}
    contacts: dict[int, _Sent] = {}
    if named:
        contacts = {
            c.id: c
            for c in map(
                _Sent._make,
                s.execute(sa.select(*_SENT_COLUMNS).where(Contact.id.in_(sorted(named)))),
            )
        }
    customers = _customers_by_sender(s, [i for i in items if i.customer_id is None])
    out: dict[str, tuple[_Sent | None, str | None, str]] = {}
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
    out: dict[tuple[str, str], str] = {}
    for channel, senders in by_channel.items():
        point = schema.contact_point("sms" if channel == "phone" else channel)
        if point is None:
            continue
        variants: dict[str, str] = {}
        for sender in senders:
            for v in sender_variants(channel, sender):
                variants.setdefault(v, sender)
        # Two columns of the customer table are all this needs (a table of every
        # declared field would be a new statement to compile for each batch).
        table = _addresses(point.name)
        col = table.c[point.name]
        keys = list(variants)
        for k in range(0, len(keys), 500):
            for cid, value in s.execute(
                sa.select(table.c.id, col).where(col.in_(keys[k : k + 500])).order_by(table.c.id)
            ):
                out.setdefault((channel, variants[str(value)]), cid)
    return out


@functools.lru_cache(maxsize=16)
def _addresses(column: str) -> sa.TableClause:
    """The customers' ids and one contact-point column."""
    return sa.table("customers", sa.column("id", sa.String), sa.column(column, sa.Text))


def _latest_contacts(
    s: Session, wanted: Sequence[tuple[Inbound, str]], now: datetime
) -> dict[str, _Sent]:
    """Per message id: the latest contact on its channel it can answer (inside the window)."""
    customers = sorted({c for _, c in wanted})
    times = [(i.received_at or now) for i, _ in wanted]
    since = min(times) - _MAX_WINDOW
    channels = sorted({("sms" if i.channel == "phone" else i.channel) for i, _ in wanted})
    # Each contact with its campaign's response window (14 days for a campaign gone).
    window = sa.func.coalesce(Campaign.response_window_days, 14)
    found: dict[str, list[tuple[_Sent, int]]] = defaultdict(list)
    for k in range(0, len(customers), 500):
        for *columns, days in s.execute(
            sa.select(*_SENT_COLUMNS, window)
            .outerjoin(Program, Program.name == Contact.program)
            .outerjoin(
                Campaign,
                sa.and_(Campaign.program_id == Program.id, Campaign.name == Contact.campaign),
            )
            .where(
                Contact.customer_id.in_(customers[k : k + 500]),
                Contact.channel.in_(channels + (["phone"] if "sms" in channels else [])),
                Contact.status.in_(_ANSWERED),
                Contact.decided_at >= since,
            )
        ):
            c = _Sent._make(columns)
            found[c.customer_id].append((c, int(days)))
    out: dict[str, _Sent] = {}
    for item, customer in wanted:
        at = item.received_at or now
        best: tuple[datetime, int, _Sent] | None = None
        for c, days in found.get(customer, ()):
            if c.channel != item.channel:
                continue
            went = c.sent_at or c.decided_at
            # Gateways stamp replies to the second, with their own clock: a reply may
            # look a little older than the message it answers.
            if went - CLOCK_SKEW <= at <= went + timedelta(days=days):
                key = (went, c.id, c)
                if best is None or key[:2] > best[:2]:
                    best = key
        if best is not None:
            out[item.message_id] = best[2]
    return out


# ------------------------------------------------------------------ understanding

#: Replies up to this long have their reading remembered (most are a word or two,
#: and the same few words come back again and again: YES, STOP, 退订, ДА).
_REMEMBERED_TEXT = 160
_RULE_TABLE = cast(sa.Table, ReplyRuleRow.__table__)
#: What tells one state of the rule table from another: every column but the time a
#: row was made (which never changes, and costs most to read).
_RULE_STATE = [c for c in _RULE_TABLE.c if c.name != "created_at"]


@dataclass(frozen=True)
class _Reader:
    """``classify`` with the rules read from ``stored`` (the rule table's rows)."""

    stored: tuple[tuple[Any, ...], ...]
    read: Callable[[str, str | None], Classification]


_reader: _Reader | None = None


def _classifier(s: Session) -> Callable[[str, str | None], Classification]:
    """``classify`` with the deployment's active rules, remembering its answers.

    Classifying is a pure function of the text, the language and the rules, so while
    the rule table holds the same rows, a reply read before is read the same way
    again, and the rules need not be built again (the table's rows are compared,
    see :data:`_RULE_STATE`; any change makes a new reader from :func:`active_rules`).
    """
    global _reader
    stored = tuple(tuple(r) for r in s.execute(sa.select(*_RULE_STATE).order_by(_RULE_TABLE.c.id)))
    held = _reader
    if held is not None and held.stored == stored:
        return held.read
    rules = tuple(active_rules(s))

    @functools.lru_cache(maxsize=4096)
    def remembered(text: str, language: str | None) -> Classification:
        return classify(text, rules, language=language)

    def read(text: str, language: str | None) -> Classification:
        if len(text) > _REMEMBERED_TEXT:
            return classify(text, rules, language=language)
        return remembered(text, language)

    _reader = _Reader(stored, read)
    return read


def _no_rules(text: str, language: str | None) -> Classification:
    return classify(text, [], language=language)


def _needs_rules(items: Iterable[Inbound]) -> bool:
    """True when a batch holds a reply to read with the rules (else none are read)."""
    return any(i.outcome is None and i.kind == "reply" for i in items)


def _read_first(
    store: Store, items: Sequence[Inbound]
) -> dict[tuple[str, str | None], Classification] | None:
    """Every text of ``items`` that :func:`take_in` may classify, read with the rules
    as they are now (in a transaction of its own); None when none needs the rules."""
    if not _needs_rules(items):
        return None
    with store.session() as s:
        read = _classifier(s)
    texts = {(i.text, i.language) for i in items if i.outcome is None and i.kind != "click"}
    return {(text, language): read(text, language) for text, language in texts}


def _known(
    readings: Mapping[tuple[str, str | None], Classification],
) -> Callable[[str, str | None], Classification]:
    def read(text: str, language: str | None) -> Classification:
        return readings[(text, language)]

    return read


def _understand(item: Inbound, read: Callable[[str, str | None], Classification]) -> Classification:
    if item.outcome is not None:
        return Classification(ReplyOutcome(item.outcome), item.language or "", "given", 1.0)
    if item.kind == "click":
        return Classification(ReplyOutcome.INTEREST, item.language or "", "click", 1.0)
    return read(item.text, item.language)


# ------------------------------------------------------------------ deciding


@dataclass
class _Plan:
    """One fresh response: where it comes from, how it was read, what it leads to.

    ``action`` is what is still to be written besides the response: ``opt_out``,
    ``order``, ``lead`` or None.
    """

    item: Inbound
    contact: _Sent | None
    customer_id: str | None
    attributed_by: str
    verdict: Classification
    result: str = ""
    review: str | None = None
    action: str | None = None
    response_id: int = 0


def _plan(
    item: Inbound,
    contact: _Sent | None,
    customer_id: str | None,
    by: str,
    verdict: Classification,
) -> _Plan:
    """What a response leads to (an order's result, booked or pending, is set later)."""
    p = _Plan(item, contact, customer_id, by, verdict)
    outcome = verdict.outcome
    if outcome is ReplyOutcome.OPT_OUT:
        if customer_id:
            p.result, p.action = "opt_out", "opt_out"
        else:
            p.result, p.review = "unattributed", REVIEW_PENDING
    elif item.kind == "click":
        p.result = "clicked" if contact is not None else "unattributed"
    elif outcome is ReplyOutcome.OTHER:
        p.result = "review" if item.kind == "reply" else "recorded"
        p.review = REVIEW_PENDING if item.kind == "reply" else None
    elif contact is None or customer_id is None:
        p.result, p.review = "unattributed", REVIEW_PENDING
    elif outcome is ReplyOutcome.ORDER and contact.offer and verdict.confidence >= ORDER_CONFIDENCE:
        p.action = "order"
    else:
        p.result, p.action = "lead", "lead"
    return p


def _insert_responses(
    s: Session, source: str, plans: Sequence[_Plan], now: datetime
) -> dict[str, int]:
    """Store the responses in one statement; the id of each, by message id."""
    rows = []
    for p in plans:
        item, contact, verdict = p.item, p.contact, p.verdict
        rows.append(
            {
                "source": source,
                "message_id": item.message_id,
                "channel": item.channel,
                "kind": item.kind,
                "received_at": item.received_at or now,
                "sender": item.sender,
                "text": item.text,
                "customer_id": p.customer_id,
                "contact_id": contact.id if contact else None,
                "program": contact.program if contact else None,
                "campaign": contact.campaign if contact else None,
                "offer": contact.offer if contact else None,
                "attributed_by": p.attributed_by,
                "language": verdict.language,
                "outcome": verdict.outcome.value,
                "rule": verdict.rule,
                "confidence": verdict.confidence,
                "result": p.result,
                "review": p.review,
                "data": dict(item.data),
            }
        )
    # A message another taker stores meanwhile is skipped, not an error: on PostgreSQL
    # the insert waits for that taker to commit, then leaves its row out.
    dialect = s.get_bind().dialect.name
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(_RESPONSES)
    done = insert.on_conflict_do_nothing(index_elements=["source", "message_id"]).returning(
        _RESPONSES.c.message_id, _RESPONSES.c.id
    )
    return {mid: rid for mid, rid in s.execute(done, rows)}


# ------------------------------------------------------------------ acting


def _opt_out_list(s: Session) -> SpecialList:
    lst = s.scalar(sa.select(SpecialList).where(SpecialList.kind == ListKind.OPT_OUT.value))
    if lst is None:
        raise NotFound("no opt-out list: create a list of kind opt_out")
    return lst


class _OptOut(NamedTuple):
    """A known customer's response asking to stop."""

    customer_id: str
    channel: str
    kind: str
    source: str
    text: str
    rule: str | None
    response_id: int


def _opt_out_of(p: _Plan, source: str) -> _OptOut:
    assert p.customer_id is not None
    item = p.item
    return _OptOut(
        p.customer_id, item.channel, item.kind, source, item.text, p.verdict.rule, p.response_id
    )


def _opt_out(
    s: Session,
    wanted: Sequence[_OptOut],
    *,
    scope: str,
    actor: str,
    now: datetime,
) -> None:
    """Put every customer who asked to stop on the opt-out list, in this transaction."""
    if not wanted:
        return
    lst = _opt_out_list(s)
    existing: set[tuple[str, str]] = set(
        s.execute(
            sa.select(SpecialListEntry.customer_id, SpecialListEntry.channel).where(
                SpecialListEntry.list_id == lst.id,
                SpecialListEntry.customer_id.in_(sorted({w.customer_id for w in wanted})),
                sa.or_(SpecialListEntry.expires_at.is_(None), SpecialListEntry.expires_at > now),
            )
        ).all()
    )
    entries: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    for w in wanted:
        channel = ALL_CHANNELS if scope == "all" else w.channel
        if (w.customer_id, channel) in existing or (w.customer_id, ALL_CHANNELS) in existing:
            continue
        existing.add((w.customer_id, channel))
        entries.append(
            {
                "list_id": lst.id,
                "customer_id": w.customer_id,
                "channel": channel,
                "source": f"{w.kind}:{w.source}",
                "reason": f"replied {w.text[:200]!r} (rule {w.rule})",
                "created_by": actor,
                "created_at": now,
            }
        )
        audits.append(
            {
                "actor": actor,
                "action": "add",
                "entity_type": "special_list",
                "entity_id": str(lst.name),
                "before": None,
                "after": {
                    "customer_id": w.customer_id,
                    "channel": channel,
                    "response": w.response_id,
                },
            }
        )
    if not entries:
        return
    # Delete-then-insert: an expired entry for the same channel is replaced.
    s.execute(
        sa.delete(_ENTRIES).where(
            _ENTRIES.c.list_id == lst.id,
            _ENTRIES.c.customer_id == sa.bindparam("who"),
            _ENTRIES.c.channel == sa.bindparam("where"),
        ),
        [{"who": e["customer_id"], "where": e["channel"]} for e in entries],
    )
    s.execute(sa.insert(_ENTRIES), entries)
    s.execute(sa.insert(_AUDIT), audits)


def _price_orders(s: Session, plans: Sequence[_Plan]) -> dict[str, dict[str, Any]]:
    """Per message id, the order each plan books (as :func:`orders.book_order` would)."""
    if not plans:
        return {}
    codes = sorted({p.contact.offer for p in plans if p.contact and p.contact.offer})
    offers = {o.code: o for o in s.scalars(sa.select(Offer).where(Offer.code.in_(codes)))}
    out: dict[str, dict[str, Any]] = {}
    for p in plans:
        assert p.contact is not None and p.contact.offer and p.customer_id is not None
        offer = offers.get(p.contact.offer)
        if offer is None:
            raise NotFound(f"no offer {p.contact.offer!r}")
        discount = p.item.discount or Decimal(0)
        try:
            pct = Decimal(str(discount))
        except ArithmeticError:
            raise InvalidInput(f"discount: a percentage such as 10, got {discount!r}") from None
        if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100):
            raise InvalidInput(f"discount: a percentage from 0 to 100, got {discount!r}")
        within = offer.discount_min <= pct <= offer.discount_max or pct == 0
        out[p.item.message_id] = {
            "lead_id": None,
            "customer_id": p.customer_id,
            "contact_id": p.contact.id,
            "program": p.contact.program,
            "campaign": p.contact.campaign,
            "offer": offer.code,
            "currency": offer.currency,
            "price": offer.price,
            "discount": pct,
            "amount": orders.amount_after(offer.price, pct),
            "status": orders.BOOKED if within else orders.PENDING,
            "note": "",
        }
    return out


def _book_orders(
    s: Session, plans: Sequence[_Plan], priced: Mapping[str, dict[str, Any]], *, actor: str
) -> None:
    """Book the orders priced by :func:`_price_orders`, in one statement."""
    rows = [
        {**priced[p.item.message_id], "response_id": p.response_id, "requested_by": actor}
        for p in plans
        if p.action == "order"
    ]
    if rows:
        s.execute(sa.insert(_ORDERS), rows)


#: A lead from no program (or one gone): turns, and the default SLA.
_NO_PROGRAM = (AssignmentStrategy.ROUND_ROBIN.value, sales.DEFAULT_SLA_HOURS)


def _open_leads(s: Session, plans: Sequence[_Plan], *, now: datetime) -> None:
    """Open a lead for each plan and assign it, as :func:`sales.open_lead` does one by one.

    The program's strategy and SLA, the customer's territory and the offer's product
    are read once for the batch; :func:`sales.pick_reps` assigns the leads in turn
    (each against the reps' loads as the leads before it left them), and the leads
    are written in one statement.
    """
    if not plans:
        return
    programs = sorted({p.contact.program for p in plans if p.contact and p.contact.program})
    how: dict[str, tuple[str, int]] = {
        name: (strategy, hours)
        for name, strategy, hours in s.execute(
            sa.select(Program.name, Program.lead_assignment, Program.lead_sla_hours).where(
                Program.name.in_(programs)
            )
        )
    }
    strategies = [
        how.get(p.contact.program, _NO_PROGRAM) if p.contact and p.contact.program else _NO_PROGRAM
        for p in plans
    ]
    # Only the territory strategy looks at territories, only the skill one at products.
    places: dict[str, str | None] = {}
    found = None
    if any(st == AssignmentStrategy.TERRITORY.value for st, _ in strategies):
        found = sales.territory_column(s)
    if found is not None:
        table, column = found
        customers = sorted({p.customer_id for p in plans if p.customer_id})
        for k in range(0, len(customers), 500):
            rows = s.execute(
                sa.select(table.c.id, column).where(table.c.id.in_(customers[k : k + 500]))
            )
            places.update((cid, place) for cid, place in rows)
    products: dict[str, str | None] = {}
    if any(st == AssignmentStrategy.SKILL.value for st, _ in strategies):
        codes = sorted({p.contact.offer for p in plans if p.contact and p.contact.offer})
        products = {
            code: product
            for code, product in s.execute(
                sa.select(Offer.code, Offer.product).where(Offer.code.in_(codes))
            )
        }
    reps = sales.pick_reps(
        s,
        [
            (
                strategy,
                places.get(p.customer_id) if p.customer_id else None,
                products.get(p.contact.offer) if p.contact and p.contact.offer else None,
            )
            for p, (strategy, _) in zip(plans, strategies, strict=True)
        ],
        now=now,
    )
    leads: list[dict[str, Any]] = []
    for p, (_, hours), rep in zip(plans, strategies, reps, strict=True):
        contact = p.contact
        assert contact is not None and p.customer_id is not None
        leads.append(
            {
                "customer_id": p.customer_id,
                "reply": p.item.text,
                "program": contact.program,
                "campaign": contact.campaign,
                "offer": contact.offer,
                "contact_id": contact.id,
                "response_id": p.response_id,
                "status": LeadStatus.NEW.value,
                "rep": rep,
                "assigned_at": now if rep is not None else None,
                "due_at": sla_due(now, hours),
                "created_at": now,
            }
        )
    s.execute(sa.insert(_LEADS), leads)


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


def review_queue(s: Session, *, limit: int = 50, offset: int = 0) -> list[Response]:
    """The responses waiting for a person (not understood, or unattributed), the one
    waiting longest first."""
    q = (
        sa.select(Response)
        .where(Response.review == REVIEW_PENDING)
        .order_by(Response.id)
        .limit(limit)
        .offset(offset)
    )
    return list(s.scalars(q))


def review_waiting(s: Session) -> int:
    """How many responses wait in the review queue."""
    q = sa.select(sa.func.count()).where(Response.review == REVIEW_PENDING)
    return int(s.scalar(q) or 0)


def recent_responses(
    s: Session,
    *,
    result: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Response]:
    """Responses received in ``[since, until)`` (either end open when None), newest
    first, optionally of one result (see :data:`RESULTS`) and one channel."""
    q = sa.select(Response)
    if result:
        q = q.where(Response.result == result)
    if channel:
        q = q.where(Response.channel == channel)
    if since is not None:
        q = q.where(Response.received_at >= since)
    if until is not None:
        q = q.where(Response.received_at < until)
    q = q.order_by(Response.received_at.desc(), Response.id.desc()).limit(limit).offset(offset)
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
        if r.customer_id:
            r.result = "opt_out"
            wanted = _OptOut(r.customer_id, r.channel, r.kind, r.source, r.text, r.rule, r.id)
            _opt_out(s, [wanted], scope=opt_out_scope, actor=actor, now=now)
        else:
            r.result, r.review = "unattributed", REVIEW_PENDING
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
