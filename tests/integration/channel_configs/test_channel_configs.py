"""Configured channels on both databases: saved checked, secrets kept but never shown."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tactica.domain.channel_config import MASK, ChannelSpec
from tactica.errors import InvalidInput, NotFound
from tactica.services import channel_configs
from tactica.store.db import Store

API_KEY = "sk-live-0123456789"
TOKEN = "receipts-abcdef"


def _gateway(**kw: object) -> ChannelSpec:
    settings = {
        "url": "https://sms.example.com/v1",
        "api_key": API_KEY,
        "receipts_token": TOKEN,
        "sender": "Tactica",
        "batch_size": 50,
    }
    return ChannelSpec.for_kind("gateway", "sms_http", settings, **kw)  # type: ignore[arg-type]


def test_save_get_list_delete(store: Store) -> None:
    spec = _gateway(
        rate_per_second=50.0,
        quiet_start="21:00",
        quiet_end="08:00",
        timezone="Europe/Lisbon",
        cost_per_message=Decimal("0.05"),
    )
    centre = ChannelSpec.for_kind(
        "calls", "call_centre", {"folder": "/srv/calls"}, daily_capacity=400
    )
    with store.session() as s:
        assert channel_configs.save_channel(s, spec, actor="ana") == "created"
        assert channel_configs.save_channel(s, centre, actor="ana") == "created"
        s.commit()
    with store.session() as s:
        # Exactly what was saved, secrets included (the dispatch worker needs them).
        assert channel_configs.get_channel(s, "gateway") == spec
        assert channel_configs.get_channel(s, "gateway").cost_per_message == Decimal("0.05")
        assert [c.name for c in channel_configs.list_channels(s)] == ["calls", "gateway"]
        assert channel_configs.save_channel(s, spec, actor="ana") == "unchanged"
        faster = _gateway(rate_per_second=80.0)
        assert channel_configs.save_channel(s, faster, actor="ana") == "updated"
        s.commit()
        assert channel_configs.get_channel(s, "gateway").quiet_start is None
        channel_configs.delete_channel(s, "calls", actor="ana")
        s.commit()
        with pytest.raises(NotFound, match="no channel 'calls'; channels are: gateway"):
            channel_configs.get_channel(s, "calls")
        with pytest.raises(NotFound, match="no channel 'calls'"):
            channel_configs.delete_channel(s, "calls", actor="ana")


def test_secrets_are_masked_in_views_and_in_the_audit_log(store: Store) -> None:
    with store.session() as s:
        channel_configs.save_channel(s, _gateway(), actor="ana")
        channel_configs.save_channel(s, _gateway(rate_per_second=5.0), actor="ana")
        s.commit()
        view = channel_configs.channel_view(channel_configs.get_channel(s, "gateway"))
        assert view["settings"] == {
            "url": "https://sms.example.com/v1",
            "api_key": MASK,
            "receipts_token": MASK,
            "sender": "Tactica",
            "batch_size": 50,
        }
        audit = s.execute(
            sa.text("SELECT before, after FROM audit_log WHERE entity_type = 'channel'")
        ).all()
    assert len(audit) == 2
    logged = json.dumps([[r[0], r[1]] for r in audit], default=str)
    assert API_KEY not in logged and TOKEN not in logged and MASK in logged


def test_the_mask_keeps_the_saved_secret_and_is_refused_without_one(store: Store) -> None:
    masked = {
        "url": "https://sms.example.com/v2",
        "api_key": MASK,
        "receipts_token": MASK,
    }
    with store.session() as s:
        with pytest.raises(InvalidInput) as err:
            channel_configs.save_channel(
                s, ChannelSpec.for_kind("gateway", "sms_http", masked), actor="t"
            )
        assert str(err.value).startswith("channel 'gateway': has problems:")
        assert "settings.api_key: '********' is the mask" in str(err.value)
        channel_configs.save_channel(s, _gateway(), actor="t")
        spec = ChannelSpec.for_kind("gateway", "sms_http", masked)
        assert channel_configs.save_channel(s, spec, actor="t") == "updated"
        s.commit()
        kept = channel_configs.get_channel(s, "gateway").settings
    assert kept == {
        "url": "https://sms.example.com/v2",
        "api_key": API_KEY,
        "receipts_token": TOKEN,
    }


def test_every_problem_is_named(store: Store) -> None:
    bad = ChannelSpec.for_kind(
        "mail",
        "smtp",
        {"host": "mail.example.com", "port": 70000, "sender": "x@example.com", "tls": True},
        quiet_start="25:00",
        quiet_end="08:00",
        max_attempts=0,
    )
    with store.session() as s, pytest.raises(InvalidInput) as err:
        channel_configs.save_channel(s, bad, actor="t")
    assert str(err.value) == (
        "channel 'mail': has problems:\n"
        "- settings.port: a whole number from 1 to 65535, got 70000\n"
        "- settings.tls: unknown setting for kind smtp; its settings are: "
        "host, port, sender, username, password, starttls, reply_to, inbound_token\n"
        "- quiet_start: a time of day like 21:00 (HH:MM, 00:00-23:59), got '25:00'\n"
        "- max_attempts: a whole number from 1 to 1000, got 0"
    )
    with store.session() as s:
        assert channel_configs.list_channels(s) == []
