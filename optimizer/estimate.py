"""The ``Estimate``: what the scenario engine hands to the optimizer.

All moments are for the scenario *horizon* (``horizon_years``, e.g. 0.25 for three months),
as simple (not log) returns. Annualise with ``mu / horizon_years`` and
``Sigma / horizon_years`` for display.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.data.base import Provenance

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.views import ViewsReport


@dataclass(frozen=True)
class ScenarioMoments:
    """One scenario's conditional moments and how plausible its shocks are."""

    id: str
    title: str
    probability: float  # weight in the mixture, 0..1
    mu: np.ndarray  # (n_assets,) conditional horizon mean
    Sigma: np.ndarray  # (n_assets, n_assets) conditional horizon covariance, PSD
    factor_moves: dict[str, float]  # factor -> conditional expected move (shocked and implied)
    mahalanobis: float  # distance of the stated shocks from the factor distribution
    plausibility: str  # plain words: "ordinary", "unusual (1 in 20)", "extreme (1 in 1000)"
    history: str  # which history the relationships came from, e.g. "2022-01-03..2025-12-31"
    regime: str = "calm"  # covariance regime used: "calm" or "stressed"
    details: dict[str, Any] = field(default_factory=dict)  # shocks as stated, spot levels, ...


@dataclass(frozen=True)
class Estimate:
    """Horizon return moments for ``tickers``, per scenario and as a mixture.

    ``samples`` is the seeded Monte Carlo matrix of horizon returns drawn from the mixture,
    used by CVaR and robust objectives; ``None`` when no scenarios were requested. With
    ``[estimation] samples = "historical"`` it is the historical period returns instead, and
    ``samples_period`` names the period (``"daily"``, ``"weekly"``, ``"monthly"``).
    """

    tickers: tuple[str, ...]
    mu: np.ndarray  # (n_assets,) mixture (or baseline) horizon mean
    Sigma: np.ndarray  # (n_assets, n_assets) mixture horizon covariance, PSD
    horizon_years: float  # horizon of mu/Sigma in years
    risk_free: float  # risk-free return over the horizon
    provenance: Provenance
    scenarios: tuple[ScenarioMoments, ...] = ()
    samples: np.ndarray | None = None  # (n_samples, n_assets) returns over samples_period
    seed: int | None = None
    method: str = ""  # e.g. "factor model (4 factors) + 3 scenarios" or "ledoit_wolf"
    exposures: dict[str, dict[str, float]] = field(default_factory=dict)  # ticker -> factor -> beta
    samples_period: str = "horizon"  # what one sample spans: "horizon", or "weekly" etc.
    samples_note: str = ""  # the samples in words, e.g. "4,000 historical daily returns ..."
    window: str = ""  # the dates the estimators read, in words
    probabilities: np.ndarray | None = None  # (n_samples,) of the samples; None: equal
    views: ViewsReport | None = None  # what [views] did to the estimate (docs/views.md)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: ``method``, ``window``, ``horizon_years``, ``samples`` (and ``views``
        when views tilted the estimate)."""
        out = {
            "method": self.method,
            "window": self.window,
            "horizon_years": self.horizon_years,
            "samples": self.samples_note or None,
        }
        if self.views is not None:
            out["views"] = self.views.to_dict()
        return out

    @property
    def n_assets(self) -> int:
        return len(self.tickers)

    def scenario(self, scenario_id: str) -> ScenarioMoments:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        from optimizer.errors import ScenarioError

        known = ", ".join(s.id for s in self.scenarios) or "none"
        raise ScenarioError(f"unknown scenario; known: {known}", key="scenario", value=scenario_id)


class MeanMethod(StrEnum):
    """Baseline expected-return estimators (PyPortfolioOpt), annual; arithmetic, or
    compounded (geometric) with ``BaselineInputs.compounding``."""

    HISTORICAL = "historical"  # mean of period returns
    EMA = "ema"  # exponentially weighted mean of period returns (span in periods)
    CAPM = "capm"  # risk-free + beta * (market mean - risk-free)


class EstimationWindow(StrEnum):
    """Which dates the baseline estimators read."""

    COMMON = "common"  # the periods where every asset has a price
    FULL = "full"  # each series' own history; covariances pairwise (PyPortfolioOpt on NaNs)


class SampleSource(StrEnum):
    """Where the return samples for CVaR come from."""

    SCENARIOS = "scenarios"  # Monte Carlo draws from the scenario mixture, over the horizon
    HISTORICAL = "historical"  # the historical period returns themselves (common window)


class CovMethod(StrEnum):
    """Baseline covariance estimators (PyPortfolioOpt), annual."""

    SAMPLE = "sample"
    LEDOIT_WOLF = "ledoit_wolf"  # shrinkage towards a constant-variance target
    EXP = "exp"  # exponentially weighted (span in periods)


@dataclass(frozen=True)
class BaselineInputs:
    """What a baseline estimator reads: prices and how to annualise them."""

    prices: pd.DataFrame  # (n_periods, n_assets) period-end prices; NaN before a listing
    periods_per_year: int
    span: int = 52  # EMA / exponential covariance span, in periods
    market_prices: pd.Series | None = None  # (n_periods,) for CAPM; None: equal-weight market
    risk_free_annual: float = 0.0
    compounding: bool = False  # geometric (CAGR) means instead of arithmetic ones


def _mean_historical(x: BaselineInputs) -> np.ndarray:
    from pypfopt import expected_returns

    return expected_returns.mean_historical_return(
        x.prices, compounding=x.compounding, frequency=x.periods_per_year
    ).to_numpy()


def _mean_ema(x: BaselineInputs) -> np.ndarray:
    from pypfopt import expected_returns

    return expected_returns.ema_historical_return(
        x.prices, compounding=x.compounding, span=x.span, frequency=x.periods_per_year
    ).to_numpy()


def _mean_capm(x: BaselineInputs) -> np.ndarray:
    from pypfopt import expected_returns

    market = None if x.market_prices is None else x.market_prices.to_frame("market")
    return expected_returns.capm_return(
        x.prices,
        market_prices=market,
        risk_free_rate=x.risk_free_annual,
        compounding=x.compounding,
        frequency=x.periods_per_year,
    ).to_numpy()


def _cov_sample(x: BaselineInputs) -> np.ndarray:
    from pypfopt import risk_models

    return risk_models.sample_cov(x.prices, frequency=x.periods_per_year).to_numpy()


def _cov_ledoit_wolf(x: BaselineInputs) -> np.ndarray:
    from pypfopt import risk_models

    shrink = risk_models.CovarianceShrinkage(x.prices, frequency=x.periods_per_year)
    return shrink.ledoit_wolf().to_numpy()


def _cov_exp(x: BaselineInputs) -> np.ndarray:
    from pypfopt import risk_models

    return risk_models.exp_cov(x.prices, span=x.span, frequency=x.periods_per_year).to_numpy()


MEAN_ESTIMATORS: dict[MeanMethod, Callable[[BaselineInputs], np.ndarray]] = {
    MeanMethod.HISTORICAL: _mean_historical,
    MeanMethod.EMA: _mean_ema,
    MeanMethod.CAPM: _mean_capm,
}
COV_ESTIMATORS: dict[CovMethod, Callable[[BaselineInputs], np.ndarray]] = {
    CovMethod.SAMPLE: _cov_sample,
    CovMethod.LEDOIT_WOLF: _cov_ledoit_wolf,
    CovMethod.EXP: _cov_exp,
}


def baseline_moments(
    inputs: BaselineInputs, mean: MeanMethod, cov: CovMethod, horizon_years: float
) -> tuple[np.ndarray, np.ndarray]:
    """Horizon mean (n_assets,) and covariance (n_assets, n_assets) by named estimators.

    The annual estimates are scaled linearly to ``horizon_years``.
    """
    mu = MEAN_ESTIMATORS[MeanMethod(mean)](inputs) * horizon_years
    Sigma = COV_ESTIMATORS[CovMethod(cov)](inputs) * horizon_years
    return mu, (Sigma + Sigma.T) / 2


def __getattr__(name: str) -> Any:
    """``build_estimate`` lives with the scenario engine; re-exported here lazily."""
    if name in {"build_estimate", "EstimationConfig", "ScenarioSetConfig"}:
        from optimizer.scenario import build, config

        return getattr(build, name, None) or getattr(config, name)
    raise AttributeError(name)
