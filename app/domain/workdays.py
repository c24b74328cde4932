"""Working-day arithmetic (工作日) for statutory time limits.

行政许可法 art. 82: administrative-licence periods count working days, excluding statutory holidays.
民法典 art. 201: the start day is not counted. A day is a working day when it is a weekday that is not
a holiday, or a weekend day the State Council made a working day (调休). A year without calendar
data raises :class:`CalendarMissing`: the arithmetic never guesses by weekdays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


class CalendarMissing(Exception):
    """The calendar has no data for a year the computation reached."""

    def __init__(self, year: int):
        super().__init__(f"{year} 年工作日历缺失，无法计算期限 (calendar for {year} missing: import the State "
                         f"Council's holiday notice for {year})")
        self.year = year


@dataclass(frozen=True)
class WorkCalendar:
    #: statutory holidays and the weekend days of the holiday breaks
    holidays: frozenset = field(default_factory=frozenset)
    #: weekend days that are working days (调休上班)
    workdays: frozenset = field(default_factory=frozenset)
    #: the years this calendar has complete data for
    years: frozenset = field(default_factory=frozenset)

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise CalendarMissing(year)

    def is_working_day(self, day: date) -> bool:
        self.check_year(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (start itself not counted). n = 0 gives ``start`` if
        it is a working day, else the next working day (a period ending on a holiday ends on the next
        working day)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        if n == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]: 0 when end <= start."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def next_working_day(self, day: date) -> date:
        return self.add_working_days(day, 0)
