"""Efficient frontier by parameter sweep: one compiled target-return problem, re-solved.

The sweep runs from the min-variance portfolio's return to the highest attainable return
under the policy's constraints; each point only changes the ``target_return`` Parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from optimizer.estimate import Estimate
from optimizer.optimize.core import Built, Shape
from optimizer.optimize.inputs import Inputs, current_weights
from optimizer.optimize.objectives import LinearMax
from optimizer.optimize.policy import ObjectiveKind, Policy


@dataclass(frozen=True)
class FrontierPoint:
    """Horizon return and volatility of one frontier portfolio; ``w`` of shape (n_assets,)."""

    expected_return: float
    volatility: float
    w: np.ndarray


@dataclass(frozen=True)
class Frontier:
    """Frontier points (low to high return) and where given portfolios sit against them."""

    tickers: tuple[str, ...]
    horizon_years: float
    points: tuple[FrontierPoint, ...]
    placed: dict[str, tuple[float, float]]  # name -> (horizon return, horizon volatility)

    def to_dict(self) -> dict[str, Any]:
        h = self.horizon_years
        return {
            "horizon_years": h,
            "points": [
                {
                    "annual_return": p.expected_return / h,
                    "annual_volatility": p.volatility / math.sqrt(h),
                    "weights": dict(zip(self.tickers, map(float, p.w), strict=True)),
                }
                for p in self.points
            ],
            "placed": {
                k: {"annual_return": r / h, "annual_volatility": v / math.sqrt(h)}
                for k, (r, v) in self.placed.items()
            },
        }


def frontier(
    estimate: Estimate,
    policy: Policy,
    n_points: int = 20,
    *,
    current: Mapping[str, float] | None = None,
    portfolios: Mapping[str, Mapping[str, float]] | None = None,
) -> Frontier:
    """``n_points`` efficient portfolios under ``policy``; ``portfolios`` (name -> weights,
    e.g. current and proposed) are placed by their return and volatility."""
    shape = Shape.of(estimate)
    sweep = Built.create(_with(policy, ObjectiveKind.TARGET_RETURN, target_return=0.0), shape)
    low = Built.create(_with(policy, ObjectiveKind.MIN_VARIANCE), shape)
    high = Built.create(_with(policy, ObjectiveKind.MIN_VARIANCE), shape, objective_cls=LinearMax)
    inputs = Inputs(estimate, current)
    x = sweep.numbers(inputs)
    w_lo, _ = low.solve_numbers(x, duals=False)
    w_hi, _ = high.solve_numbers(x, {"direction": x.mu}, duals=False)
    cost = policy.constraints.costs_bps / 1e4
    net = [float(x.mu @ w - cost * np.abs(w - x.w0).sum()) for w in (w_lo, w_hi)]
    points = []
    for r in np.linspace(net[0], net[1], max(n_points, 2)):
        w, _ = sweep.solve_numbers(x, {"target_return": float(r)}, duals=False)
        points.append(FrontierPoint(float(x.mu @ w), float(math.sqrt(max(w @ x.Sigma @ w, 0))), w))
    placed = {}
    for name, weights in (portfolios or {}).items():
        w = current_weights(weights, sweep.universe.tickers)
        placed[name] = (float(x.mu @ w), float(math.sqrt(max(w @ x.Sigma @ w, 0.0))))
    return Frontier(sweep.universe.tickers, x.horizon_years, tuple(points), placed)


def _with(policy: Policy, kind: ObjectiveKind, **fields: Any) -> Policy:
    return replace(policy, objective=policy.objective.model_copy(update={"kind": kind, **fields}))
