"""Configured channels: how messages leave Tactica, checked before they are saved.

A :class:`ChannelSpec` is one way out — an SMTP server, an SMS gateway, a webhook or a
call centre's folder — with its settings, its rate limit, its quiet hours and its
retry policy. Each *kind* of adapter serves one contact channel:

=============  ===========  ====================================================================
kind           channel      settings (required; *optional*)
=============  ===========  ====================================================================
``smtp``       email        host, port, sender; *username, password, starttls, reply_to,*
                            *inbound_token*
``sms_http``   sms          url, api_key; *sender, batch_size, receipts_token, inbound_token*
``webhook``    webhook      url, secret; *inbound_token*
``call_centre`` phone       folder (where the daily CSV files go); *script*
=============  ===========  ====================================================================

Secrets (:data:`SECRET_SETTINGS`) are kept as given but never shown: views replace
them with :data:`MASK`, and :meth:`ChannelSpec.problems` refuses the mask as a value,
so a masked export cannot overwrite a real secret with asterisks by accident.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

__all__ = [
    "KINDS",
    "MASK",
    "SECRET_SETTINGS",
    "ChannelSpec",
    "kind_settings",
    "masked_settings",
    "parse_quiet_hours",
    "read_spec",
    "setting_from_text",
    "settings_of",
]

#: Each adapter kind and the contact channel it serves.
KINDS: dict[str, str] = {
    "smtp": "email",
    "sms_http": "sms",
    "webhook": "webhook",
    "call_centre": "phone",
}

_REQUIRED: dict[str, tuple[str, ...]] = {
    "smtp": ("host", "port", "sender"),
    "sms_http": ("url", "api_key"),
    "webhook": ("url", "secret"),
    "call_centre": ("folder",),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "smtp": ("username", "password", "starttls", "reply_to", "inbound_token"),
    "sms_http": ("sender", "batch_size", "receipts_token", "inbound_token"),
    "webhook": ("inbound_token",),
    "call_centre": ("script",),
}


def kind_settings() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each kind's settings: those it requires and those it may also take (for help
    next to a form that asks for them)."""
    return {kind: (_REQUIRED[kind], _OPTIONAL[kind]) for kind in KINDS}


#: Settings that are secrets: stored as given, shown as :data:`MASK`.
SECRET_SETTINGS = frozenset({"password", "api_key", "secret", "receipts_token", "inbound_token"})

#: What a view shows in place of a secret.
MASK = "********"

