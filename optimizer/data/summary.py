"""What ``capalloc data show`` reports: per-series coverage and annualised statistics."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data.align import check_stale
from optimizer.data.base import PriceData, Provider
from optimizer.data.frequency import Frequency
from optimizer.data.period_returns import returns
from optimizer.errors import DataError


@dataclass(frozen=True)
class SourceSummary:
    """Per-ticker rows plus the provenance and warnings of the data they came from."""

    tickers: dict[str, dict[str, Any]]  # ticker -> fields (kind, first, last, stats ...)
    prices: PriceData | None
    rates: PriceData | None

    @property
    def warnings(self) -> list[str]:
        data = [d for d in (self.prices, self.rates) if d]
        out = [w for d in data for w in (*d.provenance.warnings, *d.warnings)]
        frame = self.prices.frame if self.prices is not None else None
        if frame is not None and len(frame) > 1:
            days = (frame.index[-1] - frame.index[0]).days
            if days < 365:
                out.append(
                    f"the annualised figures extrapolate {days} days "
                    f"({frame.index[0].date()}..{frame.index[-1].date()}) to a year"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        main = self.prices or self.rates
        doc: dict[str, Any] = {
            "tickers": self.tickers,
            "provenance": main.provenance.to_dict() if main else None,
            "warnings": self.warnings,
        }
        if self.prices and self.rates:
            doc["rates_provenance"] = self.rates.provenance.to_dict()
        return doc


def price_stats(frame: pd.DataFrame, frequency: Frequency) -> dict[str, dict[str, float]]:
    """Annualised geometric return and volatility of each column of ``frame``.

    ``frame``: prices of shape (n_dates, n_tickers) at ``frequency``; returns are simple
    returns at that frequency, annualised with its periods per year.
    """
    ppy = frequency.periods_per_year
    r = returns(frame, frequency.value, "simple")
    n = len(r)
    out = {}
    for ticker in frame.columns:
        growth = float(frame[ticker].iloc[-1] / frame[ticker].iloc[0])
        out[str(ticker)] = {
            "annual_return": growth ** (ppy / n) - 1.0 if n else math.nan,
            "annual_volatility": float(r[ticker].std(ddof=1) * np.sqrt(ppy)) if n > 1 else math.nan,
        }
    return out


def rate_stats(frame: pd.DataFrame, frequency: Frequency) -> dict[str, dict[str, float]]:
    """Level statistics of rate series (percent) and the annualised volatility of their
    changes in basis points."""
    ppy = frequency.periods_per_year
    diff = frame.diff().iloc[1:]
    return {
        str(t): {
            "last_value": float(frame[t].iloc[-1]),
            "mean": float(frame[t].mean()),
            "min": float(frame[t].min()),
            "max": float(frame[t].max()),
            "change_volatility_bp": float(diff[t].std(ddof=1) * np.sqrt(ppy) * 100.0),
        }
        for t in frame.columns
    }


def summarize(
    provider: Provider,
    tickers: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> SourceSummary:
    """Load ``tickers`` (default: all the provider offers) and describe each one."""
    rate_names = set(getattr(provider, "available_rates", list)())
    wanted = list(tickers) if tickers else provider.available()
    if not wanted:
        raise DataError(
            "the source lists no tickers (for yahoo: only cached ones)",
            file=getattr(provider, "source", provider.name),
            key="tickers",
            hint="name them with --tickers",
        )
    rates_wanted = [t for t in wanted if t in rate_names or t.upper() in rate_names]
    prices_wanted = [t for t in wanted if t not in rates_wanted]
    prices = provider.prices(prices_wanted, start, end) if prices_wanted else None
    if prices is None or not rates_wanted:
        rate_sets = [provider.rates(rates_wanted, start, end)] if rates_wanted else []
    else:
        # the workflows' rule, beside prices: each rate series is fetched on its own (as a
        # factor is) and is stale only when it ends long before the prices, not before
        # another rate series (FRED runs months past Yahoo's ^TNX in ../shared/data)
        rate_sets = [provider.rates([t], start, end) for t in rates_wanted]
        policy = getattr(provider, "policy", None)
        limit = policy.stale_after_days if policy is not None else 30
        latest = max(c.last for c in prices.coverage)
        behind = [c for r in rate_sets for c in r.coverage if c.last < latest]
        check_stale([*prices.coverage, *behind], limit)
    rows: dict[str, dict[str, Any]] = {}
    sets = [(prices, "price", price_stats)] if prices is not None else []
    for data, kind, stats in [*sets, *((r, "rate", rate_stats) for r in rate_sets)]:
        freq = Frequency.parse(data.provenance.frequency)
        values = stats(data.frame, freq)
        for cov in data.coverage:
            rows[cov.ticker] = {"kind": kind, **cov.to_dict(), **values[cov.ticker]}
    ordered = {t: rows[t] for t in _resolved(wanted, rows)}
    return SourceSummary(ordered, prices, _merged(rate_sets))


def _merged(sets: Sequence[PriceData]) -> PriceData | None:
    """Rate series fetched one by one, as one PriceData for the provenance and warnings:
    the union of their dates, each on its own span."""
    if len(sets) <= 1:
        return sets[0] if sets else None
    first = min(s.provenance.first for s in sets if s.provenance.first)
    last = max(s.provenance.last for s in sets if s.provenance.last)
    provenance = dataclasses.replace(
        sets[0].provenance,
        tickers=tuple(t for s in sets for t in s.provenance.tickers),
        first=first,
        last=last,
        notes=tuple(dict.fromkeys(n for s in sets for n in s.provenance.notes)),
        warnings=tuple(w for s in sets for w in s.provenance.warnings),
    )
    frame = pd.concat([s.frame for s in sets], axis=1)
    warnings = tuple(w for s in sets for w in s.warnings)
    return PriceData(frame, provenance, warnings, tuple(c for s in sets for c in s.coverage))


def _resolved(wanted: Sequence[str], rows: dict[str, Any]) -> list[str]:
    folded = {t.upper(): t for t in rows}
    return [t if t in rows else folded[t.upper()] for t in wanted]
