"""``build_estimate``: data + estimation policy + scenario set → :class:`Estimate`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from optimizer.data.base import Provider, last_closes
from optimizer.errors import ConfigError, DataError, ScenarioError
from optimizer.estimate import (
    BaselineInputs,
    Estimate,
    EstimationWindow,
    SampleSource,
    ScenarioMoments,
    baseline_moments,
)
from optimizer.factors import last_in_period, period_end_levels
from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig, ScenarioUse
from optimizer.scenario.engine import (
    BASELINE,
    MarketHistory,
    ScenarioEngine,
    cash_rate,
    riskless_cash,
)
from optimizer.scenario.estimator import engine_options
from optimizer.scenario.history import _cut_window, load_history
from optimizer.scenario.library import ScenarioLibrary
from optimizer.scenario.model import Scenario
from optimizer.scenario.propagate import mixture_moments, mixture_weights, sample_mixture
from optimizer.tickers import CASH

if TYPE_CHECKING:
    from optimizer.data import DataConfig


def build_estimate(
    data: DataConfig,
    estimation: EstimationConfig,
    scenarios: ScenarioSetConfig,
    tickers: Sequence[str],
    *,
    base_dir: Path | None = None,
    provider: Provider | None = None,
) -> Estimate:
    """Horizon return moments for ``tickers``: per scenario, their mixture, and samples.

    Parameters
    ----------
    data : the ``[data]`` section (source, start, end, cache_dir, offline).
    estimation : the ``[estimation]`` section.
    scenarios : the ``[scenarios]`` section; with no ``use`` entries the estimate is the
        baseline estimator named by ``estimation.mean`` / ``estimation.covariance``.
    tickers : assets, (n_assets,).
    base_dir : folder relative paths (``scenarios.dir``, ``data.cache_dir``) are taken from.
    provider : a ready provider (default: built from ``data``).
    """
    model = fit_scenario_model(
        data, estimation, tickers, scenarios=bool(scenarios.use), base_dir=base_dir,
        provider=provider,
    )  # fmt: skip
    library = (
        ScenarioLibrary.with_extra(_extra_dirs(scenarios, base_dir)) if scenarios.use else None
    )
    return model.estimate(scenarios, library)


@dataclass(frozen=True)
class ScenarioModel:
    """What :func:`build_estimate` fits once: the history, the baseline prices and the
    fitted scenario engine (None without scenarios). :meth:`estimate` turns a scenario set
    into an :class:`Estimate` on it (the what-if page re-runs it for every change)."""

    history: MarketHistory
    prices: pd.DataFrame  # (n_periods + 1, n_assets) period-end prices of the baseline
    window: str
    estimation: EstimationConfig
    tickers: tuple[str, ...]  # (n_assets,)
    rf_annual: float
    engine: ScenarioEngine | None

    def estimate(self, scenarios: ScenarioSetConfig, library: ScenarioLibrary | None) -> Estimate:
        """The estimate for ``scenarios`` (their files read from ``library``)."""
        estimation, tickers = self.estimation, self.tickers
        if not scenarios.use or self.engine is None or library is None:
            est = _baseline(
                self.history, self.prices, self.window, estimation, tickers, self.rf_annual
            )
        else:
            horizon = estimation.horizon.years if estimation.horizon else None
            moments, horizon = scenario_set_moments(self.engine, library, scenarios.use, horizon)
            est = _mixture_estimate(
                self.engine, moments, scenarios, tickers, horizon, self.rf_annual
            )
        if estimation.samples is SampleSource.HISTORICAL:
            return _historical_samples(est, self.prices, self.history.frequency.value)
        if est.samples is not None:
            note = f"{len(est.samples)} Monte Carlo draws over the horizon (seed {est.seed})"
            return dataclasses.replace(est, samples_note=note)
        return est


def fit_scenario_model(
    data: DataConfig,
    estimation: EstimationConfig,
    tickers: Sequence[str],
    *,
    scenarios: bool,
    base_dir: Path | None = None,
    provider: Provider | None = None,
) -> ScenarioModel:
    """Load the history and fit the factor model once (``scenarios``: the engine too)."""
    provider = provider or _provider(data, base_dir)
    capm = estimation.mean.value == "capm"
    history = load_history(provider, data, estimation, tickers, factors=scenarios or capm)
    as_of = history.provenance.as_of if history.provenance else None
    rf_annual = _risk_free(provider, data, estimation, as_of)
    prices, window = baseline_prices(provider, data, estimation, history, tickers)
    engine = None
    if scenarios:
        engine = ScenarioEngine(
            history,
            stressed_quantile=estimation.stressed_quantile,
            min_periods=estimation.min_periods,
            options=engine_options(estimation.frequency),
        ).fit()
    return ScenarioModel(history, prices, window, estimation, tuple(tickers), rf_annual, engine)


def _historical_samples(est: Estimate, prices: pd.DataFrame, freq: str) -> Estimate:
    """``est`` with the historical period returns (rows where every asset has one) as its
    CVaR samples, (n_periods, n_assets)."""
    returns = prices.pct_change(fill_method=None).dropna()
    note = (
        f"{len(returns)} historical {freq} returns "
        f"{returns.index[0].date()}..{returns.index[-1].date()}"
    )
    return dataclasses.replace(
        est,
        samples=returns.to_numpy(),
        seed=None,
        samples_period=freq,
        samples_note=note,
        provenance=_provenance_notes(est.provenance, [f"CVaR samples: {note}"]),
    )


def baseline_prices(
    provider: Provider,
    data: Any,
    estimation: EstimationConfig,
    history: MarketHistory,
    tickers: Sequence[str],
) -> tuple[pd.DataFrame, str]:
    """Period-end prices the baseline estimators read, (n_periods + 1, n_assets), and the
    window in words.

    ``window = "common"``: the periods where every asset has a price. ``"full"``: each
    series from its own first price (NaN before it) to the common last date, fetched one
    ticker at a time so that no series is cut to the others' start.
    """
    freq = history.frequency
    assets = history.daily[list(tickers)]
    as_of = history.provenance.as_of if history.provenance else None
    if as_of is not None:  # a factor series ending first ends every estimator's data
        assets = assets.loc[: pd.Timestamp(as_of)]
    if estimation.window is EstimationWindow.FULL:
        start, end = getattr(data, "start", None), getattr(data, "end", None)
        last = assets.dropna().index[-1]
        own = [provider.prices([t], start, end).frame[t] for t in tickers]
        daily = pd.concat(own, axis=1).loc[:last].dropna(how="all")
        levels = daily if freq.period is None else last_in_period(daily, freq.period)
    else:
        levels = period_end_levels(assets, freq)
    levels = _cut_window(levels.dropna(how="all"), freq, estimation)
    return levels, _window_words(levels, freq.value, estimation.window)


def _window_words(levels: pd.DataFrame, freq: str, window: EstimationWindow) -> str:
    returns = levels.pct_change(fill_method=None).iloc[1:]
    last = returns.index[-1].date()
    if window is EstimationWindow.COMMON:
        return f"{freq} returns {returns.index[0].date()}..{last}, the periods all assets share"
    starts = {str(t): returns[t].first_valid_index() for t in returns.columns}
    early, late = min(starts, key=starts.__getitem__), max(starts, key=starts.__getitem__)
    return (
        f"{freq} returns, each asset's full history to {last} "
        f"(earliest {early} from {starts[early].date()}, latest {late} from {starts[late].date()})"
    )


def scenario_set_moments(
    engine: ScenarioEngine,
    library: ScenarioLibrary,
    uses: Sequence[ScenarioUse],
    horizon_years: float | None = None,
    *,
    own_horizons: bool = False,
) -> tuple[list[ScenarioMoments], float]:
    """Moments of each scenario used (plus the baseline remainder) and the common horizon.

    The common horizon is ``horizon_years`` or the longest scenario horizon. With
    ``own_horizons`` each scenario is reported over its own horizon instead (for stress
    tables); the probabilities are the same.
    """
    paths = library.paths()
    for i, use in enumerate(uses):
        if use.id not in paths:
            raise ConfigError(
                f"unknown scenario; known: {', '.join(sorted(paths)) or 'none'}",
                key=f"scenarios.use[{i}].id",
                value=use.id,
            )
    chosen = [(use, library.get(use.id), paths[use.id]) for use in uses]
    horizon = horizon_years or max(s.horizon_years for _, s, _ in chosen)
    probs, rest = scenario_probabilities(chosen)
    moments = [
        engine.moments(
            s, file=str(path), probability=p, horizon_years=None if own_horizons else horizon
        )
        for (_, s, path), p in zip(chosen, probs, strict=True)
    ]
    if rest > 0:
        moments = _add_baseline(moments, engine, library, rest, None if own_horizons else horizon)
    return moments, horizon


def _mixture_estimate(
    engine: ScenarioEngine,
    moments: list[ScenarioMoments],
    scenarios: ScenarioSetConfig,
    tickers: Sequence[str],
    horizon: float,
    rf_annual: float,
) -> Estimate:
    probs = [m.probability for m in moments]
    mus, Sigmas = [m.mu for m in moments], [m.Sigma for m in moments]
    mu, Sigma = mixture_moments(mus, Sigmas, probs)
    samples = sample_mixture(mus, Sigmas, probs, scenarios.n_samples, scenarios.seed)
    history = engine.history
    notes = [f"scenario {m.id}: history {m.history}, regime {m.regime}" for m in moments]
    return Estimate(
        tickers=tuple(tickers),
        mu=mu,
        Sigma=Sigma,
        horizon_years=horizon,
        risk_free=rf_annual * horizon,
        provenance=_provenance(history, notes),
        scenarios=tuple(moments),
        samples=samples,
        seed=scenarios.seed,
        method=f"factor model ({len(history.factors.columns)} factors: "
        f"{', '.join(history.factors.columns)}) + {len(moments)} scenarios",
        exposures=engine.model_.exposures_dict(),
        window=f"factor model on {engine.estimator_text()} {engine.model_.history} "
        "(a scenario may pin its own history)",
    )


def _market_levels(returns: pd.Series, dates: pd.DatetimeIndex, period: str | None) -> pd.Series:
    """The market's level (1 before its first return) on each of the assets' dates: the
    level at the end of the date's own week or month, or on daily data at the date or the
    last day before it. A factor row is dated Thursday in a week a rate series lacks its
    Friday, while the assets keep Friday: matched by date, PyPortfolioOpt's CAPM drops
    every such period."""
    levels = (1.0 + returns).cumprod()
    keys = dates
    if period is not None:
        levels = levels.groupby(levels.index.to_period(period)).last()
        keys = dates.to_period(period)
    on = levels.reindex(levels.index.union(keys)).ffill().reindex(keys).fillna(1.0)
    return pd.Series(on.to_numpy(), index=dates)


def _baseline(
    history: MarketHistory,
    prices: pd.DataFrame,
    window: str,
    estimation: EstimationConfig,
    tickers: Sequence[str],
    rf_annual: float,
) -> Estimate:
    """The baseline estimators of ``[estimation]`` on the asset history alone (CAPM also
    uses the equity factor's series as the market)."""
    horizon = estimation.horizon.years if estimation.horizon else BASELINE.horizon_years
    market = None
    if "equity" in history.specs:
        market = _market_levels(history.factors["equity"], prices.index, history.frequency.period)
    inputs = BaselineInputs(
        prices=prices,
        periods_per_year=history.frequency.periods_per_year,
        span=estimation.ema_span,
        market_prices=market,
        risk_free_annual=rf_annual,
        compounding=estimation.compounding,
    )
    mu, Sigma = baseline_moments(inputs, estimation.mean, estimation.covariance, horizon, CASH)
    mu, Sigma = riskless_cash(mu, Sigma, tickers, cash_rate(history), horizon)
    compounded = " (compounded)" if estimation.compounding else ""
    first = prices.pct_change(fill_method=None).iloc[1:].index[0].date()
    provenance = _provenance(history, [f"baseline estimators read {window}"])
    if provenance is not None:
        provenance = dataclasses.replace(provenance, first=first, last=prices.index[-1].date())
    return Estimate(
        tickers=tuple(tickers),
        mu=mu,
        Sigma=Sigma,
        horizon_years=horizon,
        risk_free=rf_annual * horizon,
        provenance=provenance,
        method=f"{estimation.mean.value} mean{compounded}, "
        f"{estimation.covariance.value} covariance; {window}",
        window=window,
    )


def _provenance(history: MarketHistory, notes: list[str]) -> Any:
    return _provenance_notes(history.provenance, notes)


def _provenance_notes(prov: Any, notes: list[str]) -> Any:
    return dataclasses.replace(prov, notes=(*prov.notes, *notes)) if prov else None


def scenario_probabilities(chosen: list[tuple[Any, Scenario, Path]]) -> tuple[list[float], float]:
    """Mixture weights; the first entry that pushes the total above 1 is named."""
    stated: list[float | None] = []
    total = 0.0
    for i, (use, scenario, path) in enumerate(chosen):
        p = use.probability if use.probability is not None else scenario.probability
        stated.append(p)
        total += p or 0.0
        if total > 1 + 1e-9:
            if use.probability is not None:
                raise ConfigError(
                    f"scenario probabilities sum to {total:.4g}, above 1",
                    key=f"scenarios.use[{i}].probability",
                    value=use.probability,
                    hint="any remainder below 1 goes to the baseline",
                )
            raise ScenarioError(
                f"scenario probabilities sum to {total:.4g}, above 1",
                file=str(path),
                key="probability",
                value=scenario.probability,
                hint="lower it, or set the probabilities in [scenarios] use",
            )
    return mixture_weights(stated)


def _add_baseline(
    moments: list[ScenarioMoments],
    engine: ScenarioEngine,
    library: ScenarioLibrary,
    rest: float,
    horizon: float | None,
) -> list[ScenarioMoments]:
    for k, m in enumerate(moments):
        if m.id == "baseline":
            moments[k] = dataclasses.replace(m, probability=m.probability + rest)
            return moments
    paths = library.paths()
    base = library.get("baseline") if "baseline" in paths else BASELINE
    file = str(paths["baseline"]) if "baseline" in paths else None
    extra = engine.moments(base, file=file, probability=rest, horizon_years=horizon)
    return [*moments, extra]


def _extra_dirs(scenarios: ScenarioSetConfig, base_dir: Path | None) -> list[Path]:
    if not scenarios.dir:
        return []
    p = Path(scenarios.dir).expanduser()
    return [p if p.is_absolute() or base_dir is None else base_dir / p]


def _provider(data: Any, base_dir: Path | None) -> Provider:
    if hasattr(data, "provider"):  # DataConfig resolves paths against its file's folder
        return data.provider(None if base_dir is None else base_dir / "account.toml")
    from optimizer.data import get_provider

    return get_provider(data.source)


def _risk_free(
    provider: Provider, data: Any, estimation: EstimationConfig, as_of: dt.date | None = None
) -> float:
    """Annual risk-free rate as a fraction (a series' last value on or before ``as_of``)."""
    if estimation.risk_free_series is None:
        return estimation.risk_free_pct / 100.0
    series = estimation.risk_free_series
    end = getattr(data, "end", None)
    if as_of is not None and (end is None or as_of < end):
        end = as_of
    try:
        got = provider.rates([series], getattr(data, "start", None), end)
    except DataError as exc:
        raise ConfigError(
            f"risk-free series unavailable: {exc.message}",
            key="estimation.risk_free_series",
            value=series,
        ) from None
    last = got.frame[series].dropna()
    return float(last.iloc[-1]) / 100.0 if len(last) else 0.0


def last_prices(
    provider: Provider, data: Any, tickers: Sequence[str], *, as_of: dt.date | None = None
) -> dict[str, float]:
    """Each ticker's close on ``as_of`` or its last before (default: its last close; for
    valuing holdings on the estimate's date)."""
    end = getattr(data, "end", None)
    if as_of is not None and (end is None or as_of < end):
        end = as_of
    return last_closes(provider, tickers, getattr(data, "start", None), end)


__all__ = [
    "ScenarioModel",
    "build_estimate",
    "fit_scenario_model",
    "last_prices",
    "scenario_probabilities",
    "scenario_set_moments",
]
