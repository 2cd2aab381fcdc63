"""The rebalancing period and its date: the first NYSE session of the month.

Sessions come from ``exchange_calendars`` (calendar ``XNYS``), never from a hand-made
holiday list.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from optimizer.errors import ConfigError
from optimizer.jobs.model import Period

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
EXCHANGE = "XNYS"


def first_session(year: int, month: int, exchange: str = EXCHANGE) -> dt.date:
    """The first trading session of ``exchange`` in the given month.

    Raises
    ------
    ConfigError
        The month lies outside the range the calendar covers, or has no session.
    """
    import exchange_calendars as xcals

    start = dt.date(year, month, 1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    try:
        sessions = _sessions_around(exchange, year)
        sessions = sessions[(sessions >= str(start)) & (sessions <= str(end))]
    except (ValueError, xcals.errors.CalendarError) as exc:
        raise ConfigError(
            "the exchange calendar does not cover this month",
            key="period",
            value=f"{year:04d}-{month:02d}",
            hint=" ".join(str(exc).split())[:120],
        ) from None
    if len(sessions) == 0:
        raise ConfigError("no trading session in this month", key="period", value=start.isoformat())
    return sessions[0].date()


@functools.lru_cache(maxsize=8)
def _sessions_around(exchange: str, year: int) -> Any:
    """The exchange's sessions over ``year``, from a calendar whose bounds enclose it."""
    import exchange_calendars as xcals
    import pandas as pd

    cal = xcals.get_calendar(
        exchange, start=pd.Timestamp(year - 1, 12, 15), end=pd.Timestamp(year + 1, 1, 15)
    )
    return cal.sessions


def parse_period(text: str | None, *, today: dt.date | None = None) -> Period:
    """``"YYYY-MM"`` (or ``None`` for the current UTC month) → :class:`Period`."""
    if text is None:
        today = today or dt.datetime.now(dt.UTC).date()
        year, month = today.year, today.month
    else:
        match = _PERIOD_RE.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ConfigError("expected a month as YYYY-MM", key="--period", value=text)
        year, month = int(match.group(1)), int(match.group(2))
    return Period(year=year, month=month, rebalance_date=first_session(year, month))
