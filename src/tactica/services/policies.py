"""Named contact policies, stored as data and turned into the domain's rules.

A policy document (YAML or JSON) looks like::

    name: default
    per_run: 1
    rules:
      - {type: cap, name: global-30d, max: 3, days: 30}
      - {type: cap, name: sms-week, max: 1, calendar: week, channel: sms}
      - {type: gap, name: gap-48h, hours: 48}
      - {type: no_repeat, name: offer-14d, days: 14}
    daily_capacity: {phone: 500}   # contacts a day per channel, all programs together
    timezone: Europe/Lisbon        # the day daily capacities count in (default UTC)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.policy import (
    Calendar,
    ContactPolicy,
    DailyCapacity,
    FrequencyCap,
    MinGap,
    NoRepeatOffer,
    Rule,
    Scope,
)
from tactica.domain.schema import CHANNELS
from tactica.errors import Conflict, InvalidInput, NotFound
from tactica.services import audit
from tactica.store.models import ContactPolicyRow, Program

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
_RULE_KEYS = {
    "cap": {"type", "name", "max", "days", "calendar", "channel", "campaign_kind"},
    "gap": {"type", "name", "hours", "channel", "campaign_kind"},
    "no_repeat": {"type", "name", "days"},
}


def _int(raw: Any, where: str, problems: list[str], low: int = 0) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
        problems.append(f"{where}: a whole number of at least {low}, got {raw!r}")
        return low
    return raw


def parse_rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    """One rule from its data form; problems are appended with their place."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: a mapping with a 'type' (cap, gap or no_repeat)")
        return None
    kind = raw.get("type")
    if kind not in _RULE_KEYS:
        problems.append(f"{where}.type: one of cap, gap, no_repeat, got {kind!r}")
        return None
    unknown = set(raw) - _RULE_KEYS[kind]
    if unknown:
        allowed = ", ".join(sorted(_RULE_KEYS[kind]))
        problems.append(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"a {kind} rule takes {allowed}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}.name: lower-case letters, digits, '_' or '-', got {name!r}")
        name = "rule"
    channel = raw.get("channel")
    if channel is not None and channel not in CHANNELS:
        problems.append(f"{where}.channel: one of {', '.join(CHANNELS)}, got {channel!r}")
    scope = Scope(channel=channel, campaign_kind=raw.get("campaign_kind"))
    if kind == "cap":
        n = _int(raw.get("max"), f"{where}.max", problems)
        days, cal = raw.get("days"), raw.get("calendar")
        if (days is None) == (cal is None):
            problems.append(f"{where}: give either days (rolling) or calendar (day, week, month)")
            return None
        if days is not None:
            return FrequencyCap(name, n, days=_int(days, f"{where}.days", problems, 1), scope=scope)
        try:
            return FrequencyCap(name, n, calendar=Calendar(str(cal)), scope=scope)
        except ValueError:
            problems.append(f"{where}.calendar: day, week or month, got {cal!r}")
            return None
    if kind == "gap":
        hours = raw.get("hours")
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
            problems.append(f"{where}.hours: a number of hours, 0 or more, got {hours!r}")
            return None
        return MinGap(name, float(hours), scope=scope)
    return NoRepeatOffer(name, _int(raw.get("days"), f"{where}.days", problems, 1))


def rule_data(rule: Rule) -> dict[str, Any]:
    """The data form of a rule (what YAML and the database hold)."""
    if isinstance(rule, FrequencyCap):
        out: dict[str, Any] = {"type": "cap", "name": rule.name, "max": rule.max_contacts}
        if rule.days is not None:
            out["days"] = rule.days
        else:
            out["calendar"] = rule.calendar.value if rule.calendar else None
    elif isinstance(rule, MinGap):
        out = {"type": "gap", "name": rule.name, "hours": rule.hours}
    else:
        return {"type": "no_repeat", "name": rule.name, "days": rule.days}
    if rule.scope.channel:
        out["channel"] = rule.scope.channel
    if rule.scope.campaign_kind:
        out["campaign_kind"] = rule.scope.campaign_kind
    return out


