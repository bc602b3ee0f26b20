"""Dispatch: workers take contacts from the outbox and send them over configured channels.

One worker serves one configured channel (an SMTP server, an SMS gateway, a webhook,
a call centre). Each step:

1. **claims** a batch of due outbox entries, as many as the channel's rate limit and
   daily capacity allow (the limit's bucket is the channel's row, shared by every
   worker, and is updated in the claim's transaction);
2. **prepares** the messages: a customer whose quiet hours it is (in their own time
   zone) waits until they end; a customer who opted out since the run decided, or
   has lost the contact point, is not sent to; the rest get the campaign's template
   in their language, rendered with their fields and the offer's;
3. **sends** the batch through the channel's adapter, outside any transaction, each
   message with its contact's idempotency key;
4. **records** the outcome in one transaction: sent contacts leave the outbox and book
   their cost; temporary failures come back later with exponential back-off, up to
   the channel's attempts, then fail with the last error; permanent failures fail at
   once.

A worker killed anywhere leaves its claimed entries to fall due again when its lease
ends; resending them is harmless because the peer sees the same idempotency key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tactica.channels.base import ChannelAdapter, OutboundMessage, SendOutcome, SendResult
from tactica.domain.dispatch import allowance, parse_hhmm, quiet_until, refill, retry_delay
from tactica.domain.lists import ALL_CHANNELS, ListKind
from tactica.domain.schema import CustomerSchema
from tactica.domain.sms import sms_length
from tactica.domain.templates import (
    CompiledTemplate,
    TemplateRenderError,
    compile_template,
    pick_template,
)
from tactica.domain.templates import MessageTemplate as TemplateDef
from tactica.errors import NotFound
from tactica.failpoints import failpoint
from tactica.services.links import link_maker, reply_address
from tactica.services.unsubscribe import unsubscribe_headers, unsubscribe_url
from tactica.store.customer_table import customer_table, load_schema
from tactica.store.db import Store
from tactica.store.models import (
    Campaign,
    ChannelConfig,
    Contact,
    CostBooking,
    MessageTemplate,
    Offer,
    OutboxEntry,
    Program,
    SpecialList,
    SpecialListEntry,
)
from tactica.store.outbox import Claimed, claim_due

log = logging.getLogger(__name__)

#: The idempotency key of a contact, as every peer sees it.
KEY_PREFIX = "tactica-"


def idempotency_key(contact_id: int) -> str:
    """The key sent with contact ``contact_id``: the same on every attempt."""
    return f"{KEY_PREFIX}{contact_id}"


def contact_of_key(key: str) -> int | None:
    """The contact id an idempotency key names, or None when it is not one of ours."""
    if not key.startswith(KEY_PREFIX):
        return None
    digits = key[len(KEY_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker works: batch size, lease, pauses, and what links in messages point at."""

    batch_size: int = 100
    lease: timedelta = timedelta(minutes=5)
    idle_seconds: float = 0.5
    public_url: str = "http://127.0.0.1:8000"
    secret: str = ""


