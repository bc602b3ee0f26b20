"""Segments: the list, a segment's size and profile, and the rule editor.

The rule editor checks the rule as it is typed (an HTMX request a moment after the
last key): a valid condition shows how many customers it selects, a wrong one is
shown again with the place of each problem underlined and what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.domain.programs import event_fields_of
from tactica.errors import Conflict, InvalidInput, NotFound, RuleError, RuleProblem
from tactica.services import event_types, segments
from tactica.services import rules as rule_service
from tactica.services.users import Principal
from tactica.store.customer_table import load_schema
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
SECTION = Section(20, "/ui/segments", "Segments", Permission.SEGMENTS_READ)

#: The longest rule the editor takes (the API's limit too).
MAX_RULE = 10_000
#: What a problem's underline covers after its column: a word, a number or a quoted text.
_TOKEN = re.compile(r"'[^']*'?|\"[^\"]*\"?|[\w.]+|\S")


@dataclass(frozen=True)
class Piece:
    """A run of a rule's text; ``problem`` is the number of the problem found there."""

    text: str
    problem: int | None = None


@dataclass(frozen=True)
class RuleCheck:
    """What the editor shows under a rule: valid (type, size) or its problems, marked."""

    valid: bool
    type: str | None = None
    size: int | None = None
    problems: tuple[RuleProblem, ...] = ()
    lines: tuple[tuple[Piece, ...], ...] = ()


def marked_lines(source: str, problems: list[RuleProblem]) -> tuple[tuple[Piece, ...], ...]:
    """``source`` line by line, the token at each problem's line and column set apart.

    A problem past the end of its line (something missing at the end) marks a blank
    there, so the place still shows.
    """
    lines = source.split("\n")
    marks: dict[int, list[tuple[int, int, int]]] = {}
    for number, p in enumerate(problems, start=1):
        if not 1 <= p.line <= len(lines):
            continue
        text = lines[p.line - 1]
        start = max(p.col - 1, 0)
        token = _TOKEN.match(text, start) if start < len(text) else None
        end = token.end() if token else start + 1
        marks.setdefault(p.line - 1, []).append((start, end, number))
    out: list[tuple[Piece, ...]] = []
    for i, text in enumerate(lines):
        pieces: list[Piece] = []
        at = 0
        for start, end, number in sorted(marks.get(i, [])):
            if start < at:
                continue  # two problems at one place: the first one's mark shows it
            if start > at:
                pieces.append(Piece(text[at:start]))
            pieces.append(Piece(text[start:end].ljust(end - start), number))
            at = end
        if at < len(text) or not pieces:
            pieces.append(Piece(text[at:]))
        out.append(tuple(pieces))
    return tuple(out)


def check(session: Session, source: str, events: Sequence[str] = ()) -> RuleCheck:
    """Check ``source`` as a segment rule: its type and size, or its problems marked.

    With ``events`` (a triggered campaign's event types), the rule may also read their
    payload fields as ``event.<field>``; it has no size then, the event being unknown.
    """
    if not source.strip():
        return RuleCheck(valid=False)
    event_fields = event_fields_of(events, event_types.fields_by_type(session)) if events else None
    try:
        checked = rule_service.check_rule(
            session, source, where="rule", expect=None, event_fields=event_fields
        )
    except RuleError as e:
        return RuleCheck(
            valid=False,
            problems=tuple(e.problems),
            lines=marked_lines(source, e.problems),
        )
    type_ = rule_service.rule_type(checked)
    size = segments.rule_size(session, source) if type_ == "bool" and not events else None
    return RuleCheck(valid=True, type=type_, size=size)


def _fields(session: Session) -> list[tuple[str, str]]:
    """The fields a rule can read, with their types, for the editor's help."""
    return sorted((name, t.value) for name, t in load_schema(session).types().items())


def _list(session: Session) -> dict[str, Any]:
    return {
        "rows": [
            segments.segment_view(seg, segments.segment_size(session, seg.name))
            for seg in segments.list_segments(session)
        ],
        "fields": _fields(session),
    }


def _page_for(request: Request, who: Principal, status: int = 200, **context: Any) -> Response:
    return render(
        request,
        "segments.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.SEGMENTS_WRITE),
        max_rule=MAX_RULE,
        **context,
    )


@router.get("/ui/segments")
async def segments_page(request: Request) -> Response:
    """Every segment with its size; a form to add one with the rule editor."""
    who = await let_in(request, Permission.SEGMENTS_READ, "see segments")
    if isinstance(who, Response):
        return who
    data = await in_session(request, _list)
    return _page_for(request, who, typed={"kind": "rule"}, errors={}, check=None, **data)


@router.post("/ui/segments/check")
async def check_fragment(request: Request) -> Response:
    """The rule editor's verdict on the rule typed so far (an HTML fragment)."""
    who = await let_in(request, Permission.SEGMENTS_READ, "check rules")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "check a rule")
    if isinstance(form, Response):
        return form
    # The editor names its field ("rule" for a segment, "eligibility" for a campaign...).
    name = form.get("field") or "rule"
    source = form.get(name, "")[:MAX_RULE]
    # A triggered campaign's form sends its kind and the event types chosen with it.
    listened: list[str] = []
    if form.get("kind") == "triggered":
        listened = [str(e) for e in (await request.form()).getlist("events")][:100]
    result = await in_session(request, check, source, listened)
    return render(request, "_rule_check.html", who, check=result, rule_field=name)


