"""The market-data contract every provider fulfils, and the provenance every result carries.

Prices are adjusted closes: a ``pandas.DataFrame`` indexed by a sorted, unique
``DatetimeIndex`` (named ``date``) with one float column per ticker. Rates (yields, short
rates) have the same shape and are in percent (4.05 means 4.05 %).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Provenance:
    """Where numbers came from: attached to every estimate, allocation and report."""

    source: str  # "sample", "yahoo", "csv:/path"
    tickers: tuple[str, ...]
    first: dt.date | None
    last: dt.date | None
    frequency: str  # "daily", "weekly", "monthly"
    stale: bool = False  # any series served from a cache older than the freshness limit
    notes: tuple[str, ...] = ()  # e.g. "bundled sample: Ken French portfolios, 1949-01..2017-03"
    as_of: dt.date | None = None  # the one date estimation, prices and lots are taken at
    # what the user must be told about the data: a short history, a series that cut the
    # others' (shown with the results, not only in the provenance)
    warnings: tuple[str, ...] = ()
    currency: str | None = None  # of the prices, when the source says (Yahoo does)
    # the series that ends first, when another runs past it: it set ``last``
    ended_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tickers": list(self.tickers),
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "frequency": self.frequency,
            "stale": self.stale,
            "notes": list(self.notes),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "warnings": list(self.warnings),
            **({"currency": self.currency} if self.currency else {}),
            **({"ended_by": self.ended_by} if self.ended_by else {}),
        }


@dataclass(frozen=True)
class SeriesCoverage:
    """One series as found in its source (within the requested dates), before alignment."""

    ticker: str
    origin: str  # file or source it came from
    first: dt.date  # first valid observation
    last: dt.date  # last valid observation
    observations: int  # valid observations between first and last
    missing: int  # observations absent or blank between first and last (own calendar)
    longest_gap: int  # longest run of missing observations
    filled: int = 0  # values forward-filled in the aligned frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "observations": self.observations,
            "missing": self.missing,
            "longest_gap": self.longest_gap,
            "filled": self.filled,
        }


@dataclass(frozen=True)
class PriceData:
    """A validated, aligned frame of prices or rates with its provenance."""

    frame: pd.DataFrame  # (n_dates, n_tickers), DatetimeIndex named "date"
    provenance: Provenance
    warnings: tuple[str, ...] = field(default=())  # e.g. "aligned to common window ..."
    coverage: tuple[SeriesCoverage, ...] = field(default=())  # per ticker, before alignment


@runtime_checkable
class Provider(Protocol):
    """A source of adjusted close prices and rate series."""

    name: str

    def prices(
        self,
        tickers: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> PriceData:
        """Adjusted close prices, validated; raises DataError naming ticker and dates."""
        ...

    def rates(
        self,
        series: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> PriceData:
        """Rate series in percent (10-year yield, a short rate), validated."""
        ...

    def available(self) -> list[str]:
        """Tickers and series this provider can serve without a network call."""
        ...


class ServedBy:
    """Mixin for providers that answer prices and rates through one ``_serve`` method."""

    def prices(
        self, tickers: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
    ) -> PriceData:
        """Adjusted close prices, validated and aligned."""
        from optimizer.data.validate import SeriesKind

        return self._serve(tickers, start, end, SeriesKind.PRICE)

    def rates(
        self, series: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
    ) -> PriceData:
        """Rate series in percent, validated and aligned."""
        from optimizer.data.validate import SeriesKind

        return self._serve(series, start, end, SeriesKind.RATE)

    def _serve(
        self, tickers: Sequence[str], start: dt.date | None, end: dt.date | None, kind: Any
    ) -> PriceData:
        raise NotImplementedError


def last_closes(
    provider: Provider,
    tickers: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, float]:
    """Each ticker's last close up to ``end`` (its last observation; tickers with none are
    left out, for the caller to name)."""
    frame = provider.prices(list(tickers), start, end).frame
    out: dict[str, float] = {}
    for t in tickers:
        series = frame[t].dropna() if t in frame.columns else None
        if series is not None and len(series):
            out[str(t)] = float(series.iloc[-1])
    return out