@dataclass
class StepResult:
    """What one worker step did, and how long to wait before the next makes sense."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    lost: int = 0
    wait: float = 0.0

    def add(self, other: StepResult) -> None:
        """Add another step's counts to these (``wait`` is not added)."""
        for name in ("claimed", "sent", "retried", "failed", "deferred", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    messages: list[OutboundMessage] = field(default_factory=list)
    prices: dict[int, Decimal] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    deferred: dict[int, datetime] = field(default_factory=dict)
    contacts: dict[int, Any] = field(default_factory=dict)


def make_adapter(
    config: ChannelConfig, *, clock: Callable[[], datetime] = _utcnow
) -> ChannelAdapter:
    """The adapter for a configured channel, from its kind and settings.

    ``clock`` tells a call centre which day's list it is writing.
    """
    st = dict(config.settings or {})
    if config.kind == "smtp":
        from tactica.channels.smtp import SmtpAdapter

        return SmtpAdapter(
            str(st["host"]),
            int(st["port"]),
            sender=str(st["sender"]),
            username=st.get("username"),
            password=st.get("password"),
            starttls=bool(st.get("starttls", False)),
        )
    if config.kind == "sms_http":
        from tactica.channels.sms_http import HttpSmsAdapter

        return HttpSmsAdapter(
            str(st["url"]),
            str(st["api_key"]),
            sender=st.get("sender"),
            batch_size=int(st.get("batch_size", 100)),
        )
    if config.kind == "webhook":
        from tactica.channels.webhook import WebhookAdapter

        return WebhookAdapter(str(st["url"]), str(st["secret"]))
    if config.kind == "call_centre":
        from tactica.channels.call_centre import CallCentreAdapter

        return CallCentreAdapter(
            Path(str(st["folder"])), config.name, clock=clock, timezone=config.timezone
        )
    raise ValueError(f"channel {config.name!r}: unknown kind {config.kind!r}")


def worker_name(config: str) -> str:
    """A name for a worker that is unique across hosts, processes and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{config}:{uuid.uuid4().hex[:8]}"


class ChannelWorker:
    """Sends the outbox of one configured channel, a batch per :meth:`step`."""

    def __init__(
        self,
        store: Store,
        config_name: str,
        options: WorkerOptions | None = None,
        *,
        adapter: ChannelAdapter | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.options = options or WorkerOptions()
        self.clock = clock
        self.name = worker_name(config_name)
        with store.session() as s:
            config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == config_name))
            if config is None:
                raise NotFound(f"no channel {config_name!r}")
            s.expunge(config)
        self.config_id = config.id
        self.config_name = config_name
        self.adapter = adapter or make_adapter(config, clock=clock)
        self._templates: dict[tuple[int, datetime | None], CompiledTemplate] = {}
        self._table: tuple[Any, sa.Table] | None = None

    def close(self) -> None:
        """Close the adapter's connection."""
        self.adapter.close()

    def _customer_table(self, schema: CustomerSchema) -> sa.Table:
        # One Table per schema: a new one per batch would make every batch's SELECT a
        # new statement for SQLAlchemy to compile and cache.
        if self._table is None or self._table[0] != schema.fields:
            self._table = (schema.fields, customer_table(schema))
        return self._table[1]

    # ------------------------------------------------------------------ one step

    def step(self) -> StepResult:
        """Claim, prepare, send and record one batch; returns what happened."""
        now = self.clock()
        config, claimed, wait = self._claim(now)
        if config is None or not claimed:
            return StepResult(wait=wait)
        failpoint("dispatch.claimed")
        prepared = self._prepare(config, claimed, now)
        results = self.adapter.send_batch(prepared.messages) if prepared.messages else []
        failpoint("dispatch.sent")
        out = self._record(config, claimed, prepared, results)
        out.claimed = len(claimed)
        return out

    def _claim(self, now: datetime) -> tuple[ChannelConfig | None, list[Claimed], float]:
        opts = self.options
        with self.store.session() as s:
            # The first statement writes the channel's row: on SQLite that takes the
            # write lock before anything is read; on PostgreSQL it locks the row, so
            # the rate limit's bucket is read and spent by one worker at a time.
            s.execute(
                sa.update(ChannelConfig)
                .where(ChannelConfig.id == self.config_id)
                .values(tokens=ChannelConfig.tokens)
                .execution_options(synchronize_session=False)
            )
            config = s.get(ChannelConfig, self.config_id, populate_existing=True)
            if config is None or not config.enabled:
                s.commit()
                return None, [], max(opts.idle_seconds, 1.0)
            limit = opts.batch_size
            if config.daily_capacity is not None:
                limit = min(limit, max(config.daily_capacity - self._used_today(s, config), 0))
                if limit == 0:
                    s.commit()
                    return config, [], max(opts.idle_seconds, 5.0)
            tokens = None
            if config.rate_per_second:
                tokens = refill(config.tokens, config.refilled_at, now, config.rate_per_second)
                limit = allowance(tokens, limit)
            claimed = claim_due(
                s,
                config.channel,
                worker=self.name,
                now=now,
                lease_until=now + opts.lease,
                limit=limit,
            )
            if tokens is not None and config.rate_per_second:
                s.execute(
                    sa.update(ChannelConfig)
                    .where(ChannelConfig.id == self.config_id)
                    .values(tokens=tokens - len(claimed), refilled_at=now)
                    .execution_options(synchronize_session=False)
                )
            s.commit()
            s.expunge(config)
        if claimed:
            return config, claimed, 0.0
        if tokens is not None and config.rate_per_second and limit == 0:
            return config, [], max((1.0 - tokens) / config.rate_per_second, 0.001)
        return config, [], opts.idle_seconds

    def _used_today(self, s: Session, config: ChannelConfig) -> int:
        """Contacts this call centre has already taken today (in its time zone)."""
        exported = getattr(self.adapter, "exported_today", None)
        return int(exported()) if callable(exported) else 0

    # ------------------------------------------------------------------ prepare

    def _prepare(
        self, config: ChannelConfig, claimed: Sequence[Claimed], now: datetime
    ) -> _Prepared:
        out = _Prepared()
        ids = [c.contact_id for c in claimed]
        with self.store.session() as s:
            rows = s.execute(
                sa.select(
                    Contact.id,
                    Contact.customer_id,
                    Contact.program,
                    Contact.campaign,
                    Contact.offer,
                    Contact.channel,
                    Contact.cost,
                    Contact.status,
                ).where(Contact.id.in_(ids))
            ).all()
            contacts = {r.id: r for r in rows}
            out.contacts = contacts
            schema = load_schema(s)
            customers = _customers(s, self._customer_table(schema), {r.customer_id for r in rows})
            offers = _offers(s, {r.offer for r in rows})
            templates = _campaign_templates(s, {(r.program, r.campaign) for r in rows})
            variants = _variants(s, set(templates.values()), config.channel)
            stopped = _opted_out(s, {r.customer_id for r in rows}, config.channel, now)
        point = schema.contact_point(config.channel)
        quiet = (
            (parse_hhmm(config.quiet_start), parse_hhmm(config.quiet_end))
            if config.quiet_start and config.quiet_end
            else None
        )
        default_zone = _zone(config.timezone)
        for c in claimed:
            row = contacts.get(c.contact_id)
            if row is None or row.status != "queued":
                continue  # gone, or already settled (a receipt came first): drop the entry
            customer = customers.get(row.customer_id)
            if customer is None:
                out.failures[row.id] = f"customer {row.customer_id!r} no longer exists"
                continue
            if row.customer_id in stopped:
                out.failures[row.id] = f"not sent: {stopped[row.customer_id]} since the run"
                continue
            if quiet is not None:
                zone = _zone(customer.get("timezone"), default_zone)
                until = quiet_until(now, zone, *quiet)
                if until is not None:
                    out.deferred[row.id] = until
                    continue
            to = _address(customer, point.name if point else None, config.channel)
            if not to:
                field_name = point.name if point else f"a {config.channel} contact point"
                out.failures[row.id] = f"customer {row.customer_id!r} has no {field_name}"
                continue
            message = self._message(
                config, row, customer, offers.get(row.offer), templates, variants, to
            )
            if isinstance(message, str):
                out.failures[row.id] = message
                continue
            out.messages.append(message)
            out.prices[row.id] = _price(config, row.cost, message.body)
        return out

    def _message(
        self,
        config: ChannelConfig,
        row: Any,
        customer: Mapping[str, Any],
        offer: Offer | None,
        templates: Mapping[tuple[str, str], str | None],
        variants: Mapping[str, list[tuple[int, datetime | None, TemplateDef]]],
        to: str,
    ) -> OutboundMessage | str:
        """The message for one contact, or why there is none."""
        if offer is None:
            return f"offer {row.offer!r} no longer exists"
        offer_fields = {
            "code": offer.code,
            "name": offer.name,
            "product": offer.product,
            "price": offer.price,
            "value": offer.value,
            "description": offer.description,
        }
        name = templates.get((row.program, row.campaign))
        found = variants.get(name or "", [])
        headers: dict[str, str] = {}
        unsubscribe = None
        if config.channel == "email":
            unsubscribe = unsubscribe_url(
                self.options.secret, self.options.public_url, row.customer_id, "email"
            )
            headers = unsubscribe_headers(unsubscribe)
            reply_to = (config.settings or {}).get("reply_to")
            if reply_to:  # replies come back to the contact's own address (services.links)
                try:
                    headers["Reply-To"] = reply_address(self.options.secret, str(reply_to), row.id)
                except ValueError as e:
                    return f"channel {config.name!r}: {e}"
        metadata = {
            "customer_id": str(row.customer_id),
            "campaign": str(row.campaign),
            "offer": str(row.offer),
            "program": str(row.program),
        }
        if not found:
            if config.channel == "phone":
                # A call centre works from its own script when the campaign has none.
                script = str((config.settings or {}).get("script") or offer.name)
                return OutboundMessage(
                    row.id, idempotency_key(row.id), "phone", to, None, script, headers, metadata
                )
            what = f"template {name!r}" if name else "no message template"
            return f"campaign {row.campaign!r} has {what} for {config.channel}"
        chosen = pick_template([t for _, _, t in found], config.channel, customer.get("language"))
        if chosen is None:  # pragma: no cover - found is not empty
            return f"no {config.channel} variant of template {name!r}"
        ident = next((i, u) for i, u, t in found if t is chosen)
        compiled = self._templates.get(ident)
        try:
            if compiled is None:
                compiled = self._templates[ident] = compile_template(chosen)
            track = link_maker(self.options.secret, self.options.public_url, row.id, config.channel)
            rendered = compiled.render(
                customer, offer_fields, str(row.campaign), unsubscribe, track
            )
        except TemplateRenderError as e:
            return str(e)
        return OutboundMessage(
            row.id,
            idempotency_key(row.id),
            config.channel,
            to,
            rendered.subject,
            rendered.body,
            headers,
            metadata,
        )

    # ------------------------------------------------------------------ record

    def _record(
        self,
        config: ChannelConfig,
        claimed: Sequence[Claimed],
        prepared: _Prepared,
        results: Sequence[SendResult],
    ) -> StepResult:
        now = self.clock()
        out = StepResult()
        attempts = {c.contact_id: c.attempts for c in claimed}
        lease_until = claimed[0].lease_until
        sent: dict[int, SendResult] = {}
        failed: dict[int, str] = dict(prepared.failures)
        retry: dict[int, tuple[datetime, str]] = {}
        for r in results:
            tried = attempts[r.contact_id] + 1
            if r.outcome is SendOutcome.SENT:
                sent[r.contact_id] = r
            elif r.outcome is SendOutcome.PERMANENT:
                failed[r.contact_id] = r.error or "refused by the channel"
            elif tried >= config.max_attempts:
                failed[r.contact_id] = f"gave up after {tried} attempts: {r.error}"
            else:
                delay = retry_delay(
                    tried, config.retry_base_seconds, config.retry_cap_seconds, r.retry_after
                )
                retry[r.contact_id] = (now + timedelta(seconds=delay), r.error or "")
        settled = set(attempts) - set(sent) - set(failed) - set(retry) - set(prepared.deferred)
        with self.store.session() as s:
            t = sa.Table("outbox", OutboxEntry.metadata)
            mine = sa.and_(
                t.c.channel == config.channel,
                t.c.due_at == lease_until,
                t.c.claimed_by == self.name,
            )
            done = sorted({*sent, *failed, *settled})
            owned: set[int] = set()
            for chunk in _chunks(done, 500):
                owned |= set(
                    s.scalars(
                        sa.delete(t)
                        .where(mine, t.c.contact_id.in_(chunk))
                        .returning(t.c.contact_id)
                    )
                )
            out.lost = len(set(done) - owned)
            c = sa.Table("contacts", Contact.metadata)
            ok = [cid for cid in sent if cid in owned]
            if ok:
                _record_sent(
                    s,
                    c,
                    config.name,
                    now,
                    [
                        (
                            cid,
                            sent[cid].provider_id,
                            attempts[cid] + 1,
                            prepared.prices.get(cid, Decimal("0")),
                        )
                        for cid in ok
                    ],
                )
            bad = [cid for cid in failed if cid in owned]
            if bad:
                s.execute(
                    sa.update(c)
                    .where(c.c.id == sa.bindparam("cid"), c.c.status == "queued")
                    .values(
                        status="failed",
                        error=sa.bindparam("err"),
                        attempts=sa.bindparam("tries"),
                        channel_name=config.name,
                    ),
                    [
                        {
                            "cid": cid,
                            "err": failed[cid][:4000],
                            "tries": attempts[cid] + (1 if cid in prepared.prices else 0),
                        }
                        for cid in bad
                    ],
                )
            moves = [
                {"cid": cid, "due": due, "tries": attempts[cid] + 1, "err": err[:4000]}
                for cid, (due, err) in retry.items()
            ] + [
                {"cid": cid, "due": due, "tries": attempts[cid], "err": None}
                for cid, due in prepared.deferred.items()
            ]
            if moves:
                res = s.execute(
                    sa.update(t)
                    .where(mine, t.c.contact_id == sa.bindparam("cid"))
                    .values(
                        due_at=sa.bindparam("due"),
                        attempts=sa.bindparam("tries"),
                        last_error=sa.bindparam("err"),
                        claimed_by=None,
                    ),
                    moves,
                )
                moved = int(getattr(res, "rowcount", len(moves)) or 0)
                out.lost += max(len(moves) - moved, 0)
            _book(s, config, prepared.contacts, ok, bad, prepared.prices, now.date())
            s.commit()
        out.sent, out.failed = len(ok), len(bad)
        out.retried = len(retry)
        out.deferred = len(prepared.deferred)
        return out

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event, *, drain: bool = False) -> StepResult:
        """Step until ``stop`` is set (or, with ``drain``, until nothing is due)."""
        total = StepResult()
        try:
            while not stop.is_set():
                try:
                    r = self.step()
                except Exception:  # keep the worker alive: the entries fall due again
                    log.exception("dispatch worker %s: step failed", self.name)
                    r = StepResult(wait=max(self.options.idle_seconds, 1.0))
                total.add(r)
                if r.claimed:
                    continue
                if drain and not _due_soon(self.store, self._channel(), self.clock()):
                    break
                stop.wait(r.wait)
        finally:
            self.close()
        return total

    def _channel(self) -> str:
        with self.store.session() as s:
            return str(
                s.scalar(sa.select(ChannelConfig.channel).where(ChannelConfig.id == self.config_id))
            )


