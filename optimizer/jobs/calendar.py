"""The rebalancing period: a month ``YYYY-MM`` in the accepted range; its date is the
first NYSE session of the month (:mod:`optimizer.jobs.sessions`)."""

from __future__ import annotations

import datetime as dt
import re

from optimizer.errors import ConfigError
from optimizer.jobs.model import Period

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)  # "٢٠١٧-٠٤" is not a period
FIRST_PERIOD = (1990, 1)  # earliest month the job accepts (docs/limits.md)
MAX_FUTURE_MONTHS = 12  # with --allow-future: at most this far ahead of the current month


def parse_period(
    text: str | None,
    *,
    today: dt.date | None = None,
    allow_future: bool = False,
    look_up: bool = True,
) -> Period:
    """``"YYYY-MM"`` (or ``None`` for the current UTC month) → :class:`Period`.

    ``look_up=False`` leaves the rebalance date to be looked up when first needed (the
    monthly job takes a recorded period's date from its ledger instead).

    Raises
    ------
    ConfigError
        The text is not a month ``YYYY-MM``; or the month is before ``FIRST_PERIOD``, after
        the current month (unless ``allow_future``: then up to ``MAX_FUTURE_MONTHS`` ahead);
        or (``look_up``) the exchange calendar does not cover it.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    if text is None:
        year, month = today.year, today.month
    else:
        year, month = split_period(text)
    check_period_range(year, month, today=today, allow_future=allow_future)
    period = Period(year=year, month=month)
    if look_up:
        period.rebalance_date  # noqa: B018  (raises here for a month the calendar lacks)
    return period


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
