"""Shocks in, per-asset distribution out: a factor model fitted as of a date, re-used.

:class:`ShockModel` samples the data at true month ends (and, for exposures estimated at a
higher frequency, at every week or day end in between), fits a
:class:`~optimizer.factors.FactorModel` on the ``window`` months before ``as_of`` and
propagates factor shocks over one month with the engine's maths
(:func:`~optimizer.scenario.propagate.conditional_gaussian`,
:func:`~optimizer.scenario.propagate.asset_moments`)::

    model = ShockModel(history).fit(as_of=dt.date(2022, 3, 31))
    p = model.predict({"equity": -0.08, "long_rate": 0.005})
    p.frame()          # per asset: mean, sd, 5/25/75/95 % quantiles

The data is read once (:class:`MarketHistory`); ``fit`` and ``predict`` only slice arrays.
The scenario backtest (optimizer.scenario.backtest) is this model called month after month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from optimizer.errors import DataError, ScenarioError
from optimizer.factors import FactorModel, Frequency, Regime, factor_values
from optimizer.scenario.engine import MarketHistory
from optimizer.scenario.propagate import asset_moments, conditional_gaussian, plausibility


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How the model is estimated (the choices the scenario backtest compares)."""

    window: int = 60  # months of history before the as-of date
    sampling: Frequency = Frequency.DAILY  # returns the exposures are estimated from
    halflife: float | None = 36.0  # months; exponential weights (None: equal weights)
    tail_dof: float | None = None  # Student-t degrees of freedom of intervals (None: normal)
    alpha_shrink: float = 0.0  # share of the fitted intercepts taken out (1: no intercept)
    monthly_errors: bool = True  # intervals scaled to the window's monthly prediction errors
    regime: Regime = Regime.CALM  # the factor covariance the shocks are propagated with
    stressed_min: float = 12.0  # months: fewest turbulent months the stressed cov uses
    stressed_prior: float = 30.0  # months of calm covariance the stressed one is shrunk toward

    def text(self) -> str:
        parts = [f"{self.window} months of {self.sampling.value} returns"]
        parts.append(f"half-life {self.halflife:g} months" if self.halflife else "equal weights")
        parts.append(f"Student-t({self.tail_dof:g}) tails" if self.tail_dof else "normal tails")
        if self.alpha_shrink:
            parts.append(f"intercepts shrunk by {self.alpha_shrink:.0%}")
        if self.monthly_errors:
            parts.append("intervals from the window's monthly errors")
        if self.regime is Regime.STRESSED:
            parts.append(
                f"stressed covariance (at least {self.stressed_min:g} months, shrunk toward "
                f"calm by {self.stressed_prior:g} months)"
            )
        return ", ".join(parts)


