"""Channel specs: every field checked and named, secrets masked, documents read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.channel_config import (
    KINDS,
    MASK,
    ChannelSpec,
    masked_settings,
    parse_quiet_hours,
    read_spec,
    setting_from_text,
    settings_of,
)

GOOD_SETTINGS: dict[str, dict[str, Any]] = {
    "smtp": {"host": "mail.example.com", "port": 587, "sender": "offers@example.com"},
    "sms_http": {"url": "https://sms.example.com/api", "api_key": "k-123"},
    "webhook": {"url": "http://127.0.0.1:9000/hook", "secret": "s3cret"},
    "call_centre": {"folder": "/srv/call-centre/outbox"},
}


def _spec(kind: str = "sms_http", **kw: Any) -> ChannelSpec:
    settings = kw.pop("settings", GOOD_SETTINGS[kind])
    return ChannelSpec.for_kind(kw.pop("name", "gw"), kind, settings, **kw)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_serves_its_channel_and_a_good_spec_has_no_problems(kind: str) -> None:
    spec = _spec(kind)
    assert spec.channel == KINDS[kind]
    assert spec.problems() == []
    assert (spec.timezone, spec.max_attempts, spec.retry_base_seconds) == ("UTC", 5, 30.0)
    assert (spec.retry_cap_seconds, spec.enabled, spec.rate_per_second) == (3600.0, True, None)


def test_the_channel_must_be_the_one_the_kind_serves() -> None:
    spec = ChannelSpec("gw", "email", "sms_http", GOOD_SETTINGS["sms_http"])
    assert spec.problems() == ["channel: kind sms_http serves sms, not 'email'"]
    assert ChannelSpec.for_kind("x", "pigeon", {}).problems() == [
        "kind: unknown kind 'pigeon'; kinds are: smtp, sms_http, webhook, call_centre"
    ]


def test_settings_required_unknown_and_typed() -> None:
    problems = _spec(
        "smtp",
        settings={"host": "", "port": "587", "starttls": "yes", "colour": "blue"},
    ).problems()
    assert problems == [
        "settings.sender: is required for kind smtp",
        "settings.host: is empty",
        "settings.port: a whole number from 1 to 65535, got '587'",
        "settings.starttls: true or false, got 'yes'",
        "settings.colour: unknown setting for kind smtp; its settings are: "
        "host, port, sender, username, password, starttls, reply_to, inbound_token",
    ]
    assert _spec("smtp", settings={**GOOD_SETTINGS["smtp"], "sender": "offers"}).problems() == [
        "settings.sender: an e-mail address such as offers@example.com, got 'offers'"
    ]
    bad_reply = {**GOOD_SETTINGS["smtp"], "reply_to": "replies"}
    assert _spec("smtp", settings=bad_reply).problems() == [
        "settings.reply_to: an e-mail address such as replies@example.com, got 'replies'"
    ]
    assert _spec("sms_http", settings={"url": "ftp://x", "api_key": "k"}).problems() == [
        "settings.url: an http:// or https:// URL, got 'ftp://x'"
    ]
    assert _spec("sms_http", settings={**GOOD_SETTINGS["sms_http"], "batch_size": 0}).problems()
    assert _spec("call_centre", settings={"folder": "/x", "script": "Hello"}).problems() == []


def test_the_mask_is_refused_as_a_secret() -> None:
    spec = _spec("webhook", settings={"url": "https://h.example.com", "secret": MASK})
    assert spec.problems() == [
        "settings.secret: '********' is the mask shown in place of a secret, not a secret; "
        "give the real value"
    ]


def test_limits_hours_and_zone_are_named() -> None:
    spec = _spec(
        rate_per_second=0,
        quiet_start="21:00",
        timezone="Mars/Olympus",
        max_attempts=0,
        retry_base_seconds=60.0,
        retry_cap_seconds=30.0,
        cost_per_message=Decimal("-0.01"),
        daily_capacity=-1,
    )
    assert spec.problems() == [
        "rate_per_second: a number above 0, got 0",
        "quiet_start, quiet_end: give both ends of the quiet hours, or neither",
        "timezone: a time zone name such as Europe/Lisbon, got 'Mars/Olympus'",
        "max_attempts: a whole number from 1 to 1000, got 0",
        "retry_cap_seconds: 30.0 is below retry_base_seconds 60.0",
        "cost_per_message: an amount from 0 to 99999999.9999, got -0.01",
        "daily_capacity: a whole number from 0 to 1000000000000000, got -1",
    ]
    assert _spec(cost_per_message=Decimal("0.00001")).problems() == [
        "cost_per_message: at most 4 decimal places, got 0.00001"
    ]
    assert _spec(quiet_start="22:00", quiet_end="22:00").problems() == [
        "quiet_start, quiet_end: the quiet hours start and end at 22:00"
    ]
    good = _spec(
        rate_per_second=50.0,
        quiet_start="21:00",
        quiet_end="08:00",
        timezone="Europe/Lisbon",
        cost_per_message=Decimal("0.05"),
    )
    assert good.problems() == []
    assert _spec(daily_capacity=400).problems() == [
        "daily_capacity: only a call centre has one; cap a channel's contacts a day with "
        "the contact policy's daily_capacity"
    ]


_TIMES = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]


@given(st.sampled_from(_TIMES), st.sampled_from(_TIMES))
def test_every_pair_of_distinct_times_is_a_quiet_window(start: str, end: str) -> None:
    problems = _spec(quiet_start=start, quiet_end=end).problems()
    assert problems == ([] if start != end else [problems[0]])
    assert parse_quiet_hours(f"{start}-{end}") == (start, end)


@given(st.text(max_size=8))
def test_a_quiet_time_is_exactly_hh_mm(text: str) -> None:
    problems = _spec(quiet_start=text, quiet_end="08:00" if text != "08:00" else "09:00").problems()
    valid = text in _TIMES
    assert (problems == []) is valid
    if not valid:
        assert problems[0].startswith("quiet_start: a time of day like 21:00")


@given(st.integers(min_value=0, max_value=99), st.integers(min_value=0, max_value=99))
def test_hours_and_minutes_out_of_range_are_refused(h: int, m: int) -> None:
    text = f"{h:02d}:{m:02d}"
    assert (
        _spec(quiet_start=text, quiet_end="23:59" if text != "23:59" else "00:00").problems() == []
    ) is (h < 24 and m < 60)


@given(st.text(max_size=40))
def test_any_time_zone_text_is_either_loaded_or_named(tz: str) -> None:
    problems = _spec(timezone=tz).problems()
    assert problems == [] or problems == [
        f"timezone: a time zone name such as Europe/Lisbon, got {tz!r}"
    ]


def test_bad_quiet_hours_text() -> None:
    for text in ("21:00", "21-08", "25:00-08:00", "21:00-8:00", ""):
        with pytest.raises(ValueError, match="quiet hours like 21:00-08:00"):
            parse_quiet_hours(text)


def test_secrets_are_masked_and_the_rest_shown() -> None:
    settings = {
        "url": "https://x.example.com",
        "api_key": "k",
        "receipts_token": "t",
        "sender": "S",
    }
    assert masked_settings(settings) == {
        "url": "https://x.example.com",
        "api_key": MASK,
        "receipts_token": MASK,
        "sender": "S",
    }
    assert masked_settings({"host": "h", "password": "pw"})["password"] == MASK


def test_settings_from_the_command_line() -> None:
    assert setting_from_text("port", "587") == 587
    assert setting_from_text("port", "five") == "five"
    assert setting_from_text("starttls", "Yes") is True
    assert setting_from_text("starttls", "off") is False
    assert setting_from_text("api_key", "123") == "123"
    settings, problems = settings_of(["url=http://h/a=b", "api_key=k", "oops", "=v"])
    assert settings == {"url": "http://h/a=b", "api_key": "k"}
    assert problems == ["settings: 'oops' is not key=value", "settings: '=v' is not key=value"]


def test_read_spec_from_a_document() -> None:
    spec, problems = read_spec(
        {
            "name": "gw",
            "kind": "sms_http",
            "settings": GOOD_SETTINGS["sms_http"],
            "rate_per_second": 50,
            "quiet_start": 1260,  # YAML 1.1 reads an unquoted 21:00 as 1260
            "quiet_end": "08:00",
            "cost_per_message": 0.05,
        }
    )
    assert problems == []
    assert spec is not None and spec.problems() == []
    assert (spec.channel, spec.rate_per_second, spec.quiet_start) == ("sms", 50.0, "21:00")
    assert spec.cost_per_message == Decimal("0.05")
    spec, problems = read_spec({"name": "gw", "kind": "smtp", "colour": 1, "cost_per_message": "x"})
    assert spec is None
    assert problems == [
        "unknown key(s) colour; a channel takes name, channel, kind, settings, enabled, "
        "rate_per_second, quiet_start, quiet_end, timezone, max_attempts, retry_base_seconds, "
        "retry_cap_seconds, cost_per_message, daily_capacity",
        "cost_per_message: an amount such as 0.05, got 'x'",
    ]
    assert read_spec({"kind": "smtp"}) == (None, ["name: text is required, got None"])
