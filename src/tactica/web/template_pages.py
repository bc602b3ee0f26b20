"""Message templates: every variant, a form to write one, a preview for a real customer.

A variant is saved through ``tactica.services.templates.save_template``, which checks
it against the customer fields declared now: every problem it finds comes back with
its place and line and is shown next to the subject or body. The preview fills a
template in exactly as a customer would get it (``templates.preview``), with the
SMS length of the real message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.config import Settings
from tactica.domain.access import Permission, allows
from tactica.domain.schema import CHANNELS
from tactica.domain.templates import MessageTemplate
from tactica.errors import InvalidInput, NotFound
from tactica.services import offers, templates
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
)

router = APIRouter(include_in_schema=False)
# The API's templates routes: whoever reads programs reads templates, whoever changes
# programs changes them.
SECTION = Section(45, "/ui/templates", "Templates", Permission.PROGRAMS_READ)

#: Variants shown on a page of the list.
PAGE = 50
#: The deepest page the list shows.
MAX_PAGE = 10_000
#: The form's fields and their longest values (the API's limits).
LONGEST = {"name": 100, "channel": 16, "language": 16, "subject": 1000, "body": 100_000}
#: The preview form's fields.
PREVIEW_FIELDS = ("template", "language", "customer_id", "offer")


# --------------------------------------------------------------------------- reading forms


def read_variant(form: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What was typed into the variant form (line breaks as LF), and the fields too long."""
    typed = {k: form.get(k, "") for k in LONGEST}
    for key in ("subject", "body"):
        # Browsers send a textarea's line breaks as CRLF; an SMS counts every character.
        typed[key] = typed[key].replace("\r\n", "\n")
    errors = {
        k: [f"at most {most:,} characters"] for k, most in LONGEST.items() if len(typed[k]) > most
    }
    return typed, errors


def problems_by_field(e: InvalidInput) -> dict[str, list[str]]:
    """A refused variant's problems by the field each is about.

    The service lists them as ``- place: message`` lines, the place being a field
    (``subject``) or a field and a line (``body, line 2``); the line stays with the
    message. A problem without a known field is filed under ``""``.
    """
    out: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in message(e).splitlines():
        if not line.startswith("- "):
            if last:  # a message on several lines (a syntax error's)
                last[-1] += "\n" + line
            continue
        place, _, text = line[2:].partition(": ")
        field, _, where = place.partition(", ")
        if field not in LONGEST or not text:
            field, text = "", line[2:]
        last = out.setdefault(field, [])
        last.append(f"{where}: {text}" if where else text)
    return out or {"": [message(e)]}


def _variant(typed: dict[str, str]) -> MessageTemplate:
    """The variant the form describes; a blank subject is none."""
    return MessageTemplate(
        typed["name"], typed["channel"], typed["language"], typed["subject"] or None, typed["body"]
    )


def _save(session: Session, typed: dict[str, str], who: Principal, replace: bool = False) -> str:
    """Save the variant; ``created`` or ``saved`` (an existing one replaced). With
    ``replace``, only an existing one (NotFound otherwise)."""
    t = _variant(typed)
    try:
        templates.get_template(session, t.name, t.channel, t.language)
        outcome = "saved"
    except NotFound:
        if replace:
            raise
        outcome = "created"
    templates.save_template(session, t, actor=actor(who))
    session.commit()
    return outcome


def _variant_path(typed: dict[str, str]) -> str:
    return f"/ui/templates/{typed['name']}/{typed['channel']}/{typed['language']}"


# --------------------------------------------------------------------------- the list


def _choices(session: Session) -> dict[str, Any]:
    """What the preview form offers: templates by channel, languages, offers."""
    keys = templates.variant_keys(session)
    return {
        "choices": sorted({(n, c) for n, c, _ in keys}),
        "languages": sorted({lang for _, _, lang in keys}),
        "offer_codes": offers.offer_codes(session),
        "channels": CHANNELS,
    }


