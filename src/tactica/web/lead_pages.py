"""Leads: a sales rep's inbox and a lead's page, where the lead is worked to won or lost.

The pages call ``tactica.services.sales`` as the API does: a rep works their own
leads, sales admins (admins, marketers) any lead, analysts read. Winning a lead
books its order in the same transaction, so it shows on the dashboard at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.domain.sales import OPEN_STATUSES, ActivityKind, LeadStatus, legal_moves
from tactica.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tactica.services import offers, sales
from tactica.services.sales import Acting
from tactica.services.users import Principal
from tactica.web.render import (
    Section,
    actor,
    denied,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
    today,
)

router = APIRouter(include_in_schema=False)
# Readers see the link too: analysts read every lead, marketers work any lead.
SECTION = Section(70, "/ui/leads", "Leads", Permission.LEADS_READ)

#: Leads on one page of the inbox.
PAGE = 50
#: The largest lead id (the API's bound too).
_MAX_ID = 2**62
#: The move buttons' labels.
MOVES = {
    LeadStatus.CONTACTED: "Mark contacted",
    LeadStatus.QUALIFIED: "Mark qualified",
    LeadStatus.WON: "Won: book the order",
    LeadStatus.LOST: "Lost",
}
ACTIVITY_FIELDS = ("kind", "at", "minutes", "cost", "result", "notes")
MOVE_FIELDS = ("status", "offer", "discount", "reason")
ASSIGN_FIELDS = ("rep",)
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
#: Marks the rep filter's "nobody holds it" choice.
WAITING = "-"


def _acting(who: Principal) -> Acting:
    return Acting(who.username, who.role.value, actor(who))


def _own_only(who: Principal) -> bool:
    """True for a role that works only its own leads (sales reps): they see their inbox.

    Everyone else who reads leads (sales admins, analysts) sees every rep's, as the
    API's ``GET /leads`` lists them.
    """
    return allows(who.role, Permission.LEADS_WRITE) and not allows(who.role, Permission.SALES_ADMIN)


def _may_act(who: Principal) -> bool:
    """True for a role that may work some lead (its own, or any)."""
    return allows(who.role, Permission.LEADS_WRITE) or allows(who.role, Permission.SALES_ADMIN)


# ----------------------------------------------------------------------------- inbox


@dataclass(frozen=True)
class _Filters:
    status: str
    rep: str
    page: int


def _filters(request: Request, who: Principal) -> tuple[_Filters, dict[str, str]]:
    q = request.query_params
    errors: dict[str, str] = {}
    status = q.get("status", "open").strip() or "open"
    if status not in sales.INBOX_STATUSES:
        errors["status"] = f"one of {', '.join(sales.INBOX_STATUSES)}"
    rep = who.username if _own_only(who) else q.get("rep", "").strip()[:100]
    raw_page = q.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) < 7 else 1
    return _Filters(status, rep, max(page, 1)), errors


def _inbox(session: Session, f: _Filters, own: bool) -> dict[str, Any]:
    box = sales.inbox(
        session,
        rep=None if f.rep in ("", WAITING) else f.rep,
        unassigned=f.rep == WAITING,
        status=f.status,
        limit=PAGE,
        offset=(f.page - 1) * PAGE,
    )
    return {
        "box": box,
        "pages": max((box.total + PAGE - 1) // PAGE, 1),
        "reps": [] if own else sales.list_reps(session, include_inactive=True),
    }


@router.get("/ui/leads")
async def leads_page(request: Request) -> Response:
    """The lead inbox: a rep's own leads, overdue first then by due time; sales admins
    and analysts see every rep's, with a rep filter."""
    who = await let_in(request, Permission.LEADS_READ, "see leads")
    if isinstance(who, Response):
        return who
    f, errors = _filters(request, who)
    own = _own_only(who)
    shown = _Filters("open", f.rep, 1) if errors else f
    data = await in_session(request, _inbox, shown, own)

    def link(page: int) -> str:
        return "/ui/leads?" + urlencode(
            {"status": shown.status, **({} if own else {"rep": f.rep}), "page": page}
        )

    return render(
        request,
        "leads.html",
        who,
        status_code=422 if errors else 200,
        filters=f,
        page=shown.page,
        errors=errors,
        own=own,
        statuses=sales.INBOX_STATUSES,
        waiting=WAITING,
        prev_link=link(shown.page - 1) if shown.page > 1 else "",
        next_link=link(shown.page + 1) if shown.page < data["pages"] else "",
        **data,
    )


# ------------------------------------------------------------------------------ lead


def _lead_id(text: str) -> int | None:
    """The lead id a path names, or None when it names none (the page is then 404)."""
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= _MAX_ID else None


