"""Working-day arithmetic: hand-checked cases and properties (hypothesis)."""
from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from app.domain.workdays import CalendarMissing, WorkCalendar


def package_calendar() -> WorkCalendar:
    from chinese_calendar import constants
    years = frozenset(range(2004, 2027))
    return WorkCalendar(frozenset(constants.holidays), frozenset(constants.workdays), years)


CAL = package_calendar()
days = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30))
counts = st.integers(min_value=0, max_value=60)


def test_hand_checked_national_day_2026():
    # 1–7 Oct 2026 off; Sun 20 Sep and Sat 10 Oct are workdays
    assert CAL.is_working_day(date(2026, 9, 20)) and CAL.is_working_day(date(2026, 10, 10))
    assert not CAL.is_working_day(date(2026, 10, 5))
    assert CAL.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert CAL.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_the_start_day_is_not_counted_and_holiday_ends_roll_forward():
    assert CAL.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 3)
    assert CAL.add_working_days(date(2026, 2, 16), 0) == date(2026, 2, 24)


def test_missing_year_fails_loudly():
    with pytest.raises(CalendarMissing) as err:
        CAL.add_working_days(date(2026, 12, 20), 20)
    assert err.value.year == 2027 and "2027" in str(err.value)
    with pytest.raises(CalendarMissing):
        CAL.is_working_day(date(2003, 6, 2))


@settings(max_examples=300, deadline=None)
@given(days, counts)
def test_a_result_is_always_a_working_day(start, n):
    assert CAL.is_working_day(CAL.add_working_days(start, n))


@settings(max_examples=300, deadline=None)
@given(days, counts, counts)
def test_more_days_never_give_an_earlier_date(start, a, b):
    lo, hi = sorted((a, b))
    assert CAL.add_working_days(start, lo) <= CAL.add_working_days(start, hi)


@settings(max_examples=300, deadline=None)
@given(days, st.integers(min_value=1, max_value=60))
def test_exactly_n_working_days_lie_between_start_and_result(start, n):
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    assert CAL.working_days_between(start, end - timedelta(days=1)) == n - 1


@settings(max_examples=300, deadline=None)
@given(days, st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=20))
def test_a_suspension_adds_exactly_its_working_days(start, limit, suspended):
    due = CAL.add_working_days(start, limit)
    moved = CAL.add_working_days(due, suspended)
    assert CAL.working_days_between(due, moved) == suspended
    assert moved == CAL.add_working_days(start, limit + suspended)
