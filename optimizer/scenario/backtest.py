"""How good are the scenarios? The engine shocked with each month's realised moves.

For every month ``m`` of a date range, a :class:`~optimizer.scenario.predict.ShockModel`
is fitted on the ``window`` months before ``m`` (data strictly before ``m`` only) and given
month ``m``'s realised moves of the shocked factors (by default the S&P 500 return and the
10-year yield change); its per-asset distribution is scored against the assets' realised
returns of month ``m``:

* ``r2``: out-of-sample R², 1 - SSE / SST, with SST around the *historical mean* of each
  asset over the model's own window (the forecast one would make without the shocks, known
  at the time); ``r2_centred`` uses the mean of the evaluated months instead (hindsight);
* ``hit_rate``: share of months where the predicted and realised returns have the same sign;
* ``mae``: mean absolute error of the predicted mean;
* ``coverage_50`` / ``coverage_90``: share of months the realised return falls inside the
  model's own central 50 % / 90 % interval (``coverage_90_unusual``: in the months whose
  shocks were rarer than 1 in 20);
* ``calibration``: how often the shocks fell in each plausibility band, against the share
  the model expects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.data.frequency import infer_frequency
from optimizer.errors import ConfigError, DataError
from optimizer.frequency import Frequency
from optimizer.scenario.engine import MarketHistory
from optimizer.scenario.estimator import SampledReturns
from optimizer.scenario.predict import EngineOptions, ShockModel
from optimizer.scenario.propagate import PLAUSIBILITY_BANDS

DEFAULT_SHOCKS = ("equity", "long_rate")


@dataclass(frozen=True)
class AssetScore:
    """Out-of-sample scores of one asset over the backtest months."""

    r2: float | None  # 1 - SSE / SST, SST around the window's historical mean
    r2_centred: float | None  # the same around the evaluated months' mean (None: one month)
    hit_rate: float  # share of months with the right sign
    mae: float  # mean absolute error of the predicted mean
    coverage_50: float  # share inside the 50 % interval
    coverage_90: float  # share inside the 90 % interval
    coverage_90_unusual: float | None  # the same, months with shocks rarer than 1 in 20
    n_months: int


@dataclass(frozen=True)
class ScenarioBacktest:
    """Predictions and realised returns month by month, and their scores."""

    tickers: tuple[str, ...]  # (n_assets,)
    shocked: tuple[str, ...]  # the factors set to their realised moves
    options: EngineOptions
    months: tuple[str, ...]  # (n_months,) "YYYY-MM"
    as_of: tuple[str, ...]  # (n_months,) last date each month's model saw
    shocks: np.ndarray  # (n_months, n_shocked) realised factor moves
    predicted: np.ndarray  # (n_months, n_assets) predicted mean return
    realised: np.ndarray  # (n_months, n_assets)
    sd: np.ndarray  # (n_months, n_assets) predicted sd (the t scale)
    bounds: dict[str, np.ndarray]  # "lo50", "hi50", "lo90", "hi90" -> (n_months, n_assets)
    window_mean: np.ndarray  # (n_months, n_assets) historical mean of the model's window
    tail: np.ndarray  # (n_months,) tail probability of the month's shocks
    scores: dict[str, AssetScore]
    calibration: list[dict[str, Any]]
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The JSON document: ``scores``, ``calibration``, ``months`` and ``provenance``."""
        rows = []
        for i, month in enumerate(self.months):
            assets = {
                t: {
                    "predicted": self.predicted[i, j],
                    "realised": self.realised[i, j],
                    "sd": self.sd[i, j],
                    **{k: v[i, j] for k, v in self.bounds.items()},
                }
                for j, t in enumerate(self.tickers)
            }
            shocks = dict(zip(self.shocked, self.shocks[i].tolist(), strict=True))
            rows.append({"month": month, "as_of": self.as_of[i], "shocks": shocks,
                         "tail_probability": self.tail[i], "assets": assets})  # fmt: skip
        return {
            "scores": {t: dataclasses.asdict(s) for t, s in self.scores.items()},
            "calibration": self.calibration,
            "engine": {**dataclasses.asdict(self.options), "text": self.options.text()},
            "shocked": list(self.shocked),
            "months": rows,
            "notes": list(self.notes),
            # the data's warnings (a value forward-filled, a split suspected, a late series)
            "warnings": list((self.provenance or {}).get("warnings", [])),
            "provenance": self.provenance,
        }


