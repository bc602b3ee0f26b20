"""Call outcomes: a call centre's file of what each call came to, taken from the browser.

The import is the CLI's (``tactica responses import-calls``): every row or none, each
bad row named by row and column; the same file again takes nothing twice. Outcomes
become what a reply would — an order booked, a lead opened, an opt-out — and the page
says how many of each.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from tactica.domain.access import Permission
from tactica.errors import ImportRejected, InvalidInput, NotFound
from tactica.services import channel_configs
from tactica.services.call_outcomes import CallsTaken, import_calls
from tactica.services.importing import upload_name
from tactica.services.users import Principal
from tactica.store.db import Store
from tactica.web.render import actor, in_session, let_in, message, posted, render, shown_rows

router = APIRouter(include_in_schema=False)

WHAT = "import call outcomes"
SCOPES = ("channel", "all")


def _centres(session: Session) -> list[str]:
    """The configured call-centre channels: a file's times are read in its time zone."""
    return [c.name for c in channel_configs.list_channels(session) if c.kind == "call_centre"]


async def _page(request: Request, who: Principal, status: int = 200, **context: Any) -> Response:
    context.setdefault("typed", {"opt_out": request.app.state.settings.opt_out_scope})
    context.setdefault("errors", {})
    context.setdefault("problems", [])
    context.setdefault("more_problems", 0)
    context.setdefault("taken", None)
    centres = await in_session(request, _centres)
    return render(
        request,
        "responses_calls.html",
        who,
        status_code=status,
        centres=centres,
        scopes=SCOPES,
        **context,
    )


@router.get("/ui/responses/calls")
async def calls_page(request: Request) -> Response:
    """The form to take a call centre's outcome file."""
    who = await let_in(request, Permission.RESPONSES_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    return await _page(request, who)


def _take(store: Store, upload: UploadFile, typed: dict[str, str], who: Principal) -> CallsTaken:
    """Copy the upload to a scratch folder under its own name and take it."""
    with tempfile.TemporaryDirectory(prefix="tactica-calls-") as tmp:
        path = Path(tmp) / upload_name(upload.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        return import_calls(
            store,
            path,
            centre=typed["centre"] or None,
            actor=actor(who),
            opt_out_scope=typed["opt_out"],
        )


@router.post("/ui/responses/calls")
async def take_calls(request: Request) -> Response:
    """Take the file chosen: every row or none; a refused file names its bad rows next
    to the file field, and nothing is stored."""
    who = await let_in(request, Permission.RESPONSES_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, WHAT)
    if isinstance(form, Response):
        return form
    typed = {"centre": form.get("centre", ""), "opt_out": form.get("opt_out", "")}
    upload = (await request.form()).get("file")
    errors: dict[str, str] = {}
    problems: list[Any] = []
    more = 0
    if typed["opt_out"] not in SCOPES:
        errors["opt_out"] = "'channel' (calls only) or 'all'"
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = "choose the centre's CSV file"
    if not errors:
        assert isinstance(upload, UploadFile)
        try:
            taken = await run_in_threadpool(_take, request.app.state.store, upload, typed, who)
        except ImportRejected as e:
            errors["file"] = (
                f"{e.total_bad_rows:,} row(s) cannot be taken; nothing was stored: "
                "correct the file and import it again"
            )
            problems, more = shown_rows(e)
        except NotFound as e:  # the centre named is no channel
            errors["centre"] = e.detail.removeprefix("--centre: ")
        except InvalidInput as e:
            errors["file"] = message(e)
    if errors:
        return await _page(
            request,
            who,
            status=422,
            typed=typed,
            errors=errors,
            problems=problems,
            more_problems=more,
        )
    return await _page(request, who, typed=typed, taken=taken)
