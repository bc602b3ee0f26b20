"""Plan periods: a year, a half, a quarter, a month or an ISO week, named as people write them.

``2026``, ``2026-H1``, ``2026-Q3``, ``2026-11`` and ``2026-W47`` are the periods goals
and plans are set for. A period is a half-open range of days ``[start, end)``; the
finer kinds nest in the coarser ones (months in quarters in halves in years), and a
week belongs to the month, quarter and year of its Thursday, as ISO 8601 places it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from tactica.errors import InvalidInput


class PeriodKind(StrEnum):
    """How long a period is, coarsest first."""

    YEAR = "year"
    HALF = "half"
    QUARTER = "quarter"
    MONTH = "month"
    WEEK = "week"


_ORDER = list(PeriodKind)
_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?:H(?P<half>[12])|Q(?P<quarter>[1-4])|W(?P<week>\d{2})|(?P<month>\d{2})))?$"
)
MIN_YEAR, MAX_YEAR = 1970, 2999


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """A named plan period: ``label`` as written, its ``kind`` and its days ``[start, end)``."""

    start: date
    end: date
    kind: PeriodKind
    label: str

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days

    def contains(self, day: date) -> bool:
        """True when ``day`` falls in the period."""
        return self.start <= day < self.end

    def elapsed(self, today: date) -> float:
        """The share of the period gone by at the end of ``today`` (0 before, 1 after)."""
        done = (min(max(today + timedelta(days=1), self.start), self.end) - self.start).days
        return done / self.days

    def shifted(self, steps: int) -> Period:
        """The period of the same kind ``steps`` away (-1: the one before)."""
        if self.kind is PeriodKind.WEEK:
            return week_of(self.start + timedelta(weeks=steps))
        months = {PeriodKind.YEAR: 12, PeriodKind.HALF: 6, PeriodKind.QUARTER: 3}.get(self.kind, 1)
        start = _month_start(self.start.year, self.start.month + steps * months)
        return _of_kind(self.kind, start)

    def previous(self) -> Period:
        """The period just before, of the same kind (the last quarter for a quarter)."""
        return self.shifted(-1)

    def last_year(self) -> Period:
        """The same period a year earlier (week 53 of a year without one: its week 52)."""
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.start.isocalendar()
            return parse_period(f"{year - 1}-W{min(week, weeks_in(year - 1)):02d}")
        return _of_kind(self.kind, date(self.start.year - 1, self.start.month, 1))

    def parent(self, kind: PeriodKind) -> Period:
        """The period of the coarser ``kind`` this one lies in."""
        if _ORDER.index(kind) > _ORDER.index(self.kind):
            raise ValueError(f"a {kind} is not coarser than a {self.kind}")
        anchor = self.start + timedelta(days=3) if self.kind is PeriodKind.WEEK else self.start
        if kind is PeriodKind.WEEK:
            return week_of(anchor)
        return _of_kind(kind, anchor)

    def children(self, kind: PeriodKind) -> list[Period]:
        """The periods of the finer ``kind`` that make this one up (weeks: by their Thursday)."""
        if _ORDER.index(kind) < _ORDER.index(self.kind):
            raise ValueError(f"a {kind} is not finer than a {self.kind}")
        if kind is PeriodKind.WEEK:
            first = week_of(self.start)
            out = []
            cursor = first if self.contains(first.start + timedelta(days=3)) else first.shifted(1)
            while self.contains(cursor.start + timedelta(days=3)):
                out.append(cursor)
                cursor = cursor.shifted(1)
            return out
        out, cursor = [], _of_kind(kind, self.start)
        while cursor.start < self.end:
            out.append(cursor)
            cursor = cursor.shifted(1)
        return out


def weeks_in(iso_year: int) -> int:
    """How many ISO weeks ``iso_year`` has (52 or 53)."""
    return date(iso_year, 12, 28).isocalendar()[1]


def week_of(day: date) -> Period:
    """The ISO week ``day`` falls in."""
    year, week, weekday = day.isocalendar()
    start = day - timedelta(days=weekday - 1)
    return Period(start, start + timedelta(days=7), PeriodKind.WEEK, f"{year}-W{week:02d}")


def _of_kind(kind: PeriodKind, day: date) -> Period:
    """The period of ``kind`` (not a week) that ``day`` falls in."""
    y, m = day.year, day.month
    if kind is PeriodKind.YEAR:
        return Period(date(y, 1, 1), date(y + 1, 1, 1), kind, f"{y}")
    if kind is PeriodKind.HALF:
        h = 1 if m <= 6 else 2
        start = date(y, 6 * h - 5, 1)
        return Period(start, _month_start(y, 6 * h + 1), kind, f"{y}-H{h}")
    if kind is PeriodKind.QUARTER:
        q = (m - 1) // 3 + 1
        return Period(date(y, 3 * q - 2, 1), _month_start(y, 3 * q + 1), kind, f"{y}-Q{q}")
    if kind is PeriodKind.MONTH:
        return Period(date(y, m, 1), _month_start(y, m + 1), kind, f"{y}-{m:02d}")
    return week_of(day)


def period_of(kind: PeriodKind | str, day: date) -> Period:
    """The period of ``kind`` that ``day`` falls in (``2026-Q4`` for a quarter in November)."""
    return _of_kind(PeriodKind(kind), day)


def parse_period(text: str, where: str = "period") -> Period:
    """The period ``text`` names; :class:`InvalidInput` at ``where`` says what is accepted."""
    m = _PATTERN.match(text.strip())
    if not m:
        raise InvalidInput(
            f"{text!r} is not a period: write 2026, 2026-H1, 2026-Q3, 2026-11 or 2026-W47", where
        )
    year = int(m["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year {year} is outside {MIN_YEAR}–{MAX_YEAR}", where)
    if m["half"]:
        return _of_kind(PeriodKind.HALF, date(year, 6 * int(m["half"]) - 5, 1))
    if m["quarter"]:
        return _of_kind(PeriodKind.QUARTER, date(year, 3 * int(m["quarter"]) - 2, 1))
    if m["month"]:
        month = int(m["month"])
        if not 1 <= month <= 12:
            raise InvalidInput(f"{text!r}: month {month} is not 01–12", where)
        return _of_kind(PeriodKind.MONTH, date(year, month, 1))
    if m["week"]:
        week = int(m["week"])
        if not 1 <= week <= weeks_in(year):
            raise InvalidInput(f"{text!r}: {year} has weeks W01–W{weeks_in(year)}", where)
        return week_of(date.fromisocalendar(year, week, 1))
    return _of_kind(PeriodKind.YEAR, date(year, 1, 1))
