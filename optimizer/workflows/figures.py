"""Figures of a portfolio that the proposal, the what-if page and the tax comparison share:
annualised return and risk, CVaR, small-cap share, worst scenario."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.estimate import Estimate


def portfolio_metrics(
    w: np.ndarray, estimate: Estimate, cfg: AccountConfig, level: float
) -> dict[str, Any]:
    """Annualised return, volatility, Sharpe, horizon CVaR, small-cap share, worst scenario
    of weights ``w`` (shape (n_assets,), ordered as ``estimate.tickers``)."""
    from optimizer.optimize.result import cvar_of

    h = estimate.horizon_years
    ret = float(estimate.mu @ w)
    vol = math.sqrt(max(float(w @ estimate.Sigma @ w), 0.0))
    scen = {s.id: float(s.mu @ w) for s in estimate.scenarios}
    worst = min(scen.items(), key=lambda kv: kv[1]) if scen else None
    return {
        "expected_return": ret / h,
        "volatility": vol / math.sqrt(h),
        "sharpe": (ret - estimate.risk_free) / vol / math.sqrt(h) if vol > 1e-12 else None,
        "cvar": (
            cvar_of(estimate.samples @ w, level, estimate.probabilities)
            if estimate.samples is not None
            else None
        ),
        "cvar_level": level,
        "small_cap_share": small_cap_share(dict(zip(estimate.tickers, w, strict=True)), cfg),
        "worst_scenario": {"id": worst[0], "return": worst[1]} if worst else None,
        "horizon_years": h,
    }


def small_cap_share(weights: dict[str, float], cfg: AccountConfig) -> float | None:
    """Small-cap weight as a share of equity weight, by the universe's tags."""
    from optimizer.optimize.universe import Universe

    universe = Universe.from_config(cfg.policy.universe)
    return universe.small_cap_share(vector(weights, universe.tickers))


def vector(weights: dict[str, float], tickers: tuple[str, ...]) -> np.ndarray:
    return np.array([float(weights.get(t, 0.0)) for t in tickers])