def backtest_scenarios(
    history: MarketHistory,
    *,
    start: str | pd.Period | None = None,
    end: str | pd.Period | None = None,
    shocked: Sequence[str] = DEFAULT_SHOCKS,
    options: EngineOptions | None = None,
) -> ScenarioBacktest:
    """Roll month by month from ``start`` to ``end`` ("YYYY-MM", default: all months with
    a full window before them) with no look-ahead; see the module docstring."""
    options = options or EngineOptions()
    model = ShockModel(history, options)
    s = model.sampled
    _check_shocked(shocked, list(s.factors.columns))
    months, notes = _months(s.monthly_returns.index, start, end, options.window, s.month_ends)
    notes += _missing_months(history, s)
    notes += _shocked_targets(history, model.tickers, shocked)
    rows, fitted, unfit = [], [], []
    for m in months:  # a month without a common date leaves the next windows short
        try:
            rows.append(_one_month(model, m, tuple(shocked)))
            fitted.append(m)
        except DataError as exc:  # the fit's window (key as_of); any other error stops
            if exc.key != "as_of" or (m == months[-1] and not rows):
                raise
            unfit.append(m)
    if unfit:
        notes.append(f"not scored: {_listed(unfit)} (no full {options.window}-month window "
                     "of data before them)")  # fmt: skip
    months = fitted
    last = s.month_ends[months[-1]]
    if s.daily and (last + pd.offsets.MonthEnd(0) - last).days > 4:
        notes.append(f"{months[-1]} is scored up to {last.date()}, the data's last date")
    own = infer_frequency(pd.DatetimeIndex(s.returns.index))  # the returns' own frequency
    sd = np.array([r["sd"] for r in rows])
    bounds = {k: np.array([r[k] for r in rows]) for k in ("lo50", "hi50", "lo90", "hi90")}
    tail = np.array([r["tail"] for r in rows])
    out = dict(
        predicted=np.array([r["mu"] for r in rows]),
        realised=s.monthly_returns.loc[months, list(model.tickers)].to_numpy(),
        window_mean=np.array([r["window_mean"] for r in rows]),
    )
    scores = _scores(model.tickers, out, bounds, tail < 0.05)
    return ScenarioBacktest(
        tickers=model.tickers,
        shocked=tuple(shocked),
        options=_as_sampled(options, own),
        months=tuple(str(m) for m in months),
        as_of=tuple(r["as_of"] for r in rows),
        shocks=s.monthly_factors.loc[months, list(shocked)].to_numpy(),
        sd=sd,
        bounds=bounds,
        tail=tail,
        scores=scores,
        calibration=calibration(tail),
        notes=tuple(notes),
        provenance=_provenance(history, s, own),
        **out,
    )


def _as_sampled(options: EngineOptions, own: Frequency) -> EngineOptions:
    """The options as the data allowed them: sampling no finer than the data's own dates
    ``own`` (monthly data sampled "daily" are monthly returns, without the daily-only
    weights)."""
    return (
        dataclasses.replace(options, sampling=own) if own.rank > options.sampling.rank else options
    )


def _provenance(history: MarketHistory, s: SampledReturns, own: Frequency) -> dict[str, Any] | None:
    """The history's provenance, with the span and frequency ``own`` of the returns the
    engine used (the history itself is loaded at the configured estimation frequency)."""
    if history.provenance is None:
        return None
    ends = list(s.month_ends.values())
    first = s.start if s.start is not None else ends[0]
    return {**history.provenance.to_dict(), "first": first.date().isoformat(),
            "last": ends[-1].date().isoformat(), "frequency": own.value}  # fmt: skip


