"""Market data → :class:`MarketHistory`: asset returns and factor values on common dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from optimizer.data.align import check_stale
from optimizer.data.base import PriceData, Provenance, Provider
from optimizer.errors import ConfigError, DataError
from optimizer.estimate import EstimationWindow
from optimizer.factors import (
    REQUIRED_FACTORS,
    FactorSpec,
    Frequency,
    factor_candidates,
    period_end_levels,
    require_market,
)
from optimizer.scenario.engine import IndexLevel, MarketHistory
from optimizer.scenario.model import INDEXES
from optimizer.tickers import CASH

if TYPE_CHECKING:
    from optimizer.scenario.config import EstimationConfig


def factor_specs(
    source: str, provider: Provider, overrides: Mapping[str, FactorSpec]
) -> dict[str, tuple[FactorSpec, ...]]:
    """Candidate specs per factor for the source (preferred first); a configured factor
    replaces the defaults with its one spec."""
    try:
        available = None if source == "yahoo" else list(provider.available())
    except Exception:  # a provider that cannot list offers everything on request
        available = None
    specs = factor_candidates(source, available)
    specs.update({name: (spec,) for name, spec in overrides.items()})
    return specs


def load_history(
    provider: Provider,
    data: Any,
    estimation: EstimationConfig,
    tickers: Sequence[str],
    *,
    factors: bool = True,
) -> MarketHistory:
    """Fetch assets and factor series, align them at the model frequency, cut the window.

    Parameters
    ----------
    provider : the market-data provider.
    data : the ``[data]`` section (``source``, ``start``, ``end``, ``stale_after_days``).
    estimation : the ``[estimation]`` section.
    tickers : the assets, (n_assets,).
    factors : False when no scenario needs the factor model: only the assets are fetched
        (any universe works) and the history has no factor columns.

    Returns
    -------
    MarketHistory with returns (n_periods, n_assets) and factors (n_periods, n_factors).
    Its provenance ``last`` (and ``as_of``) is the last date every series used shares; a
    factor series ending more than ``stale_after_days`` before the assets is replaced by a
    fresher candidate, left out (an optional factor, with a note) or an error (equity or a
    configured factor), with the message ``data show`` gives.
    """
    source = str(data.source)
    start, end = getattr(data, "start", None), getattr(data, "end", None)
    assets = provider.prices(list(tickers), start, end)
    levels = {str(c): assets.frame[c] for c in assets.frame.columns}
    notes = [*assets.provenance.notes, *assets.warnings]
    used: dict[str, FactorSpec] = {}
    stale = False
    left_out: dict[str, str] = {}
    factor_warnings: list[str] = []
    if factors:
        specs = factor_specs(source, provider, estimation.factors)
        require_market(specs, source)
        fetch = _FactorFetch(provider, estimation, (start, end), assets, data)
        used, stale, left_out = fetch.all(specs, levels, notes)
        factor_warnings = fetch.warnings
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
    # the assets come aligned to their common window: their own first days are in coverage
    firsts = {c.ticker: pd.Timestamp(c.first) for c in assets.coverage}
    lasts = {c.ticker: pd.Timestamp(c.last) for c in assets.coverage}
    # with each series' full history the baseline estimators are not cut by the latest start
    rests = "every estimate rests"
    if estimation.window is EstimationWindow.FULL:
        rests = "the factor model rests" if factors else None
    ends, starts, ended_by = _shortest_notes(levels, joined, firsts, lasts, rests=rests)
    notes += ends
    warnings = [*dict.fromkeys([*assets.provenance.warnings, *factor_warnings])]
    warnings += [*starts, *_short_history(joined, frequency)]
    as_of = joined.index[-1].date()
    factor_note = "; ".join(f"{n} = {s.label()}" for n, s in used.items())
    provenance = Provenance(
        source=source,
        tickers=tuple(levels),
        first=joined.index[1].date(),
        last=as_of,
        frequency=frequency.value,
        stale=stale or assets.provenance.stale,
        notes=(*notes, f"factors: {factor_note}" if used else "no factor model (no scenario)"),
        as_of=as_of,
        warnings=tuple(warnings),
        currency=assets.provenance.currency,
        ended_by=ended_by,
    )
    return MarketHistory.from_levels(
        joined,
        [str(t) for t in tickers],
        used,
        frequency,
        index_levels=_index_levels(provider, source, start, as_of) if factors else {},
        provenance=provenance,
        daily=daily,
        left_out=left_out,
    )


class _FactorFetch:
    """Fetches each factor's series, preferring a candidate that runs as late as the assets."""

    def __init__(
        self,
        provider: Provider,
        estimation: EstimationConfig,
        window: tuple[Any, Any],
        assets: PriceData,
        data: Any,
    ) -> None:
        self.provider, self.estimation, self.window = provider, estimation, window
        self.assets = assets
        self.stale_after = int(getattr(data, "stale_after_days", 30))
        self.assets_last = max(c.last for c in assets.coverage) if assets.coverage else None
        self.warnings: list[str] = []  # about the factor series used (a unit slip, a split)

    def all(
        self,
        specs: Mapping[str, tuple[FactorSpec, ...]],
        levels: dict[str, pd.Series],
        notes: list[str],
    ) -> tuple[dict[str, FactorSpec], bool, dict[str, str]]:
        """Fill ``levels`` with each factor's series; returns (used, stale, left out)."""
        used: dict[str, FactorSpec] = {}
        left_out: dict[str, str] = {}
        stale = False
        for name, options in specs.items():
            got = self.one(name, options)
            if isinstance(got, str):
                notes.append(f"factor {name} left out: {got}")
                left_out[name] = got
                continue
            spec, prices = got
            used[name] = spec
            stale = stale or prices.provenance.stale
            if not set(prices.frame.columns) <= set(self.assets.frame.columns):
                # an asset's own series was judged beside the other assets already
                self.warnings += [w for w in prices.provenance.warnings if w not in self.warnings]
            levels.update({str(c): prices.frame[c] for c in prices.frame.columns})
        return used, stale, left_out

    def one(self, name: str, options: Sequence[FactorSpec]) -> tuple[FactorSpec, PriceData] | str:
        """The freshest usable candidate, or why there is none (optional factors only)."""
        must = name in REQUIRED_FACTORS or name in self.estimation.factors
        fresh: list[tuple[FactorSpec, PriceData]] = []
        reasons: list[str] = []
        for spec in options:
            try:
                got = _fetch(self.provider, spec, *self.window)
            except DataError as exc:
                if must:
                    raise
                reasons.append(f"{spec.label()} unavailable ({exc.message})")
                continue
            last = got.provenance.last
            if self._is_stale(got):
                if must:
                    check_stale([*self.assets.coverage, *got.coverage], self.stale_after)
                reasons.append(
                    f"{spec.label()} ends {last} (more than {self.stale_after} days before "
                    f"the assets, which run to {self.assets_last})"
                )
                continue
            fresh.append((spec, got))
            if self.assets_last is None or (last and last >= self.assets_last):
                break
        if not fresh:
            return "; ".join(reasons) or "no series"
        return max(fresh, key=lambda sg: sg[1].provenance.last or dt.date.min)

    def _is_stale(self, got: PriceData) -> bool:
        if self.assets_last is None:
            return False
        return any((self.assets_last - c.last).days > self.stale_after for c in got.coverage)


