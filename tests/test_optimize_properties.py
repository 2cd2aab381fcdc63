"""Properties over generated policies: whenever a solve succeeds, weights sum to 1 and every
bound and group constraint holds to 1e-7; otherwise the error is a diagnosed InfeasibleError
whose verdict a plain cvxpy problem written here confirms.

Limits are generated on a 1e-4 grid, as a policy states them: contradictions far below the
solvers' tolerances (a bound of 1e-8 against a cap of 0) are a different question.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.errors import InfeasibleError
from optimizer.optimize import Policy, optimize
from tests.optimize_support import synthetic_estimate

EST = synthetic_estimate(n=6, n_samples=200, seed=11)
TAGS = {
    "T0": ["equity", "large_cap"],
    "T1": ["equity", "small_cap"],
    "T2": ["equity"],
    "T3": ["bonds"],
    "T4": ["bonds"],
    "T5": ["cash"],
}
IND = {
    tag: np.array([tag in TAGS[t] for t in EST.tickers], dtype=float)
    for tag in ("equity", "small_cap", "bonds", "cash")
}
TOL = 1e-7

grid = st.integers  # limits in units of 1e-4
bounds = st.lists(
    st.tuples(grid(0, 3000), grid(500, 7000)).map(lambda p: (p[0] / 1e4, max(p) / 1e4)),
    min_size=6,
    max_size=6,
)
kinds = st.sampled_from(
    [
        {"kind": "min_variance"},
        {"kind": "utility", "risk_aversion": 3.0},
        {"kind": "max_sharpe"},
        {"kind": "min_cvar"},
        {"kind": "robust"},
    ]
)


def feasible(lo, hi, eq_min, small_share, cash_min) -> bool:
    """Is there any portfolio within the limits? Plain cvxpy, independent of the product."""
    w = cp.Variable(len(lo))
    cons = [
        cp.sum(w) == 1,
        w >= lo,
        w <= hi,
        IND["equity"] @ w >= eq_min,
        IND["small_cap"] @ w <= small_share * (IND["equity"] @ w),
        IND["cash"] @ w >= cash_min,
    ]
    prob = cp.Problem(cp.Minimize(0), cons)
    prob.solve(solver=cp.HIGHS)
    return prob.status == cp.OPTIMAL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bounds=bounds,
    kind=kinds,
    eq_min=grid(0, 9000).map(lambda v: v / 1e4),
    small_share=grid(0, 10000).map(lambda v: v / 1e4),
    cash_min=grid(0, 2000).map(lambda v: v / 1e4),
)
def test_bounds_and_groups_hold(bounds, kind, eq_min, small_share, cash_min):
    assets = {
        t: {"tags": TAGS[t], "min": lo, "max": hi}
        for t, (lo, hi) in zip(EST.tickers, bounds, strict=True)
    }
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    assume(lo.sum() <= 1 and hi.sum() >= 1)  # otherwise refused at configuration time
    groups = [
        f"equity >= {eq_min:.6f}",
        f"small_cap <= {small_share:.6f} * equity",
        f"cash >= {cash_min:.6f}",
    ]
    policy = Policy.simple(
        EST.tickers, objective=kind, constraints={"groups": groups}, assets=assets
    )
    try:
        a = optimize(EST, policy)
    except InfeasibleError as exc:
        assert exc.diagnosis is not None
        if exc.diagnosis.conflicts:
            assert not feasible(lo, hi, eq_min, small_share, cash_min)
        else:  # feasible limits: only max Sharpe may find no portfolio beating cash
            assert kind["kind"] == "max_sharpe"
            assert feasible(lo, hi, eq_min, small_share, cash_min)
        return
    w = np.array([a.weights[t] for t in EST.tickers])
    assert abs(w.sum() - 1) <= TOL
    assert np.all(w >= lo - TOL) and np.all(w <= hi + TOL)
    assert IND["equity"] @ w >= eq_min - TOL
    assert IND["small_cap"] @ w <= small_share * (IND["equity"] @ w) + TOL
    assert IND["cash"] @ w >= cash_min - TOL