def _listed(months: Sequence[pd.Period], most: int = 12) -> str:
    shown = ", ".join(str(m) for m in months[:most])
    return shown + (f", ... ({len(months)} months)" if len(months) > most else "")


def _missing_months(history: MarketHistory, s: SampledReturns) -> list[str]:
    """A note on the months inside the data without a date every series has a value on,
    naming the series without any value in them."""
    ends = sorted(s.month_ends)
    if len(ends) < 2:
        return []
    missing = [m for m in pd.period_range(ends[0], ends[-1], freq="M") if m not in s.month_ends]
    if not missing:
        return []
    frame = history.daily if history.daily is not None else history.levels
    lacking: dict[str, None] = {}
    if frame is not None:
        months = frame.index.to_period("M")
        for m in missing:
            inside = frame[months == m]
            lacking.update(dict.fromkeys(str(c) for c in inside.columns if inside[c].isna().all()))
    who = f" ({', '.join(lacking)} without any)" if lacking else ""
    return [f"no date on which every series has a value in {_listed(missing)}{who}: the "
            "month after each is not scored (its return would span two months)"]  # fmt: skip


def _one_month(model: ShockModel, month: pd.Period, shocked: tuple[str, ...]) -> dict[str, Any]:
    """The model fitted before ``month``, shocked with ``month``'s realised moves."""
    s = model.sampled
    as_of = s.month_ends[month - 1]
    model.fit(as_of=as_of)
    moves = s.monthly_factors.loc[month]
    p = model.predict({n: float(moves[n]) for n in shocked})
    lo50, hi50 = p.interval(0.5)
    lo90, hi90 = p.interval(0.9)
    window = s.monthly_returns.loc[month - model.options.window : month - 1, list(model.tickers)]
    return {"mu": p.mu, "sd": p.sd, "lo50": lo50, "hi50": hi50, "lo90": lo90, "hi90": hi90,
            "tail": p.tail_probability, "as_of": str(p.as_of),
            "window_mean": window.mean().to_numpy()}  # fmt: skip


def _scores(
    tickers: Sequence[str], out: dict[str, np.ndarray], bounds: dict[str, np.ndarray],
    unusual: np.ndarray,
) -> dict[str, AssetScore]:  # fmt: skip
    P, Y, M = out["predicted"], out["realised"], out["window_mean"]
    inside50 = _inside(Y, bounds["lo50"], bounds["hi50"])
    inside90 = _inside(Y, bounds["lo90"], bounds["hi90"])
    sse = ((Y - P) ** 2).sum(axis=0)
    scores = {}
    for j, t in enumerate(tickers):
        scores[t] = AssetScore(
            r2=_r2(sse[j], Y[:, j] - M[:, j]),
            r2_centred=_r2(sse[j], Y[:, j] - Y[:, j].mean()),
            hit_rate=float((np.sign(P[:, j]) == np.sign(Y[:, j])).mean()),
            mae=float(np.abs(Y[:, j] - P[:, j]).mean()),
            coverage_50=float(inside50[:, j].mean()),
            coverage_90=float(inside90[:, j].mean()),
            coverage_90_unusual=float(inside90[unusual, j].mean()) if unusual.any() else None,
            n_months=len(Y),
        )
    return scores


def _r2(sse: float, spread: np.ndarray) -> float | None:
    """``1 - sse / sum(spread**2)``; None when the spread is all zero (one month, centred)."""
    sst = float((spread**2).sum())
    return float(1 - sse / sst) if sst > 0 else None


