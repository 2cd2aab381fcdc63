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

from collections.abc import Callable

import numpy as np

from optimizer.rebalance.problem import (
    TOL,
    Method,
    Problem,
    Solution,
    cash_after,
    cash_conjugate,
    cash_slopes,
    cash_term,
    costs,
    feasible,
    grid_units,
    objective,
    shortfall,
)

# the problem's names are re-exported: the planner and the tests import them from here
__all__ = [
    "Method",
    "Problem",
    "Solution",
    "cash_after",
    "costs",
    "feasible",
    "grid_units",
    "objective",
    "shortfall",
    "solve",
    "solve_separable",
]


def _pick(values: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Row-wise argmin of ``values``; ties (within 1e-9 relative) go to the smallest trade."""
    best = values.min(axis=1, keepdims=True)
    tol = 1e-9 * np.maximum(1.0, np.abs(best))
    size = np.where(values <= best + tol, np.abs(cand), np.inf)
    idx = size.argmin(axis=1)
    return cand[np.arange(cand.shape[0]), idx]


def solve_separable(prob: Problem) -> np.ndarray | None:
    """The exact optimum when a separable lower bound is tight and feasible, else None."""
    cand = prob.candidates
    base, _cost, spend = prob.candidate_parts
    a = prob.cash0 - prob.cash_target
    for mu in cash_slopes(prob):  # f(a - S) >= mu (a - S) - f*(mu)
        z = _pick(base - mu * spend, cand)
        y = a - float(prob.p @ z)
        gap = float(cash_term(prob, y)) - (mu * y - float(cash_conjugate(prob, mu)))
        if gap <= TOL * max(1.0, abs(y)) and shortfall(prob, z) <= 1e-7:
            return z
    return None


def solve(
    prob: Problem,
    *,
    time_limit: float = 2.0,
    shortcuts: bool = True,
    slack: Callable[[np.ndarray], float] | None = None,
) -> Solution:
    """Exact separable solution, else bound-and-enumerate, else MILP, else greedy.

    ``shortcuts=False`` goes straight to the MILP (to cross-check or time it). ``slack`` (of
    a good trade vector) asks the enumeration for its pool too (``Solution.pool``).
    """
    bound = None
    if shortcuts:
        z = solve_separable(prob)
        if z is not None:
            return Solution(z, Method.EXACT, "separable optimum is feasible")
        from optimizer.rebalance.bound import solve_bound

        bound = solve_bound(prob, slack=slack)
        if bound.z is not None:
            note = "cash couples the tickers; proven by enumeration"
            return Solution(bound.z, Method.EXACT, note, pool=bound.pool, slack=bound.slack)
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