# Whole-number settings and their bounds; booleans; URLs. Every other setting is text.
_INT_SETTINGS: dict[str, tuple[int, int]] = {"port": (1, 65535), "batch_size": (1, 10_000)}
_BOOL_SETTINGS = frozenset({"starttls"})
_URL_SETTINGS = frozenset({"url"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_MAX_ATTEMPTS = 1000
# The store keeps costs as NUMERIC(12, 4) and capacities as BIGINT: stay inside both.
_MAX_COST = Decimal("99999999.9999")
_MAX_CAPACITY = 10**15
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class ChannelSpec:
    """One configured channel (not yet checked; see :meth:`problems`).

    ``channel`` is the contact channel the ``kind`` serves (:data:`KINDS`);
    ``rate_per_second`` None means no limit; ``quiet_start``/``quiet_end`` ("HH:MM",
    both or neither) are the hours nothing is sent, read in ``timezone`` — a window
    such as 21:00-08:00 runs over midnight. A failed message is tried at most
    ``max_attempts`` times, waiting ``retry_base_seconds`` doubled at each attempt up
    to ``retry_cap_seconds``. ``daily_capacity`` is what a call centre handles a day.
    """

    name: str
    channel: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    rate_per_second: float | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str = "UTC"
    max_attempts: int = 5
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    cost_per_message: Decimal | None = None
    daily_capacity: int | None = None

    @classmethod
    def for_kind(cls, name: str, kind: str, settings: Mapping[str, Any], **kw: Any) -> ChannelSpec:
        """A spec whose channel is the one ``kind`` serves (empty for an unknown kind)."""
        return cls(name, KINDS.get(kind, ""), kind, dict(settings), **kw)

    def problems(self) -> list[str]:
        """Every reason this spec cannot be saved, each naming its field; empty when it can."""
        out: list[str] = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            out.append(
                f"name: letters, digits, '_', '.' or '-', at most 100, "
                f"starting with a letter or digit; got {self.name!r}"
            )
        if self.kind not in KINDS:
            out.append(f"kind: unknown kind {self.kind!r}; kinds are: {', '.join(KINDS)}")
        else:
            if self.channel != KINDS[self.kind]:
                out.append(
                    f"channel: kind {self.kind} serves {KINDS[self.kind]}, not {self.channel!r}"
                )
            out += _settings_problems(self.kind, self.settings)
        if not isinstance(self.enabled, bool):
            out.append(f"enabled: true or false, got {self.enabled!r}")
        if self.rate_per_second is not None and not _positive(self.rate_per_second):
            out.append(f"rate_per_second: a number above 0, got {self.rate_per_second!r}")
        out += _quiet_problems(self.quiet_start, self.quiet_end)
        out += _timezone_problems(self.timezone)
        if not _whole(self.max_attempts) or not 1 <= self.max_attempts <= _MAX_ATTEMPTS:
            out.append(
                f"max_attempts: a whole number from 1 to {_MAX_ATTEMPTS}, got {self.max_attempts!r}"
            )
        out += _retry_problems(self.retry_base_seconds, self.retry_cap_seconds)
        if self.cost_per_message is not None:
            out += _cost_problems(self.cost_per_message)
        if self.daily_capacity is not None and (
            not _whole(self.daily_capacity) or not 0 <= self.daily_capacity <= _MAX_CAPACITY
        ):
            out.append(
                f"daily_capacity: a whole number from 0 to {_MAX_CAPACITY}, "
                f"got {self.daily_capacity!r}"
            )
        elif self.daily_capacity is not None and self.kind in KINDS and self.kind != "call_centre":
            # A channel's contacts per day are the contact policy's daily_capacity,
            # decided with the run; here it is the people taking a call centre's list.
            out.append(
                "daily_capacity: only a call centre has one; cap a channel's contacts a "
                "day with the contact policy's daily_capacity"
            )
        return out


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: object) -> bool:
    """True for a finite number above 0 (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value > 0


def _settings_problems(kind: str, settings: object) -> list[str]:
    if not isinstance(settings, Mapping):
        return [f"settings: a mapping of setting to value, got {settings!r}"]
    known = (*_REQUIRED[kind], *_OPTIONAL[kind])
    out: list[str] = []
    for key in _REQUIRED[kind]:
        if key not in settings:
            out.append(f"settings.{key}: is required for kind {kind}")
    for key, value in settings.items():
        if key not in known:
            out.append(
                f"settings.{key}: unknown setting for kind {kind}; "
                f"its settings are: {', '.join(known)}"
            )
            continue
        why = _value_problem(kind, key, value)
        if why:
            out.append(f"settings.{key}: {why}")
    return out


def _value_problem(kind: str, key: str, value: object) -> str | None:
    """Why ``value`` cannot be setting ``key``, or None."""
    if key in SECRET_SETTINGS and value == MASK:
        return f"{MASK!r} is the mask shown in place of a secret, not a secret; give the real value"
    if key in _INT_SETTINGS:
        low, high = _INT_SETTINGS[key]
        if not _whole(value) or not low <= value <= high:  # type: ignore[operator]
            return f"a whole number from {low} to {high}, got {value!r}"
        return None
    if key in _BOOL_SETTINGS:
        return None if isinstance(value, bool) else f"true or false, got {value!r}"
    if not isinstance(value, str):
        return f"text, got {value!r}"
    if not value.strip():
        return "is empty"
    if "\x00" in value:
        return "must not contain NUL characters"
    if key in _URL_SETTINGS:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return f"an http:// or https:// URL, got {value!r}"
    if kind == "smtp" and key == "sender" and "@" not in value:
        return f"an e-mail address such as offers@example.com, got {value!r}"
    if kind == "smtp" and key == "reply_to" and "@" not in value:
        return f"an e-mail address such as replies@example.com, got {value!r}"
    return None


def _quiet_problems(start: object, end: object) -> list[str]:
    out: list[str] = []
    for place, value in (("quiet_start", start), ("quiet_end", end)):
        if value is not None and (not isinstance(value, str) or not _TIME.match(value)):
            out.append(f"{place}: a time of day like 21:00 (HH:MM, 00:00-23:59), got {value!r}")
    if (start is None) != (end is None):
        out.append("quiet_start, quiet_end: give both ends of the quiet hours, or neither")
    elif start is not None and start == end:
        out.append(f"quiet_start, quiet_end: the quiet hours start and end at {start}")
    return out


def _timezone_problems(tz: object) -> list[str]:
    why = f"timezone: a time zone name such as Europe/Lisbon, got {tz!r}"
    if not isinstance(tz, str) or not tz or len(tz) > 64:
        return [why]
    try:
        ZoneInfo(tz)
    # ZoneInfoNotFoundError is a KeyError; malformed keys raise ValueError; a key that
    # names a folder of the time zone database raises an OSError.
    except (KeyError, ValueError, OSError):
        return [why]
    return []


def _retry_problems(base: object, cap: object) -> list[str]:
    out: list[str] = []
    if not _positive(base):
        out.append(f"retry_base_seconds: a number of seconds above 0, got {base!r}")
    if not _positive(cap):
        out.append(f"retry_cap_seconds: a number of seconds above 0, got {cap!r}")
    elif _positive(base) and cap < base:  # type: ignore[operator]
        out.append(f"retry_cap_seconds: {cap} is below retry_base_seconds {base}")
    return out


def _cost_problems(cost: object) -> list[str]:
    if not isinstance(cost, Decimal) or not cost.is_finite():
        return [f"cost_per_message: an amount such as 0.05, got {cost!r}"]
    if cost < 0 or cost > _MAX_COST:
        return [f"cost_per_message: an amount from 0 to {_MAX_COST}, got {cost}"]
    exponent = cost.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        return [f"cost_per_message: at most 4 decimal places, got {cost}"]
    return []


# --------------------------------------------------------------------------- showing


def masked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with every secret replaced by :data:`MASK`, for showing or exporting."""
    return {k: (MASK if k in SECRET_SETTINGS and v is not None else v) for k, v in settings.items()}


# --------------------------------------------------------------------------- reading


def setting_from_text(key: str, text: str) -> Any:
    """A setting's value from text typed on a command line (``port=587``, ``starttls=yes``).

    Whole-number settings become ints and yes/no settings bools when the text reads as
    one; anything else stays text, for :meth:`ChannelSpec.problems` to name.
    """
    if key in _INT_SETTINGS:
        try:
            return int(text.strip())
        except ValueError:
            return text
    if key in _BOOL_SETTINGS:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return text


def settings_of(pairs: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Settings from ``key=value`` texts, and the problems of the texts that are not pairs."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"settings: {pair!r} is not key=value")
            continue
        out[key] = setting_from_text(key, value)
    return out, problems


def parse_quiet_hours(text: str) -> tuple[str, str]:
    """``("21:00", "08:00")`` from ``"21:00-08:00"``; ValueError when it is not two times."""
    start, sep, end = text.partition("-")
    start, end = start.strip(), end.strip()
    if not sep or not _TIME.match(start) or not _TIME.match(end):
        raise ValueError(f"quiet hours like 21:00-08:00 (HH:MM-HH:MM), got {text!r}")
    return start, end


_FIELDS = tuple(f.name for f in fields(ChannelSpec))


def _yaml_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260; read it back as a time.
    if _whole(value) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return value


def _number(value: Any) -> Any:
    # An int is a fine float (rate: 50); anything else is left for problems() to name.
    return float(value) if _whole(value) and abs(value) < 2**53 else value


def read_spec(raw: Mapping[str, Any]) -> tuple[ChannelSpec | None, list[str]]:
    """A spec from a document or JSON body, and the problems of reading it.

    Unknown keys and values of the wrong shape are problems; the spec (None when it
    cannot be built at all) still needs :meth:`ChannelSpec.problems`. ``channel`` may be
    left out: it is the one the kind serves.
    """
    problems: list[str] = []
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(unknown)}; a channel takes {', '.join(_FIELDS)}"
        )
    data: dict[str, Any] = {k: v for k, v in raw.items() if k in _FIELDS}
    missing = [k for k in ("name", "kind") if not isinstance(data.get(k), str)]
    problems += [f"{k}: text is required, got {data.get(k)!r}" for k in missing]
    if missing:
        return None, problems
    data.setdefault("channel", KINDS.get(data["kind"], ""))
    settings = data.get("settings")
    if settings is None:
        data["settings"] = {}
    elif isinstance(settings, Mapping):
        data["settings"] = {str(k): v for k, v in settings.items()}
    for key in ("quiet_start", "quiet_end"):
        if key in data:
            data[key] = _yaml_time(data[key])
    for key in ("rate_per_second", "retry_base_seconds", "retry_cap_seconds"):
        if key in data and data[key] is not None:
            data[key] = _number(data[key])
    cost = data.get("cost_per_message")
    if cost is not None and not isinstance(cost, Decimal):
        if isinstance(cost, bool) or not isinstance(cost, int | float | str):
            problems.append(f"cost_per_message: an amount such as 0.05, got {cost!r}")
        else:
            try:
                # str() first: 0.05 read from YAML is a float, and Decimal(0.05) is not 0.05.
                data["cost_per_message"] = Decimal(str(cost).strip())
            except InvalidOperation:
                problems.append(f"cost_per_message: an amount such as 0.05, got {cost!r}")
    return (None if problems else ChannelSpec(**data)), problems
