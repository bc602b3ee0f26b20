"""Customers: the declared schema (fields) and looking customers up."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.domain.access import Permission
from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.errors import ImportRejected, InvalidInput
from tactica.services import customers, lists
from tactica.services.importing import import_customers
from tactica.services.users import Principal

router = APIRouter(tags=["customers"])
Reader = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]


class FieldIn(BaseModel):
    """A customer field to declare: it becomes a typed column."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9_]*$")
    type: FieldType
    kind: FieldKind = FieldKind.ATTRIBUTE
    channel: str | None = Field(default=None, max_length=16)
    categories: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=1000)
    description: str = Field(default="", max_length=2000)


class FieldOut(BaseModel):
    """A declared customer field."""

    name: str
    type: FieldType
    kind: FieldKind
    channel: str | None
    categories: list[str]
    description: str


def _field_out(f: FieldDef) -> FieldOut:
    return FieldOut(
        name=f.name,
        type=f.type,
        kind=f.kind,
        channel=f.channel,
        categories=list(f.categories),
        description=f.description,
    )


@router.get("/customer-fields", response_model=list[FieldOut], summary="The customer schema")
def list_fields(_p: Reader, session: SessionDep) -> Any:
    """Every declared field, in declaration order."""
    return [_field_out(f) for f in customers.list_fields(session)]


@router.post(
    "/customer-fields", response_model=list[FieldOut], status_code=201, summary="Declare fields"
)
def declare_fields(
    body: Annotated[list[FieldIn], Field(min_length=1, max_length=200)],
    p: Writer,
    session: SessionDep,
) -> Any:
    """Add fields to the customer schema (each becomes a real typed column)."""
    defs = [
        FieldDef(
            name=f.name,
            type=f.type,
            kind=f.kind,
            channel=f.channel,
            categories=tuple(f.categories),
            description=f.description,
        )
        for f in body
    ]
    out = customers.declare_fields(session, defs, actor=actor_of(p))
    session.commit()
    return [_field_out(f) for f in out]


@router.get("/customers", summary="Customers, by id")
def search(
    _p: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    """A page of customers with every field, and the total count."""
    return {
        "total": customers.count_customers(session),
        "items": customers.search_customers(session, limit=limit, offset=offset),
    }


@router.get("/customers/{customer_id}", summary="One customer")
def get_customer(customer_id: str, _p: Reader, session: SessionDep) -> dict[str, Any]:
    """Every field of a customer and the special lists they are on."""
    c = customers.get_customer(session, customer_id)
    return {**c, "lists": lists.lists_of_customer(session, customer_id)}


def _safe_name(name: str | None) -> str:
    # Keep the user's file name (ids and error messages use it) but nothing path-like.
    base = Path(name or "upload.csv").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:120] or "upload.csv"


@router.post("/customers/import", summary="Import customers from a CSV or Parquet file")
def import_file(
    p: Writer,
    store: StoreDep,
    file: Annotated[UploadFile, File(description="CSV (any separator, may be .gz) or Parquet")],
    mapping: Annotated[str | None, Form(max_length=100_000, description="Mapping, as YAML")] = None,
    id_column: Annotated[str | None, Form(max_length=200)] = None,
    id_prefix: Annotated[str | None, Form(max_length=64)] = None,
    separator: Annotated[str | None, Form(max_length=9)] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    dry_run: Annotated[bool, Form()] = False,
    keep_rejects: Annotated[
        bool, Form(description="Land the good rows; return the bad ones with reasons")
    ] = False,
) -> dict[str, Any]:
    """Same as `tactica customers import`: detect, validate, upsert by id, all or nothing.

    The answer is the import report; with keep_rejects, `rejects_csv` holds the
    rejected rows with their line and reason.
    """
    parsed: Any = None
    if mapping is not None and mapping.strip():
        try:
            parsed = yaml.safe_load(mapping)
        except yaml.YAMLError as e:
            raise InvalidInput(f"not valid YAML: {e}", where="mapping") from None
        if not isinstance(parsed, dict):
            raise InvalidInput("must be a YAML mapping (key: value lines)", where="mapping")
    with tempfile.TemporaryDirectory(prefix="tactica-import-") as tmp:
        path = Path(tmp) / _safe_name(file.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        rejects = Path(tmp) / "rejects.csv" if keep_rejects else None
        try:
            report = import_customers(
                store,
                path,
                mapping=parsed,
                id_column=id_column,
                id_prefix=id_prefix,
                separator=separator,
                encoding=encoding,
                dry_run=dry_run,
                rejects_path=rejects,
                actor=actor_of(p),
            )
        except ImportRejected as e:
            # The upload sits in a scratch folder; people know the file by its own name.
            problems = [replace(pr, file=path.name) for pr in e.problems]
            raise ImportRejected(problems, e.total_bad_rows) from None
        except InvalidInput as e:
            err = InvalidInput(e.detail.replace(str(path), path.name))
            err.where = e.where.replace(str(path), path.name) if e.where else None
            raise err from None
        out_dict = report.to_dict()
        out_dict["file"] = path.name
        out_dict.pop("rejects_path", None)
        if rejects is not None and rejects.exists():
            out_dict["rejects_csv"] = rejects.read_text(encoding="utf-8")
        return out_dict
