"""Responses: the review queue, where a person reads the replies the rules could not,
and the recent responses with filters.

Reviewing a reply calls the same service as the API's ``POST /responses/{id}/correct``,
so the consequences are the same: an opt-out puts the customer on the opt-out list,
an interest opens a lead, an order is booked for the offer the reply answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission
from tactica.domain.replies import ReplyOutcome
from tactica.domain.schema import CHANNELS
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import responses
from tactica.services.users import Principal
from tactica.store.models import Response as Reply
from tactica.web.render import (
    Section,
    actor,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
)

router = APIRouter(include_in_schema=False)
SECTION = Section(60, "/ui/responses", "Responses", Permission.RESPONSES_WRITE)

#: Replies shown on a page of the queue, and responses on a page of the list.
PAGE = 50
#: The deepest page either shows (the filters find what lies further).
MAX_PAGE = 10_000
#: The longest keyword a reading can be remembered as (the API's limit).
MAX_KEYWORD = 200
WHAT = "review responses"

#: What a person can read a reply as, and what follows from it.
OUTCOMES = {
    ReplyOutcome.ORDER.value: ("Order", "books an order for the offer it answers"),
    ReplyOutcome.INTEREST.value: ("Interest", "opens a lead for a sales rep"),
    ReplyOutcome.OPT_OUT.value: ("Opt-out", "puts the customer on the opt-out list"),
    ReplyOutcome.OTHER.value: ("Other", "recorded; nothing follows"),
}
#: What a response's result means, as the pages say it.
RESULT_WORDS = {
    "order": "order booked",
    "order_pending": "order waiting for approval",
    "lead": "lead opened",
    "opt_out": "opted out",
    "review": "waiting for review",
    "unattributed": "matches no contact",
    "clicked": "clicked",
    "recorded": "recorded",
}


# ------------------------------------------------------------------ the review queue


@dataclass(frozen=True)
class Done:
    """What a review just did, for the line at the top of the queue."""

    id: int
    customer_id: str | None
    result: str
    waiting: bool


def _view(r: Reply) -> dict[str, Any]:
    """A response as the pages show it (its time a time, for the ``when`` filter)."""
    return {**responses.response_view(r), "received_at": r.received_at}


def _page_number(raw: str | None) -> int:
    """The page asked for, 1 when it is not a page number."""
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def _queue(session: Session, page: int, done_id: int | None) -> dict[str, Any]:
    """A page of the review queue, how many wait in all, and what a review just did."""
    rows = responses.review_queue(session, limit=PAGE + 1, offset=(page - 1) * PAGE)
    done = None
    if done_id is not None:
        r = session.get(Reply, done_id)
        if r is not None:
            waiting = r.review == responses.REVIEW_PENDING
            done = Done(r.id, r.customer_id, r.result, waiting)
    return {
        "items": [_view(r) for r in rows[:PAGE]],
        "more": len(rows) > PAGE,
        "waiting": responses.review_waiting(session),
        "done": done,
    }


async def _queue_page(
    request: Request, who: Principal, page: int, status: int = 200, **context: Any
) -> Response:
    done_raw = request.query_params.get("done", "")
    done_id = int(done_raw) if done_raw.isdigit() and len(done_raw) < 19 else None
    data = await in_session(request, _queue, page, done_id)
    context.setdefault("typed", {})
    context.setdefault("errors", {})
    return render(
        request,
        "responses.html",
        who,
        status_code=status,
        page=page,
        outcomes=OUTCOMES,
        result_words=RESULT_WORDS,
        **data,
        **context,
    )


@router.get("/ui/responses")
async def queue_page(request: Request) -> Response:
    """The replies waiting for a person, the one waiting longest first: each with its
    text, the customer and contact it was attributed to, and the rules' guess."""
    who = await let_in(request, Permission.RESPONSES_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    return await _queue_page(request, who, _page_number(request.query_params.get("page")))


def _review(
    session: Session, response_id: int, typed: dict[str, str], scope: str, who: Principal
) -> None:
    responses.get_response(session, response_id)
    try:
        responses.correct(
            session,
            response_id,
            typed["outcome"],
            actor=actor(who),
            remember=typed["remember"] or None,
            opt_out_scope=scope,
        )
    except NotFound as e:
        # The response exists: what is missing is where its consequence goes (a list
        # of kind opt_out, an offer): the store's state refuses it, not the input.
        raise Conflict(e.detail) from e
    session.commit()


def _review_errors(typed: dict[str, str]) -> dict[str, str]:
    """What the API's checks refuse in a review, by field."""
    errors: dict[str, str] = {}
    if typed["outcome"] not in OUTCOMES:
        errors["outcome"] = "choose what the reply means"
    if len(typed["remember"]) > MAX_KEYWORD:
        errors["remember"] = f"at most {MAX_KEYWORD} characters"
    elif typed["remember"] and typed["outcome"] == ReplyOutcome.OTHER.value:
        errors["remember"] = "only an order, interest or opt-out can be remembered as a rule"
    return errors


@router.post("/ui/responses/{response_id}/review")
async def review(request: Request, response_id: int) -> Response:
    """A person's reading of a reply: confirm or correct it, and what follows happens
    (as through the API); optionally remember a keyword as a rule for the next ones."""
    who = await let_in(request, Permission.RESPONSES_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "review a response")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("outcome", "remember")}
    page = _page_number(form.get("page"))
    errors = _review_errors(typed)
    status, refused = 422, ""
    if not errors:
        scope = request.app.state.settings.opt_out_scope
        try:
            await in_session(request, _review, response_id, typed, scope, who)
        except NotFound:
            return not_found(request, who, f"response {response_id}")
        except Conflict as e:
            status, refused = 409, e.detail
            errors["outcome"] = e.detail
        except InvalidInput as e:
            errors["remember" if e.where and e.where.startswith("reply rule") else "outcome"] = (
                message(e)
            )
    if errors:
        return await _queue_page(
            request,
            who,
            page,
            status=status,
            refused=refused,
            typed={response_id: typed},
            errors={response_id: errors},
        )
    query = urlencode({"done": response_id, **({"page": page} if page > 1 else {})})
    return RedirectResponse(f"/ui/responses?{query}", status_code=303)


