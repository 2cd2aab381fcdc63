"""How the scenario factor model is estimated, shared by the engine behind ``stress`` and
``propose`` (:class:`~optimizer.scenario.engine.ScenarioEngine`) and the shocks-in model the
scenario backtest rolls (:class:`~optimizer.scenario.predict.ShockModel`).

The default, measured in docs/scenarios.md ("How good is it"): log returns of every trading
day, exponentially weighted by month (half-life 36 months) over all the data up to the
as-of date, the exposures' regression further weighted by the inverse of the market's
variance at each day (half-life 21 trading days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.data.frequency import infer_frequency
from optimizer.errors import DataError
from optimizer.factors import (
    FactorKind,
    FactorModel,
    FactorSpec,
    Frequency,
    Regime,
    factor_values,
    period_end_levels,
)

if TYPE_CHECKING:
    from optimizer.scenario.engine import MarketHistory


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How the model is estimated (the choices the scenario backtest compares)."""

    window: int = 60  # months: the fewest the model is fitted on; the intervals' error window
    expanding: bool = True  # every month up to the as-of date (False: exactly ``window``)
    sampling: Frequency = Frequency.DAILY  # returns the exposures are estimated from
    halflife: float | None = 36.0  # months; exponential weights (None: equal weights)
    log_returns: bool = True  # model log returns; moments turned back into simple returns
    lead_lag: int = 0  # lead-lag days in the covariances (daily data only; 0: none)
    tail_dof: float | None = None  # Student-t degrees of freedom of intervals (None: normal)
    alpha_shrink: float = 0.0  # share of the fitted intercepts taken out (1: no intercept)
    monthly_errors: bool = True  # intervals scaled to the window's monthly prediction errors
    regime: Regime = Regime.CALM  # the factor covariance the shocks are propagated with
    stressed_min: float = 12.0  # months: fewest turbulent months the stressed cov uses
    stressed_prior: float = 30.0  # months of calm covariance the stressed one is shrunk toward
    # trading days: the exposures' regression weighted by the inverse of the market's
    # variance estimated with this half-life (daily data only; None: not weighted)
    vol_halflife: float | None = 21.0

    def text(self) -> str:
        span = f"all months (at least {self.window})" if self.expanding else f"{self.window} months"
        kind = "log returns" if self.log_returns else "returns"
        parts = [f"{span} of {self.sampling.value} {kind}"]
        parts.append(f"half-life {self.halflife:g} months" if self.halflife else "equal weights")
        if self.lead_lag and self.sampling is Frequency.DAILY:
            parts.append(f"{self.lead_lag} lead-lag day{'s' if self.lead_lag > 1 else ''}")
        if self.vol_halflife and self.sampling is Frequency.DAILY:
            parts.append(
                f"exposures weighted by the inverse of the market's variance (half-life "
                f"{self.vol_halflife:g} days)"
            )
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


def engine_options(frequency: Frequency | None = None) -> EngineOptions:
    """The options of the engine behind ``stress`` and ``propose``: the backtest's defaults,
    sampled at ``[estimation] frequency`` when it is set (default: the data's own dates)."""
    return EngineOptions(sampling=frequency or Frequency.DAILY)


