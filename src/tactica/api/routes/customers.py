"""Customers: the declared schema (fields) and looking customers up."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field

from tactica.api.deps import SessionDep, StoreDep, actor_of, require
from tactica.domain.access import Permission
from tactica.domain.schema import FieldDef, FieldKind, FieldType
from tactica.errors import InvalidInput
from tactica.services import customers, lists
from tactica.services.importing import import_upload
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
    report, rejects_csv = import_upload(
        store,
        file.filename,
        file.file,
        keep_rejects=keep_rejects,
        mapping=parsed,
        id_column=id_column,
        id_prefix=id_prefix,
        separator=separator,
        encoding=encoding,
        dry_run=dry_run,
        actor=actor_of(p),
    )
    out_dict = report.to_dict()
    out_dict.pop("rejects_path", None)
    if rejects_csv is not None:
        out_dict["rejects_csv"] = rejects_csv
    return out_dict