def _list(session: Session, page: int) -> dict[str, Any]:
    # One variant more than a page tells whether there is a next page, without counting.
    rows = templates.template_summaries(session, limit=PAGE + 1, offset=(page - 1) * PAGE)
    return {"rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page} | _choices(session)


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


async def _list_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    page = _page_number(request.query_params.get("page"))
    data = await in_session(request, _list, page)
    context.setdefault("typed", {"channel": "sms", "language": "en"})
    context.setdefault("errors", {})
    return render(
        request,
        "templates.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.PROGRAMS_WRITE),
        asked={},
        **data,
        **context,
    )


@router.get("/ui/templates")
async def templates_page(request: Request) -> Response:
    """Every variant, 50 a page; a preview form; a form to write one for those who may."""
    who = await let_in(request, Permission.PROGRAMS_READ, "see message templates")
    if isinstance(who, Response):
        return who
    return await _list_page(request, who, deleted=request.query_params.get("deleted", ""))


@router.post("/ui/templates")
async def save_variant(request: Request) -> Response:
    """Create a variant or replace the one of the same name, channel and language."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "write message templates")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "write a message template")
    if isinstance(form, Response):
        return form
    typed, errors = read_variant(form)
    if not errors:
        try:
            outcome = await in_session(request, _save, typed, who)
        except InvalidInput as e:
            errors = problems_by_field(e)
    if errors:
        return await _list_page(request, who, status=422, typed=typed, errors=errors)
    return RedirectResponse(f"{_variant_path(typed)}?saved={outcome}", status_code=303)


# --------------------------------------------------------------------------- the preview


def _preview(request: Request, session: Session, asked: dict[str, str]) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    name, _, channel = asked["template"].partition("/")
    return templates.preview(
        session,
        name,
        channel,
        asked["customer_id"],
        offer_code=asked["offer"] or None,
        language=asked["language"] or None,
        secret=settings.secret,
        base_url=settings.public_url,
    )


def preview_errors(e: NotFound | InvalidInput) -> dict[str, str]:
    """The preview field a refusal is about: the customer, the offer or the template."""
    if isinstance(e, NotFound):
        if e.detail.startswith("no customer"):
            return {"customer_id": e.detail}
        if e.detail.startswith("no offer"):
            return {"offer": e.detail}
        return {"template": e.detail}
    text = message(e)
    if "no offer yet" in text or "offer has no field" in text:
        return {"offer": text}
    # A field the template reads that this customer's row lacks: the template's to fix.
    return {"template": text}


@router.get("/ui/templates/preview")
async def preview_page(request: Request) -> Response:
    """A template filled in for one customer and offer, exactly as the message would go."""
    who = await let_in(request, Permission.PROGRAMS_READ, "preview message templates")
    if isinstance(who, Response):
        return who
    asked = {k: request.query_params.get(k, "").strip() for k in PREVIEW_FIELDS}
    choices = await in_session(request, _choices)
    errors: dict[str, str] = {}
    result = None
    if any(asked.values()):
        if asked["template"] not in {f"{n}/{c}" for n, c in choices["choices"]}:
            errors["template"] = "choose a template"
        if not asked["customer_id"]:
            errors["customer_id"] = "the id of the customer to show it for"
        elif len(asked["customer_id"]) > 128:
            errors["customer_id"] = "at most 128 characters"
        if not errors:
            try:
                result = await in_session(request, lambda s: _preview(request, s, asked))
            except (NotFound, InvalidInput) as e:
                errors = preview_errors(e)
    return render(
        request,
        "template_preview.html",
        who,
        status_code=422 if errors else 200,
        asked=asked,
        errors=errors,
        result=result,
        **choices,
    )


# --------------------------------------------------------------------------- one variant


async def _variant_page(
    request: Request,
    who: Principal,
    key: tuple[str, str, str],
    status: int = 200,
    **context: Any,
) -> Response:
    def read(session: Session) -> dict[str, Any]:
        view = templates.template_view(templates.get_template(session, *key))
        return {"variant": view} | _choices(session)

    try:
        data = await in_session(request, read)
    except NotFound:
        return not_found(request, who, "template {!r} ({}, {})".format(*key))
    variant = data["variant"]
    context.setdefault("typed", {k: variant[k] or "" for k in LONGEST})
    context.setdefault("errors", {})
    asked = {"template": f"{key[0]}/{key[1]}", "language": key[2], "customer_id": "", "offer": ""}
    return render(
        request,
        "template.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.PROGRAMS_WRITE),
        asked=asked,
        **data,
        **context,
    )


@router.get("/ui/templates/{name}/{channel}/{language}")
async def variant_page(request: Request, name: str, channel: str, language: str) -> Response:
    """One variant: its subject and body whole; preview it, change it, delete it."""
    who = await let_in(request, Permission.PROGRAMS_READ, "see message templates")
    if isinstance(who, Response):
        return who
    saved = request.query_params.get("saved", "")
    return await _variant_page(request, who, (name, channel, language), saved=saved)


@router.post("/ui/templates/{name}/{channel}/{language}")
async def replace_variant(request: Request, name: str, channel: str, language: str) -> Response:
    """Replace a variant's subject and body; on a problem nothing is saved."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "write message templates")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "write a message template")
    if isinstance(form, Response):
        return form
    key = (name, channel, language)
    typed, errors = read_variant({**form, "name": name, "channel": channel, "language": language})
    if not errors:
        try:
            await in_session(request, _save, typed, who, True)
        except NotFound:
            return not_found(request, who, "template {!r} ({}, {})".format(*key))
        except InvalidInput as e:
            errors = problems_by_field(e)
    if errors:
        return await _variant_page(request, who, key, status=422, typed=typed, errors=errors)
    return RedirectResponse(f"{_variant_path(typed)}?saved=saved", status_code=303)


def _delete(session: Session, key: tuple[str, str, str], who: Principal) -> None:
    templates.delete_template(session, *key, actor=actor(who))
    session.commit()


@router.post("/ui/templates/{name}/{channel}/{language}/delete")
async def delete_variant(request: Request, name: str, channel: str, language: str) -> Response:
    """Remove one variant, back to the list."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "delete message templates")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "delete a message template")
    if isinstance(form, Response):
        return form
    key = (name, channel, language)
    try:
        await in_session(request, _delete, key, who)
    except NotFound:
        return not_found(request, who, "template {!r} ({}, {})".format(*key))
    gone = urlencode({"deleted": f"{name} ({channel}, {language})"})
    return RedirectResponse(f"/ui/templates?{gone}", status_code=303)
