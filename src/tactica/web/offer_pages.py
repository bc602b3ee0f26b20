"""Offers: the catalog, a form to add one, an offer's page to change or delete it.

The forms take every field of ``tactica.services.offers.OfferInput``; amounts are read
as exact decimals and dates as ``YYYY-MM-DD``, and the service checks the rest (bounds,
the eligibility rule against the customer fields), so the web refuses what the API
refuses, each problem next to its field.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.errors import Conflict, InvalidInput, NotFound, RuleError
from tactica.services import offers
from tactica.services.users import Principal
from tactica.store.customer_table import load_schema
from tactica.web.render import (
    Section,
    actor,
    field_of,
    in_session,
    let_in,
    message,
    not_found,
    posted,
    render,
)
from tactica.web.segment_pages import MAX_RULE, RuleCheck, check

router = APIRouter(include_in_schema=False)
SECTION = Section(40, "/ui/offers", "Offers", Permission.OFFERS_READ)

#: Offers shown on a page of the catalog.
PAGE = 50
#: The deepest page the catalog shows.
MAX_PAGE = 10_000
#: The text fields and their longest values (the API's limits, the columns' sizes).
TEXTS = {"code": 64, "name": 200, "product": 200, "description": 5000}
#: Amounts of money, and the largest one a price column holds.
MONEY = ("price", "value", "margin")
MOST_MONEY = Decimal("999999999999.99")
PERCENTS = ("discount_min", "discount_max")
DATES = ("valid_from", "valid_to")
#: Every field of the form, in the order of OfferInput.
FIELDS = (*TEXTS, "currency", *MONEY, *PERCENTS, "eligibility", *DATES, "active")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------- reading a form


def _amount(text: str, most: Decimal) -> Decimal | str:
    """``text`` as an exact amount with at most two decimals, or what is wrong with it."""
    if not text:
        return Decimal("0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "not a number: write it like 19.99"
    if not value.is_finite():
        return "not a number: write it like 19.99"
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        return "at most two decimals"
    if value > most:
        return f"at most {most:,}"
    return value


def _day(text: str) -> date | str | None:
    """``text`` as a date (blank: none), or what is wrong with it."""
    if not text:
        return None
    try:
        if _DAY.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    return "a date as YYYY-MM-DD"


def read_form(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """What was typed (kept to show again), the offer's fields read from it, and the
    fields that could not be read with why."""
    typed = {k: form.get(k, "") for k in FIELDS}
    # Browsers send a textarea's line breaks as CRLF; a rule's lines are LF.
    typed["eligibility"] = typed["eligibility"].replace("\r\n", "\n")
    typed["active"] = "on" if typed["active"] else ""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, longest in TEXTS.items():
        if len(typed[key]) > longest:
            errors[key] = f"at most {longest:,} characters"
        values[key] = typed[key]
    # The service says what a currency is (three capitals, such as EUR).
    values["currency"] = typed["currency"]
    for key in (*MONEY, *PERCENTS):
        amount = _amount(typed[key], MOST_MONEY if key in MONEY else Decimal("100"))
        if isinstance(amount, str):
            errors[key] = amount
        values[key] = amount
    for key in DATES:
        day = _day(typed[key])
        if isinstance(day, str):
            errors[key] = day
        values[key] = day
    if len(typed["eligibility"]) > MAX_RULE:
        errors["eligibility"] = f"at most {MAX_RULE:,} characters"
    values["eligibility"] = typed["eligibility"] or None
    values["active"] = bool(typed["active"])
    return typed, values, errors


def refusal(e: InvalidInput | Conflict) -> dict[str, str]:
    """The field a service's refusal is about, and what to say next to it."""
    if isinstance(e, Conflict):
        return {"code": e.detail}
    if isinstance(e, RuleError):
        return {"eligibility": "the rule has problems: see them marked below"}
    if (e.where or "").startswith("offer code"):
        return {"code": message(e)}
    return {field_of(e, set(FIELDS), ""): message(e)}


def _typed_of(offer: dict[str, Any]) -> dict[str, str]:
    """An offer's fields as its form shows them."""
    typed = {k: "" if offer[k] is None else str(offer[k]) for k in FIELDS}
    typed["active"] = "on" if offer["active"] else ""
    return typed


async def _rule_check(request: Request, errors: dict[str, str], source: str) -> RuleCheck | None:
    """The rule editor's verdict to show again when the rule is what was refused."""
    if "eligibility" in errors and source:
        return await in_session(request, check, source[:MAX_RULE])
    return None


# --------------------------------------------------------------------------- the catalog


def _fields(session: Session) -> list[tuple[str, str]]:
    return sorted((name, t.value) for name, t in load_schema(session).types().items())