# ---------------------------------------------------------------------- helpers


def _record_sent(
    session: Session,
    c: sa.Table,
    channel_name: str,
    now: datetime,
    rows: list[tuple[int, str | None, int, Decimal]],
) -> None:
    """Mark a batch's sent contacts: (contact id, provider id, attempts, price) each.

    On PostgreSQL one ``UPDATE ... FROM (VALUES ...)`` for the whole batch, so the
    rollup's statement trigger runs once per batch, not once per message (and takes
    its row locks in one sorted pass); SQLite's triggers run per row either way.
    """
    values = {
        "status": sa.case((c.c.status == "queued", "sent"), else_=c.c.status),
        "sent_at": now,
        "channel_name": channel_name,
        "error": None,
    }
    if session.get_bind().dialect.name == "postgresql":
        v = sa.values(
            sa.column("cid", sa.BigInteger()),
            sa.column("pid", sa.String()),
            sa.column("tries", sa.Integer()),
            sa.column("price", sa.Numeric(12, 4)),
            name="sent_rows",
        ).data(sorted(rows))
        session.execute(
            sa.update(c)
            .where(c.c.id == v.c.cid)
            .values(provider_id=v.c.pid, attempts=v.c.tries, spent=v.c.price, **values)
        )
        return
    session.execute(
        sa.update(c)
        .where(c.c.id == sa.bindparam("cid"))
        .values(
            provider_id=sa.bindparam("pid"),
            attempts=sa.bindparam("tries"),
            spent=sa.bindparam("price"),
            **values,
        ),
        [
            {"cid": cid, "pid": pid, "tries": tries, "price": price}
            for cid, pid, tries, price in rows
        ],
    )


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _zone(name: str | None, default: ZoneInfo | None = None) -> ZoneInfo:
    if name:
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default or ZoneInfo("UTC")


