"""Programs: create one, add its campaigns, dry-run it, run it, move it along its life.

A program is saved as the same document ``tactica apply`` and ``PUT /programs``
take (``tactica.services.programs``): the forms build that document, so the web
refuses exactly what the API and the CLI refuse, each problem next to its field.
Running from the web claims the run at once and decides it in a thread; the run's
page follows it until it completes.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, allows
from tactica.domain.programs import CAMPAIGN_KINDS, ProgramStatus, legal_targets
from tactica.domain.schema import CHANNELS
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import (
    event_types,
    events,
    explain,
    offers,
    policies,
    programs,
    runs,
    segments,
    templates,
)
from tactica.services.users import Principal
from tactica.store.customer_table import load_schema
from tactica.store.models import Program
from tactica.web.render import (
    Section,
    actor,
    in_session,
    let_in,
    not_found,
    posted,
    render,
    today,
)
from tactica.web.segment_pages import check

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
SECTION = Section(30, "/ui/programs", "Programs", Permission.PROGRAMS_READ)

#: The button that moves a program to each status.
MOVES = {
    ProgramStatus.SCHEDULED: "Schedule",
    ProgramStatus.RUNNING: "Start",
    ProgramStatus.PAUSED: "Pause",
    ProgramStatus.COMPLETED: "Complete",
    ProgramStatus.DRAFT: "Back to draft",
    ProgramStatus.CANCELLED: "Cancel program",
}
#: The program form's fields and the campaign form's, as the document names them.
PROGRAM_FIELDS = ("name", "owner", "description", "budget", "start", "end", "policy")
CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "events",
    "max_event_age_minutes",
    "segment",
    "eligibility",
    "offers",
    "channels",
    "template",
    "score",
    "priority",
    "capacity",
    "control_share",
    "cost_per_contact",
    "budget",
)
_PROBLEM = re.compile(r"^- (?:program\.)?(?:campaigns\[(\d+)\](?: '[^']*')?\.)?([a-z_]+)")


def problems_by_field(detail: str, campaign: int | None = None) -> dict[str, str]:
    """A refused document's problems by the form field each is about.

    ``detail`` lists problems as ``- place: message`` lines (a rule's caret lines
    indented under theirs). With ``campaign``, only that campaign's problems count as
    fields; any other problem is filed under ``""`` (shown above the form).
    """
    out: dict[str, list[str]] = {}
    key = ""
    for line in detail.splitlines()[1:]:
        found = _PROBLEM.match(line)
        if found is None:
            if line.startswith("- "):
                key = ""
                out.setdefault(key, []).append(line[2:])
            elif out.get(key):
                out[key][-1] += "\n" + line.strip()
            continue
        index, field = found.groups()
        if campaign is None:
            key = field if index is None else ""
        else:
            key = field if index is not None and int(index) == campaign else ""
        text = line[2:].split(": ", 1)[-1] if ": " in line else line[2:]
        out.setdefault(key, []).append(text)
    if not out:
        out[""] = [detail]
    return {k: "\n".join(v) for k, v in out.items()}


# ------------------------------------------------------------------------------ list


def _list(session: Session) -> dict[str, Any]:
    rows = []
    for p in programs.list_programs(session):
        latest = runs.list_runs(session, p.name, limit=1)
        rows.append(
            {
                "name": p.name,
                "status": p.status,
                "owner": p.owner,
                "start": p.start_date,
                "end": p.end_date,
                "budget": p.budget,
                "campaigns": len(programs.campaigns_of(session, p)),
                "last_run": latest[0] if latest else None,
            }
        )
    return {"rows": rows, "policies": [x["name"] for x in policies.list_policies(session)]}


async def _list_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    data = await in_session(request, _list)
    context.setdefault("typed", {"owner": who.username, "policy": "default", "schedule": "manual"})
    context.setdefault("errors", {})
    return render(
        request,
        "programs.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.PROGRAMS_WRITE),
        **data,
        **context,
    )


@router.get("/ui/programs")
async def programs_page(request: Request) -> Response:
    """Every program with its status and latest run; a form to start a new one."""
    who = await let_in(request, Permission.PROGRAMS_READ, "see programs")
    if isinstance(who, Response):
        return who
    return await _list_page(request, who)


def _schedule(typed: dict[str, str]) -> Any:
    kind, value = typed.get("schedule", "manual"), typed.get("schedule_value", "")
    if kind == "cron":
        return {"cron": value}
    if kind == "once":
        return {"once": value}
    return "manual"


def _new_program(session: Session, typed: dict[str, str], who: Principal) -> None:
    if session.scalar(sa.select(Program.id).where(Program.name == typed["name"])):
        raise Conflict(f"program {typed['name']!r} exists already")
    doc: dict[str, Any] = {
        "name": typed["name"],
        "owner": typed["owner"],
        "description": typed["description"],
        "policy": typed["policy"] or "default",
        "schedule": _schedule(typed),
        "campaigns": [],
    }
    for key in ("budget", "start", "end"):
        if typed[key]:
            doc[key] = typed[key]
    programs.apply_program(session, doc, actor=actor(who))
    session.commit()


_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
#: The campaign form's fields that hold several values (checkboxes).
_CHOSEN = ("offers", "channels", "events")


@router.post("/ui/programs")
async def create_program(request: Request) -> Response:
    """Save a new program (a draft, no campaigns yet); each problem next to its field."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "create programs")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "create a program")
    if isinstance(form, Response):
        return form
    typed = {k: form.get(k, "") for k in (*PROGRAM_FIELDS, "schedule", "schedule_value")}
    errors: dict[str, str] = {}
    if not _NAME.match(typed["name"]):
        errors["name"] = "lower-case letters, digits, '_' or '-', starting with a letter"
    if not typed["owner"]:
        errors["owner"] = "who answers for this program"
    if typed["schedule"] in ("cron", "once") and not typed["schedule_value"]:
        errors["schedule_value"] = "a cron expression or a date and time"
    if not errors:
        try:
            await in_session(request, _new_program, typed, who)
        except Conflict as e:
            errors["name"] = e.detail
        except InvalidInput as e:
            errors = problems_by_field(e.detail)
            if "schedule" in errors:
                errors["schedule_value"] = errors.pop("schedule")
    if errors:
        return await _list_page(request, who, status=422, typed=typed, errors=errors)
    return RedirectResponse(f"/ui/programs/{typed['name']}", status_code=303)


