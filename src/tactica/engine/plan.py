"""What a batch run decides over: campaigns and offers as plans, the inputs, and the output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pyarrow as pa

from tactica.domain.capacity import Limits
from tactica.domain.policy import ContactPolicy
from tactica.domain.schema import FieldType

from .suppression_log import read_log


@dataclass(frozen=True)
class OfferPlan:
    """An offer a campaign can make: its code, value, and who may get it (None = anyone)."""

    code: str
    value: Decimal = Decimal("0")
    rule: str | None = None


@dataclass(frozen=True)
class CampaignPlan:
    """One campaign as the engine sees it.

    ``rule`` is the whole condition (segment ∧ eligibility, combined by the caller), None
    for everyone. Every offer × channel is one candidate per matching customer. ``score``
    is a number rule (null or None → 0); ``capacity`` caps the contacts (None = no cap);
    ``control_share`` of the candidates (0..1) is held out as the control group.
    """

    name: str
    offers: tuple[OfferPlan, ...]
    channels: tuple[str, ...]
    kind: str = "outbound"
    rule: str | None = None
    score: str | None = None
    priority: int = 0
    capacity: int | None = None
    control_share: float = 0.0
    cost_per_contact: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        if not self.offers or not self.channels:
            raise ValueError(f"campaign {self.name!r}: needs at least one offer and one channel")
        if not 0.0 <= self.control_share <= 1.0:
            raise ValueError(f"campaign {self.name!r}: control_share must be within 0..1")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError(f"campaign {self.name!r}: capacity must not be negative")


@dataclass(frozen=True)
class BatchInputs:
    """Everything one batch decision reads (Arrow tables in, nothing read from a store).

    ``customers`` has ``id`` and every field the rules read, the contact-point and consent
    columns and, when given, ``timezone_column``. ``ledger`` has customer_id, at
    (timestamp, UTC), channel, campaign, campaign_kind, offer, status. ``exclusions`` has
    customer_id, channel ('all' or one channel) and reason; ``vip`` has customer_id.
    ``channel_points`` / ``channel_consents`` map each channel to its column; every
    channel a campaign uses must be in both. Rules may use ``in_segment``: dynamic
    segments by their rule in ``segment_rules``, static ones (and ``on_list``) by the
    ``members`` rows (customer_id, kind 'segment' or 'list', name; see
    :mod:`tactica.engine.membership`). ``limits`` are the run's capacity limits (see
    :mod:`tactica.domain.capacity`); a campaign they do not name has its ``capacity``.
    """

    customers: pa.Table
    fields: Mapping[str, FieldType]
    campaigns: Sequence[CampaignPlan]
    ledger: pa.Table
    exclusions: pa.Table
    vip: pa.Table
    policy: ContactPolicy
    now: datetime
    channel_points: Mapping[str, str]
    channel_consents: Mapping[str, str]
    timezone_column: str | None = None
    segment_rules: Mapping[str, str] = field(default_factory=dict)
    members: pa.Table | None = None
    limits: Limits = field(default_factory=lambda: Limits({}, {}))


@dataclass(frozen=True)
class FunnelRow:
    """How one campaign's candidates thinned out, counted in customers.

    ``candidates = sum(excluded) + held_out + (candidates kept after exclusion and control
    that the policy stopped) + ...``: every later count is a subset of the one before;
    ``after_capacity`` is the number of contacts and ``cost`` their total cost.
    """

    campaign: str
    candidates: int
    excluded: Mapping[str, int] = field(default_factory=dict)
    held_out: int = 0
    after_policy: int = 0
    after_arbitration: int = 0
    after_capacity: int = 0
    cost: Decimal = Decimal("0")


@dataclass(frozen=True)
class BatchDecision:
    """The result of a batch decision.

    ``contacts``: customer_id, campaign, campaign_kind, offer, channel, score, cost, rank
    (1 = the customer's best contact in this run). ``held_out``: customer_id, campaign,
    offer, channel, score (the best candidate the control group kept back).
    ``suppression_log``: who was left out of which campaign and why, as compact
    Parquet (see :mod:`tactica.engine.suppression_log`; ``suppressed``
    reads it as rows: customer_id, campaign, stage — exclusion / policy / arbitration /
    capacity — and reason); empty bytes when the caller did not ask for it. The
    engine may still be writing it when the decision is returned (``log_writing``),
    so that a run stores its contacts meanwhile; reading it waits, and raises what
    writing it raised. ``suppressed_rows`` counts those pairs. ``funnel``: one row
    per campaign, in the order given. Rows of contacts and held_out come in no
    particular order (sorting millions of rows is left to the callers that need it);
    ``score`` is always a double.
    """

    contacts: pa.Table
    held_out: pa.Table
    log_writing: Future[bytes]
    suppressed_rows: int
    funnel: list[FunnelRow]

    @property
    def suppression_log(self) -> bytes:
        """The compact suppression log, once the engine has written it."""
        return self.log_writing.result()

    @property
    def suppressed(self) -> pa.Table:
        """The suppression log as a table (read on demand: at 10 M customers it is large)."""
        return read_log(self.suppression_log)


#: Arrow schemas of the side tables (customer ids as text, as the customer table has them).
LEDGER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
        ("campaign", pa.string()),
        ("campaign_kind", pa.string()),
        ("offer", pa.string()),
        ("status", pa.string()),
    ]
)
EXCLUSIONS_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("channel", pa.string()), ("reason", pa.string())]
)
VIP_SCHEMA = pa.schema([("customer_id", pa.string())])


def written(log: bytes) -> Future[bytes]:
    """A suppression log already written, as :attr:`BatchDecision.log_writing` takes it."""
    done: Future[bytes] = Future()
    done.set_result(log)
    return done
