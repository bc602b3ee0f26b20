"""The deployment's rules for understanding replies, as stored in the database.

A new workspace starts with the built-in English, Chinese and Russian rules; a
marketer adds keyword or pattern rules, switches rules off and on, and removes the
ones they added. Built-in rules are switched off rather than removed, so an upgrade
can tell them apart.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.replies import ReplyOutcome, ReplyRule, normalise
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.store.models import ReplyRuleRow

LANGUAGES = ("en", "zh", "ru")
_NAME = re.compile(r"^[\w.\-]{1,100}$")


def rule_view(r: ReplyRuleRow) -> dict[str, Any]:
    """A stored rule as the API and CLI show it."""
    return {
        "id": r.id,
        "name": r.name,
        "language": r.language,
        "outcome": r.outcome,
        "kind": r.kind,
        "text": r.text,
        "priority": r.priority,
        "simplified": r.simplified,
        "active": r.active,
        "source": r.source,
        "created_by": r.created_by,
    }


def to_rule(r: ReplyRuleRow) -> ReplyRule:
    """The domain rule of a stored row."""
    return ReplyRule(
        name=r.name,
        outcome=ReplyOutcome(r.outcome),
        kind=r.kind,
        text=r.text,
        language=r.language,
        priority=r.priority,
        simplified=r.simplified,
    )


def active_rules(session: Session) -> list[ReplyRule]:
    """The rules replies are classified with now: every active stored rule."""
    rows = session.scalars(
        sa.select(ReplyRuleRow).where(ReplyRuleRow.active.is_(True)).order_by(ReplyRuleRow.id)
    )
    return [to_rule(r) for r in rows]


def list_rules(
    session: Session, *, language: str | None = None, include_inactive: bool = True
) -> list[ReplyRuleRow]:
    """Stored rules, by language then name."""
    q = sa.select(ReplyRuleRow).order_by(ReplyRuleRow.language, ReplyRuleRow.name)
    if language:
        q = q.where(sa.or_(ReplyRuleRow.language == language, ReplyRuleRow.language.is_(None)))
    if not include_inactive:
        q = q.where(ReplyRuleRow.active.is_(True))
    return list(session.scalars(q))


def _get(session: Session, name: str) -> ReplyRuleRow:
    r = session.scalar(sa.select(ReplyRuleRow).where(ReplyRuleRow.name == name))
    if r is None:
        raise NotFound(f"no reply rule {name!r}")
    return r


def add_rule(
    session: Session,
    *,
    outcome: str,
    text: str,
    actor: str,
    language: str | None = None,
    kind: str = "keyword",
    name: str | None = None,
    priority: int = 0,
    simplified: bool = False,
    source: str = "manual",
) -> ReplyRuleRow:
    """Add a rule; every problem (outcome, kind, language, pattern, name) is reported at once."""
    problems: list[str] = []
    outcomes = [o.value for o in ReplyOutcome if o is not ReplyOutcome.OTHER]
    if outcome not in outcomes:
        problems.append(f"outcome: one of {', '.join(outcomes)}, got {outcome!r}")
    if language is not None and language not in LANGUAGES:
        problems.append(f"language: one of {', '.join(LANGUAGES)} (or none), got {language!r}")
    if name is None:
        words = normalise(text).replace(" ", "-")[:60] or "rule"
        name = f"{language or 'any'}-{outcome}-{words}"
    if not _NAME.match(name):
        problems.append(f"name: letters, digits, '.', '_' and '-' (at most 100), got {name!r}")
    elif session.scalar(sa.select(ReplyRuleRow.id).where(ReplyRuleRow.name == name)):
        problems.append(f"name: a rule called {name!r} exists already")
    rule = ReplyRule(name, ReplyOutcome.OTHER, kind, text, language, priority, simplified)
    problems += [p.split(": ", 1)[1] if p.startswith("rule ") else p for p in rule.problems()]
    if problems:
        raise InvalidInput("; ".join(problems), where=f"reply rule {name!r}")
    row = ReplyRuleRow(
        name=name,
        language=language,
        outcome=outcome,
        kind=kind,
        text=text,
        priority=priority,
        simplified=simplified,
        active=True,
        source=source,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "reply_rule", name, None, rule_view(row))
    return row


def set_active(session: Session, name: str, active: bool, *, actor: str) -> ReplyRuleRow:
    """Switch a rule on or off."""
    r = _get(session, name)
    before = rule_view(r)
    r.active = active
    session.flush()
    audit.record(session, actor, "update", "reply_rule", name, before, rule_view(r))
    return r


def remove_rule(session: Session, name: str, *, actor: str) -> None:
    """Remove a rule a person added; built-in rules are switched off instead."""
    r = _get(session, name)
    if r.source == "default":
        raise Conflict(f"{name!r} is a built-in rule: switch it off (disable) instead")
    before = rule_view(r)
    session.delete(r)
    session.flush()
    audit.record(session, actor, "delete", "reply_rule", name, before, None)
