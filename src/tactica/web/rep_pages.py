"""Sales reps: every rep with what they hold, a rep's page, and the forms that add one
or change one (territory, skills, capacity, role, manager, active or not).

The rules are the API's (``/reps``): whoever reads leads reads the reps, sales
admins (admins, marketers) manage them, through the same service calls and checks.
Adding a rep, or giving one more room, assigns waiting leads at once; deactivating
one hands their open leads back to be assigned again; the page says how many.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tactica.domain.access import Permission, Role, allows
from tactica.domain.sales import (
    MAX_CAPACITY,
    RepRole,
    check_capacity,
    check_rep_name,
    clean_skills,
    rep_role,
)
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import sales, users
from tactica.services.users import Principal
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

router = APIRouter(include_in_schema=False)
# Right after Leads: whoever reads leads reads who works them.
SECTION = Section(72, "/ui/reps", "Reps", Permission.LEADS_READ)

READ = "see sales reps"
MANAGE = "manage sales reps"
#: The form's fields; ``active`` only on a rep's page.
FIELDS = ("username", "full_name", "territory", "skills", "capacity", "role", "manager")
CHANGE_FIELDS = (*FIELDS[1:], "active")
#: The longest full name and territory the API takes (the columns' sizes).
LONGEST = {"full_name": 200, "territory": 100}
ROLES = tuple(r.value for r in RepRole)
#: What a new rep's form starts with (the API's defaults).
NEW_REP = {"capacity": "50", "role": RepRole.HUNTER.value}
#: The longest count a redirect's message reads back (anyone can type one into the address).
_MAX_COUNT_DIGITS = 9


def _may_manage(who: Principal) -> bool:
    return allows(who.role, Permission.SALES_ADMIN)


def _shown(rep: dict[str, Any]) -> dict[str, Any]:
    """A rep as the pages show them: the last assignment as a time, for the ``when`` filter."""
    last = rep["last_assigned_at"]
    return {**rep, "last_assigned_at": datetime.fromisoformat(last) if last else None}


def _managers(session: Session) -> list[str]:
    """Whom the manager field suggests: every rep and every active user who is a person
    (an integration is a machine), by name. Any user or rep is accepted."""
    names = {
        u.username
        for u in users.list_users(session)
        if u.active and u.role != Role.INTEGRATION.value
    }
    names.update(r["username"] for r in sales.list_reps(session, include_inactive=True))
    return sorted(names)


# --------------------------------------------------------------------------- reading a form


def _text(where: str) -> Callable[[str], str]:
    """The check of a text field: at most as long as the API takes."""

    def check(value: str) -> str:
        if len(value) > LONGEST[where]:
            raise InvalidInput(f"at most {LONGEST[where]} characters, got {len(value)}", where)
        return value

    return check


def _capacity(text: str) -> int:
    """The capacity typed, as the whole number the service takes; InvalidInput otherwise."""
    if not text.isdigit() or len(text) > len(str(MAX_CAPACITY)):
        # In the service's words, as when the number is out of range.
        raise InvalidInput(f"a whole number from 0 to {MAX_CAPACITY}, got {text!r}", "capacity")
    return check_capacity(int(text))


#: Each field's check: the service's own (the domain's), so the web refuses what the API
#: refuses, one field at a time, so that every refused field is named at once.
CHECKS: dict[str, Callable[[str], Any]] = {
    "username": check_rep_name,
    "full_name": _text("full_name"),
    "territory": _text("territory"),
    "skills": lambda v: clean_skills(v.split(",")),
    "capacity": _capacity,
    "role": lambda v: rep_role(v).value,
    "manager": lambda v: check_rep_name(v, "manager") if v else "",
    "active": bool,
}


def read_form(
    form: dict[str, str], fields: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """What was typed (kept to show again), the rep's fields as the service takes them,
    and the fields refused with why."""
    typed = {k: form.get(k, "") for k in fields}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in fields:
        try:
            values[key] = CHECKS[key](typed[key])
        except InvalidInput as e:
            errors[key] = message(e)
    if "active" in typed:
        typed["active"] = "on" if typed["active"] else ""
    return typed, values, errors


def _typed_of(rep: dict[str, Any]) -> dict[str, str]:
    """A rep's fields as the change form shows them."""
    return {
        "full_name": rep["full_name"],
        "territory": rep["territory"] or "",
        "skills": ", ".join(rep["skills"]),
        "capacity": str(rep["capacity"]),
        "role": rep["role"],
        "manager": rep["manager"] or "",
        "active": "on" if rep["active"] else "",
    }