def _catalog(session: Session, page: int) -> dict[str, Any]:
    # One offer more than a page tells whether there is a next page, without counting.
    rows = offers.offers_page(session, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return {
        "rows": [offers.offer_view(o) for o in rows[:PAGE]],
        "more": len(rows) > PAGE,
        "page": page,
        "fields": _fields(session),
    }


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


async def _catalog_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    page = _page_number(request.query_params.get("page"))
    data = await in_session(request, _catalog, page)
    context.setdefault("typed", {"currency": "EUR", "active": "on"})
    context.setdefault("errors", {})
    context.setdefault("check", None)
    return render(
        request,
        "offers.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.OFFERS_WRITE),
        max_rule=MAX_RULE,
        **data,
        **context,
    )


@router.get("/ui/offers")
async def offers_list(request: Request) -> Response:
    """Every offer, 50 a page by code; a form to add one for those who may."""
    who = await let_in(request, Permission.OFFERS_READ, "see offers")
    if isinstance(who, Response):
        return who
    return await _catalog_page(request, who, deleted=request.query_params.get("deleted", ""))


def _create(session: Session, values: dict[str, Any], who: Principal) -> None:
    offers.create_offer(session, offers.OfferInput(**values), actor=actor(who))
    session.commit()


@router.post("/ui/offers")
async def create_offer(request: Request) -> Response:
    """Add an offer; on a problem, each refused field is named and nothing is saved."""
    who = await let_in(request, Permission.OFFERS_WRITE, "create offers")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "create an offer")
    if isinstance(form, Response):
        return form
    typed, values, errors = read_form(form)
    if not typed["code"]:
        errors["code"] = "give the offer a code"
    if not errors:
        try:
            await in_session(request, _create, values, who)
        except (InvalidInput, Conflict) as e:
            errors = refusal(e)
    if errors:
        result = await _rule_check(request, errors, typed["eligibility"])
        # A code taken already is a field to change like any other: 422, so the
        # page shows the form again (409 is not swapped in by HTMX).
        return await _catalog_page(
            request, who, status=422, typed=typed, errors=errors, check=result
        )
    return RedirectResponse(f"/ui/offers/{typed['code']}?saved=created", status_code=303)


# --------------------------------------------------------------------------- one offer


async def _offer_page(
    request: Request, who: Principal, code: str, status: int = 200, **context: Any
) -> Response:
    def read(session: Session) -> dict[str, Any]:
        return {"offer": offers.offer_view(offers.get_offer(session, code))} | {
            "fields": _fields(session)
        }

    try:
        data = await in_session(request, read)
    except NotFound:
        return not_found(request, who, f"offer {code!r}")
    context.setdefault("typed", _typed_of(data["offer"]))
    context.setdefault("errors", {})
    context.setdefault("check", None)
    return render(
        request,
        "offer.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.OFFERS_WRITE),
        max_rule=MAX_RULE,
        **data,
        **context,
    )


@router.get("/ui/offers/{code}")
async def offer_page(request: Request, code: str) -> Response:
    """One offer: every field; the form to change it and delete it for those who may."""
    who = await let_in(request, Permission.OFFERS_READ, "see offers")
    if isinstance(who, Response):
        return who
    return await _offer_page(request, who, code, saved=request.query_params.get("saved", ""))


def _update(session: Session, code: str, values: dict[str, Any], who: Principal) -> None:
    changes = {k: v for k, v in values.items() if k != "code"}
    offers.update_offer(session, code, changes, actor=actor(who))
    session.commit()


@router.post("/ui/offers/{code}")
async def update_offer(request: Request, code: str) -> Response:
    """Change an offer (every field but its code); on a problem nothing is saved."""
    who = await let_in(request, Permission.OFFERS_WRITE, "change offers")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change an offer")
    if isinstance(form, Response):
        return form
    typed, values, errors = read_form({**form, "code": code})
    if not errors:
        try:
            await in_session(request, _update, code, values, who)
        except NotFound:
            return not_found(request, who, f"offer {code!r}")
        except InvalidInput as e:
            errors = refusal(e)
    if errors:
        result = await _rule_check(request, errors, typed["eligibility"])
        return await _offer_page(
            request, who, code, status=422, typed=typed, errors=errors, check=result
        )
    return RedirectResponse(f"/ui/offers/{code}?saved=updated", status_code=303)


def _delete(session: Session, code: str, who: Principal) -> None:
    offers.delete_offer(session, code, actor=actor(who))
    session.commit()


@router.post("/ui/offers/{code}/delete")
async def delete_offer(request: Request, code: str) -> Response:
    """Remove an offer, back to the catalog."""
    who = await let_in(request, Permission.OFFERS_WRITE, "delete offers")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "delete an offer")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _delete, code, who)
    except NotFound:
        return not_found(request, who, f"offer {code!r}")
    return RedirectResponse(f"/ui/offers?deleted={code}", status_code=303)
