"""Factor series, asset exposures, and calm and stressed factor covariances.

A factor is configuration: which market series stand for it and how a move is measured
(:class:`FactorKind`). Units, per period of the model's frequency:

* ``equity``, ``size`` (returns): simple returns as fractions (0.01 = 1 %);
* ``long_rate``, ``short_rate``, ``credit`` (rate changes): change of a yield in decimal
  (0.01 = 100 bp), so an asset's exposure to a rate factor is minus its effective duration;
* ``vol`` (log changes): the log change of a level such as the VIX.

:class:`FactorModel` regresses asset returns on factor values, ``r = a + B f + e``, and keeps
the factor mean and covariance over the full window (calm) and over the most turbulent
periods by Mahalanobis distance (stressed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from optimizer.config import StrictModel
from optimizer.errors import ConfigError, ScenarioError
from optimizer.frequency import Frequency  # re-exported: the one frequency type

if TYPE_CHECKING:  # heavy imports stay inside functions
    import numpy as np
    import pandas as pd


class FactorKind(StrEnum):
    """How a factor's per-period value is measured from its series."""

    RETURN = "return"  # simple return of a price series
    RELATIVE_RETURN = "relative_return"  # return of ``series`` minus return of ``minus``
    RATE_CHANGE = "rate_change"  # change of a yield in percent, stored in decimal
    LOG_CHANGE = "log_change"  # log change of a level (e.g. the VIX)

    @property
    def shock_unit(self) -> str:
        """The scenario-file key that states a shock to a factor of this kind."""
        return _SHOCK_UNIT[self]

    @property
    def is_return(self) -> bool:
        """True for returns (``return``, ``relative_return``): log returns on a log scale."""
        return self in (FactorKind.RETURN, FactorKind.RELATIVE_RETURN)

    @property
    def uses_rates(self) -> bool:
        """True when the series are rates in percent (served by ``Provider.rates``)."""
        return self is FactorKind.RATE_CHANGE

    @property
    def unit(self) -> str:
        return _UNIT_TEXT[self]


_SHOCK_UNIT = {
    FactorKind.RETURN: "return_pct",
    FactorKind.RELATIVE_RETURN: "return_pct",
    FactorKind.RATE_CHANGE: "change_bp",
    FactorKind.LOG_CHANGE: "change_pct",
}
_UNIT_TEXT = {
    FactorKind.RETURN: "simple return (fraction)",
    FactorKind.RELATIVE_RETURN: "return difference (fraction)",
    FactorKind.RATE_CHANGE: "yield change (decimal, 0.01 = 100 bp)",
    FactorKind.LOG_CHANGE: "log change of the level",
}


class FactorSpec(StrictModel):
    """Which series stand for a factor: ``series`` (minus ``minus`` when given)."""

    kind: FactorKind
    series: str
    minus: str | None = None
    description: str = ""

    def tickers(self) -> tuple[str, ...]:
        return (self.series,) if self.minus is None else (self.series, self.minus)

    def label(self) -> str:
        return self.series if self.minus is None else f"{self.series} - {self.minus}"


def _spec(kind: FactorKind, series: str, minus: str | None = None, text: str = "") -> FactorSpec:
    return FactorSpec(kind=kind, series=series, minus=minus, description=text)


