"""Plan periods: parsing, nesting, shifting — checked on every day hypothesis picks."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.periods import PeriodKind, parse_period, period_of, weeks_in
from tactica.errors import InvalidInput

days = st.dates(min_value=date(1971, 1, 1), max_value=date(2998, 12, 1))
kinds = st.sampled_from(list(PeriodKind))


@given(days, kinds)
def test_the_period_of_a_day_contains_it_and_reads_back_from_its_label(
    day: date, kind: PeriodKind
) -> None:
    p = period_of(kind, day)
    assert p.contains(day)
    assert parse_period(p.label) == p
    assert p.shifted(1).start == p.end
    assert p.previous().end == p.start


@given(days, st.sampled_from([PeriodKind.HALF, PeriodKind.QUARTER, PeriodKind.MONTH]))
def test_finer_periods_tile_the_coarser_one_exactly(day: date, kind: PeriodKind) -> None:
    year = period_of(PeriodKind.YEAR, day)
    parts = year.children(kind)
    assert parts[0].start == year.start and parts[-1].end == year.end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(p.parent(PeriodKind.YEAR) == year for p in parts)
    assert len(parts) == {PeriodKind.HALF: 2, PeriodKind.QUARTER: 4, PeriodKind.MONTH: 12}[kind]


@given(days)
def test_every_week_belongs_to_exactly_one_month_the_one_of_its_thursday(day: date) -> None:
    week = period_of(PeriodKind.WEEK, day)
    thursday = week.start + timedelta(days=3)
    month = week.parent(PeriodKind.MONTH)
    assert month.contains(thursday)
    assert week in month.children(PeriodKind.WEEK)
    assert week not in month.previous().children(PeriodKind.WEEK)
    assert week not in month.shifted(1).children(PeriodKind.WEEK)


@given(days)
def test_a_year_has_its_iso_weeks(day: date) -> None:
    year = period_of(PeriodKind.YEAR, day)
    weeks = year.children(PeriodKind.WEEK)
    assert len(weeks) == weeks_in(year.start.year)
    assert weeks[0].label.endswith("-W01")


def test_last_year_and_elapsed() -> None:
    q = parse_period("2026-Q4")
    assert (q.last_year().label, q.previous().label) == ("2025-Q4", "2026-Q3")
    assert parse_period("2026-W53").last_year().label == "2025-W52"
    assert q.elapsed(date(2026, 9, 30)) == 0.0
    assert q.elapsed(date(2026, 10, 1)) == pytest.approx(1 / 92)
    assert q.elapsed(date(2027, 2, 1)) == 1.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-13", "month 13 is not 01–12"),
        ("2025-W53", "2025 has weeks W01–W52"),
        ("2026-Q5", "is not a period"),
        ("Q1 2026", "is not a period"),
        ("0999", "outside"),
    ],
)
def test_a_bad_period_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as e:
        parse_period(text, where="objectives[2].period")
    assert e.value.where == "objectives[2].period"
