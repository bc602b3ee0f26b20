"""Importing customers from the browser: a CSV (any separator, gzipped too) or Parquet
file, checked first if asked, then upserted by id — every row or none.

The import is the CLI's and the API's (``tactica customers import``,
``POST /customers/import``): the same detection of columns and types, the same checks,
and a refused file names its bad rows by row and column.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from tactica.domain.access import Permission
from tactica.errors import ImportRejected, InvalidInput
from tactica.services.importing import ImportReport, import_upload
from tactica.services.users import Principal
from tactica.store.db import Store
from tactica.web.render import actor, let_in, message, posted, render, shown_rows

router = APIRouter(include_in_schema=False)

WHAT = "import customers"
FIELDS = ("id_column", "id_prefix", "dry_run")


def _page(request: Request, who: Principal, status: int = 200, **context: Any) -> Response:
    context.setdefault("typed", {})
    context.setdefault("errors", {})
    context.setdefault("problems", [])
    context.setdefault("more_problems", 0)
    context.setdefault("report", None)
    return render(request, "customer_import.html", who, status_code=status, **context)


@router.get("/ui/imports/customers")
async def import_page(request: Request) -> Response:
    """The form to import a file of customers."""
    who = await let_in(request, Permission.CUSTOMERS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    return _page(request, who)


def _run(store: Store, upload: UploadFile, typed: dict[str, str], who: Principal) -> ImportReport:
    report, _ = import_upload(
        store,
        upload.filename,
        upload.file,
        id_column=typed["id_column"] or None,
        id_prefix=typed["id_prefix"] or None,
        dry_run=bool(typed["dry_run"]),
        actor=actor(who),
    )
    return report


@router.post("/ui/imports/customers")
async def import_file(request: Request) -> Response:
    """Import the file chosen: a dry run shows what would happen and writes nothing; a
    refused file names its bad rows next to the file field and writes nothing."""
    who = await let_in(request, Permission.CUSTOMERS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WHAT)
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in FIELDS}
    upload = (await request.form()).get("file")
    errors: dict[str, str] = {}
    problems: list[Any] = []
    more = 0
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = "choose a CSV or Parquet file"
    else:
        try:
            report = await run_in_threadpool(_run, request.app.state.store, upload, typed, who)
        except ImportRejected as e:
            errors["file"] = f"{e.total_bad_rows:,} row(s) cannot be imported; nothing was written"
            problems, more = shown_rows(e)
        except InvalidInput as e:
            field = e.where if e.where in ("id_column", "id_prefix") else "file"
            errors[field] = message(e)
    if errors:
        return _page(
            request,
            who,
            status=422,
            typed=typed,
            errors=errors,
            problems=problems,
            more_problems=more,
        )
    return _page(request, who, typed=typed, report=report)
