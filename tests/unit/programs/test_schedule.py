"""Schedules: cron parsing and its errors, next run times, once and manual schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tactica.domain.programs import Schedule, ScheduleKind, parse_cron
from tactica.errors import InvalidInput


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "needs 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("* * * * * *", "got 6"),
        ("", "got 0"),
        ("60 * * * *", "minute field '60': 60 is out of range; minute allows 0-59"),
        ("* 24 * * *", "hour field '24': 24 is out of range; hour allows 0-23"),
        ("* * 0 * *", "day-of-month field '0': 0 is out of range; day-of-month allows 1-31"),
        ("* * 32 * *", "day-of-month allows 1-31"),
        ("* * * 13 *", "month field '13': 13 is out of range; month allows 1-12"),
        ("* * * 0 *", "month allows 1-12"),
        ("* * * * 8", "day-of-week field '8': 8 is out of range; day-of-week allows 0-7"),
        ("x * * * *", "minute field 'x': 'x' is not a number"),
        ("-1 * * * *", "minute field '-1': '' is not a number"),
        ("1,,2 * * * *", "minute field '1,,2': empty list item"),
        ("*/0 * * * *", "step '0' must be a whole number of 1 or more"),
        ("*/x * * * *", "step 'x' must be"),
        ("5-3 * * * *", "range 5-3 goes backwards"),
        ("* * 1-40 * *", "day-of-month field '1-40': 40 is out of range"),
        ("* * * jan *", "month field 'jan': 'jan' is not a number"),
        ("0 0 30 2 *", "day-of-month 30 never occurs in month 2; it would never run"),
        ("0 0 31 4,6,9,11 *", "day-of-month 31 never occurs in month 4,6,9,11"),
    ],
)
def test_cron_errors_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_cron(expr)
    assert info.value.where == "cron"
    assert message in info.value.detail
    with pytest.raises(InvalidInput) as info2:
        Schedule.cron(expr)
    assert info2.value.where == "schedule.cron"
    assert message in info2.value.detail


def test_cron_fields_parse() -> None:
    c = parse_cron("0,30 9-17/4 */10 1-12/3 7")
    assert c.minutes == (0, 30)
    assert c.hours == (9, 13, 17)
    assert c.days_of_month == {1, 11, 21, 31}
    assert c.months == {1, 4, 7, 10}
    assert c.days_of_week == {0}  # 7 is Sunday, like 0
    assert c.dom_star and not c.dow_star
    assert parse_cron("50/5 * * * *").minutes == (50, 55)  # a/n runs to the end
    assert parse_cron("  0   0 * * *  ").text == "0 0 * * *"


def test_feb_30_is_fine_when_day_of_week_widens_it() -> None:
    # dom and dow are ORed when both are restricted, so this fires every Monday.
    c = parse_cron("0 0 30 2 1")
    assert c.next_after(utc(2027, 1, 1)) == utc(2027, 2, 1)


# --------------------------------------------------------------------------- next_after


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("* * * * *", utc(2027, 1, 1, 10, 0, 30), utc(2027, 1, 1, 10, 1)),
        ("* * * * *", utc(2027, 1, 1, 10, 0), utc(2027, 1, 1, 10, 1)),  # strictly after
        ("0 * * * *", utc(2027, 1, 1, 10, 0), utc(2027, 1, 1, 11, 0)),
        ("30 9 * * *", utc(2027, 1, 1, 9, 29, 59), utc(2027, 1, 1, 9, 30)),
        ("30 9 * * *", utc(2027, 1, 1, 9, 30), utc(2027, 1, 2, 9, 30)),
        ("0 0 * * *", utc(2027, 12, 31, 23, 59), utc(2028, 1, 1)),
        # month ends
        ("0 12 31 * *", utc(2027, 1, 31, 12, 0), utc(2027, 3, 31, 12, 0)),
        ("0 0 30 * *", utc(2027, 1, 30, 1), utc(2027, 3, 30)),
        ("59 23 28-31 2 *", utc(2027, 2, 28, 23, 59), utc(2028, 2, 28, 23, 59)),
        # leap day
        ("0 0 29 2 *", utc(2027, 5, 1), utc(2028, 2, 29)),
        ("0 0 29 2 *", utc(2028, 2, 29), utc(2032, 2, 29)),
        ("0 0 29 2 *", utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
        # day-of-month OR day-of-week when both are restricted (Vixie cron)
        ("0 0 13 * 5", utc(2027, 1, 1), utc(2027, 1, 8)),  # Friday the 8th comes first
        ("0 0 13 * 5", utc(2027, 1, 9), utc(2027, 1, 13)),  # the 13th (a Wednesday)
        # ... AND when one of them starts with '*'
        ("0 0 */2 * 1", utc(2027, 1, 1), utc(2027, 1, 11)),  # odd day that is a Monday
        ("0 0 * * 1", utc(2027, 1, 1), utc(2027, 1, 4)),
        ("0 0 1 * *", utc(2027, 1, 1), utc(2027, 2, 1)),
        ("0 0 * * 0", utc(2027, 1, 1), utc(2027, 1, 3)),
        ("0 0 * * 7", utc(2027, 1, 1), utc(2027, 1, 3)),
        # steps
        ("*/15 * * * *", utc(2027, 1, 1, 10, 46), utc(2027, 1, 1, 11, 0)),
        ("10-40/15 * * * *", utc(2027, 1, 1, 10, 41), utc(2027, 1, 1, 11, 10)),
        ("0 */6 * * *", utc(2027, 1, 1, 18, 0), utc(2027, 1, 2, 0, 0)),
        ("0 9-17/4 * * 1-5", utc(2027, 1, 1, 17, 0), utc(2027, 1, 4, 9, 0)),  # Fri -> Mon
        ("0 0 1 */5 *", utc(2027, 6, 2), utc(2027, 11, 1)),
    ],
)
def test_next_after(expr: str, after: datetime, expected: datetime) -> None:
    got = Schedule.cron(expr).next_after(after)
    assert got == expected
    assert got is not None and got.tzinfo is UTC


def test_cron_is_evaluated_in_utc() -> None:
    paris_winter = timezone(timedelta(hours=1))
    after = datetime(2027, 1, 1, 9, 30, tzinfo=paris_winter)  # 08:30 UTC
    assert Schedule.cron("0 9 * * *").next_after(after) == utc(2027, 1, 1, 9, 0)


def test_next_after_past_year_9999_is_none() -> None:
    assert Schedule.cron("0 0 1 1 *").next_after(utc(9999, 6, 1)) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must be timezone-aware"):
        Schedule.cron("* * * * *").next_after(datetime(2027, 1, 1))
    with pytest.raises(InvalidInput, match=r"^schedule\.at: must be timezone-aware"):
        Schedule.once(datetime(2027, 1, 1))


# --------------------------------------------------------------------------- once / manual


def test_once_schedule() -> None:
    at = datetime(2027, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    s = Schedule.once(at)
    assert s.kind is ScheduleKind.ONCE
    assert s.next_after(utc(2027, 1, 1, 7, 59)) == utc(2027, 1, 1, 8, 0)
    assert s.next_after(utc(2027, 1, 1, 8, 0)) is None
    assert s.next_after(utc(2028, 1, 1)) is None


def test_manual_schedule_never_runs_by_itself() -> None:
    assert Schedule.manual().next_after(utc(2027, 1, 1)) is None
    assert Schedule() == Schedule.manual()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "once"}, "schedule.at: a 'once' schedule needs a time"),
        ({"kind": "cron"}, "schedule.cron: a 'cron' schedule needs an expression"),
        ({"kind": "manual", "at": utc(2027, 1, 1)}, "schedule.at: only a 'once' schedule"),
        ({"kind": "once", "at": utc(2027, 1, 1), "expression": "* * * * *"}, "schedule.cron"),
        ({"kind": "weekly"}, "schedule: unknown kind 'weekly'; kinds are: manual, once, cron"),
    ],
)
def test_inconsistent_schedules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Schedule(**kwargs)  # type: ignore[arg-type]
    assert info.value.detail.startswith(message)


def test_schedule_kind_from_string_is_normalised() -> None:
    assert Schedule("cron", expression="0 0 * * *").kind is ScheduleKind.CRON  # type: ignore[arg-type]


# --------------------------------------------------------------------------- property

# Each field is generated as cron text together with the set it must mean, computed
# here independently of the parser, so the brute-force oracle does not trust it.
FIELD_RANGES = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}


@st.composite
def cron_item(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    shape = draw(st.sampled_from(["star", "number", "range", "star_step", "range_step"]))
    if shape == "star":
        return "*", set(range(low, high + 1))
    if shape == "star_step":
        n = draw(st.integers(1, high - low + 1))
        return f"*/{n}", set(range(low, high + 1, n))
    a = draw(st.integers(low, high))
    if shape == "number":
        return str(a), {a}
    b = draw(st.integers(a, high))
    if shape == "range":
        return f"{a}-{b}", set(range(a, b + 1))
    n = draw(st.integers(1, max(1, b - a + 1)))
    return f"{a}-{b}/{n}", set(range(a, b + 1, n))


@st.composite
def cron_field(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    items = draw(st.lists(cron_item(low, high), min_size=1, max_size=3))
    return ",".join(t for t, _ in items), set().union(*(s for _, s in items))


def oracle_day(fields: dict[str, tuple[str, set[int]]], day: date) -> bool:
    dom_text, dom = fields["dom"]
    dow_text, dow_raw = fields["dow"]
    dow = {d % 7 for d in dow_raw}
    if day.month not in fields["month"][1]:
        return False
    in_dom = day.day in dom
    in_dow = day.isoweekday() % 7 in dow
    if dom_text.startswith("*") or dow_text.startswith("*"):
        return in_dom and in_dow
    return in_dom or in_dow


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries({k: cron_field(lo, hi) for k, (lo, hi) in FIELD_RANGES.items()}),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    offset=st.integers(-12 * 60, 14 * 60),
)
def test_next_after_is_the_first_match_after_t(
    fields: dict[str, tuple[str, set[int]]], start: datetime, offset: int
) -> None:
    expr = " ".join(fields[k][0] for k in FIELD_RANGES)
    try:
        schedule = Schedule.cron(expr)
    except InvalidInput as exc:
        assert "never occurs" in exc.detail  # the only legal refusal of generated text
        assume(False)
        raise
    t = start.replace(tzinfo=timezone(timedelta(minutes=offset)))
    nxt = schedule.next_after(t)
    assert nxt is not None
    t_utc = t.astimezone(UTC)
    assert nxt > t_utc
    assert nxt.second == 0 and nxt.microsecond == 0
    minutes, hours = fields["minute"][1], fields["hour"][1]

    def fires(m: datetime) -> bool:
        return m.minute in minutes and m.hour in hours and oracle_day(fields, m.date())

    assert fires(nxt)
    assume(nxt - t_utc <= timedelta(days=2 * 366))
    # Brute force every minute strictly between t and nxt, skipping days and hours the
    # oracle rules out wholesale so the check stays fast.
    m = t_utc.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while m < nxt:
        if not oracle_day(fields, m.date()):
            m = datetime.combine(m.date() + timedelta(days=1), datetime.min.time(), UTC)
            continue
        if m.hour not in hours:
            m = m.replace(minute=0) + timedelta(hours=1)
            continue
        assert not fires(m), f"{expr}: {m} fires before {nxt}"
        m += timedelta(minutes=1)
