"""The trade problem as a HiGHS mixed-integer program (highspy, no modelling layer).

Columns per ticker i (block of 7): ``qb, qs`` buy / sell quantity in grid units
(integer), ``yb, ys`` order indicators (binary), ``e >= |d_i|``, ``x >= |d_i| - b_i``,
``k`` commission; two last columns ``u >= |y|`` and ``v >= |y| - b_cash`` for the cash
deviation ``y``. Rows mirror the objective
and constraints of :mod:`optimizer.rebalance.solve` one for one.
"""

from __future__ import annotations

import numpy as np

from optimizer.rebalance.problem import Problem, feasible, grid_units

_NCOL = 7  # qb, qs, yb, ys, e, x, k
# Proven optimal to within one cent of objective (money), or one part per million of the
# account's value when that is more (a dollar on a million): a tighter gap costs HiGHS about
# three times the time on ten-ticker accounts for no trade anyone would notice, and on a
# plan that spends all of a large cash balance up to a binding reserve (thousands of share
# mixes within cents of each other) one cent took 0.4-1.5 s where a dollar takes 25 ms.
MIP_ABS_GAP = 0.01
MIP_ABS_GAP_OF_VALUE = 1e-6
MIP_REL_GAP = 1e-6


def abs_gap(prob: Problem) -> float:
    """The absolute optimality gap HiGHS proves for ``prob`` (money)."""
    return max(MIP_ABS_GAP, MIP_ABS_GAP_OF_VALUE * prob.value)


_QB, _QS, _YB, _YS, _E, _X, _K = range(_NCOL)


def _rows(prob: Problem) -> tuple[list[tuple[dict[int, float], float, float]], int]:
    n, inf = prob.p.size, np.inf
    P = prob.p * prob.step
    ub_b = grid_units(prob.hi, prob.step)
    ub_s = grid_units(-prob.lo, prob.step)
    d0 = prob.p * prob.h - prob.t
    cs = prob.comm_share * prob.step
    rows: list[tuple[dict[int, float], float, float]] = []
    for i in range(n):
        c = _NCOL * i
        qb, qs, yb, ys, e, x, k = (c + j for j in range(_NCOL))
        rows += [
            ({e: 1.0, qb: -P[i], qs: P[i]}, d0[i], inf),
            ({e: 1.0, qb: P[i], qs: -P[i]}, -d0[i], inf),
            ({x: 1.0, e: -1.0}, -prob.band[i], inf),
            ({qb: 1.0, yb: -ub_b[i]}, -inf, 0.0),
            ({qs: 1.0, ys: -ub_s[i]}, -inf, 0.0),
            ({qb: P[i], yb: -prob.min_order}, 0.0, inf),
            ({qs: P[i], ys: -prob.min_order}, 0.0, inf),
            ({yb: 1.0, ys: 1.0}, -inf, 1.0),
            ({k: 1.0, yb: -prob.comm_min, ys: -prob.comm_min}, 0.0, inf),
            ({k: 1.0, qb: -cs, qs: -cs}, 0.0, inf),
        ]
    u = _NCOL * n
    a = prob.cash0 - prob.cash_target
    spend = {_NCOL * i + _QB: P[i] for i in range(n)} | {_NCOL * i + _QS: -P[i] for i in range(n)}
    rows.append(({u: 1.0, **spend}, a, inf))
    rows.append(({u: 1.0, **{j: -v for j, v in spend.items()}}, -a, inf))
    rows.append(({u + 1: 1.0, **spend}, a - prob.cash_band, inf))
    rows.append(({u + 1: 1.0, **{j: -v for j, v in spend.items()}}, -a - prob.cash_band, inf))
    for kappa, limit in (
        (1.0, prob.cash0 - prob.reserve),
        (1.0 - prob.reserve_pct, prob.cash0 - prob.reserve_pct * prob.value),
    ):  # p.z + kappa * cost(z) <= limit
        budget = {}
        for i in range(n):
            budget[_NCOL * i + _QB] = P[i] * (1 + kappa * prob.spread)
            budget[_NCOL * i + _QS] = -P[i] * (1 - kappa * prob.spread)
            budget[_NCOL * i + _K] = kappa
        rows.append((budget, -inf, limit))
    return rows, u + 2


