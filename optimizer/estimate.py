"""The ``Estimate``: what the scenario engine hands to the optimizer.

All moments are for the scenario *horizon* (``horizon_years``, e.g. 0.25 for three months),
as simple (not log) returns. Annualise with ``mu / horizon_years`` and
``Sigma / horizon_years`` for display.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.data.base import Provenance
from optimizer.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


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
    # what [views] did to the estimate (docs/views.md): an optimizer.views.ViewsReport, made
    # by the layer above, which this type does not import
    views: Any = None

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

    @property
    def mu_series(self) -> pd.Series:
        """``mu`` as a Series indexed by ticker."""
        import pandas as pd

        return pd.Series(self.mu, index=list(self.tickers), name="mu", dtype=float)

    @property
    def Sigma_frame(self) -> pd.DataFrame:
        """``Sigma`` as a DataFrame, tickers on both axes."""
        import pandas as pd

        return pd.DataFrame(self.Sigma, index=list(self.tickers), columns=list(self.tickers))

    def scenario(self, scenario_id: str) -> ScenarioMoments:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        from optimizer.errors import ScenarioError

        known = ", ".join(s.id for s in self.scenarios) or "none"
        raise ScenarioError(f"unknown scenario; known: {known}", key="scenario", value=scenario_id)

    @classmethod
    def from_prices(
        cls,
        prices: pd.DataFrame,
        *,
        mean: str | MeanMethod = "historical",
        cov: str | CovMethod = "sample",
        frequency: str | None = None,
        compounding: bool = False,
        horizon_years: float = 1.0,
        risk_free: float = 0.0,
        span: int = 52,
        market_prices: pd.Series | None = None,
    ) -> Estimate:
        """The baseline estimate (``[estimation] mean / covariance`` without scenarios)
        from a price frame, (n_dates, n_assets).

        ``frequency`` (default: the data's own) is the return period the estimators read,
        at period ends over the dates every asset has a price; ``risk_free`` is annual. The
        provenance is the frame's ``attrs["provenance"]`` (set by ``optimizer.prices``) with
        the window used, or says the prices came from a DataFrame.
        """
        import pandas as pd

        from optimizer.data.validate import check_price_frame

        prices = check_price_frame(prices)
        if market_prices is not None:
            market = pd.Series(market_prices).rename("market_prices").to_frame()
            market_prices = check_price_frame(market, origin="market_prices").iloc[:, 0]
        return baseline_from_prices(
            prices, mean=_choice(MeanMethod, mean, "mean"), cov=_choice(CovMethod, cov, "cov"),
            frequency=frequency,
            compounding=compounding, horizon_years=horizon_years, risk_free=risk_free,
            span=span, market_prices=market_prices,
        )  # fmt: skip

    @classmethod
    def from_moments(
        cls,
        mu: pd.Series,
        Sigma: pd.DataFrame,
        *,
        horizon_years: float = 1.0,
        risk_free: float = 0.0,
        samples: pd.DataFrame | None = None,
    ) -> Estimate:
        """An estimate from moments you computed: ``mu`` (n_assets,) indexed by ticker and
        ``Sigma`` (n_assets, n_assets), both over ``horizon_years``; ``risk_free`` is the
        annual rate; ``samples`` (n_samples, n_assets) horizon returns for CVaR."""
        return estimate_from_moments(mu, Sigma, horizon_years, risk_free, samples)


def _choice(kind: type[StrEnum], value: Any, key: str) -> Any:
    """``value`` as a member of ``kind``, or a ConfigError listing the choices."""
    try:
        return kind(value)
    except ValueError:
        from optimizer.errors import ConfigError

        known = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
        raise ConfigError(f"unknown method; one of {known}", key=key, value=value) from None


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
    """PyPortfolioOpt's ``CovarianceShrinkage(prices).ledoit_wolf()``, step for step (its
    returns, NaN as 0, annualised, spectral PSD fix), with the shrinkage computed here as
    scikit-learn's ``ledoit_wolf`` computes it: PyPortfolioOpt's constructor scans every
    installed package's metadata and scikit-learn takes 0.1 s to import, together more than
    the whole estimate. Equal to PyPortfolioOpt's to 1e-12 (tests/test_estimate.py)."""
    import pandas as pd
    from pypfopt.expected_returns import returns_from_prices
    from pypfopt.risk_models import fix_nonpositive_semidefinite

    X = returns_from_prices(x.prices).dropna(how="all")
    shrunk = ledoit_wolf(np.nan_to_num(X.to_numpy()))
    cov = pd.DataFrame(shrunk * x.periods_per_year, index=X.columns, columns=X.columns)
    return fix_nonpositive_semidefinite(cov, fix_method="spectral").to_numpy()


def ledoit_wolf(X: np.ndarray) -> np.ndarray:
    """Ledoit and Wolf's (2004) shrinkage of the sample covariance (population, 1/T) of the
    returns ``X`` (T, n) towards ``mu I``, ``mu`` the mean variance; the shrinkage intensity
    as scikit-learn's ``ledoit_wolf_shrinkage`` computes it. Returns (n, n)."""
    T, n = X.shape
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / T
    if n == 1:
        return S
    mu = float(np.trace(S)) / n
    X2 = Xc * Xc
    beta_ = float(np.sum(X2.T @ X2))
    delta_ = float(np.sum((Xc.T @ Xc) ** 2)) / T**2
    beta = (beta_ / T - delta_) / (n * T)
    delta = (delta_ - 2.0 * mu * float(np.trace(S)) + n * mu**2) / n
    shrinkage = 0.0 if min(beta, delta) == 0 else min(beta, delta) / delta
    out = (1.0 - shrinkage) * S
    out.flat[:: n + 1] += shrinkage * mu
    return out


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
    inputs: BaselineInputs,
    mean: MeanMethod,
    cov: CovMethod,
    horizon_years: float,
    riskless: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Horizon mean (n_assets,) and covariance (n_assets, n_assets) by named estimators.

    The annual estimates are scaled linearly to ``horizon_years``. ``riskless`` (a column,
    e.g. the built-in cash) is kept out of the covariance estimator: its own sample
    variance, no covariance. Shrinkage towards the assets' average variance (Ledoit-Wolf)
    would lend cash a bond fund's volatility.
    """
    mu = MEAN_ESTIMATORS[MeanMethod(mean)](inputs) * horizon_years
    columns = list(inputs.prices.columns)
    if riskless is None or riskless not in columns or len(columns) < 2:
        Sigma = COV_ESTIMATORS[CovMethod(cov)](inputs) * horizon_years
        return mu, (Sigma + Sigma.T) / 2
    i = columns.index(riskless)
    rest = [k for k in range(len(columns)) if k != i]
    risky = replace(inputs, prices=inputs.prices.iloc[:, rest])
    alone = replace(inputs, prices=inputs.prices.iloc[:, [i]])
    Sigma = np.zeros((len(columns), len(columns)))
    Sigma[np.ix_(rest, rest)] = COV_ESTIMATORS[CovMethod(cov)](risky) * horizon_years
    Sigma[i, i] = COV_ESTIMATORS[CovMethod.SAMPLE](alone)[0, 0] * horizon_years
    return mu, (Sigma + Sigma.T) / 2


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
    from optimizer.data.period_returns import last_of_period

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
    if market_prices is not None:  # the market's level on the same period ends
        market_prices = market_prices.sort_index().reindex(levels.index, method="ffill")
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
