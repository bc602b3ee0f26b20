"""Lifecycle triggers: when each kind fires, its payload, and what a declaration may say."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.lifecycle import (
    MAX_DAYS,
    Annual,
    LifecycleKind,
    LifecycleSpec,
    OnDate,
    from_data,
    parse_lifecycle,
)
from tactica.domain.schema import FieldType

BIRTHDAY = LifecycleSpec(LifecycleKind.BIRTHDAY, "birth_date")
ANNIVERSARY = LifecycleSpec(LifecycleKind.ANNIVERSARY, "joined_on")
QUIET_30 = LifecycleSpec(LifecycleKind.INACTIVITY, "last_activity", 30)
ENDING_30 = LifecycleSpec(LifecycleKind.CONTRACT_END, "contract_end", 30)

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31))
years = st.integers(min_value=1901, max_value=2100)


def _days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range(366 if calendar.isleap(year) else 365)]


# ---------------------------------------------------------------- when it fires


@given(born=births, year=years)
def test_a_birthday_fires_exactly_once_in_every_year_after_birth(born: date, year: int) -> None:
    fired = [d for d in _days_of(year) if BIRTHDAY.fires(born, d)]

    if year <= born.year:
        assert fired == []
    else:
        (day,) = fired
        assert (day.month, day.day) == (born.month, born.day) or (born.month, born.day) == (2, 29)
        assert BIRTHDAY.payload(born, day) == {"age": year - born.year}


@given(year=years.filter(lambda y: y > 2000))
def test_born_on_29_february_fires_on_the_29th_in_leap_years_else_on_the_28th(year: int) -> None:
    born = date(2000, 2, 29)

    (day,) = [d for d in _days_of(year) if BIRTHDAY.fires(born, d)]

    assert day == date(year, 2, 29 if calendar.isleap(year) else 28)


def test_on_28_february_of_a_non_leap_year_both_the_28th_and_the_29th_fire() -> None:
    day = date(2027, 2, 28)

    assert BIRTHDAY.moment(day) == Annual(((2, 28), (2, 29)), day)
    assert BIRTHDAY.fires(date(1990, 2, 28), day) and BIRTHDAY.fires(date(1992, 2, 29), day)
    assert BIRTHDAY.moment(date(2028, 2, 28)) == Annual(((2, 28),), date(2028, 2, 28))
    assert not BIRTHDAY.fires(date(1992, 2, 29), date(2028, 2, 28))


def test_the_day_of_birth_is_no_birthday_and_a_date_to_come_fires_nothing() -> None:
    day = date(2026, 11, 24)

    assert not BIRTHDAY.fires(day, day)
    assert not BIRTHDAY.fires(date(2030, 11, 24), day)
    assert not BIRTHDAY.fires(None, day)


@given(joined=births, year=years)
def test_an_anniversary_fires_once_a_year_from_the_first_one_on(joined: date, year: int) -> None:
    fired = [d for d in _days_of(year) if ANNIVERSARY.fires(joined, d)]

    assert len(fired) == (1 if year > joined.year else 0)
    for d in fired:
        assert ANNIVERSARY.payload(joined, d) == {"years": year - joined.year}


@given(
    last=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)),
    days=st.integers(min_value=1, max_value=400),
)
def test_inactivity_fires_exactly_once_per_quiet_spell(last: date, days: int) -> None:
    spec = LifecycleSpec(LifecycleKind.INACTIVITY, "last_activity", days)
    spell = [last + timedelta(days=i) for i in range(0, days + 400)]

    fired = [d for d in spell if spec.fires(last, d)]

    assert fired == [last + timedelta(days=days)]
    assert spec.payload(last, fired[0]) == {"days": days}


@given(
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    offset=st.integers(min_value=-12, max_value=14),
)
def test_a_last_activity_time_counts_on_its_utc_day(at: datetime, offset: int) -> None:
    local = at.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=offset)))
    day = at.date() + timedelta(days=30)

    assert QUIET_30.fires(at, day)  # a time without offset is UTC
    assert QUIET_30.fires(local, day)
    assert not QUIET_30.fires(local, day + timedelta(days=1))


@given(
    end=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)),
    days=st.integers(min_value=1, max_value=MAX_DAYS),
)
def test_a_contract_end_fires_the_given_days_before_it(end: date, days: int) -> None:
    spec = LifecycleSpec(LifecycleKind.CONTRACT_END, "contract_end", days)
    day = end - timedelta(days=days)

    assert spec.moment(day) == OnDate(end)
    assert spec.fires(end, day)
    assert not spec.fires(end, day - timedelta(days=1))
    assert not spec.fires(end, day + timedelta(days=1))
    assert spec.payload(end, day) == {"days_left": days}


def test_at_the_calendar_s_edge_nothing_fires() -> None:
    assert QUIET_30.moment(date(1, 1, 10)) is None
    assert ENDING_30.moment(date(9999, 12, 20)) is None
    assert not QUIET_30.fires(date(1, 1, 1), date(1, 1, 10))


# ---------------------------------------------------------------- declaring


def test_each_kind_reads_back_as_it_was_written() -> None:
    for raw in (
        {"kind": "birthday", "field": "birth_date"},
        {"kind": "anniversary", "field": "joined_on"},
        {"kind": "inactivity", "field": "last_activity", "days": 30},
        {"kind": "contract_end", "field": "contract_end", "days": 30},
    ):
        spec, problems = parse_lifecycle(raw)
        assert problems == [] and spec is not None
        assert spec.as_data() == raw
        assert from_data(spec.as_data()) == spec
    assert parse_lifecycle(None) == (None, [])
    assert from_data(None) is None
    assert from_data({"kind": "wedding", "field": "d"}) is None
    assert from_data({"kind": "inactivity", "field": "d"}) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("birthday", "lifecycle: a mapping such as {kind: birthday, field: birth_date}, got str"),
        ({"field": "birth_date"}, "lifecycle.kind: is required; kinds are: birthday, "),
        ({"kind": "wedding", "field": "d"}, "lifecycle.kind: unknown kind 'wedding'"),
        ({"kind": "birthday"}, "lifecycle.field: is required"),
        ({"kind": "birthday", "field": 3}, "lifecycle.field: the name of a customer field"),
        ({"kind": "inactivity", "field": "d"}, "lifecycle.days: is required for inactivity"),
        ({"kind": "contract_end", "field": "d", "days": 0}, "lifecycle.days: must be from 1"),
        ({"kind": "contract_end", "field": "d", "days": 3651}, "to 3650, got 3651"),
        ({"kind": "inactivity", "field": "d", "days": "30"}, "lifecycle.days: a whole number"),
        ({"kind": "inactivity", "field": "d", "days": True}, "lifecycle.days: a whole number"),
        ({"kind": "birthday", "field": "d", "days": 3}, "lifecycle.days: birthday takes no days"),
        ({"kind": "birthday", "field": "d", "when": 1}, "lifecycle: unknown key(s) when"),
    ],
)
def test_a_bad_block_says_which_key_is_wrong(raw: object, expected: str) -> None:
    spec, problems = parse_lifecycle(raw)

    assert spec is None
    assert any(expected in p for p in problems), problems


def test_the_payload_field_must_be_declared_as_an_int_and_be_the_only_one() -> None:
    assert BIRTHDAY.event_problems("birthday", {"age": FieldType.INT}) == []
    assert ENDING_30.event_problems("contract_ending", {"days_left": FieldType.INT}) == []

    (missing,) = BIRTHDAY.event_problems("birthday", {})
    assert missing == (
        "fields.age: the birthday lifecycle fills in 'age'; declare it as an int, "
        "e.g. fields: {age: int}"
    )
    (wrong,) = QUIET_30.event_problems("inactive_30d", {"days": FieldType.FLOAT})
    assert wrong == "fields.days: the inactivity lifecycle fills in 'days' as an int, not float"
    (extra,) = ANNIVERSARY.event_problems(
        "tenure_anniversary", {"years": FieldType.INT, "shop": FieldType.TEXT}
    )
    assert extra.startswith("fields.shop: event type 'tenure_anniversary' is generated")


def test_the_customer_field_must_exist_and_hold_a_date() -> None:
    schema = {
        "id": FieldType.TEXT,
        "birth_date": FieldType.DATE,
        "last_seen": FieldType.TIMESTAMP,
        "tenure_months": FieldType.INT,
    }

    assert BIRTHDAY.schema_problems(schema) == []
    assert LifecycleSpec(LifecycleKind.INACTIVITY, "last_seen", 5).schema_problems(schema) == []
    assert LifecycleSpec(LifecycleKind.INACTIVITY, "birth_date", 5).schema_problems(schema) == []
    assert LifecycleSpec(LifecycleKind.BIRTHDAY, "nope").schema_problems(schema) == [
        "lifecycle.field: no customer field 'nope'; the customer fields of type date are: "
        "birth_date"
    ]
    assert LifecycleSpec(LifecycleKind.BIRTHDAY, "last_seen").schema_problems(schema) == [
        "lifecycle.field: customer field 'last_seen' is timestamp; birthday reads a date"
    ]
    assert LifecycleSpec(LifecycleKind.INACTIVITY, "tenure_months", 5).schema_problems(schema) == [
        "lifecycle.field: customer field 'tenure_months' is int; "
        "inactivity reads a date or timestamp"
    ]
