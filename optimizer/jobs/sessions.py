"""Sessions of an exchange: the first session of a month, from ``exchange_calendars``
(calendar ``XNYS`` by default), never from a hand-made holiday list."""

from __future__ import annotations

import datetime as dt
import functools

from optimizer.errors import ConfigError

EXCHANGE = "XNYS"


def first_session(year: int, month: int, exchange: str = EXCHANGE) -> dt.date:
    """The first trading session of ``exchange`` in the given month.

    Raises
    ------
    ConfigError
        The month lies outside the range the calendar covers, or has no session.
    """
    found = first_sessions((year, 1), (year, 12), exchange)  # one calendar per year, kept
    if (year, month) not in found:
        value = f"{year:04d}-{month:02d}"
        raise ConfigError("no trading session in this month", key="period", value=value)
    return found[(year, month)]


@functools.lru_cache(maxsize=8)
def first_sessions(
    first: tuple[int, int], last: tuple[int, int], exchange: str = EXCHANGE
) -> dict[tuple[int, int], dt.date]:
    """The first session of every month from ``first`` to ``last`` (year, month), from one
    calendar (a backtest's schedule; building a calendar costs about half a second, so the
    last few answers are kept: read-only, shared).

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
