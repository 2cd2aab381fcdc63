"""The trade problem of one account and its three solvers: exact separable, MILP, greedy.

Notation (money in the account's currency, shares in shares, n = tickers of the account):
``p`` prices, ``h`` shares held, ``t`` money targets, ``z`` shares traded (buy > 0).
The deviation of ticker i is ``d_i = p_i (h_i + z_i) - t_i``; the cash deviation is
``cash0 - p.z - cash_target`` (before costs, so paying costs is never rewarded). The plan
minimises

    F(z) = sum_i [ |d_i| + lam * max(0, |d_i| - b_i) + cost_i(z_i) ] + |cash0 - p.z - cash_target|

with ``cost_i = spread * p_i |z_i| + [z_i != 0] max(c_min, c_share |z_i|)``, subject to
``lo <= z <= hi`` on a grid of ``step`` shares, every non-zero order at least ``m`` in money,
and cash after trades and costs at least the reserve.

Without the cash term the problem separates by ticker: each ticker's objective is convex
on each side of zero, so its integer optimum is among the rounded breakpoints. Since
``|a| >= a`` and ``|a| >= -a``, adding the cash term's two linear minorants gives two
separable lower bounds of F; when a bound's minimiser satisfies the sign assumption and
the cash constraint, it is the exact optimum (``Method.EXACT``). Otherwise a MILP is solved
with HiGHS (``Method.MILP``), and if HiGHS fails, a greedy descent (``Method.GREEDY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

TOL = 1e-9


class Method(StrEnum):
    NONE = "none"  # nothing to trade: every position inside its band
    EXACT = "exact"  # separable optimum, proven optimal (see module docstring)
    MILP = "milp"  # HiGHS mixed-integer program, optimal
    GREEDY = "greedy-fallback"  # HiGHS failed or ran out of time


@dataclass(frozen=True)
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
    reserve: float
    lam: float
    comm_share: float
    comm_min: float
    spread: float  # fraction of notional

    @property
    def zmin(self) -> np.ndarray:
        """Smallest non-zero order in shares, per ticker (on the grid)."""
        q = np.ceil(self.min_order / (self.p * self.step) - 1e-9)
        return np.maximum(q, 1.0) * self.step


@dataclass(frozen=True)
class Solution:
    z: np.ndarray  # shares traded, shape (n,)
    method: Method
    note: str  # why this method (e.g. "cash constraint binds")


def costs(prob: Problem, z: np.ndarray) -> np.ndarray:
    """Estimated cost of each order, shape of ``z``: spread plus commission."""
    a = np.abs(z)
    notional = prob.p.reshape(prob.p.shape + (1,) * (z.ndim - 1)) * a
    comm = np.maximum(prob.comm_min, prob.comm_share * a)
    return np.where(a > 0, prob.spread * notional + comm, 0.0)


def _phi(prob: Problem, z: np.ndarray) -> np.ndarray:
    shape = prob.p.shape + (1,) * (z.ndim - 1)
    p, h, t, b = (v.reshape(shape) for v in (prob.p, prob.h, prob.t, prob.band))
    d = np.abs(p * (h + z) - t)
    return d + prob.lam * np.maximum(d - b, 0.0)


def objective(prob: Problem, z: np.ndarray) -> float:
    """F(z) of the module docstring."""
    cash_dev = abs(prob.cash0 - float(prob.p @ z) - prob.cash_target)
    return float(_phi(prob, z).sum() + costs(prob, z).sum()) + cash_dev


def cash_after(prob: Problem, z: np.ndarray) -> float:
    return prob.cash0 - float(prob.p @ z) - float(costs(prob, z).sum())


def feasible(prob: Problem, z: np.ndarray) -> bool:
    """Bounds, grid, minimum order and cash reserve all hold for ``z``."""
    a = np.abs(z)
    on_grid = np.allclose(z / prob.step, np.round(z / prob.step), atol=1e-6)
    in_bounds = bool(np.all(z >= prob.lo - TOL) and np.all(z <= prob.hi + TOL))
    big_enough = bool(np.all((a == 0) | (a >= prob.zmin - TOL)))
    return on_grid and in_bounds and big_enough and cash_after(prob, z) >= prob.reserve - 1e-7


def _candidates(prob: Problem) -> np.ndarray:
    """Per-ticker candidate trades, shape (n, K); column 0 is no trade."""
    p, s = prob.p, prob.step
    z0 = (prob.t - p * prob.h) / p
    kinks = [z0, z0 - prob.band / p, z0 + prob.band / p]
    if prob.comm_share > 0:
        kinks += [np.full_like(p, prob.comm_min / prob.comm_share)] * 2
        kinks[-1] = -kinks[-1]
    raw = np.stack(kinks, axis=1)
    grid = np.concatenate([np.floor(raw / s + 1e-9) * s, np.ceil(raw / s - 1e-9) * s], axis=1)
    zmin = prob.zmin[:, None]
    lo, hi = prob.lo[:, None], prob.hi[:, None]
    buy = np.clip(grid, zmin, np.maximum(hi, zmin))
    sell = np.clip(grid, np.minimum(lo, -zmin), -zmin)
    ends = np.concatenate([zmin, hi, -zmin, lo], axis=1)
    cand = np.concatenate([np.zeros_like(zmin), buy, sell, ends], axis=1)
    ok = (cand >= lo - TOL) & (cand <= hi + TOL) & ((cand == 0) | (np.abs(cand) >= zmin - TOL))
    return np.where(ok, cand, 0.0)


def _pick(values: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Row-wise argmin of ``values``; ties (within 1e-9 relative) go to the smallest trade."""
    best = values.min(axis=1, keepdims=True)
    tol = 1e-9 * np.maximum(1.0, np.abs(best))
    size = np.where(values <= best + tol, np.abs(cand), np.inf)
    idx = size.argmin(axis=1)
    return cand[np.arange(cand.shape[0]), idx]


def solve_separable(prob: Problem) -> np.ndarray | None:
    """The exact optimum when one of the two separable bounds is tight, else None."""
    cand = _candidates(prob)
    base = _phi(prob, cand) + costs(prob, cand)
    a = prob.cash0 - prob.cash_target
    for sign in (1.0, -1.0):  # |a - S| >= sign * (a - S)
        z = _pick(base - sign * prob.p[:, None] * cand, cand)
        spend = float(prob.p @ z)
        if sign * (a - spend) >= -TOL and cash_after(prob, z) >= prob.reserve - 1e-7:
            return z
    return None


def solve(prob: Problem, *, time_limit: float = 2.0, shortcuts: bool = True) -> Solution:
    """Exact separable solution, else bound-and-enumerate, else MILP, else greedy.

    ``shortcuts=False`` goes straight to the MILP (to cross-check or time it).
    """
    bound = None
    if shortcuts:
        z = solve_separable(prob)
        if z is not None:
            return Solution(z, Method.EXACT, "separable optimum is feasible")
        from optimizer.rebalance.bound import solve_bound

        bound = solve_bound(prob)
        if bound.z is not None:
            return Solution(
                bound.z, Method.EXACT, "cash couples the tickers; proven by enumeration"
            )
    from optimizer.rebalance.milp import solve_milp

    narrowed, incumbent = (bound.narrowed, bound.incumbent) if bound else (None, None)
    z, why = solve_milp(narrowed or prob, time_limit=time_limit, incumbent=incumbent)
    if z is not None:
        return Solution(z, Method.MILP, "HiGHS branch and bound, optimal")
    from optimizer.rebalance.greedy import solve_greedy

    return Solution(solve_greedy(prob), Method.GREEDY, f"MILP failed: {why}")
