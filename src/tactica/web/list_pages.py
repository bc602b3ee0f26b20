"""Special lists: every list with its size, a list's entries, adding, removing,
importing a CSV file and exporting one.

The rules are the API's (``/lists``): the same service calls, the same checks, and
an import lands every row or none, each bad row named by line and column.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from tactica.domain.access import Permission
from tactica.domain.lists import ALL_CHANNELS, ListKind
from tactica.domain.schema import CHANNELS
from tactica.errors import Conflict, ImportRejected, InvalidInput, NotFound
from tactica.services import lists
from tactica.services.users import Principal
from tactica.web.render import (
    Section,
    actor,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
    shown_rows,
    today,
)

router = APIRouter(include_in_schema=False)
SECTION = Section(50, "/ui/lists", "Lists", Permission.LISTS_WRITE)

#: Entries shown on a page of a list.
PAGE = 50
#: The deepest page a list shows (a search finds what lies further).
MAX_PAGE = 10_000
#: The largest file an import reads (about a million entries).
MAX_UPLOAD = 64 * 1024 * 1024
#: The longest customer id and reason the API takes.
MAX_CUSTOMER = 128
MAX_REASON = 2000
#: What a list page's channel field offers: every channel, or one.
ENTRY_CHANNELS = (ALL_CHANNELS, *CHANNELS)

WHAT = "manage special lists"
#: What being on a list of each kind does, in the words the pages use.
KIND_WORDS = {
    ListKind.OPT_OUT.value: "asked not to be contacted: left out (on one channel or all)",
    ListKind.DND.value: "do not disturb: left out until the entry expires",
    ListKind.BLACKLIST.value: "never contacted",
    ListKind.VIP.value: "always eligible (a whitelist)",
    ListKind.COMPLAINT.value: "complained: left out, and reviewed",
}


# ------------------------------------------------------------------ every list


def _lists_page(
    request: Request, who: Principal, rows: list[dict[str, Any]], status: int = 200, **context: Any
) -> Response:
    context.setdefault("typed", {"kind": ListKind.OPT_OUT.value})
    context.setdefault("errors", {})
    context.setdefault("deleted", "")
    return render(
        request,
        "lists.html",
        who,
        status_code=status,
        rows=rows,
        kinds=[k.value for k in ListKind],
        kind_words=KIND_WORDS,
        **context,
    )


@router.get("/ui/lists")
async def lists_page(request: Request) -> Response:
    """Every special list with its kind and the entries in force; a form to add one."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    rows = await in_session(request, lists.list_lists)
    return _lists_page(request, who, rows, deleted=request.query_params.get("deleted", "")[:200])


def _create(session: Session, typed: dict[str, str], who: Principal) -> None:
    lists.create_list(session, typed["name"], typed["kind"], typed["description"], actor=actor(who))
    session.commit()


@router.post("/ui/lists")
async def create_list(request: Request) -> Response:
    """Add a special list of one kind; a refused name or kind is shown by its field."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "create a list")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("name", "kind", "description")}
    errors: dict[str, str] = {}
    status = 422
    if not typed["name"]:
        errors["name"] = "give the list a name"
    elif len(typed["description"]) > MAX_REASON:
        errors["description"] = f"at most {MAX_REASON:,} characters"
    else:
        try:
            await in_session(request, _create, typed, who)
        except InvalidInput as e:
            errors["kind" if e.where == "kind" else "name"] = message(e)
        except Conflict as e:
            errors["name"], status = e.detail, 409
    if errors:
        rows = await in_session(request, lists.list_lists)
        return _lists_page(request, who, rows, status=status, typed=typed, errors=errors)
    return _back_to(typed["name"], created="1")


# ------------------------------------------------------------------ one list


def _back_to(name: str, **done: str) -> RedirectResponse:
    """To the list's page after a change, which says what was done (post/redirect/get)."""
    return RedirectResponse(f"/ui/lists/{quote(name)}?{urlencode(done)}", status_code=303)


