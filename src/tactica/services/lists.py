"""Special lists: opt-out, do-not-disturb, blacklist, VIP, complaints — entries, import, export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.lists import ALL_CHANNELS, ListKind, check_channel
from tactica.errors import Conflict, ImportRejected, InvalidInput, NotFound, RowProblem
from tactica.services import audit
from tactica.services.rules import rules_using
from tactica.store.models import SpecialList, SpecialListEntry

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
EXPORT_COLUMNS = ("customer_id", "channel", "source", "reason", "created_at", "expires_at")


def utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC, naive ones taken as UTC already; None stays None."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _db_time(value: datetime | None) -> datetime | None:
    # SQLite keeps no offset, so every stored time is UTC without tzinfo; PostgreSQL keeps tz.
    v = utc(value)
    return v.replace(tzinfo=None) if v is not None else None


def list_view(lst: SpecialList, size: int | None = None) -> dict[str, Any]:
    """A list as shown to people."""
    out: dict[str, Any] = {
        "name": lst.name,
        "kind": lst.kind,
        "description": lst.description,
    }
    if size is not None:
        out["size"] = size
    return out


def entry_view(e: SpecialListEntry) -> dict[str, Any]:
    """An entry as shown to people."""
    return {
        "customer_id": e.customer_id,
        "channel": e.channel,
        "source": e.source,
        "reason": e.reason,
        "created_at": utc(e.created_at),
        "expires_at": utc(e.expires_at),
    }


def get_list(session: Session, name: str) -> SpecialList:
    """The list called ``name``; NotFound names the lists that exist."""
    lst = session.scalar(sa.select(SpecialList).where(SpecialList.name == name))
    if lst is None:
        known = ", ".join(session.scalars(sa.select(SpecialList.name).order_by(SpecialList.name)))
        raise NotFound(f"no special list {name!r}; lists are: {known}")
    return lst


def list_names(session: Session) -> list[str]:
    """Names of every special list."""
    return list(session.scalars(sa.select(SpecialList.name).order_by(SpecialList.name)))


def _active(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(SpecialListEntry.expires_at.is_(None), SpecialListEntry.expires_at > now)


def list_lists(session: Session) -> list[dict[str, Any]]:
    """Every list with its number of entries in force."""
    now = _db_time(datetime.now(UTC))
    assert now is not None
    counts = {
        list_id: n
        for list_id, n in session.execute(
            sa.select(SpecialListEntry.list_id, sa.func.count())
            .where(_active(now))
            .group_by(SpecialListEntry.list_id)
        )
    }
    lists = session.scalars(sa.select(SpecialList).order_by(SpecialList.name))
    return [list_view(lst, counts.get(lst.id, 0)) for lst in lists]


def create_list(
    session: Session, name: str, kind: str, description: str = "", *, actor: str
) -> SpecialList:
    """A new special list of a kind (opt_out, dnd, blacklist, vip, complaint)."""
    if not _NAME.match(name):
        raise InvalidInput("lower-case letters, digits, '_' or '-'", where=f"list name {name!r}")
    try:
        kind_ = ListKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in ListKind)
        raise InvalidInput(f"unknown kind {kind!r}; kinds are {kinds}", where="kind") from None
    if session.scalar(sa.select(SpecialList.id).where(SpecialList.name == name)) is not None:
        raise Conflict(f"special list {name!r} exists already")
    lst = SpecialList(name=name, kind=kind_.value, description=description)
    session.add(lst)
    session.flush()
    audit.record(session, actor, "create", "special_list", name, None, list_view(lst))
    return lst


def delete_list(session: Session, name: str, *, actor: str) -> None:
    """Remove a list and all its entries, unless a saved rule tests it or it is an
    opt-out list that still holds someone (those customers asked not to be contacted:
    deleting the list would contact them again)."""
    lst = get_list(session, name)
    users = rules_using(session, "on_list", name)
    if users:
        raise Conflict(f"list {name!r} is used by {', '.join(users)}; change those first")
    if lst.kind == ListKind.OPT_OUT.value:
        held = list_size(session, name)
        if held:
            raise Conflict(
                f"opt-out list {name!r} holds {held:,} customer{'s' if held != 1 else ''} "
                "who asked not to be contacted; it is kept so that none of them is "
                "contacted again"
            )
    session.execute(sa.delete(SpecialListEntry).where(SpecialListEntry.list_id == lst.id))
    session.delete(lst)
    audit.record(session, actor, "delete", "special_list", name, list_view(lst), None)


@dataclass(frozen=True)
class EntryInput:
    """One entry to put on a list."""

    customer_id: str
    channel: str = ALL_CHANNELS
    source: str = "manual"
    reason: str = ""
    expires_at: datetime | None = None


def _validate(entry: EntryInput, where: str) -> None:
    if not entry.customer_id.strip():
        raise InvalidInput("customer_id is empty", where=where)
    why = check_channel(entry.channel)
    if why:
        raise InvalidInput(why, where=where)


def _upsert(session: Session, lst: SpecialList, entry: EntryInput, actor: str) -> SpecialListEntry:
    row = session.scalar(
        sa.select(SpecialListEntry).where(
            SpecialListEntry.list_id == lst.id,
            SpecialListEntry.customer_id == entry.customer_id,
            SpecialListEntry.channel == entry.channel,
        )
    )
    if row is None:
        row = SpecialListEntry(list_id=lst.id, customer_id=entry.customer_id, channel=entry.channel)
        session.add(row)
    row.source = entry.source
    row.reason = entry.reason
    row.expires_at = _db_time(entry.expires_at)
    row.created_by = actor
    return row


def add_entry(session: Session, list_name: str, entry: EntryInput, *, actor: str) -> dict[str, Any]:
    """Put a customer on a list (or refresh the entry's reason and expiry)."""
    _validate(entry, "entry")
    lst = get_list(session, list_name)
    row = _upsert(session, lst, entry, actor)
    session.flush()
    view = entry_view(row)
    audit.record(session, actor, "add", "special_list", list_name, None, view)
    return view


def remove_entry(
    session: Session, list_name: str, customer_id: str, channel: str | None = None, *, actor: str
) -> int:
    """Take a customer off a list (one channel, or every channel when None); returns how many."""
    lst = get_list(session, list_name)
    q = sa.delete(SpecialListEntry).where(
        SpecialListEntry.list_id == lst.id, SpecialListEntry.customer_id == customer_id
    )
    if channel is not None:
        q = q.where(SpecialListEntry.channel == channel)
    n = session.execute(q).rowcount  # type: ignore[attr-defined]
    if n == 0:
        raise NotFound(f"customer {customer_id!r} is not on list {list_name!r}")
    audit.record(
        session, actor, "remove", "special_list", list_name, {"customer_id": customer_id}, None
    )
    return int(n)


def entries(
    session: Session,
    list_name: str,
    *,
    include_expired: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The entries of a list, newest first."""
    lst = get_list(session, list_name)
    q = sa.select(SpecialListEntry).where(SpecialListEntry.list_id == lst.id)
    if not include_expired:
        now = _db_time(datetime.now(UTC))
        assert now is not None
        q = q.where(_active(now))
    q = q.order_by(SpecialListEntry.id.desc()).limit(limit).offset(offset)
    return [entry_view(e) for e in session.scalars(q)]


def search_entries(
    session: Session,
    list_name: str,
    *,
    customer_prefix: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The entries in force of a list whose customer id starts with ``customer_prefix``
    (every entry when it is empty), newest first: a page of a list, searched."""
    lst = get_list(session, list_name)
    now = _db_time(datetime.now(UTC))
    assert now is not None
    q = sa.select(SpecialListEntry).where(SpecialListEntry.list_id == lst.id, _active(now))
    if customer_prefix:
        q = q.where(SpecialListEntry.customer_id.startswith(customer_prefix, autoescape=True))
    q = q.order_by(SpecialListEntry.id.desc()).limit(limit).offset(offset)
    return [entry_view(e) for e in session.scalars(q)]


def list_size(session: Session, list_name: str) -> int:
    """How many entries of one list are in force (counted in the database)."""
    lst = get_list(session, list_name)
    now = _db_time(datetime.now(UTC))
    assert now is not None
    q = sa.select(sa.func.count()).where(SpecialListEntry.list_id == lst.id, _active(now))
    return int(session.scalar(q) or 0)


def lists_of_customer(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """Every list entry in force for one customer, with the list's name and kind."""
    now = _db_time(datetime.now(UTC))
    assert now is not None
    rows = session.execute(
        sa.select(SpecialList, SpecialListEntry)
        .join(SpecialListEntry, SpecialListEntry.list_id == SpecialList.id)
        .where(SpecialListEntry.customer_id == customer_id, _active(now))
        .order_by(SpecialList.name)
    )
    return [{"list": lst.name, "kind": lst.kind, **entry_view(e)} for lst, e in rows]


def _parse_time(raw: str) -> datetime:
    raw = raw.strip()
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        return datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            "a date like 2026-12-31 or a time like 2026-12-31T18:00:00+00:00"
        ) from None


def read_entries_csv(stream: TextIO, file_name: str) -> list[EntryInput]:
    """Parse a list file (``customer_id`` column, optional channel/source/reason/expires_at).

    Every bad row is reported at once, naming file, line, column and value.
    """
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    if "customer_id" not in header:
        raise InvalidInput(
            f"needs a 'customer_id' column; the header has {', '.join(header) or 'nothing'}",
            where=file_name,
        )
    unknown = [c for c in header if c not in EXPORT_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(EXPORT_COLUMNS)}",
            where=file_name,
        )
    out: list[EntryInput] = []
    problems: list[RowProblem] = []
    for row in reader:
        line = reader.line_num
        cid = (row.get("customer_id") or "").strip()
        channel = (row.get("channel") or "").strip() or ALL_CHANNELS
        expires_raw = (row.get("expires_at") or "").strip()
        bad = False
        if not cid:
            problems.append(RowProblem(file_name, line, "customer_id", "", "a customer id"))
            bad = True
        if check_channel(channel):
            problems.append(
                RowProblem(file_name, line, "channel", channel, "'all' or a channel name")
            )
            bad = True
        expires: datetime | None = None
        if expires_raw:
            try:
                expires = _parse_time(expires_raw)
            except ValueError as e:
                problems.append(RowProblem(file_name, line, "expires_at", expires_raw, str(e)))
                bad = True
        if not bad:
            out.append(
                EntryInput(
                    customer_id=cid,
                    channel=channel,
                    source=(row.get("source") or "").strip() or "import",
                    reason=(row.get("reason") or "").strip(),
                    expires_at=expires,
                )
            )
    if problems:
        raise ImportRejected(problems, len({p.row for p in problems}))
    return out


def import_entries(session: Session, list_name: str, path: Path, *, actor: str) -> int:
    """Load a CSV of entries onto a list, all or nothing; returns how many entries landed."""
    if not path.exists():
        raise NotFound(f"no file {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        parsed = read_entries_csv(f, str(path))
    return add_entries(session, list_name, parsed, actor=actor)


def add_entries(
    session: Session, list_name: str, items: Iterable[EntryInput], *, actor: str
) -> int:
    """Put many entries on a list in the caller's transaction; returns how many."""
    lst = get_list(session, list_name)
    n = 0
    for item in items:
        _validate(item, f"entry {n + 1}")
        _upsert(session, lst, item, actor)
        n += 1
    session.flush()
    audit.record(session, actor, "import", "special_list", list_name, None, {"entries": n})
    return n


def export_entries(session: Session, list_name: str, out: TextIO) -> int:
    """Write a list's entries in force as CSV (the same columns import reads)."""
    lst = get_list(session, list_name)
    now = _db_time(datetime.now(UTC))
    assert now is not None
    w = csv.writer(out)
    w.writerow(EXPORT_COLUMNS)
    n = 0
    q = (
        sa.select(SpecialListEntry)
        .where(SpecialListEntry.list_id == lst.id, _active(now))
        .order_by(SpecialListEntry.customer_id, SpecialListEntry.channel)
    )
    for e in session.scalars(q):
        v = entry_view(e)
        w.writerow(
            [
                v["customer_id"],
                v["channel"],
                v["source"],
                v["reason"],
                v["created_at"].isoformat() if v["created_at"] else "",
                v["expires_at"].isoformat() if v["expires_at"] else "",
            ]
        )
        n += 1
    return n


def export_entries_text(session: Session, list_name: str) -> str:
    """The CSV export as a string (for the API)."""
    buf = io.StringIO()
    export_entries(session, list_name, buf)
    return buf.getvalue()