def _lead(session: Session, lead_id: int, who: Principal) -> dict[str, Any]:
    lead = sales.get_lead(session, lead_id)
    detail = sales.lead_detail(session, lead_id)
    offer = None
    if lead.offer:
        try:
            offer = offers.get_offer(session, lead.offer)
        except NotFound:
            offer = None  # an offer since deleted: the lead still names it
    works = sales.may_work(lead, _acting(who))
    return {
        "lead": lead,
        "overdue": detail["overdue"],
        "order": detail["order"],
        # As the API shows them; times read back for the page's time filter.
        "activities": [{**a, "at": datetime.fromisoformat(a["at"])} for a in detail["activities"]],
        "offer": offer,
        "works": works,
        "moves": [(m.value, MOVES[m]) for m in legal_moves(lead.status)] if works else [],
        "kinds": [k.value for k in ActivityKind],
        "offer_codes": [o.code for o in offers.list_offers(session, active_on=today())],
        "history": sales.customer_history(session, lead.customer_id, besides=lead.id),
        # Sales admins give an open lead to another rep, even one past capacity.
        "assignable": (
            [r for r in sales.list_reps(session) if r["username"] != lead.rep]
            if allows(who.role, Permission.SALES_ADMIN) and lead.status in _OPEN
            else []
        ),
    }


async def _lead_page(
    request: Request, who: Principal, lead_id: int, status: int = 200, **context: Any
) -> Response:
    try:
        data = await in_session(request, _lead, lead_id, who)
    except NotFound:
        return not_found(request, who, f"lead {lead_id}")
    context.setdefault("activity", {"kind": "call", "minutes": "0", "cost": "0"})
    context.setdefault("move", {"offer": data["lead"].offer or ""})
    context.setdefault("activity_errors", {})
    context.setdefault("move_errors", {})
    context.setdefault("assign", {})
    context.setdefault("assign_errors", {})
    return render(
        request,
        "lead.html",
        who,
        status_code=status,
        done=request.query_params.get("done", ""),
        **data,
        **context,
    )


@router.get("/ui/leads/{lead_id}")
async def lead_page(request: Request, lead_id: str) -> Response:
    """A lead: where it is, its SLA and value, the customer's history, its activities,
    and (for its rep or a sales admin) forms to log an activity and move it along."""
    who = await let_in(request, Permission.LEADS_READ, "see leads")
    if isinstance(who, Response):
        return who
    found = _lead_id(lead_id)
    if found is None:
        return not_found(request, who, f"lead {lead_id!r}")
    return await _lead_page(request, who, found)


async def _gate(
    request: Request, lead_id: str, what: str
) -> tuple[Principal, int, dict[str, str]] | Response:
    """The user, the lead and the posted form for an action on a lead, else the answer:
    sign in, "Not allowed" (a role that works no lead, a forged form) or not found."""
    who = await let_in(request, Permission.LEADS_READ, "see leads")
    if isinstance(who, Response):
        return who
    if not _may_act(who):
        return denied(request, who, what)
    form = await posted(request, who, what)
    if isinstance(form, Response):
        return form
    found = _lead_id(lead_id)
    if found is None:
        return not_found(request, who, f"lead {lead_id!r}")
    return who, found, form


def _parse_activity(typed: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values as the service takes them, and the fields that cannot be read."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "kind": typed["kind"],
        "cost": typed["cost"] or "0",
        "result": typed["result"],
        "notes": typed["notes"],
        "at": None,
        "minutes": 0,
    }
    if typed["minutes"]:
        if typed["minutes"].isdigit() and len(typed["minutes"]) < 6:
            values["minutes"] = int(typed["minutes"])
        else:
            errors["minutes"] = f"whole minutes from 0 to 1440, got {typed['minutes']!r}"
    if typed["at"]:
        try:
            values["at"] = datetime.fromisoformat(typed["at"])
        except ValueError:
            errors["at"] = f"a date and time such as 2026-11-24T09:30, got {typed['at']!r}"
    return values, errors


def _log(session: Session, lead_id: int, values: dict[str, Any], who: Principal) -> bool:
    done = sales.log_activity(session, lead_id, values.pop("kind"), who=_acting(who), **values)
    session.commit()
    return done.contacted


