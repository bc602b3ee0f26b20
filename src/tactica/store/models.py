"""The tables of the store, as SQLAlchemy 2 declarative models.

The ``customers`` table declared here holds only the built-in columns; every
declared customer field (see :mod:`tactica.domain.schema`) is a real typed column
added to it by :mod:`tactica.store.customer_table`, so rules compile to plain SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep migrations reviewable and SQLite batch mode possible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ids are 64-bit on PostgreSQL but must be plain INTEGER on SQLite to autoincrement.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, always handed back aware and in UTC.

    PostgreSQL keeps the offset (timestamptz); SQLite keeps none, so times are
    written there in UTC and read back as UTC. Naive values given in are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets it without an offset."""
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Hand back an aware UTC time."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> Any:
    return func.now()


class CustomerField(Base):
    """A declared customer field: name, type, kind (attribute, contact point, consent)."""

    __tablename__ = "customer_fields"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="attribute")
    channel: Mapped[str | None] = mapped_column(String(16))
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Customer(Base):
    """Built-in customer columns; declared fields are added as columns by the schema tool."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Segment(Base):
    """A named set of customers: a rule (dynamic) or an imported id list (static)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class SegmentMember(Base):
    """Membership of a static segment."""

    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class Offer(Base):
    """What is proposed: product, price, value and margin for arbitration, discount bounds."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    margin: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    discount_min: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    discount_max: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    eligibility: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class SpecialList(Base):
    """A list with an effect: opt_out, dnd (do not disturb), blacklist, vip, complaint."""

    __tablename__ = "special_lists"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class SpecialListEntry(Base):
    """A customer on a special list, for one channel or ``all``, with source, reason, expiry."""

    __tablename__ = "special_list_entries"
    __table_args__ = (
        UniqueConstraint("list_id", "customer_id", "channel", name="uq_special_list_entry"),
        Index("ix_special_list_entries_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(IdType, ForeignKey("special_lists.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16), default="all")
    source: Mapped[str] = mapped_column(String(100), default="manual")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class User(Base):
    """A person who uses Tactica, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Who changed what, when, with the state before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ImportJob(Base):
    """One customer import: what was detected, how many rows landed or were rejected."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    file: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    detected: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ContactPolicyRow(Base):
    """A named contact policy: its rules (as data) and how many contacts one run may make."""

    __tablename__ = "contact_policies"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    per_run: Mapped[int] = mapped_column(Integer, default=1)
    rules: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: channel → contacts a day, all programs together
    daily_capacity: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: the time zone the days of daily capacities are counted in
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class Program(Base):
    """A marketing activity: the only thing that is executed. Holds campaigns."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    owner: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    schedule_kind: Mapped[str] = mapped_column(String(16), default="manual")
    schedule_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    schedule_cron: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    policy: Mapped[str] = mapped_column(String(100), default="default")
    # How the leads its replies make reach sales: assignment strategy and the SLA.
    lead_assignment: Mapped[str] = mapped_column(String(16), default="round_robin")
    lead_sla_hours: Mapped[int] = mapped_column(Integer, default=24)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class Campaign(Base):
    """One proposition inside a program: who, which offers, which channels, how much."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("program_id", "name", name="uq_campaign_program_name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(IdType, ForeignKey("programs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="outbound")
    segment: Mapped[str | None] = mapped_column(String(100))
    eligibility: Mapped[str | None] = mapped_column(Text)
    offers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    template: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int | None] = mapped_column(BigInteger)
    control_share: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0"))
    cost_per_contact: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal("0"))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: How long after a contact a reply on its channel is still taken as an answer to it.
    response_window_days: Mapped[int] = mapped_column(Integer, default=14)
    #: Event types a triggered campaign listens to (empty for outbound campaigns).
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Events older than this (minutes) are left alone by a triggered campaign.
    max_event_age_minutes: Mapped[int | None] = mapped_column(Integer)


class Run(Base):
    """One execution of a program, manual or scheduled, and what it decided in total.

    ``run_key`` is unique: ``<program>@<scheduled time>`` for a scheduled run (so two
    schedulers can never both claim it) and ``<program>@manual-<uuid>`` for a manual
    one. ``as_of`` is the decision time, fixed when the run is claimed, so a run that
    is restarted after a crash decides exactly as it would have. ``heartbeat_at``,
    ``host`` and ``pid`` tell whether a ``running`` run still has a live process.
    ``snapshot`` keeps the program and policy as they were run.
    """

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_program_started", "program", "started_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(200), unique=True)
    program_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("programs.id"))
    program: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    scheduled_for: Mapped[datetime | None] = mapped_column(UtcDateTime())
    as_of: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    actor: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    policy: Mapped[str] = mapped_column(String(100), default="")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    candidates: Mapped[int] = mapped_column(BigInteger, default=0)
    contacts: Mapped[int] = mapped_column(BigInteger, default=0)
    held_out: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))


class RunCampaign(Base):
    """One campaign's funnel in one run: how its candidates thinned out, and the cost."""

    __tablename__ = "run_campaigns"
    __table_args__ = (UniqueConstraint("run_id", "campaign", name="uq_run_campaign"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(IdType, ForeignKey("runs.id", ondelete="CASCADE"))
    campaign: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    candidates: Mapped[int] = mapped_column(BigInteger, default=0)
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    held_out: Mapped[int] = mapped_column(BigInteger, default=0)
    after_policy: Mapped[int] = mapped_column(BigInteger, default=0)
    after_arbitration: Mapped[int] = mapped_column(BigInteger, default=0)
    after_capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    contacts: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))