@dataclass(frozen=True)
class Prediction:
    """The one-month distribution of the assets given the shocks."""

    tickers: tuple[str, ...]  # (n_assets,)
    as_of: dt.date  # last date of the data the model saw
    shocks: dict[str, float]  # factor -> stated move over the month, in factor units
    mu: np.ndarray  # (n_assets,) expected simple return over the month
    Sigma: np.ndarray  # (n_assets, n_assets) covariance over the month
    factor_moves: dict[str, float]  # factor -> conditional expected move
    mahalanobis: float  # distance of the shocks under the fitted (calm) factor covariance
    tail_probability: float  # chance of shocks at least this unusual
    plausibility: str  # the tail probability in words
    tail_dof: float | None = None  # Student-t degrees of freedom (None: normal)
    window: str = ""  # the fitted window, e.g. "2017-03-31..2022-02-28 (60 months)"
    exposures: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def sd(self) -> np.ndarray:
        """(n_assets,) standard deviation (the scale of a Student-t)."""
        return np.sqrt(np.clip(np.diag(self.Sigma), 0.0, None))

    def quantile(self, q: float) -> np.ndarray:
        """(n_assets,) the ``q`` quantile of each asset's return."""
        z = stats.norm.ppf(q) if self.tail_dof is None else stats.t.ppf(q, self.tail_dof)
        return self.mu + z * self.sd

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` (e.g. 0.9) prediction interval, two arrays (n_assets,)."""
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)

    def frame(self) -> pd.DataFrame:
        """Per asset (rows): mean, sd and the 5, 25, 75 and 95 % quantiles."""
        cols = {"mean": self.mu, "sd": self.sd}
        cols.update({f"q{round(q * 100):02d}": self.quantile(q) for q in (0.05, 0.25, 0.75, 0.95)})
        return pd.DataFrame(cols, index=pd.Index(self.tickers, name="ticker"))


class ShockModel:
    """A factor model fitted as of a date, propagating one-month shocks.

    Parameters
    ----------
    history : the run's data; its ``daily`` levels (true month ends) are used when kept,
        else its period-end ``levels``.
    options : how the model is estimated.
    tickers : the assets (default: the history's).

    Attributes (after :meth:`fit`)
    ------------------------------
    model_ : FactorModel on the window's returns
    as_of_ : date, the last date of data the model saw
    periods_ : float, sampled periods per month in the window (1 for monthly)
    """

    def __init__(
        self,
        history: MarketHistory,
        options: EngineOptions | None = None,
        *,
        tickers: tuple[str, ...] | None = None,
    ) -> None:
        self.history = history
        self.options = options or EngineOptions()
        self.tickers = tickers or tuple(str(c) for c in history.returns.columns)
        self._sampled: SampledReturns | None = None

    @classmethod
    def from_source(
        cls, source: str, tickers: Sequence[str], options: EngineOptions | None = None
    ) -> ShockModel:
        """Read ``tickers`` and the factor series from ``source`` (``"csv:PATH,..."``,
        ``"yahoo"``, ``"sample"``) once; fit and predict as often as wanted after."""
        return cls(load_market(source, tickers), options, tickers=tuple(tickers))

    @property
    def sampled(self) -> SampledReturns:
        """Returns and factor values at the sampling dates (built once, shared by fits)."""
        if self._sampled is None:
            self._sampled = SampledReturns.build(self.history, self.tickers, self.options.sampling)
        return self._sampled

    def fit(self, as_of: dt.date | str) -> ShockModel:
        """Fit on the ``window`` months whose last date is on or before ``as_of``.

        No data after ``as_of`` is read. A month counts when its last common date is on or
        before ``as_of`` (the last month of the data counts even if the data ends inside it).
        """
        s = self.sampled
        as_of = pd.Timestamp(as_of)
        done = [m for m, end in s.month_ends.items() if end <= as_of]  # months over by as_of
        last = max(done) if done else pd.Period(as_of, "M")
        first = last - self.options.window + 1
        rows = (s.months >= first) & (s.months <= last)
        have = set(s.months[rows])
        if len(have) < self.options.window or first - 1 not in s.month_ends:
            raise DataError(
                f"the data has no full {self.options.window}-month window before the as-of date",
                key="as_of",
                value=as_of.date().isoformat(),
                hint=f"the data covers {s.span()}",
            )
        R, F = s.returns.loc[rows], s.factors.loc[rows]
        weights = self._weights(s.months[rows], last)
        self.periods_ = float(rows.sum()) / self.options.window
        o = self.options
        self.model_ = FactorModel(
            min_periods=o.window,
            stressed_min=round(o.stressed_min * self.periods_),
            stressed_prior=o.stressed_prior * self.periods_,
        ).fit(R, F, weights)
        self.as_of_ = s.month_ends[last].date()
        self.window_months_ = (first, last)
        self.window_ = (
            f"{s.month_ends[first - 1].date()}..{self.as_of_} ({self.options.window} months of "
            f"{self.options.sampling.value} returns)"
        )
        return self

    def _weights(self, months: np.ndarray, last: pd.Period) -> np.ndarray | None:
        if self.options.halflife is None:
            return None
        age = np.array([(last - m).n for m in months], dtype=float)
        return 0.5 ** (age / self.options.halflife)

    def predict(self, shocks: Mapping[str, float]) -> Prediction:
        """Per-asset one-month distribution given factor moves over that month.

        ``shocks`` maps a factor name to its move in factor units (equity: a simple return,
        0.01 = 1 %; long_rate: a yield change in decimal, 0.0025 = 25 bp).
        """
        model = self.model_
        names = list(model.factor_names_)
        for name in shocks:
            if name not in names:
                raise ScenarioError(
                    f"factor has no series in this data; factors available: {', '.join(names)}",
                    key="shocks",
                    value=name,
                )
        idx = [names.index(n) for n in shocks]
        values = np.array([float(v) for v in shocks.values()])
        h = self.periods_
        mean_h, cov_h = model.factor_mean_ * h, model.factor_cov_ * h
        f_mean, mu, Sigma = self._moments(idx, values)
        if self.options.monthly_errors:
            scale = np.sqrt(self._error_variance(idx) / np.diag(Sigma))
            Sigma = Sigma * np.outer(scale, scale)
        distance = _distance(values, mean_h[idx], cov_h[np.ix_(idx, idx)])
        tail, words = tail_probability(distance, len(idx), self.options.tail_dof)
        return Prediction(
            tickers=model.tickers_,
            as_of=self.as_of_,
            shocks=dict(zip(shocks, values.tolist(), strict=True)),
            mu=mu,
            Sigma=Sigma,
            factor_moves={n: float(v) for n, v in zip(names, f_mean, strict=True)},
            mahalanobis=distance,
            tail_probability=tail,
            plausibility=words,
            tail_dof=self.options.tail_dof,
            window=self.window_,
            exposures=model.exposures_dict(),
        )

    def _moments(
        self, idx: list[int], values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Conditional factor mean (k,), asset mean (n,) and covariance (n, n) over a month."""
        model, h = self.model_, self.periods_
        used = model.covariance(self.options.regime) * h
        f_mean, f_cov = conditional_gaussian(model.factor_mean_ * h, used, idx, values)
        a = model.intercept_ * (1.0 - self.options.alpha_shrink)
        mu, Sigma = asset_moments(a, model.exposures_, model.residual_var_, h, f_mean, f_cov)
        return f_mean, mu, Sigma

    def _error_variance(self, idx: list[int]) -> np.ndarray:
        """(n_assets,) mean squared error of the model's month-end to month-end predictions
        over its own window, each month shocked with its own moves (weighted like the fit)."""
        s, (first, last) = self.sampled, self.window_months_
        months = pd.period_range(first, last, freq="M")
        moves = s.monthly_factors.loc[months].iloc[:, idx].to_numpy()
        realised = s.monthly_returns.loc[months, list(self.tickers)].to_numpy()
        errors = np.array(
            [r - self._moments(idx, m)[1] for r, m in zip(realised, moves, strict=True)]
        )
        w = self._weights(np.asarray(months), last)
        w = np.ones(len(months)) if w is None else w
        return (w @ errors**2) / w.sum()


def load_market(source: str, tickers: Sequence[str]) -> MarketHistory:
    """The assets and every factor series the source has (``[data] source``), all dates."""
    from optimizer.config import validate
    from optimizer.data.settings import DataConfig
    from optimizer.scenario.config import EstimationConfig
    from optimizer.scenario.history import load_history

    data = validate(DataConfig, {"source": source}, prefix="data")
    est = validate(EstimationConfig, {}, prefix="estimation")
    return load_history(data.provider(None), data, est, list(tickers))


def tail_probability(distance: float, dof: int, tail_dof: float | None) -> tuple[float, str]:
    """Chance of shocks at least ``distance`` away, normal or multivariate Student-t.

    Under a multivariate t with ``tail_dof`` degrees of freedom and the fitted covariance
    as its scale, the squared distance over ``dof`` is F(dof, tail_dof) distributed.
    """
    if tail_dof is None or dof == 0:
        return plausibility(distance, dof)
    p = float(stats.f.sf(distance**2 / dof, dof, tail_dof))
    _, words = plausibility(float(np.sqrt(stats.chi2.isf(max(p, 1e-300), dof))), dof)
    return p, words


def _distance(values: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    diff = values - mean
    return float(np.sqrt(max(diff @ np.linalg.pinv(cov) @ diff, 0.0)))


@dataclass(frozen=True)
class SampledReturns:
    """Asset returns and factor values between consecutive sampling dates.

    The sampling dates are every true month end (the last date of each month on which every
    series has a value) plus, for weekly or daily sampling, every week end or day between:
    no period straddles a month end, so a window of whole months is a set of rows.
    """

    returns: pd.DataFrame  # (n_periods, n_assets) simple returns
    factors: pd.DataFrame  # (n_periods, n_factors) factor values
    months: np.ndarray  # (n_periods,) the month (pd.Period) each period ends in
    month_ends: dict[Any, pd.Timestamp]  # month -> its last common date
    monthly_returns: pd.DataFrame  # (n_months, n_assets) month-end to month-end returns
    monthly_factors: pd.DataFrame  # (n_months, n_factors) month-end to month-end moves

    @classmethod
    def build(
        cls, history: MarketHistory, tickers: tuple[str, ...], sampling: Frequency
    ) -> SampledReturns:
        levels = _levels(history, tickers)
        periods = levels.index.to_period("M")
        month_end_rows = levels.index.to_series().groupby(periods).max()
        month_ends = dict(zip(month_end_rows.index, month_end_rows.to_numpy(), strict=True))
        month_ends = {m: pd.Timestamp(t) for m, t in month_ends.items()}
        monthly = levels.loc[pd.DatetimeIndex(list(month_ends.values()))]
        dates = pd.DatetimeIndex(list(month_ends.values()))
        if sampling is Frequency.DAILY:
            dates = levels.index
        elif sampling is Frequency.WEEKLY:
            weeks = levels.index.to_series().groupby(levels.index.to_period("W-FRI")).max()
            dates = dates.union(pd.DatetimeIndex(weeks.to_numpy()))
        sampled = levels.loc[dates]
        r, f = _returns(sampled, tickers, history.specs)
        mr, mf = _returns(monthly, tickers, history.specs)
        mr.index = mf.index = mr.index.to_period("M")
        return cls(r, f, r.index.to_period("M").to_numpy(), month_ends, mr, mf)

    def span(self) -> str:
        ends = list(self.month_ends.values())
        return f"{ends[0].date()}..{ends[-1].date()}" if ends else "no dates"


def _levels(history: MarketHistory, tickers: tuple[str, ...]) -> pd.DataFrame:
    """Levels of the assets and every factor series, on the dates all of them have."""
    frame = history.daily if history.daily is not None else history.levels
    if frame is None:
        raise DataError("the history keeps no levels to sample", key="history")
    factor_series = [t for spec in history.specs.values() for t in spec.tickers()]
    series = list(dict.fromkeys([*tickers, *factor_series]))
    return frame[series].dropna().sort_index()


def _returns(
    levels: pd.DataFrame, tickers: tuple[str, ...], specs: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    returns = levels[list(tickers)].pct_change().iloc[1:]
    return returns, factor_values(specs, levels, levels)