def _customers(s: Session, table: sa.Table, ids: set[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids), 500):  # type: ignore[arg-type]
        for r in s.execute(sa.select(table).where(table.c.id.in_(chunk))):
            out[r.id] = dict(r._mapping)
    return out


def _offers(s: Session, codes: set[str]) -> dict[str, Offer]:
    return {o.code: o for o in s.scalars(sa.select(Offer).where(Offer.code.in_(codes)))}


def _campaign_templates(
    s: Session, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    programs = {p for p, _ in pairs}
    rows = s.execute(
        sa.select(Program.name, Campaign.name, Campaign.template)
        .join(Campaign, Campaign.program_id == Program.id)
        .where(Program.name.in_(programs))
    ).all()
    return {(p, c): t for p, c, t in rows if (p, c) in pairs}


def _variants(
    s: Session, names: set[str | None], channel: str
) -> dict[str, list[tuple[int, datetime | None, TemplateDef]]]:
    wanted = {n for n in names if n}
    out: dict[str, list[tuple[int, datetime | None, TemplateDef]]] = defaultdict(list)
    if not wanted:
        return out
    for t in s.scalars(
        sa.select(MessageTemplate).where(
            MessageTemplate.name.in_(wanted), MessageTemplate.channel == channel
        )
    ):
        out[t.name].append(
            (t.id, t.updated_at, TemplateDef(t.name, t.channel, t.language, t.subject, t.body))
        )
    return out


def _opted_out(s: Session, ids: set[str], channel: str, now: datetime) -> dict[str, str]:
    """Customers of ``ids`` now on an excluding list for ``channel``: id → which list."""
    excluding = [k.value for k in ListKind if k.excludes]
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(ids), 500):  # type: ignore[arg-type]
        rows = s.execute(
            sa.select(SpecialListEntry.customer_id, SpecialList.name)
            .join(SpecialList, SpecialList.id == SpecialListEntry.list_id)
            .where(
                SpecialListEntry.customer_id.in_(chunk),
                SpecialList.kind.in_(excluding),
                SpecialListEntry.channel.in_([channel, ALL_CHANNELS]),
                sa.or_(SpecialListEntry.expires_at.is_(None), SpecialListEntry.expires_at > now),
            )
        )
        for cid, name in rows:
            out.setdefault(cid, f"on the {name} list")
    return out


