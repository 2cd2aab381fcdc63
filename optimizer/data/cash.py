"""A built-in ``CASH`` price series, so an account's cash needs no file.

When a source has no ``CASH`` series of its own, ``CASH`` is a price that starts at 1 and
accrues, day by day, at a short rate: the first of the source's short-rate series
(:data:`SHORT_RATES`: FRED ``DTB3``, ``DGS3MO``, Yahoo ``^IRX``; percent a year), else the
fixed annual rate of ``[data] cash_rate``. Over ``d`` calendar days at annual rate ``r``
(a fraction) the price grows by ``(1 + r) ** (d / 365)``, with ``r`` the rate of the
earlier date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data.align import check_stale
from optimizer.data.base import PriceData, Provider, SeriesCoverage
from optimizer.errors import DataError
from optimizer.tickers import CASH as CASH_TICKER

SHORT_RATES = ("DTB3", "DGS3MO", "^IRX")  # preferred first; percent a year


def accrue(dates: pd.DatetimeIndex, annual: pd.Series | float) -> pd.Series:
    """Price path (n_dates,) starting at 1, compounding daily by ``annual`` (fraction a year,
    a constant or a Series on ``dates``: the rate of each earlier date applies)."""
    rate = (
        pd.Series(float(annual), index=dates)
        if np.isscalar(annual)
        else pd.Series(annual).reindex(dates)
    )
    days = np.diff(dates.values.astype("datetime64[D]").astype(np.int64))
    growth = (1.0 + rate.to_numpy()[:-1]) ** (days / 365.0)
    return pd.Series(np.concatenate([[1.0], np.cumprod(growth)]), index=dates, name=CASH_TICKER)


class CashProvider:
    """A provider that also serves ``CASH`` when the wrapped one has no such series."""

    def __init__(self, inner: Provider, rate: float | None = None) -> None:
        self.inner = inner
        self.rate = rate  # annual fraction, used when the source has no short-rate series
        self.name = inner.name

    def __getattr__(self, attr: str) -> Any:  # source, policy, entries ... of the inner one
        return getattr(self.inner, attr)

    def _own_cash(self) -> bool:
        try:
            return CASH_TICKER in self.inner.available()
        except Exception:
            return False

    def _listed_short_rate(self) -> str | None:
        """The first short-rate series the source lists (for yahoo: has in its cache)."""
        try:
            have = {a.upper(): a for a in self.inner.available()}
        except Exception:
            have = {}
        return next((have[s.upper()] for s in SHORT_RATES if s.upper() in have), None)

    def _short_rate(self) -> str | None:
        """The short-rate series to price CASH from; Yahoo (a network source) has ^IRX."""
        found = self._listed_short_rate()
        return "^IRX" if found is None and self.name == "yahoo" else found

    def _rates(
        self, series: str | None, start: dt.date | None, end: dt.date | None
    ) -> PriceData | None:
        """The short-rate series, or None; a Yahoo ^IRX that cannot be fetched (offline,
        say) gives way to ``cash_rate`` when that is set."""
        if series is None:
            return None
        try:
            return self.inner.rates([series], start, end)
        except DataError:
            if self.name == "yahoo" and self.rate is not None:
                return None
            raise

    def available(self) -> list[str]:
        """The wrapped source's series, and CASH when it can be priced."""
        names = list(self.inner.available())
        if CASH_TICKER not in names and (self.rate is not None or self._listed_short_rate()):
            names = sorted([*names, CASH_TICKER])
        return names

    def rates(
        self, series: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
    ) -> PriceData:
        return self.inner.rates(series, start, end)

    def prices(
        self, tickers: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
    ) -> PriceData:
        """Prices of ``tickers``; CASH built from the short rate on the others' dates."""
        if CASH_TICKER not in tickers or self._own_cash():
            return self.inner.prices(tickers, start, end)
        others = [t for t in tickers if t != CASH_TICKER]
        series = self._short_rate()
        rate_data = self._rates(series, start, end)
        if not others:
            if rate_data is None:
                raise DataError(
                    "CASH alone at a fixed rate has no dates; ask for it with other tickers",
                    key="ticker",
                    value=CASH_TICKER,
                )
            got = dataclasses.replace(rate_data, frame=rate_data.frame.iloc[:, :0])
        else:
            got = self.inner.prices(others, start, end)
        cash, origin = self._cash(got, rate_data, series)
        frame = got.frame.assign(**{CASH_TICKER: cash.to_numpy()})[list(tickers)]
        cover = SeriesCoverage(
            CASH_TICKER, origin, frame.index[0].date(), frame.index[-1].date(), len(frame), 0, 0
        )
        coverage = [*got.coverage, cover]
        prov = dataclasses.replace(
            got.provenance,
            tickers=tuple(tickers),
            notes=(*got.provenance.notes, f"CASH: {origin}"),
        )
        return PriceData(frame, prov, got.warnings, tuple(coverage))

    def _cash(
        self, got: PriceData, rate_data: PriceData | None, series: str | None
    ) -> tuple[pd.Series, str]:
        index = got.frame.index
        if rate_data is None or series is None:
            if self.rate is None:
                raise DataError(
                    "no CASH series and no short rate (DTB3, DGS3MO, ^IRX) to price it from",
                    file=getattr(self.inner, "source", self.name),
                    key="ticker",
                    value=CASH_TICKER,
                    hint="set [data] cash_rate (annual, e.g. 0.04) in the account file (stress and "
                    "backtest read one with --config) or add a short-rate series",
                )
            return accrue(index, self.rate), f"built-in, accrues at {self.rate:.2%} a year"
        if got.coverage and rate_data.provenance.last < got.provenance.last:
            policy = getattr(self.inner, "policy", None)
            limit = policy.stale_after_days if policy is not None else 30
            check_stale([*got.coverage, *rate_data.coverage], limit)
        rate = rate_data.frame[series].reindex(index.union(rate_data.frame.index)).ffill()
        rate = rate.reindex(index)
        if rate.isna().any():
            first = rate_data.frame.index[0].date()
            raise DataError(
                f"the short rate starts {first}, after the prices (from {index[0].date()})",
                file=rate_data.coverage[0].origin if rate_data.coverage else None,
                key=series,
                hint="start the data later ([data] start)",
            )
        return accrue(index, rate / 100.0), f"built-in, accrues at {series} (percent a year)"