# ------------------------------------------------------------------ recent responses


@dataclass(frozen=True)
class Filters:
    """The recent responses asked for: a result, a channel, a range of days (UTC)."""

    result: str = ""
    channel: str = ""
    since: date | None = None
    until: date | None = None


def _day(raw: str, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{raw!r} is not a date (YYYY-MM-DD)"
        return None


def _filters(request: Request) -> tuple[Filters, dict[str, str], dict[str, str]]:
    """The filters of the query string, what was typed, and errors by field."""
    q = request.query_params
    typed = {k: q.get(k, "").strip()[:40] for k in ("result", "channel", "from", "to")}
    errors: dict[str, str] = {}
    if typed["result"] and typed["result"] not in responses.RESULTS:
        errors["result"] = f"one of {', '.join(responses.RESULTS)}"
    if typed["channel"] and typed["channel"] not in CHANNELS:
        errors["channel"] = f"one of {', '.join(CHANNELS)}"
    since = _day(typed["from"], "from", errors)
    until = _day(typed["to"], "to", errors)
    if since and until and until < since:
        errors["to"] = "the range ends before it starts"
    if errors:
        return Filters(), typed, errors
    return Filters(typed["result"], typed["channel"], since, until), typed, errors


def _midnight(day: date | None, after: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=after)


def _recent(session: Session, f: Filters, page: int) -> dict[str, Any]:
    rows = responses.recent_responses(
        session,
        result=f.result or None,
        channel=f.channel or None,
        since=_midnight(f.since),
        until=_midnight(f.until, after=1),  # the last day counts whole
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    return {
        "rows": [_view(r) for r in rows[:PAGE]],
        "more": len(rows) > PAGE,
        "waiting": responses.review_waiting(session),
    }


@router.get("/ui/responses/recent")
async def recent_page(request: Request) -> Response:
    """Every response, newest first, 50 a page, filtered by result, channel and days."""
    who = await let_in(request, Permission.RESPONSES_WRITE, WHAT)
    if isinstance(who, Response):
        return who
    filters, typed, errors = _filters(request)
    page = _page_number(request.query_params.get("page"))
    data: dict[str, Any] = {"rows": [], "more": False, "waiting": None}
    if not errors:
        data = await in_session(request, _recent, filters, page)
    return render(
        request,
        "responses_recent.html",
        who,
        status_code=422 if errors else 200,
        typed=typed,
        errors=errors,
        page=page,
        query={k: v for k, v in typed.items() if v},
        results=responses.RESULTS,
        channels=CHANNELS,
        result_words=RESULT_WORDS,
        outcomes=OUTCOMES,
        **data,
    )