def _address(customer: Mapping[str, Any], point: str | None, channel: str) -> str | None:
    if point is not None:
        value = customer.get(point)
        return str(value).strip() or None if value is not None else None
    if channel == "webhook":
        return str(customer["id"])  # the webhook's receiver knows the customer by id
    return None


def _price(config: ChannelConfig, planned: Decimal | None, body: str) -> Decimal:
    """What sending ``body`` costs: the channel's price (per SMS segment), else the plan's."""
    if config.cost_per_message is None:
        return Decimal(planned or 0)
    units = sms_length(body).segments if config.channel == "sms" else 1
    return Decimal(config.cost_per_message) * units


def _book(
    s: Session,
    config: ChannelConfig,
    contacts: Mapping[int, Any],
    sent: Sequence[int],
    failed: Sequence[int],
    prices: Mapping[int, Decimal],
    day: date,
) -> None:
    """Add this batch's sends and failures to the day's cost bookings."""
    sums: dict[tuple[str, str], list[Any]] = defaultdict(
        lambda: [0, 0, Decimal(0), Decimal(0), Decimal(0)]
    )
    for cid in sent:
        row = contacts[cid]
        acc = sums[(row.program, row.campaign)]
        acc[0] += 1
        acc[2] += prices.get(cid, Decimal(0))
        acc[3] += Decimal(row.cost or 0)
    for cid in failed:
        row = contacts.get(cid)
        if row is None:
            continue
        acc = sums[(row.program, row.campaign)]
        acc[1] += 1
        acc[4] += Decimal(row.cost or 0)
    if not sums:
        return
    t = sa.Table("cost_bookings", CostBooking.metadata)
    dialect = s.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    for (program, campaign), (n_sent, n_failed, booked, planned, released) in sums.items():
        stmt = make(t).values(
            program=program,
            campaign=campaign,
            channel=config.channel,
            day=day,
            sent=n_sent,
            failed=n_failed,
            booked=booked,
            planned_sent=planned,
            released=released,
        )
        ex = stmt.excluded
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["program", "campaign", "channel", "day"],
                set_={
                    "sent": t.c.sent + ex.sent,
                    "failed": t.c.failed + ex.failed,
                    "booked": t.c.booked + ex.booked,
                    "planned_sent": t.c.planned_sent + ex.planned_sent,
                    "released": t.c.released + ex.released,
                },
            )
        )