def _shortest_notes(
    levels: Mapping[str, pd.Series],
    joined: pd.DataFrame,
    starts_before: Mapping[str, pd.Timestamp] | None = None,
    ends_after: Mapping[str, pd.Timestamp] | None = None,
    *,
    rests: str | None = "every estimate rests",
) -> tuple[list[str], list[str], str | None]:
    """Which series end the common window, when it cuts more than a week off the others'
    end (a note: rate series often run past the prices), and which one starts it, when it
    cuts more than a year off the others' start (a warning: every estimate then rests on
    the shorter history); third, the series that ends first, when another runs past it (by
    a day, perhaps). ``starts_before``, ``ends_after``: first and last days of series that
    ``levels`` holds already cut to a common window. ``rests``: what rests on the shorter
    history, in the warning's words (None: nothing does, no warning)."""
    if joined.empty:
        return [], [], None
    own = {n: s.dropna().index for n, s in levels.items() if len(s.dropna())}
    lasts = {n: i[-1] for n, i in own.items()} | dict(ends_after or {})
    firsts = {n: i[0] for n, i in own.items()} | dict(starts_before or {})
    ends, starts, ended_by = [], [], None
    # what the assets could have had: a factor series older than every asset cuts nothing
    longest = max(lasts, key=lambda n: lasts[n])
    latest = lasts[longest]
    earliest = min((starts_before or firsts).values())
    first_end = min(lasts, key=lambda n: lasts[n])
    if lasts[first_end] < latest:  # it cut the others' end (by a day, perhaps)
        ended_by = first_end
    if joined.index[-1] < latest - pd.Timedelta(days=7):
        ends.append(
            f"history ends {joined.index[-1].date()} because {first_end} ends "
            f"{lasts[first_end].date()} (the longest, {longest}, runs to {latest.date()})"
        )
    # on a tie, a series of its own: CASH from a rate or cash_rate starts where they start
    last_start = max(firsts, key=lambda n: (firsts[n], n != CASH))
    cut_by_it = joined.index[0] <= firsts[last_start] + pd.Timedelta(days=40)  # not a window
    if firsts[last_start] > earliest + pd.Timedelta(days=366) and cut_by_it and rests:
        starts.append(
            f"history starts {joined.index[0].date()} because {last_start} starts "
            f"{firsts[last_start].date()} (other series from {earliest.date()}): {rests} "
            "on the shorter history"
        )
    return ends, starts, ended_by


def _short_history(joined: pd.DataFrame, frequency: Frequency) -> list[str]:
    """A warning when the estimates rest on less than a year of periods: expected returns
    measured over weeks are mostly noise, yet the optimizer acts on them with full
    confidence."""
    periods = len(joined) - 1
    if periods < 1 or periods >= frequency.periods_per_year:
        return []
    first, last = joined.index[0].date(), joined.index[-1].date()
    return [
        f"the estimates rest on {periods} {frequency.value} periods ({first}..{last}): "
        "expected returns over less than a year are mostly noise; start the data earlier "
        "([data] start) or lengthen [estimation] window_years"
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