K = FactorKind
# factor name -> candidate specs, first whose series the source offers wins
_MARKET_CANDIDATES: dict[str, tuple[FactorSpec, ...]] = {
    "equity": (_spec(K.RETURN, "SPY", text="S&P 500 (SPY)"), _spec(K.RETURN, "^GSPC")),
    "size": (
        _spec(K.RELATIVE_RETURN, "IWM", "SPY", "Russell 2000 (IWM) minus S&P 500 (SPY)"),
        _spec(K.RELATIVE_RETURN, "^RUT", "^GSPC", "Russell 2000 minus S&P 500 index"),
    ),
    "long_rate": (
        _spec(K.RATE_CHANGE, "^TNX", text="10-year Treasury yield (^TNX)"),
        _spec(K.RATE_CHANGE, "DGS10", text="10-year Treasury yield (FRED DGS10)"),
    ),
    "short_rate": (
        _spec(K.RATE_CHANGE, "DGS10", "T10Y2Y", "2-year Treasury yield (DGS10 - T10Y2Y)"),
        _spec(K.RATE_CHANGE, "^IRX", text="13-week Treasury bill yield (^IRX)"),
        _spec(K.RATE_CHANGE, "^FVX", text="5-year Treasury yield (^FVX) as short-rate proxy"),
    ),
    "vol": (_spec(K.LOG_CHANGE, "^VIX", text="CBOE volatility index (^VIX)"),),
    "credit": (_spec(K.RATE_CHANGE, "BAA10Y", text="Baa minus 10-year spread (FRED)"),),
}
_SAMPLE_FACTORS: dict[str, FactorSpec] = {
    "equity": _spec(K.RETURN, "MKT", text="US market (Ken French)"),
    "size": _spec(K.RELATIVE_RETURN, "SMALL", "LARGE", "small minus large size portfolios"),
    "long_rate": _spec(K.RATE_CHANGE, "AAA", text="Moody's Aaa corporate yield"),
    "short_rate": _spec(K.RATE_CHANGE, "TBILL", text="one-month Treasury bill rate"),
    "credit": _spec(K.RATE_CHANGE, "BAA", "AAA", "Baa minus Aaa yield spread"),
}
_YAHOO_FACTORS: dict[str, FactorSpec] = {
    "equity": _MARKET_CANDIDATES["equity"][0],
    "size": _MARKET_CANDIDATES["size"][0],
    "long_rate": _MARKET_CANDIDATES["long_rate"][0],
    "short_rate": _MARKET_CANDIDATES["short_rate"][1],
    "vol": _MARKET_CANDIDATES["vol"][0],
}
REQUIRED_FACTORS = ("equity",)
KNOWN_FACTORS = tuple(_MARKET_CANDIDATES)


def factor_candidates(
    source: str, available: Sequence[str] | None
) -> dict[str, tuple[FactorSpec, ...]]:
    """Per factor, the specs a data source can serve, preferred first.

    Parameters
    ----------
    source:
        The source spec (``"sample"``, ``"csv:PATH"``, ``"yahoo"``).
    available:
        Series the source can serve; ``None`` means "anything" (a network source), in which
        case every candidate is kept.

    Returns
    -------
    dict mapping factor name to its candidate specs (at least one); factors the source has
    no series for are left out (a missing equity factor is reported by the caller that
    needs it, see :func:`require_market`).
    """
    if source == "sample":
        return {n: (s,) for n, s in _SAMPLE_FACTORS.items()}
    if source == "yahoo":
        return {n: (s,) for n, s in _YAHOO_FACTORS.items()}
    have = None if available is None else {a.upper() for a in available}
    chosen: dict[str, tuple[FactorSpec, ...]] = {}
    for name, candidates in _MARKET_CANDIDATES.items():
        ok = tuple(
            s for s in candidates if have is None or all(t.upper() in have for t in s.tickers())
        )
        if ok:
            chosen[name] = ok
    return chosen


def default_factors(source: str, available: Sequence[str] | None) -> dict[str, FactorSpec]:
    """The first candidate of each factor the source can serve (see factor_candidates)."""
    return {n: c[0] for n, c in factor_candidates(source, available).items()}


def require_market(specs: Mapping[str, object], source: str) -> None:
    """Scenarios need the equity factor: without a series for it, a ConfigError naming the
    key to set."""
    missing = [f for f in REQUIRED_FACTORS if f not in specs]
    if missing:
        raise ConfigError(
            f"scenarios need a market series for the {missing[0]} factor and the data "
            f"source {source} has none (SPY or ^GSPC)",
            key=f"estimation.factors.{missing[0]}",
            hint=f'map it, e.g. [estimation.factors.{missing[0]}] kind = "return", '
            'series = "<a broad index or ETF in your data>"',
        )


