"""Scenario → conditional horizon moments, on a fitted factor model.

:class:`MarketHistory` is the per-run data (asset returns and factor values on common
dates); :class:`ScenarioEngine` fits one :class:`~optimizer.factors.FactorModel` per history
window a scenario asks for and turns each scenario into
:class:`~optimizer.estimate.ScenarioMoments`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data.base import Provenance
from optimizer.errors import DataError, ScenarioError, UnsupportedScenario
from optimizer.estimate import ScenarioMoments
from optimizer.factors import (
    FactorModel,
    FactorSpec,
    Frequency,
    HistoryWindow,
    Regime,
    factor_values,
    period_end_levels,
)
from optimizer.scenario.estimator import (
    EngineOptions,
    SampledReturns,
    fit_model,
    log_shocks,
    simple_moves,
)
from optimizer.scenario.model import (
    FACTOR_KINDS,
    INDEXES,
    MAX_MOVE_PCT,
    Horizon,
    HorizonUnit,
    Scenario,
)
from optimizer.scenario.model import shock_value as _shock_value
from optimizer.scenario.propagate import (
    asset_moments,
    clip_to_psd,
    is_psd,
    plausibility,
    regime_conditional,
    simple_moments,
    stress_covariance,
)
from optimizer.tickers import CASH


@dataclass(frozen=True)
class IndexLevel:
    """A level of an index: from the data (spot) or a scenario's dated reference."""

    level: float
    date: dt.date
    source: str


@dataclass(frozen=True)
class MarketHistory:
    """Asset returns and factor values on common dates, at the model frequency."""

    returns: pd.DataFrame  # (n_periods, n_assets) simple returns per period
    factors: pd.DataFrame  # (n_periods, n_factors) factor values per period
    frequency: Frequency
    specs: dict[str, FactorSpec] = field(default_factory=dict)  # factor -> series used
    index_levels: dict[str, IndexLevel] = field(default_factory=dict)  # "SP500" -> spot
    provenance: Provenance | None = None
    levels: pd.DataFrame | None = None  # (n_periods + 1, n_series) period-end levels
    daily: pd.DataFrame | None = None  # (n_dates, n_series) levels at the data's own frequency
    left_out: dict[str, str] = field(default_factory=dict)  # factor -> why it has no series

    @classmethod
    def from_levels(
        cls,
        levels: pd.DataFrame,
        tickers: Sequence[str],
        specs: dict[str, FactorSpec],
        frequency: Frequency,
        **extra: Any,
    ) -> MarketHistory:
        """Returns and factor values from period-end levels (n_periods + 1, n_series)."""
        returns = levels[list(tickers)].pct_change().iloc[1:]
        factors = (
            factor_values(specs, levels, levels)
            if specs
            else pd.DataFrame(index=returns.index, dtype=float)
        )
        frame = pd.concat([returns, factors], axis=1).dropna()
        return cls(
            frame[returns.columns],
            frame[factors.columns],
            frequency,
            specs,
            levels=levels,
            **extra,
        )

    def window(self, history: HistoryWindow | None) -> MarketHistory:
        """The same history cut to a window (either end optional), resampled if asked."""
        if history is None:
            return self
        base = self
        wanted = history.frequency
        if wanted is not None and wanted is not self.frequency and self.levels is not None:
            if wanted.rank < self.frequency.rank:
                raise UnsupportedScenario(
                    f"the data is {self.frequency.value}: a pinned history cannot be "
                    f"{wanted.value}; use {self.frequency.value} or coarser",
                    key="history.frequency",
                    value=wanted.value,
                )
            # true period ends from the data's own dates (a weekly model's last Friday is
            # not a month end)
            finest = self.daily if self.daily is not None else self.levels
            base = MarketHistory.from_levels(
                period_end_levels(finest, wanted),
                list(self.returns.columns),
                self.specs,
                wanted,
                index_levels=self.index_levels,
                provenance=self.provenance,
                daily=self.daily,
                left_out=self.left_out,
            )
        lo = pd.Timestamp(history.start) if history.start else None
        hi = pd.Timestamp(history.end) if history.end else None
        cut = slice(lo, hi)
        return dataclasses.replace(
            base, returns=base.returns.loc[cut], factors=base.factors.loc[cut]
        )