@router.post("/ui/leads/{lead_id}/activities")
async def log_activity(request: Request, lead_id: str) -> Response:
    """Log a call, visit, e-mail or meeting on a lead (its rep or a sales admin); a call,
    visit or meeting on a new lead makes it contacted."""
    gate = await _gate(request, lead_id, "work leads")
    if isinstance(gate, Response):
        return gate
    who, found, form = gate
    typed = {k: form.get(k, "") for k in ACTIVITY_FIELDS}
    values, errors = _parse_activity(typed)
    contacted = False
    if not errors:
        try:
            contacted = await in_session(request, _log, found, values, who)
        except NotFound:
            return not_found(request, who, f"lead {found}")
        except PermissionDenied as e:
            return denied(request, who, f"work this lead ({e.detail})")
        except InvalidInput as e:
            field = e.where if e.where in ACTIVITY_FIELDS else "notes"
            errors[field] = message(e)
    if errors:
        return await _lead_page(
            request, who, found, status=422, activity=typed, activity_errors=errors
        )
    done = "contacted" if contacted else "logged"
    return RedirectResponse(f"/ui/leads/{found}?done={done}#activities", status_code=303)


def _move_error(e: InvalidInput | NotFound) -> tuple[str, str]:
    """The move form's field an error is about, and what to say there."""
    if isinstance(e, NotFound):  # the order's offer
        return "offer", e.detail
    if e.where in MOVE_FIELDS:
        return str(e.where), message(e)
    # The order's discount is refused as "discount: ..." without a place.
    name, _, rest = e.detail.partition(": ")
    if name in MOVE_FIELDS and rest:
        return name, rest
    return "status", e.detail


def _discount(text: str) -> Decimal | None:
    """The discount typed, as a number; InvalidInput when it is not one."""
    if not text:
        return None
    try:
        value = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        raise InvalidInput(f"a percentage such as 10, got {text!r}", "discount") from None
    if not value.is_finite():
        raise InvalidInput(f"a percentage such as 10, got {text!r}", "discount")
    return value


def _move(session: Session, lead_id: int, typed: dict[str, str], who: Principal) -> None:
    sales.move_lead(
        session,
        lead_id,
        typed["status"],
        who=_acting(who),
        reason=typed["reason"] or None,
        discount=_discount(typed["discount"]),
        offer=typed["offer"] or None,
        now=datetime.now(UTC),
    )
    session.commit()


@router.post("/ui/leads/{lead_id}/move")
async def move_lead(request: Request, lead_id: str) -> Response:
    """Move a lead to one of its legal next stages; won books the order (a discount
    beyond the offer's bounds waits for approval), lost needs a reason."""
    gate = await _gate(request, lead_id, "work leads")
    if isinstance(gate, Response):
        return gate
    who, found, form = gate
    typed = {k: form.get(k, "") for k in MOVE_FIELDS}
    errors: dict[str, str] = {}
    status = 422
    try:
        await in_session(request, _move, found, typed, who)
    except PermissionDenied as e:
        return denied(request, who, f"work this lead ({e.detail})")
    except Conflict as e:  # not a legal move from where the lead is
        errors["status"], status = e.detail, 409
    except (InvalidInput, NotFound) as e:
        if isinstance(e, NotFound) and not e.detail.startswith("no offer"):
            return not_found(request, who, f"lead {found}")
        field, text = _move_error(e)
        errors[field] = text
    if errors:
        return await _lead_page(request, who, found, status=status, move=typed, move_errors=errors)
    return RedirectResponse(f"/ui/leads/{found}?done=moved", status_code=303)


def _reassign(session: Session, lead_id: int, rep: str, who: Principal) -> int:
    moved = sales.reassign_lead(session, lead_id, rep, who=_acting(who), now=datetime.now(UTC))
    session.commit()
    return moved.assigned


@router.post("/ui/leads/{lead_id}/assign")
async def assign_lead(request: Request, lead_id: str) -> Response:
    """Give an open lead to another active rep (sales admins), even past the rep's
    capacity; the SLA stays as it was, and a lead the old rep had room for goes to them."""
    gate = await _gate(request, lead_id, "work leads")
    if isinstance(gate, Response):
        return gate
    who, found, form = gate
    typed = {k: form.get(k, "").strip() for k in ASSIGN_FIELDS}
    errors: dict[str, str] = {}
    status = 422
    if not typed["rep"]:
        errors["rep"] = "choose the rep to give the lead to"
    else:
        try:
            await in_session(request, _reassign, found, typed["rep"], who)
        except PermissionDenied as e:
            return denied(request, who, f"reassign leads ({e.detail})")
        except NotFound as e:
            if not e.detail.startswith("no rep"):
                return not_found(request, who, f"lead {found}")
            errors["rep"] = e.detail
        except Conflict as e:  # an inactive rep, or a closed lead
            errors["rep"], status = e.detail, 409
    if errors:
        return await _lead_page(
            request, who, found, status=status, assign=typed, assign_errors=errors
        )
    return RedirectResponse(f"/ui/leads/{found}?done=assigned", status_code=303)