# --------------------------------------------------------------------------- program


def _detail(session: Session, name: str) -> dict[str, Any]:
    p = programs.get_program(session, name)
    doc = programs.program_data(session, p)
    return {
        "program": p,
        "doc": doc,
        "moves": [(t.value, MOVES[t]) for t in legal_targets(p.status)],
        "editable": ProgramStatus(p.status) in programs.EDITABLE,
        "runnable": p.status in runs.RUNNABLE,
        "problems": programs.runnable_problems(session, p),
        "runs": runs.list_runs(session, name, limit=20),
        "segment_names": [s.name for s in segments.list_segments(session)],
        "offer_codes": [o.code for o in offers.list_offers(session)],
        "template_names": sorted({t.name for t in templates.list_templates(session)}),
        "channels": CHANNELS,
        "kinds": CAMPAIGN_KINDS,
        "event_type_names": [t.name for t in event_types.list_event_types(session)],
        "fields": sorted((n, t.value) for n, t in load_schema(session).types().items()),
        # What the triggered campaigns did with today's events, by campaign.
        "triggered": {
            f.campaign: f
            for f in events.figures(session, program=name, since=today(), until=today())
        },
    }


async def _program_page(
    request: Request, who: Principal, name: str, status: int = 200, **context: Any
) -> Response:
    try:
        data = await in_session(request, _detail, name)
    except NotFound:
        return not_found(request, who, f"program {name!r}")
    context.setdefault("typed", {"priority": "0", "control_share": "0", "cost_per_contact": "0"})
    context.setdefault("errors", {})
    context.setdefault("checks", {})
    return render(
        request,
        "program.html",
        who,
        status_code=status,
        can_write=allows(who.role, Permission.PROGRAMS_WRITE),
        **data,
        **context,
    )


@router.get("/ui/programs/{name}")
async def program_page(request: Request, name: str) -> Response:
    """A program: its campaigns, what keeps it from running, its runs, its actions."""
    who = await let_in(request, Permission.PROGRAMS_READ, "see programs")
    if isinstance(who, Response):
        return who
    return await _program_page(request, who, name, done=request.query_params.get("done", ""))