@dataclass(frozen=True)
class SampledReturns:
    """Asset returns and factor values between consecutive sampling dates.

    The sampling dates are every true month end (the last date of each month on which every
    series has a value) plus, for weekly or daily sampling, every week end or day between:
    no period straddles a month end, so a window of whole months is a set of rows. With
    ``log``, returns (of assets and return factors) are log returns; the month-end to
    month-end ``monthly_*`` are always simple returns (what a scenario states).
    """

    returns: pd.DataFrame  # (n_periods, n_assets) returns
    factors: pd.DataFrame  # (n_periods, n_factors) factor values
    months: np.ndarray  # (n_periods,) the month (pd.Period) each period ends in
    month_ends: dict[Any, pd.Timestamp]  # month -> its last common date
    monthly_returns: pd.DataFrame  # (n_months, n_assets) month-end to month-end returns
    monthly_factors: pd.DataFrame  # (n_months, n_factors) month-end to month-end moves
    daily: bool = False  # the periods are the data's own trading days
    start: pd.Timestamp | None = None  # the first level (the start of the first return)

    def rows(self, first: pd.Period, last: pd.Period) -> np.ndarray:
        """(n_periods,) True for the periods in months ``first``..``last``."""
        n = self.month_numbers
        return (n >= first.ordinal) & (n <= last.ordinal)

    @property
    def month_numbers(self) -> np.ndarray:
        """(n_periods,) each period's month as an integer (months since 1970-01)."""
        cached = self.__dict__.get("_month_numbers")
        if cached is None:
            cached = _ordinals(self.months)
            object.__setattr__(self, "_month_numbers", cached)
        return cached

    def month_start(self, month: Any) -> pd.Timestamp:
        """The level a month's first return starts from: the previous month's end (the first
        level of the data for its first month)."""
        before = self.month_ends.get(month - 1)
        return before if before is not None else self.start

    @classmethod
    def build(
        cls,
        history: MarketHistory,
        tickers: tuple[str, ...],
        sampling: Frequency,
        *,
        log: bool = False,
        first: pd.Timestamp | None = None,
    ) -> SampledReturns:
        """``first``: the first level used (the start of the first return), default all."""
        levels = _levels(history, tickers)
        if first is not None:
            levels = levels.loc[first:]
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
        r, f = _returns(sampled, tickers, history.specs, log)
        mr, mf = _returns(monthly, tickers, history.specs, False)
        mr.index = mf.index = mr.index.to_period("M")
        gaps = np.diff(sampled.index.to_numpy()).astype("timedelta64[D]").astype(float)
        daily = bool(len(gaps)) and float(np.median(gaps)) <= 4.0
        months = r.index.to_period("M").to_numpy()
        return cls(r, f, months, month_ends, mr, mf, daily, levels.index[0])

    def market_precision(self, halflife: float) -> np.ndarray | None:
        """(n_periods,) the inverse of the market's variance as known before each period:
        an exponentially weighted mean of the equity factor's squared moves up to the period
        before (``halflife`` periods; the first period: its own), floored at a tenth of their
        mean up to then. None without an equity factor or without a move."""
        if MARKET not in self.factors.columns:
            return None
        cache = self.__dict__.setdefault("_precision", {})
        if halflife not in cache:
            x2 = pd.Series(self.factors[MARKET].to_numpy(float) ** 2)
            before = x2.ewm(halflife=halflife).mean().shift(1)
            floor = 0.1 * x2.expanding().mean().shift(1)
            v = np.fmax(before, floor).to_numpy(copy=True)
            v[0] = x2.iloc[0]
            moved = v > 0
            if not moved.any():
                cache[halflife] = None
            else:
                p = np.empty_like(v)
                p[moved] = 1.0 / v[moved]
                # no move yet (only the first periods): as at the first move, which any fit
                # that holds both sees (a fit before it weighs its periods alike anyway)
                p[~moved] = p[int(np.argmax(moved))]
                cache[halflife] = p
        return cache[halflife]

    def span(self) -> str:
        ends = list(self.month_ends.values())
        return f"{ends[0].date()}..{ends[-1].date()}" if ends else "no dates"


MARKET = "equity"  # the factor whose variance weighs the exposures' regression


def month_weights(months: np.ndarray, last: pd.Period, halflife: float | None) -> np.ndarray | None:
    """Exponential weights by the age in months of each period's month (None: equal)."""
    if halflife is None:
        return None
    age = last.ordinal - _ordinals(months)
    return 0.5 ** (age.astype(float) / halflife)


def _ordinals(months: np.ndarray) -> np.ndarray:
    """Monthly periods (n,) as integers (months since 1970-01)."""
    return pd.PeriodIndex(months, freq="M").asi8 if len(months) else np.zeros(0, dtype=np.int64)