def _columns(prob: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = prob.p.size
    P = prob.p * prob.step
    cost = np.zeros((n, _NCOL))
    cost[:, _QB] = cost[:, _QS] = prob.spread * P
    cost[:, _E] = prob.inside
    cost[:, _X] = 1.0 - prob.inside + prob.lam
    cost[:, _K] = 1.0
    lower = np.zeros((n, _NCOL))
    upper = np.full((n, _NCOL), np.inf)
    upper[:, _QB] = grid_units(prob.hi, prob.step)
    upper[:, _QS] = grid_units(-prob.lo, prob.step)
    upper[:, _YB] = (upper[:, _QB] > 0).astype(float)
    upper[:, _YS] = (upper[:, _QS] > 0).astype(float)
    integ = np.zeros((n, _NCOL), dtype=np.int32)
    integ[:, [_QB, _QS, _YB, _YS]] = 1
    return (
        np.append(cost.ravel(), [prob.inside, 1.0 - prob.inside]),
        np.append(lower.ravel(), [0.0, 0.0]),
        np.append(upper.ravel(), [np.inf, np.inf]),
        np.append(integ.ravel(), [0, 0]).astype(np.int32),
    )


def solve_milp(
    prob: Problem, *, time_limit: float = 2.0, incumbent: np.ndarray | None = None
) -> tuple[np.ndarray | None, str]:
    """Optimal trades in shares, or (None, why) when HiGHS does not prove a solution.

    ``incumbent`` (shares, shape (n,)) is a feasible trade vector handed to HiGHS as incumbent.
    """
    from optimizer import highs

    rows, ncol = _rows(prob)
    cost, lower, upper, integ = _columns(prob)
    start, index, value = [0], [], []
    for coefs, _, _ in rows:
        index += list(coefs)
        value += list(coefs.values())
        start.append(len(index))
    h = highs.new(
        time_limit=float(time_limit),
        mip_rel_gap=MIP_REL_GAP,
        mip_abs_gap=abs_gap(prob),
        presolve="choose",
    )
    status = h.passModel(
        ncol,
        len(rows),
        len(index),
        2,
        1,
        0.0,
        cost,
        lower,
        upper,
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
        np.array(start, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value),
        integ,
    )
    highs.check(status, "passModel")
    if incumbent is not None:
        highs.check(h.setSolution(_start_columns(prob, incumbent)), "setSolution")
    status = highs.run(h)
    if status != "Optimal":
        return None, f"HiGHS status {status!r}"
    x = np.asarray(h.getSolution().col_value)[: _NCOL * prob.p.size].reshape(-1, _NCOL)
    z = (np.round(x[:, _QB]) - np.round(x[:, _QS])) * prob.step
    if not feasible(prob, z):
        return None, "HiGHS solution violates a constraint after rounding"
    return z, "optimal"


def _start_columns(prob: Problem, z: np.ndarray) -> object:
    """A full column vector for the trade vector ``z`` (a MIP start)."""
    import highspy

    from optimizer.rebalance.problem import costs

    q = np.round(z / prob.step)
    cols = np.zeros((prob.p.size, _NCOL))
    cols[:, _QB], cols[:, _QS] = np.maximum(q, 0), np.maximum(-q, 0)
    cols[:, _YB], cols[:, _YS] = (q > 0), (q < 0)
    d = np.abs(prob.p * (prob.h + z) - prob.t)
    cols[:, _E], cols[:, _X] = d, np.maximum(d - prob.band, 0)
    cols[:, _K] = np.where(z != 0, costs(prob, z) - prob.spread * prob.p * np.abs(z), 0)
    u = abs(prob.cash0 - float(prob.p @ z) - prob.cash_target)
    sol = highspy.HighsSolution()
    sol.col_value = list(np.append(cols.ravel(), [u, max(u - prob.cash_band, 0.0)]))
    sol.value_valid = True
    return sol