def factor_values(
    specs: Mapping[str, FactorSpec],
    prices: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    log: bool = False,
) -> pd.DataFrame:
    """Per-period factor values from period-end levels.

    Parameters
    ----------
    specs:
        Factor name -> spec.
    prices, rates:
        Period-end levels, (n_periods, n_series), on the same index; rates in percent.

    log:
        Returns (``return``, ``relative_return``) as log returns, ``log(1 + r)``.

    Returns
    -------
    DataFrame of shape (n_periods - 1, n_factors) in the units of the module docstring.
    """
    import pandas as pd

    out = {}
    for name, spec in specs.items():
        frame = rates if spec.kind.uses_rates else prices
        out[name] = _transform(spec, frame, log)
    return pd.DataFrame(out).iloc[1:]


def _transform(spec: FactorSpec, frame: pd.DataFrame, log: bool = False) -> pd.Series:
    import numpy as np

    def change(series: str) -> pd.Series:
        level = frame[series].astype(float)
        return np.log(level).diff() if log else level.pct_change()

    level = frame[spec.series].astype(float)
    if spec.kind is FactorKind.RETURN:
        return change(spec.series)
    if spec.kind is FactorKind.RELATIVE_RETURN:
        return change(spec.series) - change(spec.minus)
    if spec.kind is FactorKind.RATE_CHANGE:
        if spec.minus is not None:
            level = level - frame[spec.minus].astype(float)
        return level.diff() / 100.0
    return np.log(level).diff()  # LOG_CHANGE


