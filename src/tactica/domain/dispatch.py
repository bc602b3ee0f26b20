"""Timing rules of dispatch: quiet hours, retry back-off and the rate limit's bucket.

Pure functions, shared by the workers and their tests; times are aware datetimes.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time:
    """``"21:30"`` as a time; ValueError for anything else."""
    m = _HHMM.match(text)
    if not m:
        raise ValueError(f"expected a time as HH:MM (00:00 to 23:59), got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """True when the local time of day is in the quiet window [start, end).

    A window that wraps midnight (21:00-08:00) is the usual case; start == end means
    no quiet hours.
    """
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When a message due ``now`` may go out, if ``now`` is in the customer's quiet hours.

    None when it may go now. Otherwise the first instant at or after the window's end
    in the customer's zone, in UTC: on a day whose clocks jump over the end time, the
    first wall-clock time after the jump.
    """
    local = now.astimezone(zone)
    if not in_quiet_hours(local.time().replace(tzinfo=None), start, end):
        return None
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += timedelta(days=1)  # evening part of a window that ends tomorrow morning
    wall = datetime.combine(day, end, tzinfo=zone)
    # A wall time skipped by a DST jump does not exist; zoneinfo reads it with the
    # offset before the jump, which lands after the jump in UTC: the right instant.
    return wall.astimezone(ZoneInfo("UTC"))


def retry_delay(
    attempts: int, base_seconds: float, cap_seconds: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before attempt ``attempts + 1`` after ``attempts`` failed ones.

    Exponential (base, 2×base, 4×base, ...) up to the cap; a peer's Retry-After is
    honoured when it asks for longer (but not past the cap).
    """
    exponent = min(max(attempts - 1, 0), 60)
    delay = min(cap_seconds, base_seconds * (2.0**exponent))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap_seconds))
    return delay


def refill(tokens: float, refilled_at: datetime | None, now: datetime, rate: float) -> float:
    """The bucket after refilling at ``rate`` tokens a second since ``refilled_at``.

    The bucket holds one second's worth (at least one token), so a quiet channel
    cannot save up a burst beyond its rate.
    """
    capacity = max(rate, 1.0)
    if refilled_at is None:
        return capacity
    elapsed = max((now - refilled_at).total_seconds(), 0.0)
    return min(capacity, tokens + elapsed * rate)


def allowance(tokens: float, limit: int) -> int:
    """How many messages the bucket lets a worker take now (at most ``limit``)."""
    return max(0, min(limit, math.floor(tokens + 1e-9)))
