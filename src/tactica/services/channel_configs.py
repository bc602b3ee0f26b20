"""Configured channels: save, list, show and remove the ways messages leave Tactica.

The specs are checked by :mod:`tactica.domain.channel_config`. Secrets are stored as
given and never leave this module unmasked except through :func:`spec_of`, which the
dispatch worker uses to build its adapters: views and the audit log show
:data:`~tactica.domain.channel_config.MASK` instead.
"""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tactica.domain.channel_config import MASK, SECRET_SETTINGS, ChannelSpec, masked_settings
from tactica.errors import InvalidInput, NotFound
from tactica.services import audit
from tactica.store.models import ChannelConfig


def _normal(cost: Decimal | None) -> Decimal | None:
    # NUMERIC(12, 4) comes back as 0.0500 (PostgreSQL) or 0.0500000000 (SQLite): the same
    # amount, written the way it was given, so that comparing and exporting are stable.
    if cost is None:
        return None
    normal = cost.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def spec_of(row: ChannelConfig) -> ChannelSpec:
    """The spec a stored channel holds, secrets included (for the adapters, not for people)."""
    return ChannelSpec(
        name=row.name,
        channel=row.channel,
        kind=row.kind,
        settings=dict(row.settings or {}),
        enabled=bool(row.enabled),
        rate_per_second=row.rate_per_second,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        timezone=row.timezone,
        max_attempts=row.max_attempts,
        retry_base_seconds=row.retry_base_seconds,
        retry_cap_seconds=row.retry_cap_seconds,
        cost_per_message=_normal(row.cost_per_message),
        daily_capacity=row.daily_capacity,
    )


def channel_view(item: ChannelSpec | ChannelConfig) -> dict[str, Any]:
    """A channel as shown to people (and to the audit log): every field, secrets masked."""
    spec = spec_of(item) if isinstance(item, ChannelConfig) else item
    return {
        "name": spec.name,
        "channel": spec.channel,
        "kind": spec.kind,
        "settings": masked_settings(spec.settings),
        "enabled": spec.enabled,
        "rate_per_second": spec.rate_per_second,
        "quiet_start": spec.quiet_start,
        "quiet_end": spec.quiet_end,
        "timezone": spec.timezone,
        "max_attempts": spec.max_attempts,
        "retry_base_seconds": spec.retry_base_seconds,
        "retry_cap_seconds": spec.retry_cap_seconds,
        "cost_per_message": spec.cost_per_message,
        "daily_capacity": spec.daily_capacity,
    }


def _row(session: Session, name: str) -> ChannelConfig | None:
    return session.scalar(sa.select(ChannelConfig).where(ChannelConfig.name == name))


def _missing(session: Session, name: str) -> NotFound:
    known = ", ".join(session.scalars(sa.select(ChannelConfig.name).order_by(ChannelConfig.name)))
    return NotFound(f"no channel {name!r}; channels are: {known or 'none yet'}")


def get_channel(session: Session, name: str) -> ChannelSpec:
    """The channel called ``name`` (secrets included); NotFound names the channels there are."""
    row = _row(session, name)
    if row is None:
        raise _missing(session, name)
    return spec_of(row)


def list_channels(session: Session) -> list[ChannelSpec]:
    """Every configured channel, by name (secrets included: show them through channel_view)."""
    rows = session.scalars(sa.select(ChannelConfig).order_by(ChannelConfig.name))
    return [spec_of(r) for r in rows]


def _keep_secrets(spec: ChannelSpec, current: ChannelSpec | None) -> ChannelSpec:
    """``spec`` with each masked secret replaced by the one already saved under that name.

    An exported channel shows its secrets masked; applying the export again must keep
    them, not save the asterisks. A mask with no saved secret behind it stays, and the
    spec's problems refuse it.
    """
    if current is None or current.kind != spec.kind or not isinstance(spec.settings, dict):
        return spec
    settings = dict(spec.settings)
    for key in SECRET_SETTINGS:
        if settings.get(key) == MASK and key in current.settings:
            settings[key] = current.settings[key]
    return replace(spec, settings=settings)


def save_channel(session: Session, spec: ChannelSpec, *, actor: str) -> str:
    """Create or replace the channel ``spec.name``; returns created, updated or unchanged.

    A secret given as the mask keeps the secret saved for this channel (see
    :func:`_keep_secrets`). InvalidInput lists every problem, each naming its field.
    """
    row = _row(session, spec.name) if isinstance(spec.name, str) else None
    current = spec_of(row) if row is not None else None
    spec = _keep_secrets(spec, current)
    problems = spec.problems()
    if problems:
        raise InvalidInput(
            "has problems:\n- " + "\n- ".join(problems), where=f"channel {spec.name!r}"
        )
    if current == spec:
        return "unchanged"
    values: dict[str, Any] = {f.name: getattr(spec, f.name) for f in fields(spec)}
    del values["name"]
    values["settings"] = dict(spec.settings)
    if row is None:
        session.add(ChannelConfig(name=spec.name, **values))
        session.flush()
        audit.record(session, actor, "create", "channel", spec.name, None, channel_view(spec))
        return "created"
    assert current is not None
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    audit.record(
        session, actor, "update", "channel", spec.name, channel_view(current), channel_view(spec)
    )
    return "updated"


def delete_channel(session: Session, name: str, *, actor: str) -> None:
    """Remove a configured channel (messages already queued wait for another one)."""
    row = _row(session, name)
    if row is None:
        raise _missing(session, name)
    before = channel_view(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "delete", "channel", name, before, None)
