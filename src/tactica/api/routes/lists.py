"""Special lists: opt-out, do-not-disturb, blacklist, VIP, complaints."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, actor_of, require
from tactica.domain.access import Permission
from tactica.domain.lists import ListKind
from tactica.errors import InvalidInput
from tactica.services import lists
from tactica.services.users import Principal

router = APIRouter(prefix="/lists", tags=["special lists"])
Reader = Annotated[Principal, Depends(require(Permission.LISTS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.LISTS_WRITE))]
ListName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_-]*$")]
Channel = Annotated[str, Field(max_length=16, pattern=r"^[a-z]+$")]


class ListOut(BaseModel):
    """A special list and its number of entries in force."""

    name: str
    kind: ListKind
    description: str
    size: int | None = None


class ListCreate(BaseModel):
    """A new special list."""

    name: ListName
    kind: ListKind
    description: str = Field(default="", max_length=2000)


class EntryIn(BaseModel):
    """A customer to put on a list."""

    customer_id: str = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")
    channel: Channel = "all"
    source: str = Field(default="api", min_length=1, max_length=100)
    reason: str = Field(default="", max_length=2000)
    expires_at: datetime | None = None


class EntryOut(BaseModel):
    """An entry on a list."""

    customer_id: str
    channel: str
    source: str
    reason: str
    created_at: datetime | None
    expires_at: datetime | None


@router.get("", response_model=list[ListOut], summary="Every special list")
def all_lists(_p: Reader, session: SessionDep) -> Any:
    """Every list with its size."""
    return lists.list_lists(session)


@router.post("", response_model=ListOut, status_code=201, summary="Create a special list")
def create_list(body: ListCreate, p: Writer, session: SessionDep) -> Any:
    """A new list of one kind."""
    lst = lists.create_list(
        session, body.name, body.kind.value, body.description, actor=actor_of(p)
    )
    session.commit()
    return lists.list_view(lst, 0)


@router.delete("/{name}", status_code=204, summary="Delete a special list")
def delete_list(name: str, p: Writer, session: SessionDep) -> Response:
    """Remove a list with all its entries."""
    lists.delete_list(session, name, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.get("/{name}/entries", response_model=list[EntryOut], summary="Entries of a list")
def list_entries(
    name: str,
    _p: Reader,
    session: SessionDep,
    include_expired: bool = False,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Any:
    """Entries in force (or all, with include_expired), newest first."""
    return lists.entries(session, name, include_expired=include_expired, limit=limit, offset=offset)


@router.post("/{name}/entries", response_model=EntryOut, status_code=201, summary="Add an entry")
def add_entry(name: str, body: EntryIn, p: Writer, session: SessionDep) -> Any:
    """Put a customer on the list (or refresh the existing entry)."""
    out = lists.add_entry(
        session,
        name,
        lists.EntryInput(body.customer_id, body.channel, body.source, body.reason, body.expires_at),
        actor=actor_of(p),
    )
    session.commit()
    return out


@router.delete("/{name}/entries/{customer_id}", status_code=204, summary="Remove an entry")
def remove_entry(
    name: str,
    customer_id: str,
    p: Writer,
    session: SessionDep,
    channel: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """Take a customer off the list (one channel, or all entries)."""
    lists.remove_entry(session, name, customer_id, channel, actor=actor_of(p))
    session.commit()
    return Response(status_code=204)


@router.get(
    "/{name}/export",
    summary="Export a list as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_list(name: str, _p: Reader, session: SessionDep) -> Response:
    """The entries in force as CSV, in the columns that import reads."""
    body = lists.export_entries_text(session, name)
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.post("/{name}/import", summary="Import entries from a CSV file")
def import_list(
    name: str,
    p: Writer,
    session: SessionDep,
    file: Annotated[
        UploadFile, File(description="CSV: customer_id [, channel, source, reason, expires_at]")
    ],
) -> dict[str, int]:
    """Load entries onto the list: all rows or none, every bad row named."""
    raw = file.file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"not UTF-8 text (byte {e.start})", where=file.filename or "file"
        ) from None
    items = lists.read_entries_csv(io.StringIO(text, newline=""), file.filename or "upload.csv")
    n = lists.add_entries(session, name, items, actor=actor_of(p))
    session.commit()
    return {"entries": n}
