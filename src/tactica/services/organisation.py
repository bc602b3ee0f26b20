"""The organisation: teams in a hierarchy, the people in them, who reports to whom.

Marketing works through other functions (sales, product, service, logistics), so
every one of them can be a team. A person is a Tactica user; in a team they carry a
title and written responsibilities, and name whom they report to. That line (or,
failing it, the team's lead, then the lead of the team above) is where approvals and
escalations go: :func:`manager_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.store.models import Objective, Plan, Team, TeamMember, User

#: What a team does; marketing works through all of them.
FUNCTIONS = ("marketing", "sales", "product", "service", "logistics", "finance", "other")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_TEXT = 10_000


@dataclass(frozen=True)
class TeamInput:
    """A team as written: ``name`` is its short key (``field-sales``)."""

    name: str
    title: str = ""
    function: str = "marketing"
    parent: str | None = None
    lead: str | None = None
    description: str = ""


@dataclass(frozen=True)
class MemberInput:
    """A person's place in a team."""

    username: str
    title: str = ""
    responsibilities: str = ""
    reports_to: str | None = None


def team_view(team: Team, members: list[TeamMember] | None = None) -> dict[str, Any]:
    """A team as the API and the pages show it (members when given)."""
    out: dict[str, Any] = {
        "name": team.name,
        "title": team.title,
        "function": team.function,
        "parent": team.parent,
        "lead": team.lead,
        "description": team.description,
    }
    if members is not None:
        out["members"] = [member_view(m) for m in members]
    return out


def member_view(m: TeamMember) -> dict[str, Any]:
    """A member of a team as the API and the pages show them."""
    return {
        "team": m.team,
        "username": m.username,
        "title": m.title,
        "responsibilities": m.responsibilities,
        "reports_to": m.reports_to,
    }


def _user(session: Session, username: str | None, where: str) -> str | None:
    """``username`` when it names a Tactica user; None for none; InvalidInput otherwise."""
    if not username:
        return None
    if session.scalar(sa.select(User.id).where(User.username == username)) is None:
        raise InvalidInput(f"no user {username!r}", where)
    return username


def _text(value: str, where: str, longest: int = MAX_TEXT) -> str:
    if len(value) > longest:
        raise InvalidInput(f"at most {longest:,} characters, not {len(value):,}", where)
    return value


def get_team(session: Session, name: str) -> Team:
    """The team called ``name``, or NotFound."""
    team = session.scalar(sa.select(Team).where(Team.name == name))
    if team is None:
        raise NotFound(f"no team {name!r}")
    return team


def _ancestors(session: Session, name: str | None) -> list[str]:
    """``name`` and the teams above it, nearest first (stops at a loop)."""
    parents = dict(session.execute(sa.select(Team.name, Team.parent)).all())
    chain: list[str] = []
    while name and name not in chain:
        chain.append(name)
        name = parents.get(name)
    return chain


def _check_team(session: Session, data: TeamInput, *, existing: Team | None) -> None:
    if not _NAME.match(data.name):
        raise InvalidInput(
            f"{data.name!r}: lower-case letters, digits, '-' and '_', at most 64", "name"
        )
    if data.function not in FUNCTIONS:
        raise InvalidInput(f"{data.function!r} is not one of {', '.join(FUNCTIONS)}", "function")
    _text(data.title, "title", 200)
    _text(data.description, "description")
    _user(session, data.lead, "lead")
    if data.parent:
        get_team_or = session.scalar(sa.select(Team.id).where(Team.name == data.parent))
        if get_team_or is None:
            raise InvalidInput(f"no team {data.parent!r}", "parent")
        if existing is not None and data.name in _ancestors(session, data.parent):
            raise InvalidInput(
                f"{data.parent!r} is {data.name!r} or below it: a team cannot be its own parent",
                "parent",
            )


def add_team(session: Session, data: TeamInput, *, actor: str) -> Team:
    """Create a team; Conflict when the name is taken."""
    _check_team(session, data, existing=None)
    if session.scalar(sa.select(Team.id).where(Team.name == data.name)) is not None:
        raise Conflict(f"team {data.name!r} exists already")
    team = Team(
        name=data.name,
        title=data.title,
        function=data.function,
        parent=data.parent or None,
        lead=data.lead or None,
        description=data.description,
    )
    session.add(team)
    session.flush()
    audit.record(session, actor, "team.create", "team", team.name, after=team_view(team))
    return team


def update_team(session: Session, data: TeamInput, *, actor: str) -> Team:
    """Change a team (its name stays): title, function, parent, lead, description."""
    team = get_team(session, data.name)
    _check_team(session, data, existing=team)
    before = team_view(team)
    team.title, team.function, team.description = data.title, data.function, data.description
    team.parent, team.lead = data.parent or None, data.lead or None
    session.flush()
    audit.record(session, actor, "team.update", "team", team.name, before, team_view(team))
    return team


def delete_team(session: Session, name: str, *, actor: str) -> None:
    """Remove a team and its memberships; refused while teams sit under it or goals are its."""
    team = get_team(session, name)
    below = session.scalars(sa.select(Team.name).where(Team.parent == name)).all()
    if below:
        raise Conflict(f"team {name!r} has teams under it: {', '.join(sorted(below))}")
    goals = session.scalars(sa.select(Objective.name).where(Objective.owner_team == name)).all()
    if goals:
        raise Conflict(f"team {name!r} owns objectives: {', '.join(sorted(goals)[:10])}")
    owned = session.scalars(sa.select(Plan.name).where(Plan.owner_team == name)).all()
    if owned:
        raise Conflict(f"team {name!r} owns plans: {', '.join(sorted(owned)[:10])}")
    before = team_view(team)
    session.execute(sa.delete(TeamMember).where(TeamMember.team == name))
    session.delete(team)
    session.flush()
    audit.record(session, actor, "team.delete", "team", name, before=before)


