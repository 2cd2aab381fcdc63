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
FIRST_PERIOD = (1990, 1)  # earliest month the job accepts (docs/limits.md)
MAX_FUTURE_MONTHS = 12  # with --allow-future: at most this far ahead of the current month


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


def first_sessions(
    first: tuple[int, int], last: tuple[int, int], exchange: str = EXCHANGE
) -> dict[tuple[int, int], dt.date]:
    """The first session of every month from ``first`` to ``last`` (year, month), from one
    calendar (a backtest's schedule; building a calendar costs about half a second).

    Raises
    ------
    ConfigError
        The range lies outside what the calendar covers.
    """
    import exchange_calendars as xcals
    import pandas as pd

    try:
        cal = xcals.get_calendar(
            exchange, start=pd.Timestamp(first[0] - 1, 12, 15), end=pd.Timestamp(last[0] + 1, 1, 15)
        )
    except (ValueError, xcals.errors.CalendarError) as exc:
        raise ConfigError(
            "the exchange calendar does not cover these months",
            key="period",
            value=f"{first[0]:04d}-{first[1]:02d}..{last[0]:04d}-{last[1]:02d}",
            hint=" ".join(str(exc).split())[:120],
        ) from None
    out: dict[tuple[int, int], dt.date] = {}
    for session in cal.sessions:
        key = (session.year, session.month)
        if first <= key <= last and key not in out:
            out[key] = session.date()
    return out


@functools.lru_cache(maxsize=8)
def _sessions_around(exchange: str, year: int) -> Any:
    """The exchange's sessions over ``year``, from a calendar whose bounds enclose it."""
    import exchange_calendars as xcals
    import pandas as pd

    cal = xcals.get_calendar(
        exchange, start=pd.Timestamp(year - 1, 12, 15), end=pd.Timestamp(year + 1, 1, 15)
    )
    return cal.sessions


def parse_period(
    text: str | None, *, today: dt.date | None = None, allow_future: bool = False
) -> Period:
    """``"YYYY-MM"`` (or ``None`` for the current UTC month) → :class:`Period`.

    Raises
    ------
    ConfigError
        The text is not a month ``YYYY-MM``; or the month is before ``FIRST_PERIOD``, after
        the current month (unless ``allow_future``: then up to ``MAX_FUTURE_MONTHS`` ahead).
    """
    today = today or dt.datetime.now(dt.UTC).date()
    if text is None:
        year, month = today.year, today.month
    else:
        year, month = split_period(text)
    check_period_range(year, month, today=today, allow_future=allow_future)
    return Period(year=year, month=month, rebalance_date=first_session(year, month))


def split_period(text: str) -> tuple[int, int]:
    """``"YYYY-MM"`` → ``(year, month)``; anything else is a ConfigError naming --period."""
    match = _PERIOD_RE.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError("expected a month as YYYY-MM", key="--period", value=text)
    return int(match.group(1)), int(match.group(2))


def check_period_range(year: int, month: int, *, today: dt.date, allow_future: bool) -> None:
    """A month from ``FIRST_PERIOD`` to the current one (a year further if ``allow_future``)."""
    label = f"{year:04d}-{month:02d}"
    index, now = year * 12 + month - 1, today.year * 12 + today.month - 1
    first = FIRST_PERIOD[0] * 12 + FIRST_PERIOD[1] - 1
    if index < first:
        raise ConfigError(
            f"period before {FIRST_PERIOD[0]:04d}-{FIRST_PERIOD[1]:02d}, the first month "
            "the monthly job trades", key="--period", value=label, hint="see docs/limits.md",
        )  # fmt: skip
    if index > now and not allow_future:
        raise ConfigError(
            f"period after the current month ({today:%Y-%m})",
            key="--period",
            value=label,
            hint="pass --allow-future to plan a month ahead on purpose",
        )
    if index > now + MAX_FUTURE_MONTHS:
        raise ConfigError(
            f"period more than {MAX_FUTURE_MONTHS} months after the current one ({today:%Y-%m})",
            key="--period",
            value=label,
        )