@dataclass(frozen=True)
class _Fit:
    """A fitted model, its periods per year, whether it models log returns, its sampling."""

    model: FactorModel
    per_year: float
    log: bool
    sampling: Frequency


BASELINE = Scenario(
    id="baseline",
    title="Baseline (no shock)",
    narrative="No factor is shocked: the unconditional factor model over the horizon.",
    horizon=Horizon(value=3, unit=HorizonUnit.MONTHS),
)


class ScenarioEngine:
    """Propagates scenarios through factor models fitted on a :class:`MarketHistory`.

    Parameters
    ----------
    history : the run's data.
    stressed_quantile, min_periods : passed to every :class:`FactorModel`.
    """

    def __init__(
        self,
        history: MarketHistory,
        *,
        stressed_quantile: float = 0.15,
        min_periods: int = 24,
        options: EngineOptions | None = None,
    ) -> None:
        self.history = history
        self.stressed_quantile = stressed_quantile
        self.min_periods = min_periods
        self.options = options or EngineOptions()

    def fit(self) -> ScenarioEngine:
        """Fit the full-window model (``model_``); pinned windows are fitted on demand."""
        self.models_: dict[tuple[Any, Any, Any], FactorModel] = {}
        self.fits_: dict[tuple[Any, Any, Any], _Fit] = {}
        self._sampled: dict[Frequency, SampledReturns] = {}
        self.model_ = self.model_for(None)
        self.cash_rate_ = cash_rate(self.history)  # what CASH earns on the as-of date
        self.cash_floats_ = cash_floats(self.history)  # at a short rate, not a fixed one
        return self

    def model_for(self, window: HistoryWindow | None, file: str | None = None) -> FactorModel:
        """The factor model fitted on ``window`` of the history (cached per window)."""
        return self._fit_for(window, file).model

    def _fit_for(self, window: HistoryWindow | None, file: str | None = None) -> _Fit:
        key = (window.start, window.end, window.frequency) if window else (None, None, None)
        if key not in self.fits_:
            try:
                self.fits_[key] = self._fit_window(window)
            except ScenarioError as exc:
                if exc.key == "history.frequency":  # a pin the data cannot take, as it is
                    exc.file = exc.file or file
                    exc.args = (exc.render(),)
                    raise
                if window is None:
                    raise DataError(
                        f"history too short for the factor regression: {exc.message}",
                        key="history",
                        value=exc.value,
                        hint="choose an earlier [data] start (a coarser frequency has fewer "
                        "periods)",
                    ) from None
                raise UnsupportedScenario(
                    f"too little data in the pinned history window: {exc.message}",
                    file=file,
                    key="history",
                    value=window.text(),
                    hint=f"the data covers {_span(self.history.returns.index)}",
                ) from None
            self.models_[key] = self.fits_[key].model
        return self.fits_[key]

    def _fit_window(self, window: HistoryWindow | None) -> _Fit:
        """The estimator of :class:`EngineOptions` on the data's own dates (or the pinned
        frequency), weighted by month, over the history's window cut to ``window``."""
        h, o = self.history, self.options
        freq = window.frequency if window is not None and window.frequency else o.sampling
        s = self._sampled_at(freq)
        if s is None:  # the plain regression on the history's own period returns
            part = h.window(window)
            model = FactorModel(
                stressed_quantile=self.stressed_quantile, min_periods=self.min_periods
            ).fit(part.returns, part.factors)
            freq = self._frequency(window)
            return _Fit(model, float(freq.periods_per_year), False, freq)
        dates = s.returns.index
        rows = np.ones(len(dates), dtype=bool)
        if h.levels is not None and len(h.levels):  # the history's window ([data] start,
            rows &= (dates > h.levels.index[0]) & (dates <= h.levels.index[-1])  # window_years)
        if window is not None and window.start is not None:
            rows &= dates >= pd.Timestamp(window.start)
        if window is not None and window.end is not None:
            rows &= dates <= pd.Timestamp(window.end)
        if not rows.any():
            raise UnsupportedScenario("no period in the window", key="history", value="empty")
        months = s.months[rows]
        last = months[-1]
        per_month = float(rows.sum()) / ((last - months[0]).n + 1)  # like ShockModel.fit
        per_year = 12 * per_month
        if window is not None:  # a pinned window's minimum counts its periods, not days
            _check_span(dates[rows], freq, self._frequency(window), self.min_periods)
        model = fit_model(
            s,
            rows,
            last,
            per_year / 12,
            o,
            min_periods=self.min_periods,
            stressed_quantile=self.stressed_quantile,
        )
        return _Fit(model, per_year, o.log_returns, freq)

    def moments(
        self,
        scenario: Scenario,
        *,
        file: str | None = None,
        probability: float = 0.0,
        horizon_years: float | None = None,
    ) -> ScenarioMoments:
        """Conditional horizon moments of the assets under ``scenario``.

        ``horizon_years`` (default: the scenario's own) may be longer than the scenario's
        horizon; the remaining time adds unshocked (baseline) drift and variance.
        """
        fit = self._fit_for(scenario.history, file)
        model = fit.model
        periods, rest = self._periods(scenario, horizon_years, file, fit.per_year)
        replay_days = self._replay_periods(scenario, fit)
        if replay_days is not None:  # exactly the model's periods in the replay window
            periods = float(replay_days)
        names = list(model.factor_names_)
        specs = [self.history.specs[n] for n in names]
        calm = stress_covariance(model.factor_cov_, names, scenario.stress, file)
        stressed = calm
        if scenario.regime is not Regime.CALM:
            stressed = stress_covariance(
                model.covariance(scenario.regime), names, scenario.stress, file
            )
        mean_h = model.factor_mean_ * periods
        idx, values, stated = self._shocks(scenario, names, model, file)
        if fit.log:
            values = log_shocks(values, [specs[i] for i in idx])
        calm_h = calm.cov * periods
        spread = calm_h if stressed is calm else stressed.cov * periods
        f_mean, f_cov = regime_conditional(mean_h, calm_h, spread, idx, values)
        a, B, D = model.intercept_, model.exposures_, model.residual_var_
        D_s = model.residual_variance(scenario.regime)  # turbulence: larger specific risk too
        mu, Sigma = asset_moments(a, B, D_s, periods, f_mean, f_cov, scenario.stress.vol_multiplier)
        if rest > 0:
            mu_r, S_r = asset_moments(
                a, B, D, rest, model.factor_mean_ * rest, model.factor_cov_ * rest
            )
            mu, Sigma = mu + mu_r, Sigma + S_r
        log_moves = None
        if fit.log:
            calm_var = self._calm_variance(scenario, model, (calm, stressed, D_s), idx, values,
                                           (mean_h, f_mean, periods, rest))  # fmt: skip
            mu, Sigma = simple_moments(mu, Sigma, mean_var=calm_var)
            log_moves = {n: float(v) for n, v in zip(names, f_mean, strict=True)}
            f_mean = simple_moves(f_mean, specs)
        rate = self.cash_rate_
        if rate is not None and self.cash_floats_ and "short_rate" in names:
            k = names.index("short_rate")  # cash rolls at the short rate the scenario moves
            drift = float(model.factor_mean_[k]) * rest
            rate = mean_cash_rate(rate, float(f_mean[k]), drift, periods, rest)
        mu, Sigma = riskless_cash(mu, Sigma, model.tickers_, rate, (periods + rest) / fit.per_year)
        Sigma = _checked_psd(Sigma, scenario, file)
        _check_above_total_loss(mu, model.tickers_, scenario, file)
        calm_cov_h = model.factor_cov_ * periods
        distance = _distance(values, mean_h[idx], calm_cov_h[np.ix_(idx, idx)])
        tail, words = plausibility(distance, len(idx))
        details = {
            "shocks": stated,
            "horizon": scenario.horizon_text(),
            "horizon_years": scenario.horizon_years,
            "horizon_periods": periods,
            "tail_probability": tail,
            **({"cash_rate": rate} if rate is not None and CASH in model.tickers_ else {}),
            "stress_repaired": stressed.repaired or calm.repaired,
            **({"log_factor_moves": log_moves} if log_moves is not None else {}),
            **self._model_details(model, periods, scenario),
            "file": file,
        }
        return ScenarioMoments(
            id=scenario.id,
            title=scenario.title,
            probability=probability,
            mu=mu,
            Sigma=Sigma,
            factor_moves={n: float(v) for n, v in zip(names, f_mean, strict=True)},
            mahalanobis=distance,
            plausibility=words,
            history=self._history_text(model, scenario),
            regime=scenario.regime.value,
            details=details,
        )

    def _calm_variance(
        self,
        scenario: Scenario,
        model: FactorModel,
        spreads: tuple[Any, Any, np.ndarray],
        idx: list[int],
        values: np.ndarray,
        moves: tuple[np.ndarray, np.ndarray, float, float],
    ) -> np.ndarray | None:
        """The assets' log-return variances without the scenario's stress (None when it
        has none): a lognormal mean grows with the variance, ``exp(mu + s2 / 2)``, and a
        stress (a stressed regime, a ``vol_multiplier``, wider factor volatilities) must
        widen the spread only, not lift expected returns (a larger stress, a smaller loss)."""
        calm, stressed, D_s = spreads
        mean_h, f_mean, periods, rest = moves
        a, B, D = model.intercept_, model.exposures_, model.residual_var_
        plain = (stressed is calm and D_s is D and scenario.stress.vol_multiplier == 1.0
                 and np.array_equal(calm.cov, model.factor_cov_))  # fmt: skip
        if plain:
            return None
        _, f_cov = regime_conditional(
            mean_h, model.factor_cov_ * periods, model.factor_cov_ * periods, idx, values
        )
        var = np.diag(asset_moments(a, B, D, periods, f_mean, f_cov)[1])
        if rest > 0:
            var = var + np.diag(
                asset_moments(a, B, D, rest, f_mean * 0, model.factor_cov_ * rest)[1]
            )
        return var

    def _periods(
        self, scenario: Scenario, horizon_years: float | None, file: str | None, ppy: float
    ) -> tuple[float, float]:
        """Model periods in the scenario's horizon, and in the rest of a longer horizon."""
        h_s = scenario.horizon_years
        total = h_s if horizon_years is None else horizon_years
        if total < h_s - 1e-9:
            raise ScenarioError(
                f"scenario horizon is longer than the estimate horizon ({total:g} years)",
                file=file,
                key="horizon",
                value=scenario.horizon_text(),
            )
        return h_s * ppy, (total - h_s) * ppy

    def estimator_text(self) -> str:
        """How the full-window model was estimated, in words."""
        fit = self._fit_for(None)
        if not fit.log:
            return f"{fit.sampling.value} returns"
        hl = self.options.halflife
        weights = f"weighted by month, half-life {hl:g} months" if hl else "equal weights"
        return f"{fit.sampling.value} log returns ({weights})"

    def _sampled_at(self, freq: Frequency) -> SampledReturns | None:
        """The data sampled for the estimator, or None when it does not apply: no levels
        kept, or data coarser than daily (the estimator's defaults were measured on daily
        closes; monthly data such as the bundled sample keeps the plain regression)."""
        h = self.history
        frame = h.daily if h.daily is not None else h.levels
        if frame is None or not h.specs or not _is_daily(frame.index):
            return None
        if freq not in self._sampled:
            tickers = tuple(str(c) for c in h.returns.columns)
            log = self.options.log_returns
            self._sampled[freq] = SampledReturns.build(h, tickers, freq, log=log)
        return self._sampled[freq]

    def _replay_periods(self, scenario: Scenario, fit: _Fit) -> int | None:
        """A replay on a model of daily periods: the number of its periods (common trading
        days) from ``start`` to ``end``, both included (None otherwise)."""
        s = self._sampled.get(fit.sampling)
        if scenario.replay is None or s is None or not s.daily:
            return None
        dates = s.returns.index
        lo, hi = pd.Timestamp(scenario.replay.start), pd.Timestamp(scenario.replay.end)
        return int(((dates >= lo) & (dates <= hi)).sum())

    def _model_details(
        self, model: FactorModel, periods: float, scenario: Scenario
    ) -> dict[str, Any]:
        """Exposures, intercepts over the scenario horizon, factor units, stress settings."""
        specs = self.history.specs
        return {
            "vol_multiplier": scenario.stress.vol_multiplier,
            "correlation_stress": scenario.stress.correlation_stress,
            "exposures": model.exposures_dict(),
            "intercept": {
                t: float(x * periods) for t, x in zip(model.tickers_, model.intercept_, strict=True)
            },
            "factor_units": {n: specs[n].kind.unit for n in model.factor_names_ if n in specs},
        }

    def _frequency(self, window: HistoryWindow | None) -> Frequency:
        if window is not None and window.frequency is not None:
            return window.frequency
        return self.history.frequency

    def _history_text(self, model: FactorModel, scenario: Scenario) -> str:
        freq = self._fit_for(scenario.history).sampling.value
        text = f"{model.history} ({model.n_periods_} {freq} periods"
        if scenario.history is not None:
            text += ", pinned by the scenario"
            if scenario.history.note:
                text += f": {scenario.history.note}"
        return text + ")"

    def _shocks(
        self, scenario: Scenario, names: list[str], model: FactorModel, file: str | None
    ) -> tuple[list[int], np.ndarray, list[dict[str, Any]]]:
        """Indices of shocked factors (m,), their horizon moves (m,), and what was stated."""
        if scenario.replay is not None:
            return self._replay(scenario, names, file)
        idx: list[int] = []
        values: list[float] = []
        stated: list[dict[str, Any]] = []
        for i, shock in enumerate(scenario.shocks):
            factor = shock.factor or INDEXES[shock.index].factor
            key = f"shocks[{i}].{'factor' if shock.factor else 'index'}"
            if factor not in names:
                why = self.history.left_out.get(factor)
                raise UnsupportedScenario(
                    f"factor {factor!r} has no series in this data"
                    + (f" ({why})" if why else "")
                    + f"; factors available: {', '.join(names)}",
                    file=file,
                    key=key,
                    value=shock.factor or shock.index,
                    hint=f"map it in the account file: [estimation.factors.{factor}]",
                )
            record: dict[str, Any] = {"factor": factor, **shock.model_dump(exclude_none=True)}
            value = _shock_value(shock, FACTOR_KINDS[factor])
            if value is None:  # a level target
                spot = self._spot(shock, i, file)
                value = shock.level / spot.level - 1.0
                if value > MAX_MOVE_PCT / 100:  # the bound a stated return_pct has
                    raise ScenarioError(
                        f"the level target is a move of {value:+,.0%} from the spot "
                        f"{spot.level:,.2f} ({spot.date}): above the +{MAX_MOVE_PCT:,.0f} % "
                        "a stated move may be",
                        file=file,
                        key=f"shocks[{i}].level",
                        value=shock.level,
                    )
                record["spot"] = {"level": spot.level, "date": spot.date, "source": spot.source}
            record["move"] = value
            idx.append(names.index(factor))
            values.append(value)
            stated.append(record)
        return idx, np.array(values), stated

    def _spot(self, shock: Any, i: int, file: str | None) -> IndexLevel:
        spot = self.history.index_levels.get(shock.index)
        if spot is not None:
            return spot
        if shock.reference is not None:
            return self._carried(shock.index, shock.reference)
        raise UnsupportedScenario(
            "a level target needs a spot level: the data has no level of this index and "
            "the shock gives no reference",
            file=file,
            key=f"shocks[{i}].reference",
            value=shock.index,
            hint="add reference = { level = ..., date = ..., source = ... }",
        )

    def _carried(self, index: str, ref: Any) -> IndexLevel:
        """A scenario's dated reference level taken to the as-of date by the series that
        stands for the index (the ``equity`` factor's ETF): "to 6,200 from 6,800 on
        2025-12-12" is measured from where the index stands on the as-of date, not from
        where it stood then. A reference dated after the data's last day (an as-of date
        before it) cannot be carried without the future: the stated move from the
        reference applies, and the spot says so."""
        stated = f"scenario reference {ref.level:,.2f} on {ref.date} ({ref.source})"
        spec = self.history.specs.get(INDEXES[index].factor)
        levels = self.history.daily if self.history.daily is not None else self.history.levels
        if spec is None or spec.minus is not None or levels is None:
            return IndexLevel(ref.level, ref.date, f"{stated}, not carried: no series of it")
        as_of = self.history.provenance.as_of if self.history.provenance else None
        own = levels[spec.series].dropna()
        if as_of is not None:  # the proxy may run past the as-of date (another series ends)
            own = own.loc[: pd.Timestamp(as_of)]
        if own.empty:
            return IndexLevel(ref.level, ref.date, f"{stated}, not carried: no series of it")
        last = own.index[-1].date()
        before = own.loc[: pd.Timestamp(ref.date)]
        if ref.date > last:
            return IndexLevel(
                ref.level,
                ref.date,
                f"{stated}, dated after the data's last day {last}: the move from the "
                "reference applies, not the level",
            )
        if before.empty:
            return IndexLevel(
                ref.level, ref.date, f"{stated}, not carried: {spec.series} starts after it"
            )
        if before.index[-1].date() == last:
            return IndexLevel(ref.level, ref.date, stated)
        growth = float(own.iloc[-1] / before.iloc[-1])
        return IndexLevel(
            ref.level * growth,
            last,
            f"{stated}, carried to {last} by {spec.series} ({growth - 1:+.2%})",
        )

    def _replay(
        self, scenario: Scenario, names: list[str], file: str | None
    ) -> tuple[list[int], np.ndarray, list[dict[str, Any]]]:
        """Realised factor moves over the replay window become the shocks."""
        replay = scenario.replay
        assert replay is not None
        for name in replay.factors:
            if name not in names:
                raise UnsupportedScenario(
                    "factor has no series in this data", file=file, key="replay.factors", value=name
                )
        moves = self._realised(replay.start, replay.end, file)
        window = f"{replay.start}..{replay.end}"
        idx = [names.index(n) for n in replay.factors]
        values = np.array([float(moves[n]) for n in replay.factors])
        stated = [
            {"factor": n, "move": v, "replay": window}
            for n, v in zip(replay.factors, values, strict=True)
        ]
        return idx, values, stated

    def _realised(self, start: dt.date, end: dt.date, file: str | None) -> pd.Series:
        """Factor moves from the last level before ``start`` to the last level by ``end``."""
        h = self.history
        levels = h.daily if h.daily is not None else h.levels
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        as_of = h.provenance.as_of if h.provenance is not None else None
        cut = pd.Timestamp(as_of) if as_of is not None else None  # a series that runs on
        if levels is None:  # no levels kept: add up the per-period factor values
            levels_index = h.factors.loc[:cut].index
            covered = len(levels_index) and levels_index[0] <= lo and levels_index[-1] >= hi
            moves = h.factors.loc[lo:hi].sum() if covered else None
        else:  # (past the as-of date, e.g. a yield series after the ETFs end, is not data)
            levels = levels.loc[:cut]
            levels_index = levels.dropna(how="all").index
            covered = len(levels_index) and levels_index[0] < lo and levels_index[-1] >= hi
            moves = _moves_between(levels, h.specs, lo, hi) if covered else None
        if moves is None:
            raise UnsupportedScenario(
                f"the data does not cover the replay window (it covers {_span(levels_index)})",
                file=file,
                key="replay.start",
                value=f"{start}..{end}",
            )
        return moves