def members(session: Session, team: str) -> list[TeamMember]:
    """The members of ``team``, by username."""
    return list(
        session.scalars(
            sa.select(TeamMember).where(TeamMember.team == team).order_by(TeamMember.username)
        )
    )


def list_teams(session: Session) -> list[dict[str, Any]]:
    """Every team with its members, parents before children (depth-first, by name)."""
    teams = list(session.scalars(sa.select(Team).order_by(Team.name)))
    by_team: dict[str, list[TeamMember]] = {}
    for m in session.scalars(sa.select(TeamMember).order_by(TeamMember.username)):
        by_team.setdefault(m.team, []).append(m)
    children: dict[str | None, list[Team]] = {}
    names = {t.name for t in teams}
    for t in teams:
        children.setdefault(t.parent if t.parent in names else None, []).append(t)
    out: list[dict[str, Any]] = []

    def visit(parent: str | None, depth: int) -> None:
        for t in children.get(parent, []):
            out.append({**team_view(t, by_team.get(t.name, [])), "depth": depth})
            visit(t.name, depth + 1)

    visit(None, 0)
    return out


def _reports_chain(session: Session, username: str) -> list[str]:
    """``username`` and those they report to, in turn (stops at a loop)."""
    lines = dict(
        session.execute(
            sa.select(TeamMember.username, TeamMember.reports_to).where(
                TeamMember.reports_to.is_not(None)
            )
        ).all()
    )
    chain: list[str] = []
    who: str | None = username
    while who and who not in chain:
        chain.append(who)
        who = lines.get(who)
    return chain


def put_member(session: Session, team: str, data: MemberInput, *, actor: str) -> TeamMember:
    """Put a user in a team, or change their title, responsibilities or line."""
    get_team(session, team)
    _user(session, data.username, "username")
    _text(data.title, "title", 200)
    _text(data.responsibilities, "responsibilities")
    if data.reports_to:
        _user(session, data.reports_to, "reports_to")
        if data.username in _reports_chain(session, data.reports_to):
            raise InvalidInput(
                f"{data.reports_to!r} reports to {data.username!r} already: "
                "a line of reporting cannot go round",
                "reports_to",
            )
    row = session.scalar(
        sa.select(TeamMember).where(TeamMember.team == team, TeamMember.username == data.username)
    )
    before = member_view(row) if row is not None else None
    if row is None:
        row = TeamMember(team=team, username=data.username)
        session.add(row)
    row.title, row.responsibilities = data.title, data.responsibilities
    row.reports_to = data.reports_to or None
    session.flush()
    audit.record(session, actor, "team.member", "team", team, before=before, after=member_view(row))
    return row


def remove_member(session: Session, team: str, username: str, *, actor: str) -> None:
    """Take ``username`` out of ``team``; NotFound when they are not in it."""
    row = session.scalar(
        sa.select(TeamMember).where(TeamMember.team == team, TeamMember.username == username)
    )
    if row is None:
        raise NotFound(f"{username!r} is not in team {team!r}")
    before = member_view(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "team.member.remove", "team", team, before=before)


def manager_of(session: Session, username: str) -> str | None:
    """Whom ``username``'s approvals and escalations go to.

    The person they report to; else the lead of a team they are in (not themselves);
    else the nearest lead of a team above one of theirs. None when nobody is named.
    """
    rows = session.execute(
        sa.select(TeamMember.team, TeamMember.reports_to)
        .where(TeamMember.username == username)
        .order_by(TeamMember.team)
    ).all()
    for _, line in rows:
        if line:
            return str(line)
    leads = dict(session.execute(sa.select(Team.name, Team.lead)).all())
    for team, _ in rows:
        for name in _ancestors(session, team):
            lead = leads.get(name)
            if lead and lead != username:
                return lead
    return None


def teams_of(session: Session, username: str) -> list[str]:
    """The teams ``username`` is in or leads, and every team below those."""
    own = set(
        session.scalars(sa.select(TeamMember.team).where(TeamMember.username == username))
    ) | set(session.scalars(sa.select(Team.name).where(Team.lead == username)))
    parents = dict(session.execute(sa.select(Team.name, Team.parent)).all())
    return sorted(t for t in parents if own & set(_ancestors(session, t)))


def people_of(session: Session, team: str) -> list[str]:
    """The members and leads of ``team`` and of every team below it."""
    parents = dict(session.execute(sa.select(Team.name, Team.parent)).all())
    below = [t for t in parents if team in _ancestors(session, t)]
    people = set(
        session.scalars(sa.select(TeamMember.username).where(TeamMember.team.in_(below)))
    ) | {lead for lead in session.scalars(sa.select(Team.lead).where(Team.name.in_(below))) if lead}
    return sorted(people)


def reports_of(session: Session, username: str) -> list[str]:
    """Everyone who reports to ``username``, directly or through others."""
    lines = session.execute(
        sa.select(TeamMember.username, TeamMember.reports_to).where(
            TeamMember.reports_to.is_not(None)
        )
    ).all()
    below: dict[str, set[str]] = {}
    for who, to in lines:
        below.setdefault(str(to), set()).add(str(who))
    found: set[str] = set()
    todo = [username]
    while todo:
        for who in below.get(todo.pop(), ()):
            if who not in found and who != username:
                found.add(who)
                todo.append(who)
    return sorted(found)


def people_around(session: Session, username: str) -> list[str]:
    """The people whose work ``username`` follows ("my teams"): those who report to
    them, and the people of the teams they lead or are in, and of the teams below."""
    people = set(reports_of(session, username))
    for team in teams_of(session, username):
        people.update(people_of(session, team))
    people.discard(username)
    return sorted(people)
