"""How old the last price used may be: business days between it and the date it is used on.

A trade planned on 2026-12-01 with prices from 2017-03-31 values the account at prices
nine years old. The monthly job refuses that (``run-monthly`` exits 3 unless
``--allow-stale``); ``propose`` and ``whatif`` warn. Business days are Monday to Friday
(exchange holidays are not removed, so the count is at most a holiday or two high).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimizer.data.base import PriceData

DEFAULT_MAX_PRICE_AGE = 5  # business days between the last price and the date it is used on


@dataclass(frozen=True)
class LastPrice:
    """The oldest of the last prices of a set of series: where the valuation stops."""

    source: str  # "sample", "yahoo", "csv:/path"
    series: str  # the ticker whose last price is the oldest (the first by name of a tie)
    date: dt.date


@dataclass(frozen=True)
class Staleness:
    """A last price older than the limit on the date it is used on."""

    last: LastPrice
    used_on: dt.date
    age: int  # business days from last.date to used_on
    limit: int
    used_as: str = "the trade date"  # what used_on is: "today", "the rebalance date", ...

    def message(self) -> str:
        return (
            f"stale prices: the last price of {self.last.series} ({self.last.source}) is "
            f"{self.last.date.isoformat()}, {self.age:,} business days before {self.used_as} "
            f"{self.used_on.isoformat()} (limit {self.limit})"
        )


def business_days(earlier: dt.date, later: dt.date) -> int:
    """Monday-to-Friday days in [earlier, later): Friday → Monday is 1, Friday → the
    next Friday 5; 0 when ``later`` is not after ``earlier``."""
    if later <= earlier:
        return 0
    import numpy as np  # here: a monthly rerun with every account done never needs it

    return int(np.busday_count(earlier, later))


def oldest_last_price(data: PriceData) -> LastPrice:
    """The series of ``data`` whose last valid observation is the oldest, and that date."""
    if data.coverage:
        worst = min(data.coverage, key=lambda c: (c.last, c.ticker))
        return LastPrice(data.provenance.source, worst.ticker, worst.last)
    lasts = {str(t): data.frame[t].last_valid_index() for t in data.frame.columns}
    ticker, when = min(((t, d) for t, d in lasts.items() if d is not None), key=lambda x: x[1])
    return LastPrice(data.provenance.source, ticker, when.date())


def staleness(
    last: LastPrice, used_on: dt.date, limit: int | None, used_as: str = "the trade date"
) -> Staleness | None:
    """The finding when ``last`` is more than ``limit`` business days before ``used_on``
    (None: fresh enough, or no limit)."""
    if limit is None:
        return None
    age = business_days(last.date, used_on)
    return Staleness(last, used_on, age, limit, used_as) if age > limit else None


__all__ = [
    "DEFAULT_MAX_PRICE_AGE",
    "LastPrice",
    "Staleness",
    "business_days",
    "oldest_last_price",
    "staleness",
]