def _moves_between(levels: pd.DataFrame, specs: dict[str, FactorSpec], lo: Any, hi: Any) -> Any:
    """Each factor's move from its last level before ``lo`` to its last level by ``hi``.

    Each factor uses only its own series' dates, so a holiday in another series does not
    shift the window.
    """
    out = {}
    for name, spec in specs.items():
        own = levels[list(spec.tickers())].dropna()
        before, through = own.loc[: lo - pd.Timedelta(days=1)], own.loc[:hi]
        if before.empty or through.empty:
            return None
        two = pd.concat([before.iloc[[-1]], through.iloc[[-1]]])
        out[name] = float(factor_values({name: spec}, two, two).iloc[0, 0])
    return pd.Series(out)


def _distance(values: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    diff = values - mean
    return float(np.sqrt(max(diff @ np.linalg.pinv(cov) @ diff, 0.0)))


def cash_rate(history: MarketHistory) -> float | None:
    """The annual rate ``CASH`` earns on the as-of date, from its own series: on daily
    data its growth over the last four weeks, over the calendar days they span (the
    built-in series accrues ``(1 + r) ** (d / 365)``, so a fixed 4 % reads back as 0.04
    exactly, and a file's rounding of single days averages out); on coarser data its last
    period compounded over the periods of a year. None without CASH."""
    cash = _cash_levels(history)
    if cash is None:
        return None
    if _is_daily(cash.index):
        month = cash.loc[cash.index[-1] - pd.Timedelta(days=28) :]
        first = month if len(month) >= 2 else cash.iloc[-2:]
        days = (cash.index[-1] - first.index[0]).days
        return float((cash.iloc[-1] / first.iloc[0]) ** (365.0 / days) - 1.0)
    gaps = np.diff(cash.index[-13:].to_numpy()).astype("timedelta64[D]").astype(float)
    per_year = round(365.25 / float(np.median(gaps)))
    return float((cash.iloc[-1] / cash.iloc[-2]) ** per_year - 1.0)


def _cash_levels(history: MarketHistory) -> pd.Series | None:
    """CASH's levels up to the as-of date (daily when there are daily levels), or None."""
    levels = history.daily if history.daily is not None else history.levels
    if levels is None or CASH not in levels:
        return None
    cash = levels[CASH].dropna()
    if history.provenance is not None and history.provenance.as_of is not None:
        cash = cash.loc[: pd.Timestamp(history.provenance.as_of)]
    return cash if len(cash) >= 2 else None


def _check_span(dates: pd.DatetimeIndex, sampled: Frequency, unit: Frequency, least: int) -> None:
    """At least ``least`` periods of ``unit`` (weeks, months) among the sampled ``dates``."""
    n = len(dates) if unit.period is None else dates.to_period(unit.period).nunique()
    if n < least:
        raise ScenarioError(
            f"only {len(dates)} {sampled.value} returns, in {n} {unit.value} periods; need at "
            f"least {least}",
            key="history",
            value=f"{dates[0].date()}..{dates[-1].date()}",
        )


def cash_floats(history: MarketHistory) -> bool:
    """Whether CASH earns a floating short rate: the annual rate it earned over quarters
    (by calendar days) has moved by more than 25 bp (or 5 % of its mean, whichever is
    larger) in its history.
    A fixed ``cash_rate`` accrues by calendar days, the same rate in every quarter; a file's
    rounding to cents, or a fixed rate compounded per month, moves a quarter's rate by a
    few bp."""
    cash = _cash_levels(history)
    if cash is None:
        return False
    if _is_daily(cash.index):  # the last close on or before every 91st day
        grid = pd.date_range(cash.index[0], cash.index[-1], freq="91D")
        spans = cash.iloc[np.unique(cash.index.searchsorted(grid, side="right") - 1)]
    else:
        step = np.median(np.diff(cash.index.to_numpy()).astype("timedelta64[D]").astype(float))
        spans = cash.iloc[:: max(1, round(91.0 / max(float(step), 1.0)))]  # a quarter's
    days = np.diff(spans.index.to_numpy()).astype("timedelta64[D]").astype(float)
    growth = spans.to_numpy()[1:] / spans.to_numpy()[:-1]
    ok = (days > 0) & (growth > 0)
    rates = growth[ok] ** (365.0 / days[ok]) - 1.0
    if rates.size < 2:
        return False
    return float(rates.max() - rates.min()) > max(0.0025, 0.05 * float(np.abs(rates).mean()))


def mean_cash_rate(rate: float, move: float, drift: float, periods: float, rest: float) -> float:
    """The mean rate over the horizon of cash rolled at a short rate that starts at
    ``rate``, moves by ``move`` in a straight line over the scenario's ``periods`` and by
    ``drift`` over the ``rest`` of a longer horizon (fractions a year; periods of the
    model). A Fed-easing path of 4 % to 3.5 % over the horizon earns 3.75 % on average.
    The path stops at zero (at today's rate when that is below zero): a 100 bp cut from
    0.5 % earns 0.125 %, not 0 %."""
    total = periods + rest
    if total <= 0:
        return rate
    floor = min(rate, 0.0)
    end = rate + move
    legs = [(periods, rate, end), (rest, end, end + drift)]
    return sum(n * _mean_above(a, b, floor) for n, a, b in legs if n > 0) / total


def _mean_above(a: float, b: float, floor: float) -> float:
    """The mean of ``max(x, floor)`` over a straight line from ``a`` to ``b``."""
    lo, hi = min(a, b), max(a, b)
    if lo >= floor:
        return (a + b) / 2.0
    if hi <= floor:
        return floor
    share = (hi - floor) / (hi - lo)  # the part of the line above the floor
    return share * (hi + floor) / 2.0 + (1.0 - share) * floor


def riskless_cash(
    mu: np.ndarray, Sigma: np.ndarray, tickers: Sequence[str], rate: float | None, years: float
) -> tuple[np.ndarray, np.ndarray]:
    """``CASH`` as what it is over the horizon: ``rate`` compounded (``(1 + rate) ** years
    - 1``), uncorrelated with every asset. ``rate`` is what it earns today, or, when it
    floats at a short rate the scenario moves, the mean over the path (:func:`mean_cash_rate`).

    A regression of its accruals on the factors finds noise (weekends accrue three days):
    exposures, a fall in a Fed-easing scenario, a mean short of the rate. Its own small
    variance is kept, so the covariance stays positive definite for the risk-budgeting
    objectives."""
    if rate is None or CASH not in tickers:
        return mu, Sigma
    i = list(tickers).index(CASH)
    mu, Sigma = mu.copy(), Sigma.copy()
    mu[i] = (1.0 + rate) ** years - 1.0
    own = Sigma[i, i]
    Sigma[i, :] = 0.0
    Sigma[:, i] = 0.0
    Sigma[i, i] = own
    return mu, Sigma


def _check_above_total_loss(
    mu: np.ndarray, names: Sequence[str], scenario: Scenario, file: str | None
) -> None:
    """A held asset cannot lose more than all of itself: an expected return at or below
    -100 % means the shocks are beyond where the linear model holds (a 2,000 bp yield
    move on a bond fund), and a number like -159 % would be garbage, not a stress."""
    worst = int(np.argmin(mu))
    if mu[worst] > -1.0:
        return
    raise ScenarioError(
        f"the shocks take {names[worst]}'s expected return to {mu[worst]:.1%}, beyond a total "
        "loss: the model does not hold this far from the history it was fitted on",
        file=file,
        key="shocks",
        value=scenario.id,
        hint="state a smaller shock",
    )


def _checked_psd(Sigma: np.ndarray, scenario: Scenario, file: str | None) -> np.ndarray:
    if is_psd(Sigma, 1e-8):
        return clip_to_psd(Sigma)  # remove round-off below zero
    raise ScenarioError(
        "the scenario's asset covariance is not positive semidefinite",
        file=file,
        key="stress",
        value=scenario.id,
    )


def _is_daily(index: pd.Index) -> bool:
    """True when the dates are a day apart (median gap at most four days)."""
    gaps = np.diff(index.sort_values().to_numpy()).astype("timedelta64[D]").astype(float)
    return bool(len(gaps)) and float(np.median(gaps)) <= 4.0


def _span(index: pd.Index) -> str:
    if len(index) == 0:
        return "no dates"
    return f"{index[0].date()}..{index[-1].date()}"
