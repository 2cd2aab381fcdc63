"""A backtest as one JSON-ready document and as a CSV of the monthly path."""

from __future__ import annotations

from typing import Any

from optimizer.backtest import metrics
from optimizer.backtest.model import Backtest, Month, StrategyPath
from optimizer.csvout import csv_text

PATH_COLUMNS = (
    "strategy",
    "month",
    "decided",
    "executed",
    "value_before",
    "value",
    "return",
    "drawdown",
    "costs",
    "taxes",
    "st_gain",
    "lt_gain",
    "traded",
    "turnover",
    "n_trades",
    "small_cap_share",
)


def reference(bt: Backtest) -> StrategyPath | None:
    """The benchmark tracking error is measured against: the first fixed-weight one."""
    return next((b for b in bt.benchmarks if b.kind == "fixed"), None)


def document(bt: Backtest) -> dict[str, Any]:
    """``weights`` (the policy's last), ``metrics`` (per strategy), ``scenarios`` (the stress
    windows per strategy), ``trades`` (the policy's, as filled), ``path``, ``provenance``."""
    ref = reference(bt)
    last = bt.policy.months[-1]
    return {
        "weights": last.weights,
        "metrics": {p.name: metrics.summary(p, bt.risk_free, bt.tags, ref) for p in bt.strategies},
        "scenarios": {p.name: metrics.stress(p) for p in bt.strategies},
        "annual_returns": {p.name: metrics.annual_returns(p) for p in bt.strategies},
        "tags": {t: list(v) for t, v in bt.tags.items()},
        "trades": [
            {"month": m.month, "executed": m.executed, **t.to_dict()}
            for m in bt.policy.months
            for t in m.trades
        ],
        "strategies": [
            {"name": p.name, "kind": p.kind, "description": p.description}
            for p in bt.strategies
        ],
        "path": {p.name: [_month(m) for m in p.months] for p in bt.strategies},
        "stress_windows": {
            k: [a.isoformat(), b.isoformat()] for k, (a, b) in metrics.STRESS_WINDOWS.items()
        },
        "tracking_error_to": ref.name if ref is not None else None,
        "taxes": (
            {"short_term": bt.tax.short_term, "long_term": bt.tax.long_term}
            if bt.tax is not None
            else None
        ),
        "provenance": {
            **bt.provenance,
            "config": bt.config,
            "start": bt.start,
            "end": bt.end,
            "compilations": bt.compilations,
            "seconds": round(bt.seconds, 3),
        },
        "notes": list(bt.notes),
        "warnings": [f"{m.month} {p.name}: {n}" for p in bt.strategies for m in p.months
                     for n in m.notes],
    }  # fmt: skip


def _month(m: Month) -> dict[str, Any]:
    return {
        "month": m.month,
        "decided": m.decided,
        "executed": m.executed,
        "value_before": m.value_before,
        "value": m.value,
        "costs": m.costs,
        "taxes": m.taxes,
        "st_gain": m.st_gain,
        "lt_gain": m.lt_gain,
        "turnover": m.turnover,
        "n_trades": m.n_trades,
        "weights": m.weights,
        "targets": m.targets,
    }


def path_csv(bt: Backtest) -> str:
    """One row per strategy and month: ``PATH_COLUMNS`` then ``w_<ticker>`` per asset."""
    tickers = list(bt.tags)
    rows = []
    for p in bt.strategies:
        r, dd = metrics.returns(p), metrics.drawdowns(p)
        sc = metrics.small_cap_share(p, bt.tags)
        for k, m in enumerate(p.months):
            rows.append(
                [p.name, m.month, m.decided.isoformat(), m.executed.isoformat(), m.value_before,
                 m.value, float(r[k]), float(dd[k]), m.costs, m.taxes, m.st_gain, m.lt_gain,
                 m.traded, m.turnover, m.n_trades, "" if sc[k] is None else sc[k],
                 *(m.weights.get(t, 0.0) for t in tickers)]
            )  # fmt: skip
    return csv_text((*PATH_COLUMNS, *(f"w_{t}" for t in tickers)), rows)