def parse_policy(raw: Mapping[str, Any], where: str = "policy") -> tuple[str, str, ContactPolicy]:
    """Name, description and rules of a policy document; InvalidInput lists every problem."""
    problems: list[str] = []
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}.name: lower-case letters, digits, '_' or '-', got {name!r}")
    per_run = _int(raw.get("per_run", 1), f"{where}.per_run", problems, 1)
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        problems.append(f"{where}.rules: a list of rules")
        rules_raw = []
    rules = [parse_rule(r, f"{where}.rules[{i}]", problems) for i, r in enumerate(rules_raw)]
    names = [r.name for r in rules if r is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"{where}.rules: rule names must differ; repeated: {', '.join(dupes)}")
    daily = _daily_capacity(raw.get("daily_capacity") or {}, where, problems)
    timezone = _timezone(raw.get("timezone", "UTC"), where, problems)
    if problems:
        raise InvalidInput("the policy has problems:\n- " + "\n- ".join(problems))
    description = str(raw.get("description", ""))
    policy = ContactPolicy(tuple(r for r in rules if r), per_run, daily, timezone)
    return str(name), description, policy


def _daily_capacity(raw: Any, where: str, problems: list[str]) -> tuple[DailyCapacity, ...]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}.daily_capacity: a mapping of channel to contacts a day")
        return ()
    out = []
    for channel, n in raw.items():
        if channel not in CHANNELS:
            problems.append(
                f"{where}.daily_capacity.{channel}: not a channel; "
                f"channels are {', '.join(CHANNELS)}"
            )
            continue
        out.append(DailyCapacity(channel, _int(n, f"{where}.daily_capacity.{channel}", problems)))
    return tuple(sorted(out, key=lambda d: d.channel))


def _timezone(raw: Any, where: str, problems: list[str]) -> str:
    if isinstance(raw, str) and raw:
        try:
            ZoneInfo(raw)
            return raw
        except (ZoneInfoNotFoundError, ValueError):
            pass
    problems.append(f"{where}.timezone: a time zone name such as Europe/Lisbon, got {raw!r}")
    return "UTC"


def policy_data(row: ContactPolicyRow) -> dict[str, Any]:
    """A stored policy as its document."""
    return {
        "name": row.name,
        "description": row.description,
        "per_run": row.per_run,
        "rules": list(row.rules),
        "daily_capacity": dict(row.daily_capacity or {}),
        "timezone": row.timezone or "UTC",
    }


def get_policy(session: Session, name: str) -> ContactPolicy:
    """The domain policy stored under ``name``."""
    row = session.scalar(sa.select(ContactPolicyRow).where(ContactPolicyRow.name == name))
    if row is None:
        known = ", ".join(session.scalars(sa.select(ContactPolicyRow.name)))
        raise NotFound(f"no contact policy {name!r}; policies are: {known or '(none)'}")
    return parse_policy(policy_data(row))[2]


def list_policies(session: Session) -> list[dict[str, Any]]:
    """Every policy as its document."""
    rows = session.scalars(sa.select(ContactPolicyRow).order_by(ContactPolicyRow.name))
    return [policy_data(r) for r in rows]


def apply_policy(
    session: Session, raw: Mapping[str, Any], *, actor: str, where: str = "policy"
) -> str:
    """Create or replace a policy from its document; returns 'created', 'updated' or 'unchanged'."""
    name, description, policy = parse_policy(raw, where)
    rules = [rule_data(r) for r in policy.rules]
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "per_run": policy.per_run,
        "rules": rules,
        "daily_capacity": {d.channel: d.per_day for d in policy.daily_capacity},
        "timezone": policy.timezone,
    }
    row = session.scalar(sa.select(ContactPolicyRow).where(ContactPolicyRow.name == name))
    if row is None:
        session.add(ContactPolicyRow(**data))
        audit.record(session, actor, "create", "contact_policy", name, None, data)
        return "created"
    before = policy_data(row)
    if before == data:
        return "unchanged"
    row.description, row.per_run, row.rules = description, policy.per_run, rules
    row.daily_capacity, row.timezone = data["daily_capacity"], policy.timezone
    audit.record(session, actor, "update", "contact_policy", name, before, data)
    return "updated"


def delete_policy(session: Session, name: str, *, actor: str) -> None:
    """Remove a policy no program uses."""
    row = session.scalar(sa.select(ContactPolicyRow).where(ContactPolicyRow.name == name))
    if row is None:
        raise NotFound(f"no contact policy {name!r}")
    users = list(session.scalars(sa.select(Program.name).where(Program.policy == name)))
    if users:
        raise Conflict(f"policy {name!r} is used by program(s) {', '.join(users)}")
    before = policy_data(row)
    session.delete(row)
    audit.record(session, actor, "delete", "contact_policy", name, before, None)
