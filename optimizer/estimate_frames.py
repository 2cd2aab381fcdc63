"""Estimates from pandas frames: ``Estimate.from_prices`` and ``Estimate.from_moments``.

The baseline estimators are the ones ``[estimation] mean / covariance`` name
(:func:`optimizer.estimate.baseline_moments`, PyPortfolioOpt underneath).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from optimizer.data.base import Provenance
from optimizer.errors import DataError
from optimizer.estimate import BaselineInputs, CovMethod, Estimate, MeanMethod, baseline_moments

if TYPE_CHECKING:
    import pandas as pd


def baseline_from_prices(
    prices: pd.DataFrame,
    *,
    mean: MeanMethod,
    cov: CovMethod,
    frequency: str | None,
    compounding: bool,
    horizon_years: float,
    risk_free: float,
    span: int,
    market_prices: pd.Series | None,
) -> Estimate:
    """See :meth:`Estimate.from_prices`."""
    from optimizer.data.frequency import Frequency, infer_frequency
    from optimizer.data.returns import last_of_period

    native = infer_frequency(prices.index)
    freq = native if frequency is None else Frequency.parse(frequency)
    if freq.rank < native.rank:
        raise DataError(
            f"the prices are {native.value}; a finer frequency cannot be read from them",
            key="frequency",
            value=freq.value,
        )
    levels = last_of_period(prices.dropna(), freq)
    if len(levels) < 3:
        raise DataError("fewer than 3 periods where every asset has a price", key="prices")
    inputs = BaselineInputs(
        prices=levels,
        periods_per_year=freq.periods_per_year,
        span=span,
        market_prices=market_prices,
        risk_free_annual=risk_free,
        compounding=compounding,
    )
    mu, Sigma = baseline_moments(inputs, mean, cov, horizon_years)
    first, last = levels.index[1].date(), levels.index[-1].date()
    window = f"{freq.value} returns {first}..{last}, the periods all assets share"
    tickers = tuple(str(t) for t in prices.columns)
    given = prices.attrs.get("provenance")
    provenance = (
        dataclasses.replace(given, tickers=tickers, first=first, last=last, frequency=freq.value)
        if isinstance(given, Provenance)
        else Provenance("pandas DataFrame", tickers, first, last, freq.value)
    )
    compounded = " (compounded)" if compounding else ""
    return Estimate(
        tickers=tickers,
        mu=mu,
        Sigma=Sigma,
        horizon_years=horizon_years,
        risk_free=risk_free * horizon_years,
        provenance=dataclasses.replace(
            provenance, notes=(*provenance.notes, f"baseline estimators read {window}")
        ),
        method=f"{mean.value} mean{compounded}, {cov.value} covariance; {window}",
        window=window,
    )


def estimate_from_moments(
    mu: pd.Series,
    Sigma: pd.DataFrame,
    horizon_years: float,
    risk_free: float,
    samples: pd.DataFrame | None,
) -> Estimate:
    """See :meth:`Estimate.from_moments`."""
    import pandas as pd

    mu = pd.Series(mu, dtype=float)
    tickers = tuple(str(t) for t in mu.index)
    if isinstance(Sigma, pd.DataFrame):
        Sigma = Sigma.loc[list(mu.index), list(mu.index)]
    S = np.asarray(Sigma, dtype=float)
    if S.shape != (len(tickers), len(tickers)):
        raise DataError(f"Sigma must be {len(tickers)} x {len(tickers)}", key="Sigma")
    draws = None
    if samples is not None:
        draws = np.asarray(
            samples[list(mu.index)] if isinstance(samples, pd.DataFrame) else samples, dtype=float
        )
    return Estimate(
        tickers=tickers,
        mu=mu.to_numpy(),
        Sigma=(S + S.T) / 2,
        horizon_years=horizon_years,
        risk_free=risk_free * horizon_years,
        provenance=Provenance("moments given", tickers, None, None, ""),
        samples=draws,
        method="moments given",
    )
