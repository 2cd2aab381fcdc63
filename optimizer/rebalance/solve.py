"""The trade problem of one account and its solvers: exact separable, MILP, greedy.

Notation (money in the account's currency, shares in shares, n = tickers of the account):
``p`` prices, ``h`` shares held, ``t`` money targets, ``b`` band half-widths in money,
``z`` shares traded (buy > 0). The deviation of ticker i is ``d_i = p_i (h_i + z_i) - t_i``;
the cash deviation is ``y = cash0 - p.z - cash_target`` (before costs, so paying costs is
never rewarded). With ``a`` the weight of deviation inside a band (1: trade to target,
0: trade to the band edge) the plan minimises

    F(z) = sum_i [ a |d_i| + (1 - a + lam) max(0, |d_i| - b_i) + cost_i(z_i) ]
           + a |y| + (1 - a) max(0, |y| - b_cash)

with ``cost_i = spread * p_i |z_i| + [z_i != 0] max(c_min, c_share |z_i|)``, subject to
``lo <= z <= hi`` on a grid of ``step`` shares, every non-zero order at least ``m`` in money,
and cash after trades and costs at least the reserve: ``reserve`` in money and
``reserve_pct`` of the account value after costs (``value - cost(z)``), so that the reserve a
re-plan of the traded account asks for is the one this plan kept.

Without the cash term the problem separates by ticker: each ticker's objective is convex
on each side of zero, so its integer optimum is among the rounded breakpoints. The cash
term ``f(y)`` is convex and piecewise linear, so ``f(y) >= mu y - f*(mu)`` for each of its
slopes ``mu``; adding such a minorant gives a separable lower bound of F, and when the
minimiser of that bound has ``mu`` as a slope of ``f`` at its own ``y`` (the bound is
tight) and keeps the cash reserve, it is the exact optimum (``Method.EXACT``). Otherwise
:mod:`optimizer.rebalance.bound` tries to prove an optimum by enumeration, then a MILP is
solved with HiGHS (``Method.MILP``), and if HiGHS fails, a greedy descent (``Method.GREEDY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

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

    @property
    def zmin(self) -> np.ndarray:
        """Smallest non-zero order in shares, per ticker (on the grid)."""
        q = grid_units(self.min_order / self.p, self.step, up=True)
        return np.maximum(q, 1.0) * self.step


@dataclass(frozen=True)
class Solution:
    z: np.ndarray  # shares traded, shape (n,)
    method: Method
    note: str  # why this method (e.g. "cash constraint binds")
    warning: str | None = None  # what the user must be told (a fallback), else None


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
    """F(z) of the module docstring."""
    cash_dev = float(cash_term(prob, prob.cash0 - float(prob.p @ z) - prob.cash_target))
    return float(_phi(prob, z).sum() + costs(prob, z).sum()) + cash_dev


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


def _candidates(prob: Problem) -> np.ndarray:
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


def _pick(values: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Row-wise argmin of ``values``; ties (within 1e-9 relative) go to the smallest trade."""
    best = values.min(axis=1, keepdims=True)
    tol = 1e-9 * np.maximum(1.0, np.abs(best))
    size = np.where(values <= best + tol, np.abs(cand), np.inf)
    idx = size.argmin(axis=1)
    return cand[np.arange(cand.shape[0]), idx]


def solve_separable(prob: Problem) -> np.ndarray | None:
    """The exact optimum when a separable lower bound is tight and feasible, else None."""
    cand = _candidates(prob)
    base = _phi(prob, cand) + costs(prob, cand)
    a = prob.cash0 - prob.cash_target
    for mu in cash_slopes(prob):  # f(a - S) >= mu (a - S) - f*(mu)
        z = _pick(base - mu * prob.p[:, None] * cand, cand)
        y = a - float(prob.p @ z)
        gap = float(cash_term(prob, y)) - (mu * y - float(cash_conjugate(prob, mu)))
        if gap <= TOL * max(1.0, abs(y)) and shortfall(prob, z) <= 1e-7:
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
    try:
        z, why = solve_milp(narrowed or prob, time_limit=time_limit, incumbent=incumbent)
    except Exception as exc:  # any MILP failure takes the recorded fallback
        z, why = None, f"{type(exc).__name__}: {exc}"
    if z is not None:
        return Solution(z, Method.MILP, "HiGHS branch and bound, optimal")
    from optimizer.rebalance.greedy import solve_greedy

    note = f"MILP failed ({why})"
    warning = f"{note}; greedy fallback used: trades are feasible but may not be optimal"
    return Solution(solve_greedy(prob), Method.GREEDY, note, warning)
