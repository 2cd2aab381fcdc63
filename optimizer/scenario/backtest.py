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

from optimizer.errors import ConfigError, DataError
from optimizer.scenario.engine import MarketHistory
from optimizer.scenario.predict import EngineOptions, ShockModel
from optimizer.scenario.propagate import PLAUSIBILITY_BANDS

DEFAULT_SHOCKS = ("equity", "long_rate")


@dataclass(frozen=True)
class AssetScore:
    """Out-of-sample scores of one asset over the backtest months."""

    r2: float  # 1 - SSE / SST, SST around the window's historical mean
    r2_centred: float  # 1 - SSE / SST, SST around the evaluated months' mean
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
    months, notes = _months(s.monthly_returns.index, start, end, options.window)
    rows = [_one_month(model, m, tuple(shocked)) for m in months]
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
        options=options,
        months=tuple(str(m) for m in months),
        as_of=tuple(r["as_of"] for r in rows),
        shocks=s.monthly_factors.loc[months, list(shocked)].to_numpy(),
        sd=sd,
        bounds=bounds,
        tail=tail,
        scores=scores,
        calibration=calibration(tail),
        notes=tuple(notes),
        provenance=history.provenance.to_dict() if history.provenance else None,
        **out,
    )


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
            r2=float(1 - sse[j] / ((Y[:, j] - M[:, j]) ** 2).sum()),
            r2_centred=float(1 - sse[j] / ((Y[:, j] - Y[:, j].mean()) ** 2).sum()),
            hit_rate=float((np.sign(P[:, j]) == np.sign(Y[:, j])).mean()),
            mae=float(np.abs(Y[:, j] - P[:, j]).mean()),
            coverage_50=float(inside50[:, j].mean()),
            coverage_90=float(inside90[:, j].mean()),
            coverage_90_unusual=float(inside90[unusual, j].mean()) if unusual.any() else None,
            n_months=len(Y),
        )
    return scores


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


def _check_shocked(shocked: Sequence[str], names: list[str]) -> None:
    if not shocked:
        raise ConfigError("name at least one factor to shock", key="--shocks", value="")
    for name in shocked:
        if name not in names:
            raise ConfigError(
                f"factor has no series in this data; factors available: {', '.join(names)}",
                key="--shocks",
                value=name,
            )


def _months(
    available: pd.PeriodIndex, start: Any, end: Any, window: int
) -> tuple[list[pd.Period], list[str]]:
    """The months to evaluate: within [start, end] and with ``window`` months before them."""
    first_ok = available[0] + window if len(available) else None
    lo = _period(start, "--start") if start is not None else first_ok
    hi = _period(end, "--end") if end is not None else (available[-1] if len(available) else None)
    if lo is not None and hi is not None and hi < lo:
        raise ConfigError("the end month is before the start month", key="--end", value=str(hi))
    months = [m for m in available if m >= lo and m <= hi and m >= first_ok]
    if not months:
        raise DataError(
            f"no month in the range has {window} months of data before it",
            key="--start",
            value=str(lo),
            hint=f"the data has months {available[0]}..{available[-1]}; "
            f"the first with a full window is {first_ok}",
        )
    notes = []
    if months[0] > lo:
        notes.append(f"months before {months[0]} skipped: no full {window}-month window")
    if hi > months[-1]:
        notes.append(f"the data ends in {months[-1]}")
    return months, notes


def _period(value: Any, key: str) -> pd.Period:
    try:
        return pd.Period(str(value), "M")
    except (ValueError, TypeError):
        raise ConfigError("not a month as YYYY-MM", key=key, value=str(value)) from None
