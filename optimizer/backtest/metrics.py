"""Performance of a strategy's monthly path: returns, risk, costs, taxes, stress windows.

Returns are month to month of the value after costs and taxes, the first from the start
value; annualised with 12 periods a year. The risk-free return of a month is the cash
asset's growth over the same dates (0 without a cash asset).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from optimizer.backtest.model import StrategyPath
from optimizer.limits import share_of

PERIODS = 12
CVAR_LEVEL = 0.95

# name -> (first day, last day): each reported only when the run covers it
STRESS_WINDOWS: dict[str, tuple[dt.date, dt.date]] = {
    "2008-09 financial crisis": (dt.date(2008, 9, 1), dt.date(2009, 2, 28)),
    "2020-03 covid crash": (dt.date(2020, 2, 1), dt.date(2020, 3, 31)),
    "2022 rates and inflation": (dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
    "2025-04 tariff shock": (dt.date(2025, 3, 1), dt.date(2025, 4, 30)),
}


def returns(path: StrategyPath) -> np.ndarray:
    """Monthly returns, (n_months,)."""
    v = np.array([path.start_value, *path.values])
    return v[1:] / v[:-1] - 1.0


def points(path: StrategyPath) -> list[tuple[dt.date, float]]:
    """(date, value): the start on the first decision date, then each month's fill date."""
    first = path.months[0].decided
    return [(first, path.start_value), *((m.executed, m.value) for m in path.months)]


def drawdowns(path: StrategyPath) -> np.ndarray:
    """Drawdown after each month (<= 0), (n_months,)."""
    v = np.array([path.start_value, *path.values])
    return (v / np.maximum.accumulate(v) - 1.0)[1:]


def annual_returns(path: StrategyPath) -> dict[int, float]:
    """Year -> return from the value at its first fill (the start, for the run's first
    year) to the value at the next year's first fill (the last fill, for its last year).
    The fills are early in each month, so a year runs from early January to early January:
    the nearest the monthly path comes to the calendar year (from one December fill to the
    next, "2018" was mostly 2018 and one month of 2017)."""
    out: dict[int, float] = {}
    base, year = path.start_value, None
    for m in path.months:
        if year is not None and m.executed.year != year:
            out[year] = m.value / base - 1.0
            base = m.value
        year = m.executed.year
    if year is not None:
        out[year] = path.months[-1].value / base - 1.0
    return out


def cvar(r: np.ndarray, level: float = CVAR_LEVEL) -> float:
    """Mean loss of the worst (1 - level) share of months (at least one), positive = loss."""
    k = max(1, math.ceil((1 - level) * len(r)))
    return float(-np.sort(r)[:k].mean())


def small_cap_share(path: StrategyPath, tags: dict[str, tuple[str, ...]]) -> list[float | None]:
    """Small-cap weight over equity weight after each month (None without equity)."""
    out: list[float | None] = []
    for m in path.months:
        eq = sum(w for t, w in m.weights.items() if "equity" in tags.get(t, ()))
        sc = sum(w for t, w in m.weights.items() if "small_cap" in tags.get(t, ()))
        out.append(share_of(sc, eq))
    return out


def stress(path: StrategyPath) -> dict[str, float]:
    """Return over each named window the path covers: from the last value on or before its
    first day to the first value on or after its last day."""
    pts = points(path)
    out: dict[str, float] = {}
    for name, (a, b) in STRESS_WINDOWS.items():
        base = [v for d, v in pts if d <= a]
        after = [v for d, v in pts if d >= b]
        if base and after:
            out[name] = after[0] / base[-1] - 1.0
    return out


def summary(
    path: StrategyPath,
    rf: Sequence[float],
    tags: dict[str, tuple[str, ...]],
    benchmark: StrategyPath | None = None,
) -> dict[str, Any]:
    """The headline numbers of one path (``rf``: monthly risk-free returns, (n_months,))."""
    r, rf = returns(path), np.asarray(rf, dtype=float)
    n = len(r)
    # daily data: the first "month" is the day from the first decision to its fill; the
    # monthly statistics leave it out, the growth rate counts the days elapsed
    cut = int(n > 1 and (path.months[0].executed - path.months[0].decided).days < 20)
    r, rf = r[cut:], rf[cut:]
    years = (path.months[-1].executed - path.months[0].decided).days / 365.25 if n else 0.0
    excess = r - rf
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else math.nan
    sd_x = float(np.std(excess, ddof=1)) if len(r) > 1 else math.nan
    final = path.values[-1]
    months = path.months
    sc = [x for x in small_cap_share(path, tags) if x is not None]
    te = None
    if benchmark is not None and benchmark is not path and len(r) > 1:
        te = float(np.std(r - returns(benchmark)[cut:], ddof=1) * math.sqrt(PERIODS))
    return {
        "start_value": path.start_value,
        "final_value": final,
        "total_return": final / path.start_value - 1.0,
        "cagr": (final / path.start_value) ** (1 / years) - 1.0 if final > 0 < years else None,
        "volatility": sd * math.sqrt(PERIODS),
        "sharpe": float(excess.mean() / sd_x * math.sqrt(PERIODS)) if sd_x > 0 else None,
        "cvar_95_monthly": cvar(r),
        "max_drawdown": float(drawdowns(path).min()),
        "worst_month": float(r.min()),
        "turnover_annual": sum(m.turnover for m in months) * PERIODS / n,
        "costs": sum(m.costs for m in months),
        "taxes": sum(m.taxes for m in months),
        "st_gains": sum(m.st_gain for m in months),
        "lt_gains": sum(m.lt_gain for m in months),
        "n_trades": sum(m.n_trades for m in months),
        "tracking_error": te,
        "small_cap_share_mean": float(np.mean(sc)) if sc else None,
        "small_cap_share_last": sc[-1] if sc else None,
        "months": n,
    }
