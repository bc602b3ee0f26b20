"""Quiet hours, back-off and the rate bucket, as a marketer would check them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.dispatch import (
    allowance,
    in_quiet_hours,
    parse_hhmm,
    quiet_until,
    refill,
    retry_delay,
)

LISBON = ZoneInfo("Europe/Lisbon")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = (time(21, 0), time(8, 0))


def test_a_message_due_at_night_waits_for_the_morning_in_the_customers_zone() -> None:
    # 23:30 in Shanghai is 15:30 UTC: quiet there, so it waits until 08:00 Shanghai.
    now = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert quiet_until(now, SHANGHAI, *NIGHT) == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    # The same instant is 15:30 in Lisbon: no wait.
    assert quiet_until(now, LISBON, *NIGHT) is None
    # 06:00 in Lisbon (UTC+0 in November): wait until 08:00 the same morning.
    early = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert quiet_until(early, LISBON, *NIGHT) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_quiet_window_edges() -> None:
    assert in_quiet_hours(time(21, 0), *NIGHT)
    assert in_quiet_hours(time(7, 59), *NIGHT)
    assert not in_quiet_hours(time(8, 0), *NIGHT)
    assert not in_quiet_hours(time(20, 59), *NIGHT)
    assert in_quiet_hours(time(13, 0), time(12, 0), time(14, 0))
    assert not in_quiet_hours(time(3, 0), time(5, 0), time(5, 0))  # empty window


def test_parse_hhmm_names_what_it_wanted() -> None:
    assert parse_hhmm("08:05") == time(8, 5)
    for bad in ("8:05", "24:00", "12:60", "noon"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_hhmm(bad)


zones = st.sampled_from(
    [ZoneInfo(z) for z in ("Europe/Lisbon", "America/New_York", "Asia/Shanghai", "UTC")]
)
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(instants, zones, times, times)
def test_the_wait_ends_outside_quiet_hours_and_never_early(
    now: datetime, zone: ZoneInfo, start: time, end: time
) -> None:
    until = quiet_until(now, zone, start, end)
    if until is None:
        assert not in_quiet_hours(now.astimezone(zone).time(), start, end)
        return
    assert until > now
    assert until - now <= timedelta(hours=25)
    assert not in_quiet_hours(until.astimezone(zone).time(), start, end)
    # Nothing earlier would do: a minute before the end is still quiet (or before now).
    before = until - timedelta(minutes=1)
    assert before < now or in_quiet_hours(before.astimezone(zone).time(), start, end)


def test_back_off_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    assert [retry_delay(a, 30, 3600) for a in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(20, 30, 3600) == 3600
    assert retry_delay(1, 30, 3600, retry_after=90) == 90
    assert retry_delay(1, 30, 3600, retry_after=5) == 30
    assert retry_delay(1, 30, 3600, retry_after=10**9) == 3600


@given(st.integers(1, 200), st.floats(0.1, 100), st.floats(1, 10_000))
def test_back_off_never_shrinks_and_never_passes_the_cap(a: int, base: float, cap: float) -> None:
    assert retry_delay(a, base, cap) <= retry_delay(a + 1, base, cap) <= cap


def test_the_bucket_refills_at_the_rate_and_holds_one_second() -> None:
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert refill(0.0, None, t0, 50) == 50  # a fresh channel starts full
    assert refill(0.0, t0, t0 + timedelta(milliseconds=100), 50) == pytest.approx(5)
    assert refill(10.0, t0, t0 + timedelta(hours=1), 50) == 50
    assert refill(0.0, t0, t0 + timedelta(seconds=1), 0.5) == pytest.approx(0.5)
    assert allowance(4.9999999999, 100) == 5
    assert allowance(50, 20) == 20
    assert allowance(0.7, 20) == 0


@given(st.lists(st.floats(0, 2), min_size=1, max_size=60), st.floats(0.5, 500))
def test_taking_what_the_bucket_allows_never_beats_the_rate(gaps: list[float], rate: float) -> None:
    """Over any run of claims, messages taken ≤ one second's worth + rate × elapsed."""
    t = datetime(2026, 11, 24, tzinfo=UTC)
    start, tokens, last, taken = t, 0.0, None, 0
    for gap in gaps:
        t += timedelta(seconds=gap)
        tokens = refill(tokens, last, t, rate)
        last = t
        n = allowance(tokens, 10_000)
        tokens -= n
        taken += n
    elapsed = (t - start).total_seconds()
    assert taken <= max(rate, 1.0) + rate * elapsed + 1e-6