class FactorModel:
    """Linear factor model ``r = a + B f + e`` with calm and stressed factor covariances.

    Parameters
    ----------
    stressed_quantile:
        Fraction of the most turbulent periods (largest Mahalanobis distance of the factor
        values from their mean) used for the stressed covariance, in (0, 0.5].
    min_periods:
        Fewest periods accepted by :meth:`fit`.
    stressed_min, stressed_prior:
        The stressed covariance uses at least ``stressed_min`` turbulent periods and is
        shrunk toward the calm one as if ``stressed_prior`` calm periods were added (0, 0:
        neither).
    lags:
        Lead-lag periods in the covariances (0: the plain regression; see
        :meth:`_fit_lead_lag`), for series whose closes are not synchronous.

    Attributes (after :meth:`fit`)
    ------------------------------
    tickers_ : tuple of str, (n_assets,)
    factor_names_ : tuple of str, (n_factors,)
    intercept_ : ndarray (n_assets,)                 per-period intercepts ``a``
    exposures_ : ndarray (n_assets, n_factors)       ``B``
    residual_var_ : ndarray (n_assets,)              per-period residual variances ``D``
    factor_mean_ : ndarray (n_factors,)              per-period factor mean
    factor_cov_ : ndarray (n_factors, n_factors)     calm (full-window) covariance
    stressed_cov_ : ndarray (n_factors, n_factors)   covariance of the turbulent periods
    stressed_residual_var_ : ndarray (n_assets,)     residual variances of those periods
    turbulence_ : Series (n_periods,)                Mahalanobis distance of each period
    r2_ : ndarray (n_assets,)                        share of variance explained
    first_, last_ : date                             the window the model was fitted on
    n_periods_ : int
    """

    def __init__(
        self,
        *,
        stressed_quantile: float = 0.15,
        min_periods: int = 24,
        stressed_min: int = 0,
        stressed_prior: float = 0.0,
        lags: int = 0,
    ) -> None:
        self.stressed_quantile = stressed_quantile
        self.min_periods = min_periods
        self.lags = lags  # lead-lag periods summed into the covariances (non-synchronous closes)
        self.stressed_min = stressed_min  # fewest turbulent periods the stressed cov uses
        self.stressed_prior = stressed_prior  # calm periods it is shrunk toward

    def fit(
        self,
        returns: pd.DataFrame,
        factors: pd.DataFrame,
        weights: np.ndarray | None = None,
        precision: np.ndarray | None = None,
    ) -> FactorModel:
        """Fit on asset returns (n_periods, n_assets) and factor values (n_periods, n_factors).

        Rows are aligned on their common dates; rows with any missing value are dropped.
        ``weights`` (n_periods,), positive, e.g. exponential: a weighted regression and
        weighted factor mean and covariance (the turbulence ranking stays unweighted); the
        residual variance is corrected for the effective sample size. ``precision``
        (n_periods,), positive, e.g. the inverse of the market's variance at each period:
        the regression's rows (intercepts and exposures) are weighted by ``weights *
        precision``, generalised least squares for residuals whose variance moves with it;
        the factor mean and covariance and the residual variances keep ``weights``.
        """
        import numpy as np
        import pandas as pd

        if not 0.0 < self.stressed_quantile <= 0.5:
            raise ScenarioError(
                "must be in (0, 0.5]", key="stressed_quantile", value=self.stressed_quantile
            )
        joined = pd.concat([returns, factors], axis=1, join="inner").dropna()
        k = factors.shape[1]
        if len(joined) < max(self.min_periods, k + 3):
            raise ScenarioError(
                f"only {len(joined)} periods with both asset and factor data; "
                f"need at least {max(self.min_periods, k + 3)}",
                key="history",
                value=_window_text(joined.index),
            )
        R = joined[list(returns.columns)].to_numpy(float)
        F = joined[list(factors.columns)].to_numpy(float)
        w = np.ones(len(F)) if weights is None else _aligned_weights(weights, factors, joined)
        w = w / w.sum()
        n_eff = 1.0 / (w**2).sum()  # = n for equal weights
        wr = w  # the regression's row weights
        if precision is not None:
            wr = w * _aligned_weights(precision, factors, joined)
            wr = wr / wr.sum()
        self.tickers_ = tuple(str(c) for c in returns.columns)
        self.factor_names_ = tuple(str(c) for c in factors.columns)
        if self.lags:
            self._fit_lead_lag(R, F, w, wr, n_eff)
        else:
            X = np.column_stack([np.ones(len(F)), F])
            sw = np.sqrt(wr)[:, None]
            coef, *_ = np.linalg.lstsq(X * sw, R * sw, rcond=None)
            resid = R - X @ coef
            self.intercept_ = coef[0]
            self.exposures_ = coef[1:].T.copy()
            self.residual_var_ = (w @ resid**2) * n_eff / max(n_eff - k - 1, 1.0)
            self.r2_ = 1.0 - resid.var(axis=0) / np.where(R.var(axis=0) > 0, R.var(axis=0), 1.0)
            self.factor_mean_ = w @ F
            centred = F - self.factor_mean_
            self.factor_cov_ = np.atleast_2d(
                (centred * w[:, None]).T @ centred / (1.0 - (w**2).sum())
            )
        self.turbulence_ = pd.Series(
            mahalanobis(F, self.factor_mean_, self.factor_cov_), index=joined.index
        )
        self.stressed_cov_ = self._stressed(F)
        resid = R - self.intercept_ - F @ self.exposures_.T
        self.stressed_residual_var_ = self._stressed_residual(resid)
        self.first_ = joined.index[0].date()
        self.last_ = joined.index[-1].date()
        self.n_periods_ = len(joined)
        return self

    def _fit_lead_lag(
        self, R: np.ndarray, F: np.ndarray, w: np.ndarray, wr: np.ndarray, n_eff: float
    ) -> None:
        """Exposures, residual variances and factor covariance from the joint covariance of
        (assets, factors) with lead-lag terms: ``G0 + sum_l (1 - l / (L + 1)) (G_l + G_l')``,
        l = 1..L (Newey-West's Bartlett weights; the covariance of overlapping sums of L + 1
        periods, per period). Series whose closes are taken at different times share a move
        over two periods; the lead-lag terms give part of it back, a Scholes-Williams / Dimson
        correction at half weight for L = 1. ``B = S_rf S_ff^-1``, ``a = mean_r - B mean_f``,
        both from the regression's weights ``wr``; the rest from ``w``."""
        import numpy as np

        n_a, k = R.shape[1], F.shape[1]
        Z = np.column_stack([R, F])
        mean, G = self._lead_lag_cov(Z, w)
        mean_r, G_r = (mean, G) if wr is w else self._lead_lag_cov(Z, wr)
        B = G_r[:n_a, n_a:] @ np.linalg.pinv(np.atleast_2d(G_r[n_a:, n_a:]))
        self.exposures_ = B
        self.intercept_ = mean_r[:n_a] - B @ mean_r[n_a:]
        S_rf, S_ff = G[:n_a, n_a:], np.atleast_2d(G[n_a:, n_a:])
        total = np.diag(G[:n_a, :n_a])
        explained = 2.0 * np.einsum("ij,ij->i", B, S_rf) - np.einsum("ij,jk,ik->i", B, S_ff, B)
        offset = mean[:n_a] - self.intercept_ - B @ mean[n_a:]  # 0 when wr is w
        unexplained = np.maximum(total - explained, 0.0) + offset**2
        self.residual_var_ = unexplained * n_eff / max(n_eff - k - 1, 1.0)
        self.r2_ = 1.0 - (total - explained) / np.where(total > 0, total, 1.0)
        self.factor_mean_ = mean[n_a:]
        self.factor_cov_ = S_ff

    def _lead_lag_cov(self, Z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The weighted mean and the lead-lag covariance of the columns of ``Z``."""
        mean = w @ Z
        C = Z - mean
        G = (C * w[:, None]).T @ C
        for lag in range(1, self.lags + 1):
            cross = (C[lag:] * w[lag:, None]).T @ C[:-lag]  # sum_t w_t c_t c_{t-lag}'
            G = G + (1.0 - lag / (self.lags + 1)) * (cross + cross.T)
        return mean, G / (1.0 - (w**2).sum())

    def _stressed(self, F: np.ndarray) -> np.ndarray:

        top = self._top(F.shape[1])
        n_top = len(top)
        centred = F[top] - self.factor_mean_  # around the full-window mean
        stressed = centred.T @ centred / (len(top) - 1)
        n0 = self.stressed_prior  # (n_top S_top + n0 S_calm) / (n_top + n0)
        return (n_top * stressed + n0 * self.factor_cov_) / (n_top + n0)

    def _top(self, n_factors: int) -> np.ndarray:
        import numpy as np

        d = self.turbulence_.to_numpy()
        n_top = max(int(np.ceil(self.stressed_quantile * len(d))), n_factors + 2)
        n_top = min(max(n_top, self.stressed_min), len(d))
        return np.argsort(d)[-n_top:]

    def _stressed_residual(self, resid: np.ndarray) -> np.ndarray:
        """Residual variances (n_assets,) over the turbulent periods, shrunk toward the calm
        ones like the stressed covariance (asset-specific risk is larger in turbulence)."""
        top = self._top(len(self.factor_names_))
        n_top, n0 = len(top), self.stressed_prior
        stressed = (resid[top] ** 2).sum(axis=0) / max(n_top - 1, 1)
        return (n_top * stressed + n0 * self.residual_var_) / (n_top + n0)

    def residual_variance(self, regime: Regime) -> np.ndarray:
        """Per-period residual variances (n_assets,) for a regime."""
        return self.stressed_residual_var_ if regime is Regime.STRESSED else self.residual_var_

    def covariance(self, regime: Regime) -> np.ndarray:
        """Per-period factor covariance (n_factors, n_factors) for a regime."""
        return self.stressed_cov_ if regime is Regime.STRESSED else self.factor_cov_

    @property
    def history(self) -> str:
        """The fitted window, e.g. ``"2022-01-07..2026-02-20"``."""
        return f"{self.first_.isoformat()}..{self.last_.isoformat()}"

    def rate_exposures(
        self, level: str = "long_rate", short: str = "short_rate"
    ) -> dict[str, dict[str, float]]:
        """ticker -> ``level`` and ``slope`` exposures: the two yield factors read as a
        parallel move and a steepening (empty without both factors).

        ``b_long d_long + b_short d_short = (b_long + b_short) d_long - b_short (d_long -
        d_short)``: the exposure to a parallel move of both yields (about minus a bond fund's
        duration) and to the long minus short yield. The same model in another basis: every
        prediction is unchanged, only the reading (two yield levels move together, so their
        separate exposures are large and of opposite signs)."""
        if level not in self.factor_names_ or short not in self.factor_names_:
            return {}
        i, j = self.factor_names_.index(level), self.factor_names_.index(short)
        B = self.exposures_
        return {
            t: {"level": _clean(B[n, i] + B[n, j]), "slope": _clean(-B[n, j])}
            for n, t in enumerate(self.tickers_)
        }

    def exposures_dict(self) -> dict[str, dict[str, float]]:
        """ticker -> factor -> exposure."""
        return {
            t: {f: float(self.exposures_[i, j]) for j, f in enumerate(self.factor_names_)}
            for i, t in enumerate(self.tickers_)
        }


def _clean(x: float) -> float:
    """A float with rounding noise (below 1e-12) exported as 0."""
    return float(x) if abs(x) > 1e-12 else 0.0


def _aligned_weights(weights: np.ndarray, factors: pd.DataFrame, joined: pd.DataFrame) -> Any:
    """The weights of the rows kept after aligning and dropping missing values."""
    import numpy as np
    import pandas as pd

    w = pd.Series(np.asarray(weights, dtype=float), index=factors.index)
    return w.loc[joined.index].to_numpy()


class Regime(StrEnum):
    """Which factor covariance a scenario uses."""

    CALM = "calm"
    STRESSED = "stressed"


def mahalanobis(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of each row of ``X`` (n, k) from ``mean`` (k,) under ``cov``.

    A pseudo-inverse is used so a singular covariance does not fail.
    """
    import numpy as np

    diff = np.atleast_2d(X) - mean
    inv = np.linalg.pinv(np.atleast_2d(cov))
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, inv, diff), 0.0))


