"""Rebalance date = first NYSE session of the month, checked against XNYS's own sessions."""

from __future__ import annotations

import datetime as dt

import exchange_calendars as xcals
import pytest

from optimizer.errors import ConfigError
from optimizer.jobs.calendar import parse_period
from optimizer.jobs.sessions import first_session


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01", dt.date(2026, 1, 2)),  # New Year's Day
        ("2025-09", dt.date(2025, 9, 2)),  # Labor Day
        ("2027-01", dt.date(2027, 1, 4)),  # Jan 1 is a Friday holiday, then a weekend
        ("2025-06", dt.date(2025, 6, 2)),  # a Sunday the 1st
        ("2026-07", dt.date(2026, 7, 1)),  # an ordinary Wednesday
    ],
)
def test_known_first_sessions(text, expected):
    period = parse_period(text, today=dt.date(2026, 12, 1), allow_future=True)
    assert period.rebalance_date == expected
    assert period.label == text


def test_every_month_matches_the_calendar_sessions():
    cal = xcals.get_calendar("XNYS", start="2019-01-01", end="2026-12-31")
    sessions = cal.sessions
    firsts = sessions.to_series().groupby([sessions.year, sessions.month]).min()
    assert len(firsts) == 8 * 12
    for (year, month), first in firsts.items():
        assert first_session(year, month) == first.date(), (year, month)


def test_default_period_is_the_current_month():
    period = parse_period(None, today=dt.date(2026, 9, 15))
    assert (period.year, period.month, period.rebalance_date) == (2026, 9, dt.date(2026, 9, 1))


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026/01", "january", "2026-00"])
def test_bad_period_is_one_line_config_error(text):
    with pytest.raises(ConfigError) as info:
        parse_period(text)
    assert "--period" in str(info.value)
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("text", "allow_future", "needle"),
    [
        ("1700-01", False, "before 1990-01"),
        ("1989-12", False, "before 1990-01"),
        ("0000-01", False, "before 1990-01"),
        ("2026-10", False, "after the current month (2026-09)"),
        ("9999-12", False, "after the current month"),
        ("2027-10", True, "more than 12 months after"),
        ("9999-12", True, "more than 12 months after"),
    ],
)
def test_period_outside_the_accepted_range_is_refused(text, allow_future, needle):
    with pytest.raises(ConfigError) as info:
        parse_period(text, today=dt.date(2026, 9, 15), allow_future=allow_future)
    assert needle in str(info.value) and text in str(info.value)


def test_first_and_last_accepted_periods():
    today = dt.date(2026, 9, 15)
    assert parse_period("1990-01", today=today).rebalance_date == dt.date(1990, 1, 2)
    assert parse_period("2026-09", today=today).label == "2026-09"
    assert parse_period("2027-09", today=today, allow_future=True).label == "2027-09"
