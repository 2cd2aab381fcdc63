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
from optimizer.factors import FactorKind, FactorSpec, Regime
from optimizer.scenario.engine import MarketHistory
from optimizer.scenario.estimator import (
    EngineOptions,
    SampledReturns,
    fit_model,
    log_shocks,
    month_weights,
    simple_moves,
)
from optimizer.scenario.propagate import (
    asset_moments,
    plausibility,
    regime_conditional,
    simple_moments,
)

__all__ = ["EngineOptions", "Prediction", "SampledReturns", "ShockModel", "load_market"]


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
            o = self.options
            self._sampled = SampledReturns.build(
                self.history, self.tickers, o.sampling, log=o.log_returns
            )
        return self._sampled

    def fit(self, as_of: dt.date | str) -> ShockModel:
        """Fit on the months whose last date is on or before ``as_of``: all of them
        (``expanding``, at least ``window``) or the last ``window``.

        No data after ``as_of`` is read. A month counts when its last common date is on or
        before ``as_of`` (the last month of the data counts even if the data ends inside it).
        """
        s = self.sampled
        as_of = pd.Timestamp(as_of)
        done = [m for m, end in s.month_ends.items() if end <= as_of]  # months over by as_of
        last = max(done) if done else pd.Period(as_of, "M")
        first = last - self.options.window + 1
        rows = s.rows(first, last)
        have = set(s.month_numbers[rows])
        if len(have) < self.options.window or first - 1 not in s.month_ends:
            raise DataError(
                f"the data has no full {self.options.window}-month window before the as-of date",
                key="as_of",
                value=as_of.date().isoformat(),
                hint=f"the data covers {s.span()}",
            )
        o = self.options
        self.window_months_ = (first, last)  # the months the intervals' errors come from
        fit_first = first
        if o.expanding:
            fit_first = s.months[0]  # the month of the first return
            rows = s.rows(fit_first, last)
        n_months = (last - fit_first).n + 1
        self.periods_ = float(rows.sum()) / n_months
        self.model_ = fit_model(s, rows, last, self.periods_, o, min_periods=o.window)
        self.as_of_ = s.month_ends[last].date()
        self.window_ = (
            f"{s.month_start(fit_first).date()}..{self.as_of_} ({n_months} months of "
            f"{o.sampling.value} returns)"
        )
        return self

    def _weights(self, months: np.ndarray, last: pd.Period) -> np.ndarray | None:
        return month_weights(months, last, self.options.halflife)

    def _specs(self) -> list[Any]:
        return [self.history.specs[n] for n in self.model_.factor_names_]

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
        values = np.array(
            [_move(n, v, self._specs()[i]) for (n, v), i in zip(shocks.items(), idx, strict=True)]
        )
        h = self.periods_
        mean_h, cov_h = model.factor_mean_ * h, model.factor_cov_ * h
        f_mean, mu, Sigma = self._moments(idx, values)
        if self.options.monthly_errors:
            # the calm model's variance brought to its monthly errors; a stressed covariance
            # keeps its ratio to the calm one
            calm = (
                Sigma
                if self.options.regime is Regime.CALM
                else self._moments(idx, values, Regime.CALM)[2]
            )
            scale = np.sqrt(self._error_variance(idx) / np.diag(calm))
            Sigma = Sigma * np.outer(scale, scale)
        logged = self._model_units(idx, values)
        distance = _distance(logged, mean_h[idx], cov_h[np.ix_(idx, idx)])
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
        self, idx: list[int], values: np.ndarray, regime: Regime | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Conditional factor mean (k,), asset mean (n,) and covariance (n, n) over a month,
        the moves stated in factor units and the means in them too."""
        model, h = self.model_, self.periods_
        values_stated, values = values, self._model_units(idx, values)
        calm = model.factor_cov_ * h
        used = regime or self.options.regime
        spread = calm if used is Regime.CALM else model.covariance(used) * h
        f_mean, f_cov = regime_conditional(model.factor_mean_ * h, calm, spread, idx, values)
        a = model.intercept_ * (1.0 - self.options.alpha_shrink)
        D = model.residual_variance(used)
        mu, Sigma = asset_moments(a, model.exposures_, D, h, f_mean, f_cov)
        if self.options.log_returns:
            mu, Sigma = simple_moments(mu, Sigma)
            f_mean = simple_moves(f_mean, self._specs())
        if used is not Regime.CALM:  # the point prediction stays the calm model's
            mu = self._moments(idx, values_stated, Regime.CALM)[1]
        return f_mean, mu, Sigma

    def _model_units(self, idx: list[int], values: np.ndarray) -> np.ndarray:
        """Stated moves on the model's scale (log returns when the model uses them)."""
        if not self.options.log_returns:
            return values
        specs = self._specs()
        return log_shocks(values, [specs[i] for i in idx])

    def _calm_means(self, idx: list[int], moves: np.ndarray) -> np.ndarray:
        """(n_months, n_assets) the calm model's mean for each row of stated moves (n_months,
        m): :meth:`_moments` for many shocks at once (the conditional covariance, and so
        the lognormal variance term, does not depend on the shock's value)."""
        model, h = self.model_, self.periods_
        a = model.intercept_ * (1.0 - self.options.alpha_shrink)
        mean, cov = model.factor_mean_ * h, model.factor_cov_ * h
        gain = cov[:, idx] @ np.linalg.pinv(cov[np.ix_(idx, idx)])  # (k, m)

        def linear(values: np.ndarray) -> np.ndarray:  # (rows, m) model units -> log means
            f_means = mean + (values - mean[idx]) @ gain.T
            f_means[:, idx] = values
            return a * h + f_means @ model.exposures_.T

        values = np.array([self._model_units(idx, m) for m in moves]).reshape(len(moves), -1)
        if not self.options.log_returns:
            return linear(values)
        zero = np.zeros(len(idx))
        half_var = np.log1p(self._moments(idx, zero, Regime.CALM)[1]) - linear(zero[None, :])[0]
        return np.expm1(linear(values) + half_var)

    def _error_variance(self, idx: list[int]) -> np.ndarray:
        """(n_assets,) mean squared error of the model's month-end to month-end predictions
        over its own window, each month shocked with its own moves (weighted like the fit)."""
        s, (first, last) = self.sampled, self.window_months_
        months = pd.period_range(first, last, freq="M")
        moves = s.monthly_factors.loc[months].iloc[:, idx].to_numpy()
        realised = s.monthly_returns.loc[months, list(self.tickers)].to_numpy()
        errors = realised - self._calm_means(idx, moves)
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


def _move(name: str, value: Any, spec: FactorSpec) -> float:
    """A stated move as a float: finite, and a return above -100 % (a total loss)."""
    try:
        move = float(value)
    except (TypeError, ValueError):
        raise ScenarioError("a shock is a number", key=f"shocks.{name}", value=value) from None
    if not np.isfinite(move):
        raise ScenarioError("a shock is a finite number", key=f"shocks.{name}", value=value)
    if spec.kind is FactorKind.RETURN and move <= -1.0:
        raise ScenarioError(
            "a return of -100 % or less is beyond a total loss (0.01 = 1 %)",
            key=f"shocks.{name}",
            value=value,
        )
    return move


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