def _create(session: Session, typed: dict[str, str], who: Principal) -> None:
    ids = None
    rule = None
    if typed["kind"] == "ids":
        ids = [line.strip() for line in typed["ids"].splitlines() if line.strip()]
    else:
        rule = typed["rule"]
    segments.create_segment(
        session,
        typed["name"],
        rule=rule,
        ids=ids,
        description=typed["description"],
        actor=actor(who),
    )
    session.commit()


def _form_errors(e: InvalidInput | Conflict, typed: dict[str, str]) -> dict[str, str]:
    """Which field a refusal is about, and what to say next to it."""
    if isinstance(e, Conflict):
        return {"name": e.detail}
    if isinstance(e, RuleError):
        return {"rule": "the rule has problems: see them marked below"}
    if (e.where or "").startswith("segment name"):
        return {"name": message(e)}
    return {"ids" if typed["kind"] == "ids" else "rule": message(e)}


@router.post("/ui/segments")
async def create_segment(request: Request) -> Response:
    """Add a segment from a rule or from customer ids; on a problem, nothing is saved."""
    who = await let_in(request, Permission.SEGMENTS_WRITE, "create segments")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "create a segment")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("name", "description", "kind", "rule", "ids")}
    typed["kind"] = "ids" if typed["kind"] == "ids" else "rule"
    errors: dict[str, str] = {}
    if typed["kind"] == "rule" and not typed["rule"]:
        errors["rule"] = "write the rule that selects the segment's customers"
    elif len(typed["rule"]) > MAX_RULE:
        errors["rule"] = f"at most {MAX_RULE:,} characters"
    if not typed["name"]:
        errors["name"] = "give the segment a name"
    if not errors:
        try:
            await in_session(request, _create, typed, who)
        except (InvalidInput, Conflict) as e:
            errors = _form_errors(e, typed)
    if errors:
        data = await in_session(request, _list)
        result = None
        if typed["kind"] == "rule" and typed["rule"]:
            result = await in_session(request, check, typed["rule"])
        return _page_for(request, who, status=422, typed=typed, errors=errors, check=result, **data)
    return RedirectResponse(f"/ui/segments/{typed['name']}", status_code=303)


def _detail(request: Request, session: Session, name: str) -> dict[str, Any]:
    seg = segments.get_segment(session, name)
    return {
        "segment": segments.segment_view(seg, segments.segment_size(session, name)),
        "profile": segments.profile(request.app.state.store, session, name),
        "fields": _fields(session),
    }


async def _detail_page(
    request: Request, who: Principal, name: str, status: int = 200, **context: Any
) -> Response:
    try:
        data = await in_session(request, lambda s: _detail(request, s, name))
    except NotFound:
        return not_found(request, who, f"segment {name!r}")
    context.setdefault("typed", {"rule": data["segment"]["rule"] or ""})
    context.setdefault("errors", {})
    context.setdefault("check", None)
    return render(
        request,
        "segment.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.SEGMENTS_WRITE),
        max_rule=MAX_RULE,
        **data,
        **context,
    )


@router.get("/ui/segments/{name}")
async def segment_page(request: Request, name: str) -> Response:
    """One segment: its rule, size and profile (categories, numbers, consents)."""
    who = await let_in(request, Permission.SEGMENTS_READ, "see segments")
    if isinstance(who, Response):
        return who
    saved = request.query_params.get("saved", "")
    return await _detail_page(request, who, name, saved=saved)


def _update(session: Session, name: str, typed: dict[str, str], who: Principal) -> None:
    seg = segments.get_segment(session, name)
    rule = typed["rule"] if seg.kind == segments.DYNAMIC else None
    segments.update_segment(
        session, name, rule=rule, description=typed["description"], actor=actor(who)
    )
    session.commit()


@router.post("/ui/segments/{name}")
async def update_segment(request: Request, name: str) -> Response:
    """Change a segment's rule (dynamic ones) and description."""
    who = await let_in(request, Permission.SEGMENTS_WRITE, "change segments")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change a segment")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in ("rule", "description")}
    errors: dict[str, str] = {}
    if len(typed["rule"]) > MAX_RULE:
        errors["rule"] = f"at most {MAX_RULE:,} characters"
    else:
        try:
            await in_session(request, _update, name, typed, who)
        except NotFound:
            return not_found(request, who, f"segment {name!r}")
        except RuleError:
            errors["rule"] = "the rule has problems: see them marked below"
        except (InvalidInput, Conflict) as e:
            errors["rule"] = message(e) if isinstance(e, InvalidInput) else e.detail
    if errors:
        result = await in_session(request, check, typed["rule"]) if typed["rule"] else None
        return await _detail_page(
            request, who, name, status=422, typed=typed, errors=errors, check=result
        )
    return RedirectResponse(f"/ui/segments/{name}?saved=1", status_code=303)


def _delete(session: Session, name: str, who: Principal) -> None:
    segments.delete_segment(session, name, actor=actor(who))
    session.commit()


@router.post("/ui/segments/{name}/delete")
async def delete_segment(request: Request, name: str) -> Response:
    """Remove a segment, unless another segment's rule uses it."""
    who = await let_in(request, Permission.SEGMENTS_WRITE, "delete segments")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "delete a segment")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _delete, name, who)
    except NotFound:
        return not_found(request, who, f"segment {name!r}")
    except Conflict as e:
        return await _detail_page(request, who, name, status=409, refused=e.detail)
    return RedirectResponse("/ui/segments", status_code=303)