def _campaign_doc(typed: dict[str, str], form_lists: dict[str, list[str]]) -> dict[str, Any]:
    """The campaign the form describes, as the program document writes one."""
    doc: dict[str, Any] = {
        "name": typed["name"],
        "kind": typed["kind"] or "outbound",
        "offers": form_lists["offers"],
        "channels": form_lists["channels"],
    }
    if doc["kind"] == "triggered":
        doc["events"] = form_lists["events"]
        age = typed["max_event_age_minutes"]
        if age:
            doc["max_event_age_minutes"] = int(age) if re.fullmatch(r"-?\d+", age) else age
    for key in ("segment", "eligibility", "template", "score"):
        if typed[key]:
            doc[key] = typed[key]
    for key in ("priority", "capacity"):
        if typed[key]:
            doc[key] = int(typed[key]) if re.fullmatch(r"-?\d+", typed[key]) else typed[key]
    if typed["control_share"]:
        try:
            doc["control_share"] = float(typed["control_share"])
        except ValueError:
            doc["control_share"] = typed["control_share"]
    for key in ("cost_per_contact", "budget"):
        if typed[key]:
            doc[key] = typed[key]
    return doc


def _add_campaign(session: Session, name: str, campaign: dict[str, Any], who: Principal) -> int:
    p = programs.get_program(session, name)
    doc = programs.program_data(session, p)
    if any(c["name"] == campaign["name"] for c in doc["campaigns"]):
        raise Conflict(f"program {name!r} has a campaign {campaign['name']!r} already")
    doc["campaigns"].append(campaign)
    index = len(doc["campaigns"]) - 1
    try:
        programs.apply_program(session, doc, actor=actor(who))
    except InvalidInput as e:
        e.where = str(index)
        raise
    session.commit()
    return index


@router.post("/ui/programs/{name}/campaigns")
async def add_campaign(request: Request, name: str) -> Response:
    """Add an outbound campaign to a program that may change (draft, scheduled, paused)."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "change programs")
    if isinstance(who, Response):
        return who
    form = await request.form()
    fields = await posted(request, who, "change a program")
    if isinstance(fields, Response):
        return fields
    typed = {k: fields.get(k, "") for k in CAMPAIGN_FIELDS if k not in _CHOSEN}
    chosen = {k: [str(v).strip() for v in form.getlist(k) if str(v).strip()] for k in _CHOSEN}
    errors: dict[str, str] = {}
    if not _NAME.match(typed["name"]):
        errors["name"] = "lower-case letters, digits, '_' or '-', starting with a letter"
    if typed["kind"] == "triggered" and not chosen["events"]:
        errors["events"] = "choose the event types it answers"
    if not chosen["offers"]:
        errors["offers"] = "choose at least one offer"
    if not chosen["channels"]:
        errors["channels"] = "choose at least one channel"
    if not errors:
        try:
            await in_session(request, _add_campaign, name, _campaign_doc(typed, chosen), who)
        except NotFound:
            return not_found(request, who, f"program {name!r}")
        except Conflict as e:
            errors[""] = e.detail
        except InvalidInput as e:
            errors = problems_by_field(e.detail, int(e.where or 0))
    if errors:
        checks = {}
        listened = chosen["events"] if typed["kind"] == "triggered" else []
        for key in ("eligibility", "score"):
            if typed[key] and key in errors:
                checks[key] = await in_session(request, check, typed[key], listened)
        return await _program_page(
            request,
            who,
            name,
            status=409 if "" in errors and len(errors) == 1 else 422,
            typed={**typed, **{k: v for k, v in chosen.items()}},
            errors=errors,
            checks=checks,
        )
    return RedirectResponse(f"/ui/programs/{name}?done=campaign", status_code=303)


def _remove_campaign(session: Session, name: str, campaign: str, who: Principal) -> None:
    p = programs.get_program(session, name)
    doc = programs.program_data(session, p)
    kept = [c for c in doc["campaigns"] if c["name"] != campaign]
    if len(kept) == len(doc["campaigns"]):
        raise NotFound(f"program {name!r} has no campaign {campaign!r}")
    doc["campaigns"] = kept
    programs.apply_program(session, doc, actor=actor(who))
    session.commit()


@router.post("/ui/programs/{name}/campaigns/{campaign}/remove")
async def remove_campaign(request: Request, name: str, campaign: str) -> Response:
    """Take a campaign out of a program that may change."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "change programs")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change a program")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _remove_campaign, name, campaign, who)
    except NotFound as e:
        return not_found(request, who, e.detail.removeprefix("no "))
    except (Conflict, InvalidInput) as e:
        return await _program_page(request, who, name, status=409, refused=e.detail)
    return RedirectResponse(f"/ui/programs/{name}?done=removed", status_code=303)


