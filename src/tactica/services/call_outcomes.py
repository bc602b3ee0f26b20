"""Call-centre outcomes: a file saying what each call came to, taken as responses.

A call centre calls the contacts on its daily list (see
:mod:`tactica.channels.call_centre`) and sends back a CSV file, one row per call:

=================  ==========================================================================
column             what
=================  ==========================================================================
``contact_id``     the contact called, as on the call list
``customer_id``,   instead of ``contact_id``: the customer and the campaign; the call answers
``campaign``       the customer's latest contact of that campaign made before the call
``outcome``        ``order``, ``interest``, ``callback``, ``not_interested``, ``no_answer``
                   or ``opt_out``
``called_at``      when: ISO 8601 (``2026-11-24 14:05``); without an offset it is read in
                   the centre's time zone (``--centre``), else in UTC
``discount``       optional: percent off the offer's price, for an order
``notes``,         optional: what the agent wrote, and who they are
``agent``
=================  ==========================================================================

The call list's own columns (``phone``, ``offer``, ``script``) may stay in the file, so
a centre can fill its outcomes into the list it got; any other column is refused. The
file is read in any encoding and with any separator, like a customer file.

Outcomes become what a reply would: ``order`` books an order for the contact's offer,
``interest`` and ``callback`` open a lead, ``opt_out`` puts the customer on the
opt-out list; ``not_interested`` and ``no_answer`` are recorded, and nobody has to
review them (the agent already knows what happened).

All or nothing: a file with any bad row is refused whole, every problem named by file,
row, column and value, and nothing is stored. Each call's message id is
``call-<contact id>-<called_at in UTC>``, so importing the same file again takes
nothing twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from tactica.domain.replies import ReplyOutcome
from tactica.errors import ImportRejected, InvalidInput, NotFound, RowProblem
from tactica.services.import_detect import detect_encoding, detect_separator, to_utf8
from tactica.services.responses import Inbound, Taken, take_responses
from tactica.store.db import Store
from tactica.store.models import ChannelConfig, Contact

#: The source call outcomes are stored under.
SOURCE = "calls"

#: What each outcome a centre writes becomes.
OUTCOMES: dict[str, ReplyOutcome] = {
    "order": ReplyOutcome.ORDER,
    "interest": ReplyOutcome.INTEREST,
    "callback": ReplyOutcome.INTEREST,
    "opt_out": ReplyOutcome.OPT_OUT,
    "not_interested": ReplyOutcome.OTHER,
    "no_answer": ReplyOutcome.OTHER,
}

COLUMNS = ("contact_id", "customer_id", "campaign", "outcome", "called_at")
OPTIONAL = ("discount", "notes", "agent")
#: Columns of the call list itself, read past when a centre fills in the list it got.
CALL_LIST_EXTRAS = ("phone", "offer", "script")

# A call a few minutes "in the future" is a centre's clock running fast, not an error.
_CLOCK_SKEW = timedelta(minutes=5)
_MAX_NOTES = 20_000


class CallsRejected(ImportRejected):
    """A call-outcome file with bad rows; nothing was stored."""

    def __init__(self, problems: list[RowProblem], total_bad_rows: int) -> None:
        super().__init__(problems, total_bad_rows)
        # The customer importer's hint (--rejects) does not apply: fix the file, try again.
        self.detail = self.detail.replace(
            " (use --rejects FILE to land the good rows)", "; correct the file and import it again"
        )
        self.args = (self.detail,)


@dataclass(frozen=True)
class _Row:
    line: int
    contact_id: int | None
    customer_id: str | None
    campaign: str | None
    outcome: str
    called_at: datetime
    discount: Decimal | None
    notes: str
    agent: str


@dataclass
class CallsTaken:
    """What importing a file did: its rows, and what became of them."""

    file: str
    rows: int
    taken: Taken = field(default_factory=Taken)

    @property
    def recorded(self) -> int:
        """Calls kept for the record only (not interested, no answer)."""
        t = self.taken
        acted = t.orders + t.pending_orders + t.leads + t.opt_outs + t.review + t.unattributed
        return t.accepted - acted

    def as_dict(self) -> dict[str, object]:
        """The counts, for the CLI."""
        return {"file": self.file, "rows": self.rows, "recorded": self.recorded} | (
            self.taken.as_dict()
        )


def _zone(store: Store, centre: str | None) -> ZoneInfo:
    """The centre's time zone (its channel's), UTC without a centre."""
    if centre is None:
        return ZoneInfo("UTC")
    with store.session() as s:
        config = s.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == centre))
        if config is None or config.kind != "call_centre":
            names = s.scalars(
                sa.select(ChannelConfig.name)
                .where(ChannelConfig.kind == "call_centre")
                .order_by(ChannelConfig.name)
            ).all()
            known = f"; call centres: {', '.join(names)}" if names else "; there is none yet"
            raise NotFound(f"--centre: no call centre {centre!r}{known}")
        try:
            return ZoneInfo(config.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


def _text(data: bytes, file: str) -> str:
    encoding = detect_encoding(data[:65536])
    text = to_utf8(data, encoding, file).decode("utf-8")
    return text.removeprefix("\ufeff")


def _header_problems(header: Sequence[str], file: str) -> None:
    known = (*COLUMNS, *OPTIONAL, *CALL_LIST_EXTRAS)
    unknown = [c for c in header if c not in known]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}; "
            f"a call-outcome file has {', '.join(COLUMNS + OPTIONAL)}",
            where=file,
        )
    missing = [c for c in ("outcome", "called_at") if c not in header]
    if "contact_id" not in header and not {"customer_id", "campaign"} <= set(header):
        missing.insert(0, "contact_id (or customer_id and campaign)")
    if missing:
        has = ", ".join(header) or "nothing"
        raise InvalidInput(
            f"needs column(s) {', '.join(missing)}; the header has {has}", where=file
        )


def _called_at(raw: str, zone: ZoneInfo) -> datetime:
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def read_calls(
    text: str, file: str, *, zone: ZoneInfo, now: datetime
) -> tuple[list[_Row], list[RowProblem]]:
    """The rows of a call-outcome file and the problems of its values (not yet its ids)."""
    sep = detect_separator(text[:65536])
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sep)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    _header_problems(header, file)
    rows: list[_Row] = []
    problems: list[RowProblem] = []
    try:
        for record in reader:
            line = reader.line_num
            got = {k: (v or "").strip() for k, v in record.items() if isinstance(k, str)}
            if None in record:
                problems.append(
                    RowProblem(file, line, "(end)", sep.join(record[None] or []), "a field more")
                )
                continue
            row, found = _read_row(got, file, line, zone=zone, now=now)
            problems += found
            if row is not None:
                rows.append(row)
    except csv.Error as e:
        raise InvalidInput(
            f"row {reader.line_num}: cannot be read as CSV ({e})", where=file
        ) from None
    return rows, problems


def _read_row(
    got: Mapping[str, str], file: str, line: int, *, zone: ZoneInfo, now: datetime
) -> tuple[_Row | None, list[RowProblem]]:
    out: list[RowProblem] = []
    contact_id: int | None = None
    raw_contact = got.get("contact_id", "")
    if raw_contact:
        digits = raw_contact.removeprefix("tactica-")
        if digits.isdigit():
            contact_id = int(digits)
        else:
            out.append(RowProblem(file, line, "contact_id", raw_contact, "a contact id (a number)"))
    customer = got.get("customer_id") or None
    campaign = got.get("campaign") or None
    if not raw_contact and not (customer and campaign):
        column = "contact_id" if not customer else "campaign"
        out.append(
            RowProblem(file, line, column, "", "a contact id, or a customer id and a campaign")
        )
    outcome = got.get("outcome", "").lower().replace(" ", "_").replace("-", "_")
    if outcome not in OUTCOMES:
        out.append(
            RowProblem(
                file, line, "outcome", got.get("outcome", ""), f"one of {', '.join(OUTCOMES)}"
            )
        )
    called_at: datetime | None = None
    raw_when = got.get("called_at", "")
    try:
        called_at = _called_at(raw_when, zone)
    except ValueError:
        out.append(RowProblem(file, line, "called_at", raw_when, "a time such as 2026-11-24 14:05"))
    else:
        if called_at > now + _CLOCK_SKEW:
            out.append(RowProblem(file, line, "called_at", raw_when, "a time not in the future"))
    discount: Decimal | None = None
    raw_discount = got.get("discount", "")
    if raw_discount:
        try:
            discount = Decimal(raw_discount.removesuffix("%").strip().replace(",", "."))
        except InvalidOperation:
            discount = None
        if discount is None or not discount.is_finite() or not 0 <= discount <= 100:
            out.append(
                RowProblem(file, line, "discount", raw_discount, "a percentage from 0 to 100")
            )
    notes = got.get("notes", "")
    if len(notes) > _MAX_NOTES:
        out.append(RowProblem(file, line, "notes", notes[:40] + "...", "at most 20,000 characters"))
    if out or called_at is None:
        return None, out
    row = _Row(
        line=line,
        contact_id=contact_id,
        customer_id=customer,
        campaign=campaign,
        outcome=outcome,
        called_at=called_at,
        discount=discount,
        notes=notes,
        agent=got.get("agent", "")[:200],
    )
    return row, out


def _contacts(store: Store, rows: Sequence[_Row]) -> dict[int, Contact]:
    ids = sorted({r.contact_id for r in rows if r.contact_id is not None})
    found: dict[int, Contact] = {}
    with store.session() as s:
        for k in range(0, len(ids), 500):
            for c in s.scalars(sa.select(Contact).where(Contact.id.in_(ids[k : k + 500]))):
                found[c.id] = c
        s.expunge_all()
    return found


def _latest_in_campaign(store: Store, rows: Sequence[_Row]) -> dict[int, Contact]:
    """Per row given by customer and campaign: that customer's latest contact before the call."""
    wanted = [r for r in rows if r.contact_id is None]
    customers = sorted({r.customer_id for r in wanted if r.customer_id})
    by_customer: dict[str, list[Contact]] = {}
    with store.session() as s:
        for k in range(0, len(customers), 500):
            for c in s.scalars(
                sa.select(Contact).where(
                    Contact.customer_id.in_(customers[k : k + 500]),
                    Contact.campaign.in_(sorted({r.campaign for r in wanted if r.campaign})),
                    Contact.status != "failed",
                )
            ):
                by_customer.setdefault(c.customer_id, []).append(c)
        s.expunge_all()
    out: dict[int, Contact] = {}
    for r in wanted:
        before = [
            c
            for c in by_customer.get(r.customer_id or "", [])
            if c.campaign == r.campaign and c.decided_at <= r.called_at
        ]
        if before:
            out[r.line] = max(before, key=lambda c: (c.decided_at, c.id))
    return out