def _page_number(raw: str | None) -> int:
    """The page asked for, 1 when it is not a page number."""
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def _one_list(session: Session, name: str, search: str, page: int) -> dict[str, Any]:
    """What a list's page shows: the list, its size and a page of its entries."""
    lst = lists.get_list(session, name)
    # One row more than a page tells whether there is a next page, without counting.
    rows = lists.search_entries(
        session, name, customer_prefix=search, limit=PAGE + 1, offset=(page - 1) * PAGE
    )
    return {
        "list": lists.list_view(lst, lists.list_size(session, name)),
        "entries": rows[:PAGE],
        "more": len(rows) > PAGE,
    }


async def _list_page(
    request: Request, who: Principal, name: str, status: int = 200, **context: Any
) -> Response:
    search = request.query_params.get("q", "").strip()[:MAX_CUSTOMER]
    page = _page_number(request.query_params.get("page"))
    try:
        data = await in_session(request, _one_list, name, search, page)
    except NotFound:
        return not_found(request, who, f"special list {name!r}")
    context.setdefault("typed", {"channel": ALL_CHANNELS})
    context.setdefault("errors", {})
    context.setdefault("problems", [])
    context.setdefault("more_problems", 0)
    context.setdefault("done", {})
    context.setdefault("refused", "")
    return render(
        request,
        "list.html",
        who,
        status_code=status,
        search=search,
        page=page,
        channels=ENTRY_CHANNELS,
        kind_words=KIND_WORDS,
        tomorrow=(today() + timedelta(days=1)).isoformat(),
        **data,
        **context,
    )


@router.get("/ui/lists/{name}")
async def list_page(request: Request, name: str) -> Response:
    """A list's entries in force, newest first, 50 a page, searched by customer id;
    forms to add an entry and to import a CSV file."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    q = request.query_params
    done = {k: q.get(k, "")[:MAX_CUSTOMER] for k in ("created", "added", "removed", "imported")}
    return await _list_page(request, who, name, done=done)


def _expiry(raw: str) -> datetime | None:
    """The expiry day typed (YYYY-MM-DD) as the start of that day in UTC, as an import
    reads a date; ValueError says what is wrong."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    # An entry that has expired already would never show: refuse it rather than lose it.
    if day <= today():
        raise ValueError("a day after today (or nothing: the entry never expires)")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _entry_errors(typed: dict[str, str]) -> dict[str, str]:
    """What the API's checks refuse in a typed entry, by field."""
    errors: dict[str, str] = {}
    if not typed["customer_id"]:
        errors["customer_id"] = "the customer's id"
    elif len(typed["customer_id"]) > MAX_CUSTOMER:
        errors["customer_id"] = f"at most {MAX_CUSTOMER} characters"
    if typed["channel"] not in ENTRY_CHANNELS:
        errors["channel"] = f"'all' or one of {', '.join(CHANNELS)}"
    if len(typed["reason"]) > MAX_REASON:
        errors["reason"] = f"at most {MAX_REASON:,} characters"
    try:
        _expiry(typed["expires_at"])
    except ValueError as e:
        errors["expires_at"] = str(e)
    return errors


def _add(session: Session, name: str, typed: dict[str, str], who: Principal) -> None:
    entry = lists.EntryInput(
        customer_id=typed["customer_id"],
        channel=typed["channel"],
        source="manual",
        reason=typed["reason"],
        expires_at=_expiry(typed["expires_at"]),
    )
    lists.add_entry(session, name, entry, actor=actor(who))
    session.commit()