class Contact(Base):
    """One decision to contact one customer with one offer on one channel: the ledger.

    Every path writes here and every contact policy reads here: a ``queued`` contact
    counts exactly like a sent one. Control-group members are not contacts: they are
    in :class:`HeldOut`. A customer gets at most one contact per campaign per run.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id", "campaign", name="uq_contact_run_customer"),
        Index("ix_contacts_customer_decided", "customer_id", "decided_at"),
        Index("ix_contacts_decided", "decided_at"),
        # E-mail replies name the Message-ID they answer; only sent contacts have one.
        Index(
            "ix_contacts_provider",
            "provider_id",
            sqlite_where=text("provider_id IS NOT NULL"),
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("runs.id"))
    program: Mapped[str] = mapped_column(String(100))
    campaign: Mapped[str] = mapped_column(String(100))
    campaign_kind: Mapped[str] = mapped_column(String(16), default="outbound")
    customer_id: Mapped[str] = mapped_column(String(128))
    offer: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal("0"))
    rank: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Dispatch: which configured channel took it, how it went, what it cost.
    channel_name: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    spent: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    #: The event (``events.id``) a triggered campaign's contact answers; None for a run's.
    event_id: Mapped[int | None] = mapped_column(IdType)


class HeldOut(Base):
    """A control-group member of a run: would have been a candidate, was left alone.

    Read to measure uplift (held-out against contacted customers of a campaign) and to
    explain a run; never by a contact policy, so it stays out of the ledger's indexes.
    """

    __tablename__ = "held_out"
    __table_args__ = (
        # Keyed by the customer first: one B-tree serves a customer's page (all of a
        # customer's rows) and explaining a run for one customer (customer, run).
        PrimaryKeyConstraint("customer_id", "run_id", "campaign", name="pk_held_out"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    program: Mapped[str] = mapped_column(String(100))
    offer: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MessageTemplate(Base):
    """The words of a message: subject and body for one channel in one language.

    Campaigns name a template; its variants share the name, one per (channel,
    language), and each customer gets the variant of their language.
    """

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("name", "channel", "language", name="uq_message_template"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class ChannelConfig(Base):
    """A configured way out: an SMTP server, an SMS gateway, a webhook or a call centre.

    ``channel`` is the contact channel it serves (email, sms, webhook, phone);
    ``kind`` the adapter. ``tokens`` and ``refilled_at`` are the rate limit's bucket,
    shared by every worker through this row.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rate_per_second: Mapped[float | None] = mapped_column(Float)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    retry_base_seconds: Mapped[float] = mapped_column(Float, default=30.0)
    retry_cap_seconds: Mapped[float] = mapped_column(Float, default=3600.0)
    cost_per_message: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    daily_capacity: Mapped[int | None] = mapped_column(BigInteger)
    tokens: Mapped[float] = mapped_column(Float, default=0.0)
    refilled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class OutboxEntry(Base):
    """A contact still to be sent: the transactional outbox.

    Written in the transaction that creates the contact; deleted in the one that
    records it sent or failed. The key is the order workers take entries in (one
    B-tree, no other index); a worker's claim moves ``due_at`` past its lease, so an
    entry whose worker died becomes due again by itself.
    """

    __tablename__ = "outbox"
    __table_args__ = ({"sqlite_with_rowid": False},)

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    # Not a foreign key: see migration 0007 (a worker drops entries whose contact is gone).
    contact_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)