def _window_text(index: pd.Index) -> str:
    if len(index) == 0:
        return "empty"
    return f"{index[0].date()}..{index[-1].date()}"


def last_in_period(frame: Any, period: str) -> Any:
    """Each column's last value in each week or month (``period``, a pandas alias), dated
    by the period's last row: its real last day, not the period's label."""
    periods = frame.index.to_period(period)
    each = frame.groupby(periods).last()
    each.index = frame.index.to_series().groupby(periods).max().to_numpy()
    return each


def period_end_levels(frame: pd.DataFrame, frequency: Frequency) -> pd.DataFrame:
    """The last complete row of each period, (n_periods, n_series), keeping its real date.

    Rows with a missing value are dropped first; daily keeps every remaining row. A week
    or month without a complete row (monthly series from two sources, one dated on the
    30th and one on the 31st) takes each series' last value in it, dated by the latest of
    them: without it the period would vanish and the next return span two.
    """
    import pandas as pd

    from optimizer.data.period_returns import last_of_period

    complete = last_of_period(frame.dropna(), frequency)
    if frequency.period is None or frame.empty:
        return complete
    each = last_in_period(frame, frequency.period)  # every series' own last value
    done = each.index.to_period(frequency.period).isin(complete.index.to_period(frequency.period))
    lacking = each.notna().all(axis=1).to_numpy() & ~done  # every series, no complete row
    if not lacking.any():
        return complete
    both = pd.concat([complete, each[lacking]]).sort_index()
    both.index.name = frame.index.name
    return both


class HistoryWindow(StrictModel):
    """A date window (either end optional) the relationships are estimated from."""

    start: dt.date | None = None
    end: dt.date | None = None
    frequency: Frequency | None = None  # e.g. monthly, when weekly moves are too noisy
    note: str = Field(default="", description="why this window, in words")

    @model_validator(mode="after")
    def _ordered(self) -> HistoryWindow:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"the window ends ({self.end}) before it starts ({self.start})")
        return self

    def text(self) -> str:
        a = self.start.isoformat() if self.start else "start of data"
        b = self.end.isoformat() if self.end else "end of data"
        return f"{a}..{b}"
