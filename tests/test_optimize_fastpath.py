"""The fast path is cvxpy's own compiled problem: same data, same optimum, same duals."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp

from optimizer.optimize import Inputs, Optimizer, Policy, frontier
from optimizer.optimize.reduced import solve_reduced
from optimizer.optimize.result import cvar_of
from optimizer.optimize.solvers import solve_clarabel, solve_highs
from tests.optimize_support import synthetic_estimate

KINDS = [
    ({"kind": "max_sharpe"}, {"groups": ["T0 + T1 <= 0.5"], "max_volatility": 0.4}),
    ({"kind": "utility", "risk_aversion": 2.0}, {"turnover": 0.8, "costs_bps": 20}),
    ({"kind": "min_cvar"}, {"groups": ["T2 >= 0.1"]}),
    ({"kind": "robust"}, {"scenario_loss": ["a loss <= 20%"]}),
    (
        {"kind": "target_volatility", "target_volatility": 0.15},
        {"tracking_error": {"benchmark": {"T0": 0.5, "T1": 0.5}, "max": 0.2}},
    ),
]


def _built(kind, cons, seed=0):
    est = synthetic_estimate(seed=seed)
    policy = Policy.simple(est.tickers, objective=kind, constraints=cons)
    built = Optimizer(policy).build(est)
    current = {t: 1 / len(est.tickers) for t in est.tickers}
    x = built.numbers(Inputs(est, current))
    built.bind(x)
    built.frame.push()  # the cvxpy Parameters get the same values the fast path reads
    return est, built, x


def test_the_cvxpy_internals_the_fast_path_reads_are_there():
    """The fence around cvxpy's internals (optimizer/optimize/solvers.py reads them): when a
    cvxpy release renames or reshapes one, this names it, before any solve goes wrong.
    The data and optimum tests below then check what the internals mean."""
    from cvxpy.lin_ops import lin_op
    from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

    assert callable(dims_to_solver_cones) and hasattr(lin_op, "CONSTANT_ID")
    _, built, _ = _built({"kind": "max_sharpe"}, {}, seed=1)
    data, _, _ = built.program.problem.get_problem_data(cp.CLARABEL)
    pp = data["param_prob"]
    missing = [
        name
        for name in ("reduced_A", "reduced_P", "q", "x", "param_id_to_col", "param_id_to_size",
                     "var_id_to_col", "total_param_size", "apply_parameters")
        if not hasattr(pp, name)
    ]  # fmt: skip
    missing += [
        f"reduced_A.{name}"
        for name in ("problem_data_index", "reduced_mat")
        if not hasattr(pp.reduced_A, name)
    ]
    assert not missing, f"cvxpy {cp.__version__} lacks {missing}: the fast path must be updated"
    major, minor = (int(v) for v in cp.__version__.split(".")[:2])
    assert (1, 5) <= (major, minor) < (1, 10), "outside the range pyproject.toml allows"


@pytest.mark.parametrize(("kind", "cons"), KINDS)
def test_compiled_data_equals_cvxpy_problem_data(kind, cons):
    _, built, _ = _built(kind, cons, seed=1)
    problem = built.program.problem
    data, _, _ = problem.get_problem_data(cp.CLARABEL)  # cvxpy applies the parameters itself
    P, q, A, b = built.program._compiled.data()
    np.testing.assert_allclose(q, data["c"], atol=1e-12)
    np.testing.assert_allclose(b, data["b"], atol=1e-12)
    assert abs(A - sp.csc_array(data["A"])).max() < 1e-12
    if "P" in data:
        assert abs(P - sp.triu(sp.csc_array(data["P"]))).max() < 1e-12


@pytest.mark.parametrize(("kind", "cons"), KINDS)
def test_fast_solve_equals_cvxpy_solve(kind, cons):
    _, built, _ = _built(kind, cons, seed=2)
    built.program.solve()
    w_fast = built.frame.weights()
    duals_fast = {b.constraint: b.shadow_price for b in built.binding()}
    problem = built.program.problem
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status == cp.OPTIMAL
    w = built.frame.w.value
    w_cvxpy = w / built.frame.k.value if built.frame.homogeneous else w
    np.testing.assert_allclose(w_fast, w_cvxpy, atol=1e-6)
    for n in built.program.named:  # the fast path's duals are cvxpy's duals
        if n.constraint.id in built.program._dual_rows:
            np.testing.assert_allclose(
                built.program.dual(n), n.constraint.dual_value, rtol=1e-4, atol=1e-6
            )
    assert duals_fast


def test_highs_and_clarabel_agree_on_lp_weights_and_duals():
    _, built, _ = _built({"kind": "robust"}, {"groups": ["T5 >= 0.2"]}, seed=3)
    compiled = built.program._compiled
    assert compiled.is_lp
    h, c = solve_highs(compiled), solve_clarabel(compiled)
    assert h.status == c.status == "Solved"
    assert h.obj_val == pytest.approx(c.obj_val, rel=1e-7, abs=1e-10)
    built.program._unpack(h, duals=True)
    dual_h = {b.constraint: b.shadow_price for b in built.binding()}
    built.program._unpack(c, duals=True)
    dual_c = {b.constraint: b.shadow_price for b in built.binding()}
    assert dual_h.keys() == dual_c.keys()
    assert "T5 >= 0.2" in dual_h
    for k in dual_h:
        assert dual_h[k] == pytest.approx(dual_c[k], rel=1e-5, abs=1e-8)


def test_frontier_points_are_min_variance_at_their_return():
    est = synthetic_estimate(seed=4)
    policy = Policy.simple(est.tickers, constraints={"groups": ["T0 <= 0.3"]})
    curve = frontier(est, policy, n_points=6, portfolios={"current": {"T1": 1.0}})
    rets = [p.expected_return for p in curve.points]
    vols = [p.volatility for p in curve.points]
    assert np.all(np.diff(rets) > 0) and np.all(np.diff(vols) >= -1e-9)
    for p in curve.points[1:-1]:
        w = cp.Variable(est.n_assets)
        prob = cp.Problem(
            cp.Minimize(cp.quad_form(w, est.Sigma, assume_PSD=True)),
            [cp.sum(w) == 1, w >= 0, w[0] <= 0.3, est.mu @ w >= p.expected_return - 1e-12],
        )
        prob.solve(solver=cp.CLARABEL)
        assert p.volatility == pytest.approx(np.sqrt(prob.value), rel=1e-5)
    r, v = curve.placed["current"]
    assert r == pytest.approx(est.mu[1]) and v == pytest.approx(np.sqrt(est.Sigma[1, 1]))


DENSE_KINDS = [
    ({"kind": "min_variance"}, {"groups": ["T0 + T1 + T2 >= 0.2"]}),
    ({"kind": "max_sharpe"}, {"groups": ["T3 + T4 <= 0.01"]}),
    ({"kind": "utility", "risk_aversion": 3.0}, {"turnover": 0.5, "costs_bps": 30}),
    ({"kind": "target_return", "target_return": 0.12}, {}),
    ({"kind": "max_sharpe"}, {"turnover": 0.6, "costs_bps": 10}),
    ({"kind": "utility", "risk_aversion": 5.0}, {"groups": ["T0 + T1 + T2 <= 0.05", "T5 >= 0.01"]}),
    ({"kind": "min_variance"}, {"scenario_loss": ["a loss <= 20%"], "groups": ["T7 + T9 >= 0.3"]}),
]


@pytest.mark.parametrize(("kind", "cons"), DENSE_KINDS)
def test_reduced_piqp_equals_clarabel_on_the_same_compiled_problem(kind, cons):
    est = synthetic_estimate(n=120, n_samples=100, seed=5)
    policy = Policy.simple(
        est.tickers, objective=kind, constraints=cons, assets={t: {"max": 0.2} for t in est.tickers}
    )
    built = Optimizer(policy).build(est)
    current = {t: 1 / len(est.tickers) for t in est.tickers}
    a = built.solve(Inputs(est, current))
    assert a.solver == "PIQP" and not a.fallbacks
    w_dense = np.array(list(a.weights.values()))
    assert a.binding
    built.program._unpack(solve_clarabel(built.program._compiled), duals=True)
    # a flat optimum: Clarabel at 1e-10 gaps stops up to 1.2e-5 away in weights (2e-7 in the
    # objective, and never below ours: see the objective check at the end)
    np.testing.assert_allclose(w_dense, built.frame.weights(), atol=5e-5)
    # duals may not be unique (a bound and a trade row active together), so check that
    # the dense solution satisfies the KKT conditions of the compiled problem instead
    compiled = built.program._compiled
    raw = solve_reduced(compiled, built.program._elimination)
    P, q, A, b = compiled.data()
    P = P + sp.triu(P, 1).T
    x, z, n_eq = raw.x, raw.z, compiled.dims.zero
    slack = b - A @ x
    grad_scale = np.abs(P @ x).max() + np.abs(q).max()
    assert np.abs(P @ x + q + A.T @ z).max() <= 1e-7 * grad_scale
    assert np.abs(slack[:n_eq]).max() <= 1e-8 and slack[n_eq:].min() >= -1e-8
    assert z[n_eq:].min() >= -1e-10 * np.abs(z).max()
    assert np.abs(slack[n_eq:] * z[n_eq:]).max() <= 1e-8 * (1 + np.abs(z).max())
    clarabel_obj = solve_clarabel(compiled).obj_val
    assert raw.obj_val == pytest.approx(clarabel_obj, rel=1e-6, abs=1e-12)
    assert raw.obj_val <= clarabel_obj * (1 + 1e-9) + 1e-15
    assert raw.obj_val == pytest.approx(0.5 * x @ P @ x + q @ x, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("constraints", [{}, {"groups": ["T0 + T1 >= 0.3"], "turnover": 1.2}])
def test_cvar_row_generation_equals_the_full_lp(constraints):
    est = synthetic_estimate(n=20, n_samples=1500, seed=6)
    policy = Policy.simple(
        est.tickers, objective={"kind": "min_cvar", "cvar_level": 0.9}, constraints=constraints
    )
    built = Optimizer(policy).build(est)
    x = built.numbers(Inputs(est, {t: 0.05 for t in est.tickers}))
    built.bind(x)
    compiled = built.program._compiled
    lazy, full = solve_highs(compiled), solve_highs(compiled, lazy=False)
    assert lazy.status == full.status == "Solved"
    assert lazy.obj_val == pytest.approx(full.obj_val, rel=1e-9, abs=1e-12)
    cols = compiled.columns(built.frame)[built.frame.w]
    w_lazy, w_full = (r.x[cols[0] : cols[0] + cols[1]] for r in (lazy, full))
    assert cvar_of(est.samples @ w_lazy, 0.9) == pytest.approx(
        cvar_of(est.samples @ w_full, 0.9), rel=1e-8
    )
    # KKT of the full compiled LP at the row-generation solution
    _, q, A, b = compiled.data()
    n_eq, z = compiled.dims.zero, lazy.z
    slack = b - A @ lazy.x
    assert np.abs(q + A.T @ z).max() <= 1e-8
    assert slack[n_eq:].min() >= -1e-8 and z[n_eq:].min() >= -1e-10
    assert np.abs(slack[n_eq:] * z[n_eq:]).max() <= 1e-8


@pytest.mark.parametrize("kind, cons", KINDS, ids=[k["kind"] for k, _ in KINDS])
def test_accounts_on_one_estimate_share_a_solve_only_when_current_weights_do_not_matter(kind, cons):
    """Accounts after the first on the same estimate take the last solve (the policy does
    not read current weights) or solve again (turnover, costs): against a fresh problem
    solved for each account, weights to 1e-9, and each account's own turnover."""
    est = synthetic_estimate(seed=3)
    policy = Policy.simple(est.tickers, objective=kind, constraints=cons)
    shared = Optimizer(policy).build(est)
    n = len(est.tickers)
    accounts = [{t: 1 / n for t in est.tickers}, {est.tickers[0]: 1.0}, None]
    for current in accounts:
        got = shared.solve(Inputs(est, current))
        fresh = Optimizer(policy).build(est).solve(Inputs(est, current))
        assert got.weights.keys() == fresh.weights.keys()
        for t in got.weights:
            assert got.weights[t] == pytest.approx(fresh.weights[t], abs=1e-9)
        for name in ("expected_return", "volatility", "sharpe", "cvar", "turnover"):
            a, b = getattr(got.metrics, name), getattr(fresh.metrics, name)
            assert (a is None and b is None) or a == pytest.approx(b, abs=1e-9), name
        w0 = np.array([0.0 if current is None else current.get(t, 0.0) for t in est.tickers])
        w = np.array([got.weights[t] for t in est.tickers])
        assert got.metrics.turnover == pytest.approx(float(np.abs(w - w0).sum()), abs=1e-9)
    assert shared.reads_current == ("turnover" in cons or "costs_bps" in cons)