def _check_manager(session: Session, username: str, name: str, was: str | None = None) -> None:
    """Refuse a manager who is the rep themself (as the service does), or who is neither
    a user nor a rep: their escalations would reach nobody. A name kept from before (set
    through the API or the CLI) stands."""
    if name == username:
        raise InvalidInput("a rep cannot be their own manager", "manager")
    if not name or name == was:
        return
    for lookup in (users.get_user, sales.get_rep):
        try:
            lookup(session, name)
            return
        except NotFound:
            pass
    raise InvalidInput(f"no user or rep {name!r}", "manager")


def _manager_refused(session: Session, username: str, name: str, changing: bool) -> str:
    """Why the manager typed is refused ("" when not), for a form refused already for
    another field, so that every refused field is named at once."""
    try:
        was = sales.get_rep(session, username).manager if changing else None
        _check_manager(session, username, name, was)
    except NotFound:  # no such rep: the page says so
        return ""
    except InvalidInput as e:
        return message(e)
    return ""


async def _also_manager(
    request: Request, errors: dict[str, str], values: dict[str, Any], username: str, changing: bool
) -> None:
    """Add the manager's refusal to ``errors`` when other fields are refused already."""
    if errors and "manager" not in errors and values.get("manager"):
        refused = await in_session(request, _manager_refused, username, values["manager"], changing)
        if refused:
            errors["manager"] = refused


def _refusal(e: InvalidInput | Conflict, fields: tuple[str, ...]) -> tuple[dict[str, str], int]:
    """The field a service's refusal is about with what to say there, and the status."""
    if isinstance(e, Conflict):  # the username is taken
        return {"username": e.detail}, 409
    return {field_of(e, set(fields), fields[0]): message(e)}, 422


def _count(raw: str | None) -> int:
    """A count a redirect carries (0 when it is not one)."""
    raw = raw or ""
    return int(raw) if raw.isdigit() and len(raw) <= _MAX_COUNT_DIGITS else 0


# --------------------------------------------------------------------------- every rep


def _reps(session: Session, inactive: bool, manage: bool) -> dict[str, Any]:
    return {
        "rows": [_shown(r) for r in sales.list_reps(session, include_inactive=inactive)],
        "waiting": sales.inbox(session, unassigned=True, limit=1).total,
        # Only the form needs the users' names: readers are not shown them.
        "managers": _managers(session) if manage else [],
    }


async def _reps_page(
    request: Request, who: Principal, status: int = 200, **context: Any
) -> Response:
    inactive = request.query_params.get("inactive", "") not in ("", "0")
    data = await in_session(request, _reps, inactive, _may_manage(who))
    context.setdefault("typed", dict(NEW_REP))
    context.setdefault("errors", {})
    return render(
        request,
        "reps.html",
        who,
        status_code=status,
        inactive=inactive,
        roles=ROLES,
        max_capacity=MAX_CAPACITY,
        can_manage=_may_manage(who),
        **data,
        **context,
    )


@router.get("/ui/reps")
async def reps_page(request: Request) -> Response:
    """Every active rep (or every rep) with what they hold; sales admins get a form to
    add one."""
    who = await let_in(request, Permission.LEADS_READ, READ)
    if isinstance(who, Response):
        return who
    return await _reps_page(request, who)


def _add(session: Session, values: dict[str, Any], who: Principal) -> int:
    _check_manager(session, values["username"], values["manager"])
    done = sales.add_rep(session, **values, actor=actor(who))
    session.commit()
    return done.assigned