def _move(session: Session, name: str, target: str, who: Principal) -> None:
    programs.set_status(session, name, target, actor=actor(who))
    session.commit()


@router.post("/ui/programs/{name}/status")
async def move_program(request: Request, name: str) -> Response:
    """Schedule, start, pause, resume, complete or cancel: only the legal moves."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "change programs")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change a program")
    if isinstance(form, Response):
        return form
    try:
        await in_session(request, _move, name, form.get("status", ""), who)
    except NotFound:
        return not_found(request, who, f"program {name!r}")
    except (Conflict, InvalidInput) as e:
        return await _program_page(request, who, name, status=409, refused=e.detail)
    return RedirectResponse(f"/ui/programs/{name}?done=status", status_code=303)


@router.post("/ui/programs/{name}/dry-run")
async def dry_run(request: Request, name: str) -> Response:
    """Decide the program as a run would now and show the funnel; nothing is written."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "run programs")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "dry-run a program")
    if isinstance(form, Response):
        return form
    store = request.app.state.store
    try:
        result = await run_in_threadpool(runs.preview, store, name)
    except NotFound:
        return not_found(request, who, f"program {name!r}")
    except (Conflict, InvalidInput) as e:
        return await _program_page(request, who, name, status=409, refused=e.detail)
    return await _program_page(request, who, name, preview=result)


def _decide(store: Any, run_id: int, resumed: bool) -> None:
    # A run that fails is marked failed (with its error) by execute_run itself, and
    # its page shows that; the log keeps the traceback.
    try:
        runs.execute_run(store, run_id, resumed=resumed)
    except Exception:
        log.exception("run %s failed", run_id)


@router.post("/ui/programs/{name}/run")
async def run_now(request: Request, name: str) -> Response:
    """Run the program now: the run is claimed at once, decided in the background, and
    its page follows it."""
    who = await let_in(request, Permission.PROGRAMS_WRITE, "run programs")
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "run a program")
    if isinstance(form, Response):
        return form
    store = request.app.state.store
    try:
        claimed = await run_in_threadpool(lambda: runs.claim_run(store, name, actor=actor(who)))
    except NotFound:
        return not_found(request, who, f"program {name!r}")
    except (Conflict, InvalidInput) as e:
        return await _program_page(request, who, name, status=409, refused=e.detail)
    if claimed is None:
        return await _program_page(request, who, name, status=409, refused="nothing to run")
    run_id, resumed = claimed
    threading.Thread(
        target=_decide, args=(store, run_id, resumed), name=f"run-{run_id}", daemon=True
    ).start()
    return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)


# ------------------------------------------------------------------------------- run


def _run(session: Session, run_id: int) -> dict[str, Any]:
    run = runs.get_run(session, run_id)
    return {"run": runs.run_view(session, run)}


@router.get("/ui/runs/{run_id}")
async def run_page(request: Request, run_id: int) -> Response:
    """A run: its funnel per campaign, where its contacts are now, what came back, and
    "why not contacted?" for any customer."""
    who = await let_in(request, Permission.PROGRAMS_READ, "see runs")
    if isinstance(who, Response):
        return who
    try:
        data = await in_session(request, _run, run_id)
    except NotFound:
        return not_found(request, who, f"run {run_id}")
    customer = request.query_params.get("customer", "").strip()[:128]
    explanation = None
    error = ""
    if customer:
        if not allows(who.role, Permission.CUSTOMERS_READ):
            error = "your role may not read customers"
        else:
            store = request.app.state.store
            try:
                explanation = await run_in_threadpool(
                    lambda: explain.explain_customer(store, customer, run_id=run_id)
                )
            except NotFound as e:
                error = e.detail
            except InvalidInput as e:
                error = e.detail
    return render(
        request,
        "run.html",
        who,
        status_code=404 if error.startswith("no ") else 200,
        customer=customer,
        explanation=explanation,
        error=error,
        now=datetime.now(UTC),
        **data,
    )