def _inside(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.logical_and(lo <= y, y <= hi)


def calibration(tail: np.ndarray) -> list[dict[str, Any]]:
    """Per plausibility band (ordinary ... extreme): months observed and expected.

    A band holds the months whose shocks' tail probability is at most its upper bound and
    above its lower bound; the model expects the band's width of the months. ``rarer than``
    rows count every month beyond 1 in 20 and 1 in 100.
    """
    n = len(tail)
    rows = []
    upper = 1.0
    for lower, label in PLAUSIBILITY_BANDS:
        inside = (tail <= upper) & (tail > lower) if lower > 0 else tail <= upper
        rows.append({"band": label, "tail_from": lower, "tail_to": upper,
                     "observed": int(inside.sum()), "expected": n * (upper - lower)})  # fmt: skip
        upper = lower
    for bound, label in ((0.05, "rarer than 1 in 20"), (0.01, "rarer than 1 in 100")):
        rows.append({"band": label, "tail_from": 0.0, "tail_to": bound,
                     "observed": int((tail <= bound).sum()), "expected": n * bound})  # fmt: skip
    return rows


def _shocked_targets(
    history: MarketHistory, tickers: Sequence[str], shocked: Sequence[str]
) -> list[str]:
    """A note per asset whose series is (part of) a shocked factor: its month is then
    stated by the shocks, and its R² and intervals say nothing of the model."""
    notes = []
    for t in tickers:
        factors = [n for n in shocked if t in history.specs[n].tickers()]
        if factors:
            notes.append(
                f"{t} is the series of the shocked factor{'s' if len(factors) > 1 else ''} "
                f"{', '.join(factors)}: its return "
                "follows from the shocks, so its scores do not measure the model"
            )
    return notes


def _check_shocked(shocked: Sequence[str], names: list[str]) -> None:
    if not shocked:
        raise ConfigError("name at least one factor to shock", key="--shocks", value="")
    if twice := sorted({n for n in shocked if list(shocked).count(n) > 1}):
        raise ConfigError("a factor is named twice", key="--shocks", value=",".join(twice))
    for name in shocked:
        if name not in names:
            raise ConfigError(
                f"factor has no series in this data; factors available: {', '.join(names)}",
                key="--shocks",
                value=name,
            )


def _months(
    available: pd.PeriodIndex, start: Any, end: Any, window: int, ends: Any = None
) -> tuple[list[pd.Period], list[str]]:
    """The months to evaluate: within [start, end], with ``window`` months before them, and
    (with ``ends``, the months that have a month end) a month end in the month before: a
    month whose previous month has no date every series shares would be scored with a
    return over two months."""
    if not len(available):
        raise DataError("no month of data", key="--source")
    first_ok = available[0] + window
    lo = _period(start, "--start") if start is not None else first_ok
    hi = _period(end, "--end") if end is not None else available[-1]
    if hi < lo:
        raise ConfigError("the end month is before the start month", key="--end", value=str(hi))
    if start is not None and lo > available[-1]:
        raise DataError(
            f"the range starts after the data's last month, {available[-1]}",
            key="--start",
            value=str(lo),
            hint=f"the data has months {available[0]}..{available[-1]}",
        )
    inside = [m for m in available if m >= lo and m <= hi and m >= first_ok]
    months = [m for m in inside if ends is None or m - 1 in ends]
    if not months:
        raise DataError(
            f"no month in the range has {window} months of data before it",
            key="--start",
            value=str(lo),
            hint=f"the data has months {available[0]}..{available[-1]}; "
            f"the first with a full window is {first_ok}",
        )
    notes = []
    if inside[0] > lo:
        notes.append(f"months before {inside[0]} skipped: no full {window}-month window")
    if hi > available[-1]:
        notes.append(f"the data ends in {available[-1]}")
    if gaps := [m for m in inside if m not in months]:
        notes.append(
            f"not scored: {_listed(gaps)} (no date in the month before on which every series "
            "has a value: the return would span more than a month)"
        )
    return months, notes


def _period(value: Any, key: str) -> pd.Period:
    try:
        return pd.Period(str(value), "M")
    except (ValueError, TypeError):
        raise ConfigError("not a month as YYYY-MM", key=key, value=str(value)) from None
