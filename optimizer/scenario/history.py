"""Market data → :class:`MarketHistory`: asset returns and factor values on common dates."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from optimizer.data.base import Provenance, Provider
from optimizer.errors import ConfigError, DataError
from optimizer.factors import (
    REQUIRED_FACTORS,
    FactorSpec,
    Frequency,
    default_factors,
    period_end_levels,
)
from optimizer.scenario.engine import IndexLevel, MarketHistory
from optimizer.scenario.model import INDEXES

if TYPE_CHECKING:
    from optimizer.scenario.config import EstimationConfig


def factor_specs(
    source: str, provider: Provider, overrides: Mapping[str, FactorSpec]
) -> dict[str, FactorSpec]:
    """Default factors for the source, with the configured ones replacing them."""
    try:
        available = None if source == "yahoo" else list(provider.available())
    except Exception:  # a provider that cannot list offers everything on request
        available = None
    specs = default_factors(source, available)
    specs.update(overrides)
    return specs


def load_history(
    provider: Provider,
    data: Any,
    estimation: EstimationConfig,
    tickers: Sequence[str],
) -> MarketHistory:
    """Fetch assets and factor series, align them at the model frequency, cut the window.

    Parameters
    ----------
    provider : the market-data provider.
    data : the ``[data]`` section (``source``, ``start``, ``end``).
    estimation : the ``[estimation]`` section.
    tickers : the assets, (n_assets,).

    Returns
    -------
    MarketHistory with returns (n_periods, n_assets) and factors (n_periods, n_factors).
    """
    source = str(data.source)
    start, end = getattr(data, "start", None), getattr(data, "end", None)
    assets = provider.prices(list(tickers), start, end)
    specs = factor_specs(source, provider, estimation.factors)
    levels = {str(c): assets.frame[c] for c in assets.frame.columns}
    notes = [*assets.provenance.notes, *assets.warnings]
    used, stale = _factor_levels(provider, specs, estimation, (start, end), levels, notes)
    frequency = _frequency(assets.provenance.frequency, estimation)
    # every series on its own dates (outer join); the model uses the rows where all have data
    daily = pd.concat([s.rename(n) for n, s in levels.items()], axis=1)
    joined = _cut_window(period_end_levels(daily, frequency), frequency, estimation)
    if len(joined) < 3:
        raise DataError(
            "too little common history of the assets and factor series",
            key=",".join(levels),
            value=f"{len(joined)} {frequency.value} observations",
            hint="choose an earlier start date",
        )
    notes += _shortest_notes(levels, joined)
    provenance = Provenance(
        source=source,
        tickers=tuple(levels),
        first=joined.index[1].date(),
        last=joined.index[-1].date(),
        frequency=frequency.value,
        stale=stale or assets.provenance.stale,
        notes=(*notes, "factors: " + "; ".join(f"{n} = {s.label()}" for n, s in used.items())),
    )
    return MarketHistory.from_levels(
        joined,
        [str(t) for t in tickers],
        used,
        frequency,
        index_levels=_index_levels(provider, source, start, end),
        provenance=provenance,
        daily=daily,
    )


def _factor_levels(
    provider: Provider,
    specs: Mapping[str, FactorSpec],
    estimation: EstimationConfig,
    window: tuple[Any, Any],
    levels: dict[str, pd.Series],
    notes: list[str],
) -> tuple[dict[str, FactorSpec], bool]:
    """Fetch each factor's series into ``levels``; optional ones that fail are noted."""
    used: dict[str, FactorSpec] = {}
    stale = False
    for name, spec in specs.items():
        try:
            got = _fetch(provider, spec, *window)
        except DataError:
            if name in REQUIRED_FACTORS or name in estimation.factors:
                raise
            notes.append(f"factor {name} left out: its series {spec.label()} are unavailable")
            continue
        used[name] = spec
        stale = stale or got.provenance.stale
        levels.update({str(c): got.frame[c] for c in got.frame.columns})
    return used, stale


def _shortest_notes(levels: Mapping[str, pd.Series], joined: pd.DataFrame) -> list[str]:
    """Say which series end (or start) the common window, when it is shorter than some."""
    if joined.empty:
        return []
    lasts = {n: s.dropna().index[-1] for n, s in levels.items() if len(s.dropna())}
    latest = max(lasts.values())
    if joined.index[-1] >= latest - pd.Timedelta(days=7):
        return []
    first_end = min(lasts, key=lambda n: lasts[n])
    return [
        f"history ends {joined.index[-1].date()} because {first_end} ends "
        f"{lasts[first_end].date()} (other series run to {latest.date()})"
    ]


def _fetch(provider: Provider, spec: FactorSpec, start: Any, end: Any) -> Any:
    tickers = list(spec.tickers())
    return (
        provider.rates(tickers, start, end)
        if spec.kind.uses_rates
        else provider.prices(tickers, start, end)
    )


def _frequency(data_frequency: str, estimation: EstimationConfig) -> Frequency:
    native = Frequency(data_frequency)
    wanted = estimation.frequency
    if wanted is None:
        return Frequency.WEEKLY if native is Frequency.DAILY else native
    if wanted.rank < native.rank:
        raise ConfigError(
            f"the data is {native.value}; the model cannot be finer than the data",
            key="estimation.frequency",
            value=wanted.value,
        )
    return wanted


def _cut_window(frame: pd.DataFrame, frequency: Frequency, est: EstimationConfig) -> pd.DataFrame:
    if est.window_years is None:
        return frame
    need = round(est.window_years * frequency.periods_per_year) + 1  # levels: one more row
    if need > len(frame):
        span = f"{frame.index[0].date()}..{frame.index[-1].date()}" if len(frame) else "none"
        raise ConfigError(
            f"estimation window longer than the data: needs {need} {frequency.value} "
            f"periods, the data has {len(frame) - 1} ({span})",
            key="estimation.window_years",
            value=est.window_years,
            hint="shorten the window or start the data earlier",
        )
    return frame.iloc[-need:]


def _index_levels(provider: Provider, source: str, start: Any, end: Any) -> dict[str, IndexLevel]:
    """Spot levels of the known indexes, when the source has them."""
    out: dict[str, IndexLevel] = {}
    try:
        available = {a.upper() for a in provider.available()}
    except Exception:
        available = set()
    for name, spec in INDEXES.items():
        for ticker in spec.tickers:
            if source != "yahoo" and ticker.upper() not in available:
                continue
            try:
                got = provider.prices([ticker], start, end)
            except DataError:
                continue
            last = got.frame[ticker].dropna()
            if len(last):
                out[name] = IndexLevel(float(last.iloc[-1]), last.index[-1].date(), source)
                break
    return out


def with_provenance_notes(history: MarketHistory, notes: Sequence[str]) -> MarketHistory:
    """The same history with extra provenance notes."""
    prov = history.provenance
    if prov is None:
        return history
    prov = dataclasses.replace(prov, notes=(*prov.notes, *notes))
    return dataclasses.replace(history, provenance=prov)