def _attach(
    store: Store, rows: Sequence[_Row], file: str
) -> tuple[list[tuple[_Row, Contact]], list[RowProblem]]:
    """Each row with the contact it answers, or the problem that it has none."""
    by_id = _contacts(store, rows)
    by_campaign = _latest_in_campaign(store, rows)
    out: list[tuple[_Row, Contact]] = []
    problems: list[RowProblem] = []
    first: dict[tuple[int, datetime], int] = {}
    for r in rows:
        if r.contact_id is not None:
            contact = by_id.get(r.contact_id)
            if contact is None:
                problems.append(
                    RowProblem(
                        file, r.line, "contact_id", str(r.contact_id), "a contact Tactica made"
                    )
                )
                continue
            if r.customer_id and contact.customer_id != r.customer_id:
                problems.append(
                    RowProblem(
                        file,
                        r.line,
                        "customer_id",
                        r.customer_id,
                        f"the customer of contact {contact.id} ({contact.customer_id})",
                    )
                )
                continue
        else:
            found = by_campaign.get(r.line)
            if found is None:
                problems.append(
                    RowProblem(
                        file,
                        r.line,
                        "campaign",
                        r.campaign or "",
                        f"a campaign customer {r.customer_id!r} was contacted in before the call",
                    )
                )
                continue
            contact = found
        key = (contact.id, r.called_at)
        if key in first:
            problems.append(
                RowProblem(
                    file,
                    r.line,
                    "called_at",
                    r.called_at.isoformat(),
                    f"a call of its own (row {first[key]} is the same call)",
                )
            )
            continue
        first[key] = r.line
        out.append((r, contact))
    return out, problems


