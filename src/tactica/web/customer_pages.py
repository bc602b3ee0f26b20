"""Customers: find one, and everything about one (the customer 360).

A customer's page shows their declared fields (typed), the segments they are in now,
the special lists they are on, every decision about them — each contact and each
control group that held them out, with why (the run's decision replayed for them) —
their responses, orders and leads. Every read is by the customer's id over an index
and limited, newest first, so the page costs the same whatever the size of the
contact history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.domain.schema import FieldKind
from tactica.errors import InvalidInput, NotFound
from tactica.services import customers, events, explain, lists, orders, responses
from tactica.services.users import Principal
from tactica.web.render import Section, denied, in_session, let_in, not_found, render

router = APIRouter(include_in_schema=False)
SECTION = Section(80, "/ui/customers", "Customers", Permission.CUSTOMERS_READ)

#: Customers a page of the list shows, and search results at most.
PAGE = 50
#: Decisions (contacts and held-out rows) shown at first; "show more" adds as many.
DECISIONS = 100
#: The longest decision history one page shows.
MOST_DECISIONS = 5_000
#: Responses, orders and leads shown (newest first).
RECENT = 100
#: The longest text the search takes (an id is at most 128 characters).
LONGEST_SEARCH = 200


def _list(session: Session, after: str | None) -> dict[str, Any]:
    rows = customers.customers_after(session, after, limit=PAGE + 1)
    return {"rows": rows[:PAGE], "next": rows[PAGE - 1]["id"] if len(rows) > PAGE else None}


def _points(session: Session) -> list[str]:
    """The contact-point fields (e-mail, mobile...), which the list and search show."""
    return [f.name for f in customers.list_fields(session) if f.kind is FieldKind.CONTACT_POINT]


def _search(session: Session, text: str) -> dict[str, Any]:
    return {"rows": customers.find_customers(session, text, limit=PAGE), "next": None}


@router.get("/ui/customers")
async def customers_page(request: Request) -> Response:
    """Find a customer by id, e-mail or phone; without a search, the customers by id."""
    who = await let_in(request, Permission.CUSTOMERS_READ, "see customers")
    if isinstance(who, Response):
        return who
    text = request.query_params.get("q", "").strip()
    after = request.query_params.get("after") or None
    errors: dict[str, str] = {}
    if len(text) > LONGEST_SEARCH:
        errors["q"] = f"at most {LONGEST_SEARCH} characters"
    if errors:
        data: dict[str, Any] = {"rows": [], "next": None}
    elif text:
        data = await in_session(request, _search, text)
    else:
        data = await in_session(request, _list, after)
    points = await in_session(request, _points)
    return render(
        request,
        "customers.html",
        who,
        status_code=422 if errors else 200,
        q=text,
        after=after,
        errors=errors,
        points=points,
        can_import=allows(who.role, Permission.CUSTOMERS_WRITE),
        **data,
    )


def _fields(session: Session, row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The customer's declared fields with their values, grouped by kind."""
    out: dict[str, list[dict[str, Any]]] = {k.value: [] for k in FieldKind}
    for f in customers.list_fields(session):
        out[f.kind.value].append(
            {
                "name": f.name,
                "type": f.type.value,
                "channel": f.channel,
                "description": f.description,
                "value": value_text(row.get(f.name), f.type.value),
            }
        )
    return out


def _event_lines(session: Session, decisions: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """For the contacts an event triggered: the event and what each campaign did with it."""
    found = customers.events_by_id(session, (d["event_id"] for d in decisions if d["event_id"]))
    return {
        i: {"event_id": e.event_id, "type": e.type, "lines": events.decision_lines(e)}
        for i, e in found.items()
    }


def _detail(session: Session, customer_id: str, shown: int, who: Principal) -> dict[str, Any]:
    row = customers.get_customer(session, customer_id)
    decisions, more = customers.decisions_of(session, customer_id, limit=shown)
    out: dict[str, Any] = {
        "customer": row,
        "fields": _fields(session, row),
        "lists": lists.lists_of_customer(session, customer_id),
        "segments": customers.segments_of(session, customer_id),
        "decisions": decisions,
        "more": more,
        "events": _event_lines(session, decisions),
        "responses": [],
        "orders": [],
        "leads": [],
    }
    # The same permissions as the API's reads of each.
    if allows(who.role, Permission.RESPONSES_READ):
        out["responses"] = responses.list_responses(
            session, customer_id=customer_id, limit=RECENT + 1
        )
    if allows(who.role, Permission.ORDERS_READ):
        out["orders"] = orders.list_orders(session, customer_id=customer_id, limit=RECENT + 1)
    if allows(who.role, Permission.LEADS_READ):
        out["leads"] = customers.leads_of(session, customer_id, limit=RECENT + 1)
    return out


def _shown(request: Request) -> int:
    """How many decisions to show: ``?decisions=N`` (from "show more"), within bounds."""
    try:
        wanted = int(request.query_params.get("decisions", DECISIONS))
    except ValueError:
        wanted = DECISIONS
    return min(max(wanted, DECISIONS), MOST_DECISIONS)


@router.get("/ui/customers/{customer_id}")
async def customer_page(request: Request, customer_id: str) -> Response:
    """Everything about one customer: fields, segments, lists, every contact and why,
    responses, orders and leads."""
    who = await let_in(request, Permission.CUSTOMERS_READ, "see customers")
    if isinstance(who, Response):
        return who
    shown = _shown(request)
    try:
        data = await in_session(request, _detail, customer_id, shown, who)
    except NotFound:
        return not_found(request, who, f"customer {customer_id!r}")
    return render(
        request,
        "customer.html",
        who,
        shown=shown,
        step=DECISIONS,
        most=MOST_DECISIONS,
        recent=RECENT,
        can_explain=allows(who.role, Permission.PROGRAMS_READ),
        runs=_runs(data["decisions"]),
        **data,
    )


def _runs(decisions: list[dict[str, Any]]) -> set[tuple[int, int]]:
    """(run, index of its last row on the page): where each run's "why" row goes."""
    last: dict[int, int] = {}
    for i, d in enumerate(decisions):
        if d["run_id"] is not None:
            last[d["run_id"]] = i
    return {(run, i) for run, i in last.items()}


@router.get("/ui/customers/{customer_id}/runs/{run_id}")
async def why_page(request: Request, customer_id: str, run_id: int) -> Response:
    """Why a run contacted the customer, held them out or left them alone: every step
    of every campaign, replayed as the run decided (``tactica explain --run --customer``).

    With ``?part=1`` only the explanation (the customer page opens it in place)."""
    who = await let_in(request, Permission.CUSTOMERS_READ, "see customers")
    if isinstance(who, Response):
        return who
    if not allows(who.role, Permission.PROGRAMS_READ):
        # The API's explanation needs both: it shows the program's rules and numbers.
        return denied(request, who, "see why a run decided")
    store = request.app.state.store
    error = ""
    explanation = None
    try:
        explanation = await run_in_threadpool(
            explain.explain_customer, store, customer_id, run_id=run_id
        )
    except NotFound as e:
        return not_found(request, who, e.detail.removeprefix("no "))
    except InvalidInput as e:
        error = e.detail
    part = request.query_params.get("part") == "1"
    return render(
        request,
        "_customer_why.html" if part else "customer_why.html",
        who,
        customer_id=customer_id,
        run_id=run_id,
        explanation=explanation,
        error=error,
    )


def value_text(value: Any, type_: str) -> str:
    """A field's value as the page shows it: yes/no, a date, a number as typed."""
    if value is None or value == "":
        return "—"
    if type_ == "bool":
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
