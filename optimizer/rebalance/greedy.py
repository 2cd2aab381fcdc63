"""Greedy descent on the trade problem: the fallback when HiGHS fails.

First restore the cash reserve by selling, one order size at a time, where selling costs
the least objective per unit of cash raised (the most overweight first); then take the
single-ticker move that lowers the objective most while the reserve still holds (the
most underweight first), until no move helps.
"""

from __future__ import annotations

import numpy as np

from optimizer.rebalance.problem import Problem, cash_after, feasible, objective, shortfall

_MAX_MOVES = 5_000


def _moves(prob: Problem, z: np.ndarray) -> list[np.ndarray]:
    """Candidate trade vectors one move away from ``z``."""
    out = []
    sizes = [prob.step * 10.0**k for k in range(0, 7)]
    for i in range(z.size):
        for size in sizes:
            for sign in (1.0, -1.0):
                new = z[i] + sign * size
                if 0 < abs(new) < prob.zmin[i]:
                    new = sign * prob.zmin[i] if z[i] == 0 else 0.0
                w = z.copy()
                w[i] = min(max(new, prob.lo[i]), prob.hi[i])
                if w[i] != z[i]:
                    out.append(w)
    return out


def solve_greedy(prob: Problem) -> np.ndarray:
    """A feasible trade vector (shape (n,)); no trades if nothing feasible improves."""
    z = np.zeros_like(prob.p)
    for _ in range(_MAX_MOVES):  # restore the reserve
        if shortfall(prob, z) <= 1e-7:
            break
        f0 = objective(prob, z)
        best, score = None, np.inf
        for w in _moves(prob, z):
            raised = cash_after(prob, w) - cash_after(prob, z)
            if raised > 0:
                s = (objective(prob, w) - f0) / raised
                if s < score:
                    best, score = w, s
        if best is None:
            break
        z = best
    for _ in range(_MAX_MOVES):  # descend
        f0 = objective(prob, z)
        best, gain = None, 1e-9 * max(1.0, f0)
        for w in _moves(prob, z):
            if feasible(prob, w) and f0 - objective(prob, w) > gain:
                best, gain = w, f0 - objective(prob, w)
        if best is None:
            break
        z = best
    return z