def message_id(contact_id: int, called_at: datetime) -> str:
    """The id of one call: the same call imported again is the same message."""
    return f"call-{contact_id}-{called_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def import_calls(
    store: Store,
    path: Path,
    *,
    centre: str | None = None,
    actor: str = "system",
    opt_out_scope: str = "channel",
    now: datetime | None = None,
) -> CallsTaken:
    """Take a call-outcome file, all or nothing; see the module's documentation.

    ``centre`` names the call-centre channel the file comes from: its time zone reads
    times written without an offset, and responses keep its name. Raises
    :class:`CallsRejected` (an :class:`~tactica.errors.ImportRejected`) listing every bad
    row when any is bad; nothing is stored then.
    """
    now = now or datetime.now(UTC)
    if not path.is_file():
        raise NotFound(f"no file {path}")
    file = path.name
    zone = _zone(store, centre)
    rows, problems = read_calls(_text(path.read_bytes(), file), file, zone=zone, now=now)
    attached, more = _attach(store, rows, file)
    problems = sorted([*problems, *more], key=lambda p: p.row)
    if problems:
        raise CallsRejected(problems, len({p.row for p in problems}))
    items = [
        Inbound(
            message_id=message_id(contact.id, r.called_at),
            channel=contact.channel,
            text=r.notes,
            contact_id=contact.id,
            received_at=r.called_at,
            kind="call",
            outcome=OUTCOMES[r.outcome].value,
            discount=r.discount if OUTCOMES[r.outcome] is ReplyOutcome.ORDER else None,
            data={
                "call_outcome": r.outcome,
                "agent": r.agent,
                "centre": centre or "",
                "file": file,
                "row": r.line,
            },
        )
        for r, contact in attached
    ]
    result = CallsTaken(file, len(rows))
    if items:
        result.taken = take_responses(
            store, SOURCE, items, actor=actor, opt_out_scope=opt_out_scope, now=now
        )
    return result