@router.post("/ui/lists/{name}/entries")
async def add_entry(request: Request, name: str) -> Response:
    """Put a customer on the list (or refresh their entry's reason and expiry)."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "add to a list")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("customer_id", "channel", "reason", "expires_at")}
    errors = _entry_errors(typed)
    if not errors:
        try:
            await in_session(request, _add, name, typed, who)
        except NotFound:
            return not_found(request, who, f"special list {name!r}")
        except InvalidInput as e:
            errors["channel" if "channel" in e.detail else "customer_id"] = message(e)
    if errors:
        return await _list_page(request, who, name, status=422, typed=typed, errors=errors)
    return _back_to(name, added=typed["customer_id"])


def _remove(session: Session, name: str, customer_id: str, channel: str, who: Principal) -> None:
    lists.remove_entry(session, name, customer_id, channel, actor=actor(who))
    session.commit()


@router.post("/ui/lists/{name}/remove")
async def remove_entry(request: Request, name: str) -> Response:
    """Take one entry (a customer on one channel, or on all) off the list."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "remove from a list")
    if isinstance(form, Response):
        return form
    customer_id, channel = form.get("customer_id", ""), form.get("channel", "")
    try:
        await in_session(request, _remove, name, customer_id, channel, who)
    except NotFound:
        return not_found(request, who, f"customer {customer_id!r} ({channel}) on list {name!r}")
    return _back_to(name, removed=customer_id)


def _delete(session: Session, name: str, who: Principal) -> None:
    lists.delete_list(session, name, actor=actor(who))
    session.commit()


@router.post("/ui/lists/{name}/delete")
async def delete_list(request: Request, name: str) -> Response:
    """Remove a list and its entries, unless a saved rule tests it or it is an opt-out
    list that still holds someone; a refusal is shown on the list's page."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "delete a list")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _delete, name, who)
    except NotFound:
        return not_found(request, who, f"special list {name!r}")
    except Conflict as e:
        return await _list_page(request, who, name, status=409, refused=e.detail)
    return RedirectResponse(f"/ui/lists?{urlencode({'deleted': name})}", status_code=303)


# ------------------------------------------------------------------ import and export


async def _upload_text(request: Request) -> tuple[str, str]:
    """The uploaded file's name and text; ValueError says why it cannot be read."""
    # ``posted`` read the form already; Starlette hands back the same one.
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValueError("choose a CSV file")
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise ValueError(f"larger than {MAX_UPLOAD // (1024 * 1024)} MB: split it")
    try:
        return upload.filename, raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte {e.start})") from None


def _import(session: Session, name: str, file_name: str, text: str, who: Principal) -> int:
    items = lists.read_entries_csv(io.StringIO(text, newline=""), file_name)
    n = lists.add_entries(session, name, items, actor=actor(who))
    session.commit()
    return n


@router.post("/ui/lists/{name}/import")
async def import_entries(request: Request, name: str) -> Response:
    """Load a CSV file's entries onto the list: every row or none; each bad row is
    named by its line and column next to the file field."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "import into a list")
    if isinstance(form, Response):
        return form
    errors: dict[str, str] = {}
    problems: list[Any] = []
    more = 0
    try:
        file_name, text = await _upload_text(request)
        n = await in_session(request, _import, name, file_name, text, who)
    except ValueError as e:
        errors["file"] = str(e)
    except NotFound:
        return not_found(request, who, f"special list {name!r}")
    except ImportRejected as e:
        errors["file"] = f"{e.total_bad_rows:,} row(s) cannot be imported; nothing was written"
        problems, more = shown_rows(e)
    except InvalidInput as e:
        errors["file"] = message(e)
    if errors:
        return await _list_page(
            request, who, name, status=422, errors=errors, problems=problems, more_problems=more
        )
    return _back_to(name, imported=str(n))


@router.get("/ui/lists/{name}/export")
async def export_entries(request: Request, name: str) -> Response:
    """The list's entries in force as a CSV file, in the columns an import reads."""
    who = await let_in(request, Permission.LISTS_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    try:
        body = await in_session(request, lists.export_entries_text, name)
    except NotFound:
        return not_found(request, who, f"special list {name!r}")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