@router.post("/ui/reps")
async def add_rep(request: Request) -> Response:
    """Add a rep; waiting leads are assigned at once while they have room. Each refused
    field is named next to it and nothing is written."""
    who = await let_in(request, Permission.SALES_ADMIN, MANAGE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "add a rep")
    if isinstance(form, Response):
        return form
    typed, values, errors = read_form(form, FIELDS)
    await _also_manager(request, errors, values, typed["username"], changing=False)
    status = 422
    if not errors:
        try:
            assigned = await in_session(request, _add, values, who)
        except (InvalidInput, Conflict) as e:
            errors, status = _refusal(e, FIELDS)
    if errors:
        return await _reps_page(request, who, status=status, typed=typed, errors=errors)
    return _back_to(typed["username"], done="added", assigned=str(assigned))


# --------------------------------------------------------------------------- one rep


def _back_to(username: str, **done: str) -> RedirectResponse:
    """To the rep's page after a change, which says what was done (post/redirect/get)."""
    return RedirectResponse(f"/ui/reps/{quote(username)}?{urlencode(done)}", status_code=303)


def _one(session: Session, username: str, manage: bool) -> dict[str, Any]:
    sales.get_rep(session, username)
    # Counted as the API's GET /reps/{username} counts a rep's open and overdue leads.
    reps = sales.list_reps(session, include_inactive=True)
    (rep,) = [r for r in reps if r["username"] == username]
    return {"rep": _shown(rep), "managers": _managers(session) if manage else []}


async def _rep_page(
    request: Request, who: Principal, username: str, status: int = 200, **context: Any
) -> Response:
    try:
        data = await in_session(request, _one, username, _may_manage(who))
    except NotFound:
        return not_found(request, who, f"sales rep {username!r}")
    q = request.query_params
    context.setdefault("typed", _typed_of(data["rep"]))
    context.setdefault("errors", {})
    context.setdefault("done", q.get("done", "") if q.get("done") in ("added", "saved") else "")
    return render(
        request,
        "rep.html",
        who,
        status_code=status,
        roles=ROLES,
        max_capacity=MAX_CAPACITY,
        can_manage=_may_manage(who),
        released=_count(q.get("released")),
        assigned=_count(q.get("assigned")),
        inbox="/ui/leads?" + urlencode({"rep": username}),
        **data,
        **context,
    )


@router.get("/ui/reps/{username}")
async def rep_page(request: Request, username: str) -> Response:
    """A rep's figures (what they hold, overdue, capacity, territory, skills, manager) and
    a link to their inbox; sales admins get the form to change them."""
    who = await let_in(request, Permission.LEADS_READ, READ)
    if isinstance(who, Response):
        return who
    return await _rep_page(request, who, username)


def _change(
    session: Session, username: str, values: dict[str, Any], who: Principal
) -> sales.RepChange:
    was = sales.get_rep(session, username).manager
    _check_manager(session, username, values["manager"], was)
    done = sales.update_rep(session, username, **values, actor=actor(who))
    session.commit()
    return done


@router.post("/ui/reps/{username}")
async def change_rep(request: Request, username: str) -> Response:
    """Change a rep. Deactivating hands their open leads back to be assigned again; more
    room (or reactivating) takes waiting leads. A refused field writes nothing."""
    who = await let_in(request, Permission.SALES_ADMIN, MANAGE)
    if isinstance(who, Response):
        return who
    form = await posted(request, who, "change a rep")
    if isinstance(form, Response):
        return form
    typed, values, errors = read_form(form, CHANGE_FIELDS)
    await _also_manager(request, errors, values, username, changing=True)
    if not errors:
        try:
            done = await in_session(request, _change, username, values, who)
        except NotFound:
            return not_found(request, who, f"sales rep {username!r}")
        except InvalidInput as e:
            errors, _ = _refusal(e, CHANGE_FIELDS)
    if errors:
        return await _rep_page(request, who, username, status=422, typed=typed, errors=errors)
    return _back_to(
        username, done="saved", released=str(done.released), assigned=str(done.assigned)
    )