def _due_soon(store: Store, channel: str, now: datetime) -> bool:
    """True while ``channel`` has outbox entries due now (drain mode keeps going)."""
    with store.session() as s:
        return (
            s.scalar(
                sa.select(OutboxEntry.contact_id)
                .where(OutboxEntry.channel == channel, OutboxEntry.due_at <= now)
                .limit(1)
            )
            is not None
        )


# ---------------------------------------------------------------------- workers together


def options_from(settings: Any, **overrides: Any) -> WorkerOptions:
    """Worker options from the settings (public URL and signing secret) and overrides."""
    return WorkerOptions(public_url=settings.public_url, secret=settings.secret, **overrides)


def run_dispatch(
    store: Store,
    options: WorkerOptions,
    *,
    names: Sequence[str] | None = None,
    drain: bool = False,
    stop: threading.Event | None = None,
) -> dict[str, StepResult]:
    """Run one worker per enabled configured channel (or the ``names`` given), in threads.

    Returns when ``stop`` is set, or with ``drain`` once nothing is due on any of them.
    """
    with store.session() as s:
        q = sa.select(ChannelConfig.name).where(ChannelConfig.enabled.is_(True))
        if names:
            q = sa.select(ChannelConfig.name).where(ChannelConfig.name.in_(names))
        found = list(s.scalars(q.order_by(ChannelConfig.id)))
    missing = sorted(set(names or ()) - set(found))
    if missing:
        raise NotFound(f"no channel {', '.join(repr(m) for m in missing)}")
    stop = stop or threading.Event()
    totals: dict[str, StepResult] = {}
    workers = [ChannelWorker(store, name, options) for name in found]

    def work(w: ChannelWorker) -> None:
        totals[w.config_name] = w.run(stop, drain=drain)

    threads = [threading.Thread(target=work, args=(w,), name=w.name, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    return totals


def supervise(
    store: Store,
    options: WorkerOptions,
    stop: threading.Event,
    *,
    poll_seconds: float = 15.0,
) -> None:
    """Keep one worker running per enabled configured channel until ``stop`` is set.

    Channels configured (or enabled) while it runs get a worker within ``poll_seconds``;
    a worker whose channel is disabled stops by itself (its steps claim nothing).
    What ``tactica serve`` and ``tactica dispatch`` run.
    """
    running: dict[str, threading.Thread] = {}
    while not stop.is_set():
        try:
            with store.session() as s:
                names = list(
                    s.scalars(sa.select(ChannelConfig.name).where(ChannelConfig.enabled.is_(True)))
                )
            for name in names:
                if name in running and running[name].is_alive():
                    continue
                worker = ChannelWorker(store, name, options)
                thread = threading.Thread(
                    target=worker.run, args=(stop,), name=worker.name, daemon=True
                )
                thread.start()
                running[name] = thread
                log.info("dispatch worker started for channel %s", name)
        except Exception:  # a bad configuration must not stop the other channels
            log.exception("dispatch: could not start the workers")
        stop.wait(poll_seconds)
    for thread in running.values():
        thread.join(10)


# ---------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class ReceiptsTaken:
    """What a batch of delivery receipts changed."""

    delivered: int
    failed: int
    ignored: int


def record_receipts(store: Store, channel_name: str, receipts: Sequence[Any]) -> ReceiptsTaken:
    """Apply a gateway's delivery receipts (``DeliveryReceipt``) to their contacts.

    A receipt for a key that is not one of ours, or for a contact this channel did not
    take, is logged and ignored. Delivered beats sent; a failed delivery fails a contact
    that was sent or is still on its way.
    """
    delivered = failed = ignored = 0
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == channel_name))
        if config is None:
            raise NotFound(f"no channel {channel_name!r}")
        for r in receipts:
            cid = contact_of_key(r.idempotency_key)
            if cid is None:
                log.warning("receipt for unknown key %r ignored", r.idempotency_key)
                ignored += 1
                continue
            mine = sa.and_(
                Contact.id == cid,
                Contact.channel == config.channel,
                sa.or_(Contact.channel_name.is_(None), Contact.channel_name == config.name),
            )
            if r.status == "delivered":
                values: dict[str, Any] = {"status": "delivered", "delivered_at": r.at}
                allowed = ("queued", "sent")
            else:
                values = {"status": "failed", "error": f"not delivered: {r.error or 'no reason'}"}
                allowed = ("queued", "sent")
            res = s.execute(
                sa.update(Contact)
                .where(mine, Contact.status.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(res, "rowcount", 0) or 0) == 0:
                log.warning("receipt for contact %s (%s) ignored", cid, r.idempotency_key)
                ignored += 1
            elif r.status == "delivered":
                delivered += 1
            else:
                failed += 1
        s.commit()
    return ReceiptsTaken(delivered, failed, ignored)


# ---------------------------------------------------------------------- views


def outbox_status(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per contact channel: entries due now, waiting (retry, quiet hours, claimed), retried."""
    now = now or _utcnow()
    due = sa.case((OutboxEntry.due_at <= now, 1), else_=0)
    rows = session.execute(
        sa.select(
            OutboxEntry.channel,
            sa.func.count(),
            sa.func.sum(due),
            sa.func.sum(sa.case((OutboxEntry.attempts > 0, 1), else_=0)),
            sa.func.min(OutboxEntry.due_at),
        )
        .group_by(OutboxEntry.channel)
        .order_by(OutboxEntry.channel)
    ).all()
    return [
        {
            "channel": ch,
            "pending": int(n),
            "due": int(d or 0),
            "waiting": int(n) - int(d or 0),
            "retrying": int(r or 0),
            "next_due": nxt,
        }
        for ch, n, d, r, nxt in rows
    ]


def dead_letters(
    session: Session, *, channel: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Contacts that failed, newest first, with the last error: the dead-letter view."""
    q = sa.select(Contact).where(Contact.status == "failed")
    if channel:
        q = q.where(Contact.channel == channel)
    q = q.order_by(Contact.id.desc()).limit(limit)
    return [
        {
            "contact_id": c.id,
            "customer_id": c.customer_id,
            "program": c.program,
            "campaign": c.campaign,
            "channel": c.channel,
            "channel_name": c.channel_name,
            "attempts": c.attempts or 0,
            "error": c.error,
        }
        for c in session.scalars(q)
    ]
