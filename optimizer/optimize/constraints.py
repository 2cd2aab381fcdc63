"""Constraints: each a small class that adds its rows to a :class:`Frame`.

Every constraint is written homogeneously in ``(w, k)`` so the same class serves max
Sharpe (Charnes-Cooper, ``k`` a variable) and every other objective (``k = 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cvxpy as cp
import numpy as np

from optimizer.optimize.frame import Frame, Named, Numbers, Role
from optimizer.optimize.universe import LinearRow, ScenarioLoss, Sense, Universe


class Constraint(Protocol):
    """Adds named cvxpy constraints; ``bind`` sets its own Parameters for one run."""

    def add(self, f: Frame) -> list[Named]: ...

    def bind(self, f: Frame, x: Numbers) -> None: ...


class _NoBind:
    def bind(self, f: Frame, x: Numbers) -> None:
        return None


@dataclass(frozen=True)
class Budget(_NoBind):
    """Fully invested: ``sum(w) == k`` (and ``k >= 0`` when ``k`` is a variable)."""

    def add(self, f: Frame) -> list[Named]:
        out = [Named(("budget",), cp.sum(f.w) == f.k, Role.STRUCTURE)]
        if f.homogeneous:
            out.append(Named(("scale >= 0",), f.k >= 0, Role.STRUCTURE))
        return out


@dataclass(frozen=True)
class Bounds:
    """Per-ticker bounds ``lower * k <= w <= upper * k`` (Parameters, shape (n_assets,))."""

    universe: Universe

    def add(self, f: Frame) -> list[Named]:
        lo = f.param("lower", (f.n,))
        hi = f.param("upper", (f.n,))
        u = self.universe
        return [
            Named(
                tuple(f"{t} >= {v:g}" for t, v in zip(u.tickers, u.lower, strict=True)),
                f.w >= f.k * lo,
            ),
            Named(
                tuple(f"{t} <= {v:g}" for t, v in zip(u.tickers, u.upper, strict=True)),
                f.w <= f.k * hi,
            ),
        ]

    def bind(self, f: Frame, x: Numbers) -> None:
        f.set("lower", self.universe.lower)
        f.set("upper", self.universe.upper)


@dataclass(frozen=True)
class Group(_NoBind):
    """One parsed group row, e.g. ``small_cap <= 0.4 * equity``."""

    row: LinearRow

    def add(self, f: Frame) -> list[Named]:
        lhs = self.row.a @ f.w
        rhs = self.row.rhs * f.k
        expr = {Sense.LE: lhs <= rhs, Sense.GE: lhs >= rhs, Sense.EQ: lhs == rhs}[self.row.sense]
        return [Named((self.row.label,), expr)]


@dataclass(frozen=True)
class Turnover:
    """``sum |w - w0| <= limit`` against the current weights ``w0``; not applied (limit
    loosened to the largest possible turnover) when the run has no current weights."""

    limit: float
    universe: Universe

    def add(self, f: Frame) -> list[Named]:
        cap = f.param("turnover_max", nonneg=True)
        return [Named((f"turnover <= {self.limit:g}",), cp.sum(f.trade()) <= cap * f.k)]

    def bind(self, f: Frame, x: Numbers) -> None:
        loose = float(np.abs(self.universe.lower).sum() + np.abs(self.universe.upper).sum())
        f.set("turnover_max", self.limit if x.has_current else loose + 1.0)


@dataclass(frozen=True)
class TrackingError:
    """``||Lt (w - wb)|| <= te`` with ``te`` the annual cap converted to the horizon."""

    benchmark: np.ndarray  # (n_assets,)
    annual_max: float

    def add(self, f: Frame) -> list[Named]:
        bench_risk = f.param("benchmark_risk", (f.n,))  # Lt @ wb, so Lt never meets wb
        te = f.param("te_max", nonneg=True)
        active = cp.norm2(f.risk() - f.k * bench_risk)
        return [Named((f"tracking error <= {self.annual_max:g}",), active <= te * f.k)]

    def bind(self, f: Frame, x: Numbers) -> None:
        f.set("benchmark_risk", x.Lt @ self.benchmark)
        f.set("te_max", self.annual_max * math.sqrt(x.horizon_years))


@dataclass(frozen=True)
class VolatilityCap:
    """``||Lt w|| <= sigma`` with the annual cap converted to the horizon."""

    annual_max: float

    def add(self, f: Frame) -> list[Named]:
        cap = f.param("vol_max", nonneg=True)
        return [Named((f"volatility <= {self.annual_max:g}",), cp.norm2(f.risk()) <= cap * f.k)]

    def bind(self, f: Frame, x: Numbers) -> None:
        f.set("vol_max", self.annual_max * math.sqrt(x.horizon_years))


def cvar_rows(f: Frame, level: float, n_samples: int, tag: str) -> tuple[cp.Expression, list]:
    """Rockafellar-Uryasev: returns (CVaR expression, supporting constraints).

    ``CVaR = alpha + p'u / (1 - level)`` with ``u >= -R w - alpha k``, ``u >= 0``, ``R`` the
    (n_samples, n_assets) sample Parameter and ``p`` (n_samples,) the samples'
    probabilities, a Parameter (1 / n_samples each unless views tilted them; DPP: a
    Parameter times a Variable).
    """
    R = f.param("R", (n_samples, f.n))
    p = f.param("R_prob", (n_samples,), nonneg=True)
    alpha = cp.Variable(name=f"var_{tag}")
    u = cp.Variable(n_samples, name=f"tail_{tag}")
    rows = [
        Named((f"{tag} tail",), u >= -(R @ f.w) - alpha, Role.STRUCTURE),
        Named((f"{tag} tail >= 0",), u >= 0, Role.STRUCTURE),
    ]
    return alpha + (p @ u) / (1.0 - level), rows


@dataclass(frozen=True)
class CVaRCap(_NoBind):
    """CVaR of the horizon loss at ``level`` over the Monte Carlo samples <= ``limit``."""

    limit: float
    level: float
    n_samples: int

    def add(self, f: Frame) -> list[Named]:
        cvar, rows = cvar_rows(f, self.level, self.n_samples, "cvar_cap")
        label = f"CVaR{self.level:.0%} <= {self.limit:g}"
        return [*rows, Named((label,), cvar <= self.limit * f.k)]


@dataclass(frozen=True)
class ScenarioLossCap(_NoBind):
    """``mu_s @ w >= -max_loss``: the named scenario's mean return loses at most the cap."""

    loss: ScenarioLoss

    def add(self, f: Frame) -> list[Named]:
        m = f.param(f"scenario:{self.loss.scenario}", (f.n,))
        return [Named((self.loss.label,), m @ f.w >= -self.loss.max_loss * f.k)]