class CostBooking(Base):
    """What sending cost, per program, campaign, channel and day.

    ``booked`` is real spend (sent messages at the channel's price); ``planned_sent``
    what the run had planned for those same messages, and ``released`` the planned
    cost of contacts that failed: a budget's spend is the runs' planned cost plus
    ``booked - planned_sent - released``.
    """

    __tablename__ = "cost_bookings"

    program: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    booked: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    planned_sent: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))
    released: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))


class RunLog(Base):
    """Why a run left each customer out: its suppression rows, as one Parquet document.

    Tens of millions of (customer, campaign, stage, reason) rows would cost more to
    insert than the decision itself; a compressed, id-sorted Parquet blob written in
    the same transaction as the contacts keeps every reason, exactly, for explain.
    """

    __tablename__ = "run_logs"

    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    suppressed: Mapped[bytes] = mapped_column(LargeBinary)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)


class ReplyRuleRow(Base):
    """A deployment's rule for understanding replies: a keyword or pattern per language.

    Seeded with the built-in English, Chinese and Russian rules (``source='default'``);
    marketers add, switch off and remove rules, and corrections made in the review
    queue can be remembered as keyword rules (``source='correction'``).
    """

    __tablename__ = "reply_rules"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    language: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    simplified: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Response(Base):
    """What came back from a customer: a reply, a click or a call outcome.

    ``(source, message_id)`` is unique, so a message delivered twice is stored once.
    ``contact_id`` is the contact it answers (None: unattributed, kept and listed);
    ``outcome`` what the rules understood and ``result`` what was done with it.
    """

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("source", "message_id", name="uq_response_message"),
        Index("ix_responses_contact", "contact_id"),
        Index("ix_responses_customer", "customer_id"),
        Index("ix_responses_review", "review"),
        Index("ix_responses_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="reply")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sender: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[str | None] = mapped_column(String(128))
    contact_id: Mapped[int | None] = mapped_column(IdType)
    program: Mapped[str | None] = mapped_column(String(100))
    campaign: Mapped[str | None] = mapped_column(String(100))
    offer: Mapped[str | None] = mapped_column(String(64))
    attributed_by: Mapped[str] = mapped_column(String(16), default="none")
    language: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[str] = mapped_column(String(16))
    review: Mapped[str | None] = mapped_column(String(16))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Order(Base):
    """An order for an offer: from a reply, a call outcome or a won lead.

    One per response and one per lead (both unique), so taking the same reply twice
    books one order. A discount outside the offer's bounds waits for approval.
    """

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    response_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("responses.id", ondelete="SET NULL"), unique=True
    )
    lead_id: Mapped[int | None] = mapped_column(IdType, unique=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    contact_id: Mapped[int | None] = mapped_column(IdType)
    program: Mapped[str | None] = mapped_column(String(100))
    campaign: Mapped[str | None] = mapped_column(String(100))
    offer: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class SalesRep(Base):
    """A sales rep who works leads: territory, skills, how many open leads they can hold.

    ``role`` is ``hunter`` (new business) or ``farmer`` (accounts); ``manager`` the
    username leads are escalated to when the SLA is missed.
    """

    __tablename__ = "sales_reps"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    territory: Mapped[str | None] = mapped_column(String(100))
    skills: Mapped[list[Any]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=50)
    role: Mapped[str] = mapped_column(String(16), default="hunter")
    manager: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Lead(Base):
    """Interest that needs a person: a customer, what they answered, and who works it.

    Its life is ``new -> contacted -> qualified -> won / lost``; ``due_at`` is the SLA
    (contacted by then, or escalated to the rep's manager).
    """

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_rep_status", "rep", "status"),
        Index("ix_leads_status_due", "status", "due_at"),
        Index("ix_leads_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    response_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("responses.id", ondelete="SET NULL"), unique=True
    )
    customer_id: Mapped[str] = mapped_column(String(128))
    contact_id: Mapped[int | None] = mapped_column(IdType)
    program: Mapped[str | None] = mapped_column(String(100))
    campaign: Mapped[str | None] = mapped_column(String(100))
    offer: Mapped[str | None] = mapped_column(String(64))
    reply: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    rep: Mapped[str | None] = mapped_column(String(100))
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    contacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_to: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lost_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class Activity(Base):
    """What a rep did on a lead: a call, visit, e-mail or meeting, its cost and result."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_rep_at", "rep", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    lead_id: Mapped[int] = mapped_column(IdType, ForeignKey("leads.id", ondelete="CASCADE"))
    rep: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    result: Mapped[str] = mapped_column(String(32), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class EventTypeRow(Base):
    """A declared event type: its payload fields and their types, the required ones."""

    __tablename__ = "event_types"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: field name → type name (``int``, ``float``, ``text``...)
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    required: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: For a lifecycle key point no producer announces (a birthday, a contract's end):
    #: how the daily scheduler finds the customers it happens to (None: sent by producers).
    lifecycle: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class EventRow(Base):
    """One event taken, once (``event_id`` is the producer's id, unique), and what it led to.

    ``status``: ``contacted`` (at least one contact), ``no_contact`` (campaigns
    listened, none contacted), ``no_match`` (no live campaign listens to the type),
    ``unattributed`` (no such customer). ``decisions`` holds, per campaign that
    listened, the outcome and its reason: what ``tactica explain`` prints.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer", "customer_id", "occurred_at"),
        Index("ix_events_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(16), default="http")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    contacts: Mapped[int] = mapped_column(Integer, default=0)
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class EventFigure(Base):
    """How a triggered campaign's events went on one day: a count per outcome and reason.

    Added to in the transaction that decides the events, so the figures are exactly
    what was committed. ``outcome`` is ``matched`` (the event reached the campaign),
    ``not_eligible``, ``excluded``, ``held_out``, ``policy``, ``arbitration``,
    ``capacity`` or ``contacted``; ``reason`` details it ('' when there is none).
    """

    __tablename__ = "event_figures"

    program: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: what the contacts counted here were planned to cost (``contacted`` rows only):
    #: what events spent of their program's budgets
    cost: Mapped[Decimal] = mapped_column(Numeric(16, 4), default=Decimal("0"))


class ChangeStamp(Base):
    """A counter the database moves (by triggers) when what it names changes.

    ``catalog``: any change to programs, campaigns, contact policies, offers,
    segments, event types or customer fields (what real-time decisions are compiled
    from); see migration 0010.
    """

    __tablename__ = "change_stamps"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyFigures(Base):
    """The dashboard's rollup: one row per day, program, campaign, channel and offer.

    Kept by triggers (see :mod:`tactica.store.daily_figures`); nothing writes it
    directly. Empty keys are ``''``.
    """

    __tablename__ = "daily_figures"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    program: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    offer: Mapped[str] = mapped_column(String(64), primary_key=True)
    planned: Mapped[int] = mapped_column(BigInteger, server_default="0")
    failed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    sent: Mapped[int] = mapped_column(BigInteger, server_default="0")
    delivered: Mapped[int] = mapped_column(BigInteger, server_default="0")
    held_out: Mapped[int] = mapped_column(BigInteger, server_default="0")
    responses: Mapped[int] = mapped_column(BigInteger, server_default="0")
    orders: Mapped[int] = mapped_column(BigInteger, server_default="0")
    leads: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 4), server_default="0")
    revenue: Mapped[Decimal] = mapped_column(Numeric(18, 4), server_default="0")


#: What PostgreSQL's rollup triggers append, until folded into ``daily_figures`` (see
#: :mod:`tactica.store.daily_figures`). No key: inserts never wait on each other.
daily_figures_delta = Table(
    "daily_figures_delta",
    Base.metadata,
    Column("day", String(10), nullable=False),
    Column("program", String(100), nullable=False),
    Column("campaign", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("offer", String(64), nullable=False),
    *[
        Column(name, BigInteger, nullable=False)
        for name in ("planned", "failed", "sent", "delivered")
    ],
    *[Column(name, BigInteger, nullable=False) for name in ("held_out", "responses", "orders")],
    Column("leads", BigInteger, nullable=False),
    Column("cost", Numeric(18, 4), nullable=False),
    Column("revenue", Numeric(18, 4), nullable=False),
)


class Team(Base):
    """A team of the organisation: marketing, sales, or a function marketing works through.

    ``parent`` makes the hierarchy; ``lead`` is the username approvals and escalations
    go to when a member names nobody they report to.
    """

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    function: Mapped[str] = mapped_column(String(16), default="marketing")
    parent: Mapped[str | None] = mapped_column(String(64))
    lead: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class TeamMember(Base):
    """A person in a team: their title, written responsibilities and who they report to."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team", "username", name="uq_team_members_team_username"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(
        String(64), ForeignKey("teams.name", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    responsibilities: Mapped[str] = mapped_column(Text, default="")
    reports_to: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Objective(Base):
    """A goal for a period, owned by a team or a person.

    Quantitative: a KPI ``definition`` over recorded measures (see
    :mod:`tactica.domain.kpis`), a ``target`` and a ``scope`` (program, campaign,
    channel, offer, product, rep) the actual is computed over. Qualitative: a score on
    a scale of 1 to ``scale_max`` given by the ``reviewer``, against the target score.
    """

    __tablename__ = "objectives"
    __table_args__ = (Index("ix_objectives_period", "starts_on", "ends_on"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="quantitative")
    kpi: Mapped[str] = mapped_column(String(64), default="custom")
    definition: Mapped[str] = mapped_column(Text, default="")
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    period: Mapped[str] = mapped_column(String(8))
    period_kind: Mapped[str] = mapped_column(String(8))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    target: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_team: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(100))
    parent: Mapped[str | None] = mapped_column(String(100))
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("1"))
    reviewer: Mapped[str | None] = mapped_column(String(100))
    scale_max: Mapped[int] = mapped_column(Integer, default=5)
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    assessment_note: Mapped[str] = mapped_column(Text, default="")
    assessed_by: Mapped[str | None] = mapped_column(String(100))
    assessed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class MarketSize(Base):
    """The size of a market for a period, entered by people (market share needs it).

    ``market`` is a product, or ``''`` for the whole market; the size is in the unit
    revenue is counted in.
    """

    __tablename__ = "market_sizes"
    __table_args__ = (UniqueConstraint("period", "market", name="uq_market_sizes_period_market"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(8))
    market: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    source: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(100), default="")
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())


class Plan(Base):
    """A plan for a period: annual, quarterly, monthly or weekly (each within its
    ``parent``), or a promotion or brand-communication plan; broken into actions.

    ``strategy`` is the plan's words; the actions are what makes it a plan.
    """

    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_period", "starts_on", "ends_on"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="annual")
    period: Mapped[str] = mapped_column(String(8))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    parent: Mapped[str | None] = mapped_column(String(100))
    owner_team: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(100))
    objective: Mapped[str | None] = mapped_column(String(100))
    strategy: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )


class PlanAction(Base):
    """One action of a plan: a subject, a responsible person, start and due days, the
    criteria it is evaluated by, a status and, once done, an evaluation.

    ``program`` names the program that carries it out: its figures between the
    action's start and its end count toward it.
    """

    __tablename__ = "plan_actions"
    __table_args__ = (
        UniqueConstraint("plan", "name", name="uq_plan_actions_plan_name"),
        Index("ix_plan_actions_owner_due", "owner", "due_on"),
        Index("ix_plan_actions_due", "due_on"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    plan: Mapped[str] = mapped_column(
        String(100), ForeignKey("plans.name", ondelete="CASCADE", onupdate="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(100))
    starts_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    criteria: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="committed")
    program: Mapped[str | None] = mapped_column(String(100))
    evaluator: Mapped[str | None] = mapped_column(String(100))
    started_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(16))
    quality: Mapped[int | None] = mapped_column(Integer)
    evaluation_note: Mapped[str] = mapped_column(Text, default="")
    evaluated_by: Mapped[str | None] = mapped_column(String(100))
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=_now(), onupdate=_now()
    )