def fit_model(
    s: SampledReturns,
    rows: np.ndarray,
    last: pd.Period,
    periods_per_month: float,
    options: EngineOptions,
    *,
    min_periods: int,
    stressed_quantile: float = 0.15,
) -> FactorModel:
    """The factor model on the sampled ``rows`` (a boolean mask) with the options' weights
    (by month; on daily periods the regression also by the inverse of the market's
    variance), lead-lag days (daily periods only) and stressed-covariance floor and prior."""
    weights = precision = None
    if options.halflife is not None:
        age = last.ordinal - s.month_numbers[rows]
        weights = 0.5 ** (age.astype(float) / options.halflife)
    if options.vol_halflife and s.daily:
        market = s.market_precision(options.vol_halflife)
        precision = market[rows] if market is not None else None
    return FactorModel(
        stressed_quantile=stressed_quantile,
        min_periods=min_periods,
        stressed_min=round(options.stressed_min * periods_per_month),
        stressed_prior=options.stressed_prior * periods_per_month,
        lags=options.lead_lag if s.daily else 0,
    ).fit(s.returns.loc[rows], s.factors.loc[rows], weights, precision)


def log_shocks(values: np.ndarray, specs: list[FactorSpec]) -> np.ndarray:
    """Stated moves (m,) of factors with ``specs`` on the model's log scale: a return ``r``
    becomes ``log(1 + r)``; a relative return ``r_a - r_b`` becomes ``log(1 + r_a) -
    log(1 + r_b)`` when ``r_b`` is stated too (a return factor of the ``minus`` series), else
    it is kept (a difference of log returns to first order)."""
    base = _bases(values, specs)
    out = []
    for v, spec in zip(values, specs, strict=True):
        if spec.kind is FactorKind.RETURN:
            out.append(np.log1p(v))
        elif spec.kind is FactorKind.RELATIVE_RETURN and spec.minus in base:
            b = base[spec.minus]
            out.append(np.log1p(b + v) - np.log1p(b))
        else:
            out.append(v)
    return np.array(out, dtype=float)


def simple_moves(moves: np.ndarray, specs: list[FactorSpec]) -> np.ndarray:
    """Factor moves (k,) from the log scale back to the stated units (the inverse of
    :func:`log_shocks` on a full set of factors)."""
    base = {s.series: np.expm1(m) for m, s in zip(moves, specs, strict=True)
            if s.kind is FactorKind.RETURN}  # fmt: skip
    out = []
    for m, spec in zip(moves, specs, strict=True):
        if spec.kind is FactorKind.RETURN:
            out.append(np.expm1(m))
        elif spec.kind is FactorKind.RELATIVE_RETURN and spec.minus in base:
            b = base[spec.minus]
            out.append((1 + b) * np.exp(m) - 1 - b)
        else:
            out.append(m)
    return np.array(out, dtype=float)


def _bases(values: np.ndarray, specs: list[FactorSpec]) -> dict[str, float]:
    return {s.series: float(v) for v, s in zip(values, specs, strict=True)
            if s.kind is FactorKind.RETURN}  # fmt: skip


def _levels(history: MarketHistory, tickers: tuple[str, ...]) -> pd.DataFrame:
    """Levels of the assets and every factor series, on the dates all of them have (weekly
    or monthly data: one row per week or month, see :func:`period_end_levels`)."""
    frame = history.daily if history.daily is not None else history.levels
    if frame is None:
        raise DataError("the history keeps no levels to sample", key="history")
    factor_series = [t for spec in history.specs.values() for t in spec.tickers()]
    series = list(dict.fromkeys([*tickers, *factor_series]))
    frame = frame[series].dropna(how="all").sort_index()
    return period_end_levels(frame, infer_frequency(pd.DatetimeIndex(frame.index)))


def _returns(
    levels: pd.DataFrame, tickers: tuple[str, ...], specs: Mapping[str, Any], log: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    prices = levels[list(tickers)]
    returns = (np.log(prices).diff() if log else prices.pct_change()).iloc[1:]
    return returns, factor_values(specs, levels, levels, log=log)
