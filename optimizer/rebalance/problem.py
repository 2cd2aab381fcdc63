"""One account's trade problem: its data, objective and constraints, evaluated in numpy.

The notation and the objective ``F(z)`` are those of :mod:`optimizer.rebalance.solve`; the
solvers there (separable, :mod:`~optimizer.rebalance.bound`, :mod:`~optimizer.rebalance.milp`,
:mod:`~optimizer.rebalance.greedy`) all read the problem through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimizer.rebalance.bound import Combos

TOL = 1e-9
GRID_TOL = 1e-9  # grid units: a quotient this close to an integer counts as that integer


def grid_units(x: np.ndarray | float, step: float, *, up: bool = False) -> np.ndarray:
    """``x`` (shares or money per price) in whole grid units, rounded down (or up), so that a
    quotient like ``16.56 / 0.01 = 1655.9999999999998`` counts as 1656 units."""
    q = np.asarray(x, dtype=float) / step
    return np.ceil(q - GRID_TOL) if up else np.floor(q + GRID_TOL)


class Method(StrEnum):
    NONE = "none"  # nothing to trade: every position inside its band
    EXACT = "exact"  # separable optimum, proven optimal (see module docstring)
    MILP = "milp"  # HiGHS mixed-integer program, optimal
    GREEDY = "greedy-fallback"  # HiGHS failed or ran out of time


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One account's trade problem (arrays of shape (n,))."""

    p: np.ndarray
    h: np.ndarray
    t: np.ndarray
    band: np.ndarray  # band half-width, money
    lo: np.ndarray  # lowest trade, shares (<= 0)
    hi: np.ndarray  # highest trade, shares (>= 0)
    step: float  # share grid
    min_order: float  # money
    cash0: float  # cash after deposit / withdrawal, before trades
    cash_target: float
    reserve: float  # money
    lam: float
    comm_share: float
    comm_min: float
    spread: float  # fraction of notional
    inside: float = 1.0  # weight of deviation inside a band: 1 to target, 0 to band edge
    cash_band: float = 0.0  # band half-width of cash, money
    reserve_pct: float = 0.0  # fraction of (value - costs)
    value: float = 0.0  # account value before trades and costs

    def budget(self) -> tuple[float, float]:
        """(kappa, B): the tighter reserve row at zero cost, ``p.z + kappa cost(z) <= B``."""
        if self.reserve_pct * self.value > self.reserve:
            return 1.0 - self.reserve_pct, self.cash0 - self.reserve_pct * self.value
        return 1.0, self.cash0 - self.reserve

    @cached_property
    def zmin(self) -> np.ndarray:
        """Smallest non-zero order in shares, per ticker (on the grid)."""
        q = grid_units(self.min_order / self.p, self.step, up=True)
        return np.maximum(q, 1.0) * self.step

    def along(self, ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(p, h, t, band) shaped to broadcast along the first axis of an array of ``ndim``
        dimensions (tickers first)."""
        if ndim == 1:
            return self.p, self.h, self.t, self.band
        if ndim == 2:
            return self._columns
        shape = self.p.shape + (1,) * (ndim - 1)
        return tuple(v.reshape(shape) for v in (self.p, self.h, self.t, self.band))  # type: ignore[return-value]

    @cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(v[:, None] for v in (self.p, self.h, self.t, self.band))  # type: ignore[return-value]

    @cached_property
    def candidates(self) -> np.ndarray:
        """Per-ticker candidate trades, shape (n, K); column 0 is no trade (see
        :func:`candidates`)."""
        return candidates(self)

    @cached_property
    def candidate_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`parts` of the candidate trades."""
        return parts(self, self.candidates)


@dataclass(frozen=True)
class Solution:
    z: np.ndarray  # shares traded, shape (n,)
    method: Method
    note: str  # why this method (e.g. "cash constraint binds")
    warning: str | None = None  # what the user must be told (a fallback), else None
    # with a slack: every feasible z within ``slack`` of the optimum (see rebalance.bound)
    pool: Combos | None = field(default=None, repr=False, compare=False)
    slack: float = 0.0


def costs(prob: Problem, z: np.ndarray) -> np.ndarray:
    """Estimated cost of each order, shape of ``z``: spread plus commission."""
    a = np.abs(z)
    notional = prob.along(z.ndim)[0] * a
    if prob.comm_min == 0.0 and prob.comm_share == 0.0:  # spread only (0 for no trade)
        return prob.spread * notional
    comm = np.maximum(prob.comm_min, prob.comm_share * a)
    return np.where(a > 0, prob.spread * notional + comm, 0.0)


def parts(prob: Problem, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-ticker drift penalty plus cost, cost, and spend of trades ``z`` (tickers
    first): what the separable bounds of the objective are made of."""
    c = costs(prob, z)
    return phi(prob, z) + c, c, prob.along(z.ndim)[0] * z


def phi(prob: Problem, z: np.ndarray) -> np.ndarray:
    """Per-ticker drift penalty of trading ``z`` (shape of ``z``): ``a |d| + (1 - a + lam)
    max(0, |d| - b)`` with ``d`` the money deviation after the trade."""
    p, h, t, b = prob.along(z.ndim)
    d = np.abs(p * (h + z) - t)
    return prob.inside * d + (1.0 - prob.inside + prob.lam) * np.maximum(d - b, 0.0)


def cash_term(prob: Problem, y: np.ndarray | float) -> np.ndarray | float:
    """f(y): the penalty on the cash deviation ``y``."""
    d = np.abs(y)
    return prob.inside * d + (1.0 - prob.inside) * np.maximum(d - prob.cash_band, 0.0)


def cash_conjugate(prob: Problem, mu: np.ndarray | float) -> np.ndarray | float:
    """f*(mu) for mu in [-1, 1], so that f(y) = max_mu (mu y - f*(mu))."""
    return np.maximum(np.abs(mu) - prob.inside, 0.0) * prob.cash_band


def cash_slopes(prob: Problem) -> list[float]:
    """The slopes of f: the multipliers whose minorants can be tight."""
    return sorted({1.0, -1.0, prob.inside, -prob.inside}, reverse=True)


def objective(prob: Problem, z: np.ndarray) -> float:
    """F(z) of :mod:`optimizer.rebalance.solve`."""
    cash_dev = float(cash_term(prob, prob.cash0 - float(prob.p @ z) - prob.cash_target))
    return float(phi(prob, z).sum() + costs(prob, z).sum()) + cash_dev


def cash_after(prob: Problem, z: np.ndarray) -> float:
    return prob.cash0 - float(prob.p @ z) - float(costs(prob, z).sum())


def shortfall(prob: Problem, z: np.ndarray) -> float:
    """How far cash after ``z`` is below the reserve (<= 0 when the reserve holds)."""
    c = float(costs(prob, z).sum())
    need = max(prob.reserve, prob.reserve_pct * (prob.value - c))
    return need - (prob.cash0 - float(prob.p @ z) - c)


def feasible(prob: Problem, z: np.ndarray) -> bool:
    """Bounds, grid, minimum order and cash reserve all hold for ``z``."""
    a = np.abs(z)
    q = z / prob.step
    on_grid = bool(np.all((np.abs(q - np.round(q)) <= 1e-6) | (np.abs(z - prob.lo) <= 1e-12)))
    in_bounds = bool(np.all(z >= prob.lo - TOL) and np.all(z <= prob.hi + TOL))
    big_enough = bool(np.all((a == 0) | (a >= prob.zmin - TOL)))
    return on_grid and in_bounds and big_enough and shortfall(prob, z) <= 1e-7


def candidates(prob: Problem) -> np.ndarray:
    """Per-ticker candidate trades, shape (n, K); column 0 is no trade."""
    p, s = prob.p, prob.step
    z0 = (prob.t - p * prob.h) / p
    kinks = [z0, z0 - prob.band / p, z0 + prob.band / p]
    if prob.comm_share > 0:
        kinks += [np.full_like(p, prob.comm_min / prob.comm_share)] * 2
        kinks[-1] = -kinks[-1]
    raw = np.stack(kinks, axis=1)
    grid = np.concatenate([grid_units(raw, s) * s, grid_units(raw, s, up=True) * s], axis=1)
    zmin = prob.zmin[:, None]
    lo, hi = prob.lo[:, None], prob.hi[:, None]
    buy = np.clip(grid, zmin, np.maximum(hi, zmin))
    sell = np.clip(grid, np.minimum(lo, -zmin), -zmin)
    ends = np.concatenate([zmin, hi, -zmin, lo], axis=1)
    cand = np.concatenate([np.zeros_like(zmin), buy, sell, ends], axis=1)
    ok = (cand >= lo - TOL) & (cand <= hi + TOL) & ((cand == 0) | (np.abs(cand) >= zmin - TOL))
    return np.where(ok, cand, 0.0)
