"""Every constrained result against a plain cvxpy formulation written here (constant data,
quad_form risk), on real ETF moments. Weights within 1e-4 where the optimum is unique
(strictly convex objectives), objectives within 1e-6 relative everywhere."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from optimizer.optimize import Policy, optimize
from tests.optimize_support import TAGS, daily_returns, estimate_from_returns

W_TOL = 1e-4
REL = 1e-6
GAMMA = 3.0


@pytest.fixture(scope="module")
def est(shared_data):
    return estimate_from_returns(daily_returns(shared_data))


def _policy(est, objective, constraints, assets=None):
    spec = {t: {"tags": TAGS[t], **(assets or {}).get(t, {})} for t in est.tickers}
    return Policy.simple(est.tickers, objective=objective, constraints=constraints, assets=spec)


def _w(est, a):
    return np.array([a.weights[t] for t in est.tickers])


def _ind(est, *names):
    return np.array(
        [1.0 if t in names or any(n in TAGS[t] for n in names) else 0.0 for t in est.tickers]
    )


def _utility(est, w, extra_cost=0.0):
    return est.mu @ w - GAMMA / 2 * cp.quad_form(w, est.Sigma, assume_PSD=True) - extra_cost


def _solve(objective, cons):
    prob = cp.Problem(objective, cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    assert prob.status == cp.OPTIMAL
    return prob.value


def _base(w):
    return [cp.sum(w) == 1, w >= 0, w <= 1]


def _util_value(est, w, cost=0.0, w0=None):
    val = est.mu @ w - GAMMA / 2 * w @ est.Sigma @ w
    if cost:
        val -= cost * np.abs(w - w0).sum()
    return val


def test_groups_and_bounds(est):
    groups = ["equity >= 0.5", "small_cap <= 0.4 * equity", "SPY + IWM <= 70%", "HYG <= 0.05"]
    a = optimize(
        est,
        _policy(
            est,
            {"kind": "utility", "risk_aversion": GAMMA},
            {"groups": groups},
            {"SPY": {"max": 0.3}, "QQQ": {"max": 0.35}},
        ),
    )
    w = cp.Variable(len(est.tickers))
    eq, small = _ind(est, "equity"), _ind(est, "small_cap")
    spy, iwm, hyg, qqq = (_ind(est, t) for t in ("SPY", "IWM", "HYG", "QQQ"))
    spy_cap, qqq_cap = spy @ w <= 0.3, qqq @ w <= 0.35
    ref = _solve(
        cp.Maximize(_utility(est, w)),
        [
            *_base(w),
            eq @ w >= 0.5,
            small @ w <= 0.4 * (eq @ w),
            (spy + iwm) @ w <= 0.7,
            hyg @ w <= 0.05,
            spy_cap,
            qqq_cap,
        ],
    )
    ref_duals = {"spy": spy_cap.dual_value, "qqq": qqq_cap.dual_value}
    np.testing.assert_allclose(_w(est, a), w.value, atol=W_TOL)
    assert _util_value(est, _w(est, a)) == pytest.approx(ref, rel=REL)
    assert a.metrics.small_cap_share <= 0.4 + 1e-7
    prices = {b.constraint: b.shadow_price for b in a.binding}
    assert prices["SPY <= 0.3"] == pytest.approx(float(ref_duals["spy"]), rel=1e-4)
    assert prices["QQQ <= 0.35"] == pytest.approx(float(ref_duals["qqq"]), rel=1e-4)
    assert "equity >= 0.5" not in prices  # slack at this risk aversion: no shadow price


def test_turnover_and_costs(est):
    w0 = np.array([0.4, 0.0, 0.0, 0.6, 0.0, 0.0, 0.0])
    current = dict(zip(est.tickers, w0, strict=True))
    policy = _policy(
        est, {"kind": "utility", "risk_aversion": GAMMA}, {"turnover": 0.3, "costs_bps": 25}
    )
    a = optimize(est, policy, current)
    w = cp.Variable(len(est.tickers))
    cost = 25e-4 * cp.norm1(w - w0)
    ref = _solve(cp.Maximize(_utility(est, w, cost)), [*_base(w), cp.norm1(w - w0) <= 0.3])
    np.testing.assert_allclose(_w(est, a), w.value, atol=W_TOL)
    assert _util_value(est, _w(est, a), 25e-4, w0) == pytest.approx(ref, rel=REL)
    assert a.metrics.turnover == pytest.approx(0.3, abs=1e-7)


def test_tracking_error_cap(est):
    bench = {"SPY": 0.6, "BND": 0.4}
    policy = _policy(
        est,
        {"kind": "utility", "risk_aversion": 1.0},
        {"tracking_error": {"benchmark": bench, "max": 0.02}},
    )
    a = optimize(est, policy)
    wb = np.array([bench.get(t, 0.0) for t in est.tickers])
    w = cp.Variable(len(est.tickers))
    te = 0.02 * np.sqrt(est.horizon_years)
    obj = est.mu @ w - 0.5 * cp.quad_form(w, est.Sigma, assume_PSD=True)
    _solve(cp.Maximize(obj), [*_base(w), cp.quad_form(w - wb, est.Sigma, assume_PSD=True) <= te**2])
    np.testing.assert_allclose(_w(est, a), w.value, atol=W_TOL)
    d = _w(est, a) - wb
    assert np.sqrt(d @ est.Sigma @ d) == pytest.approx(te, rel=1e-6)


def test_volatility_cap_with_max_sharpe_and_groups(est):
    policy = _policy(
        est, {"kind": "max_sharpe"}, {"max_volatility": 0.05, "groups": ["bonds >= 0.3"]}
    )
    a = optimize(est, policy)
    # reference: Sharpe is scale-free; maximise it by bisection-free Charnes-Cooper in cvxpy
    y, k = cp.Variable(len(est.tickers)), cp.Variable(nonneg=True)
    cap = 0.05 * np.sqrt(est.horizon_years)
    bonds = _ind(est, "bonds")
    _solve(
        cp.Minimize(cp.quad_form(y, est.Sigma, assume_PSD=True)),
        [
            (est.mu - est.risk_free) @ y == 1,
            cp.sum(y) == k,
            y >= 0,
            bonds @ y >= 0.3 * k,
            cp.norm2(np.linalg.cholesky(est.Sigma).T @ y) <= cap * k,
        ],
    )
    w_ref = y.value / k.value
    np.testing.assert_allclose(_w(est, a), w_ref, atol=W_TOL)
    assert a.annual_volatility <= 0.05 + 1e-7


def test_cvar_cap(est):
    policy = _policy(
        est, {"kind": "utility", "risk_aversion": 0.5}, {"max_cvar": 0.06, "cvar_level": 0.9}
    )
    a = optimize(est, policy)
    R = est.samples
    w, alpha = cp.Variable(len(est.tickers)), cp.Variable()
    cvar = alpha + cp.sum(cp.pos(-R @ w - alpha)) / (0.1 * len(R))
    obj = est.mu @ w - 0.25 * cp.quad_form(w, est.Sigma, assume_PSD=True)
    ref = _solve(cp.Maximize(obj), [*_base(w), cvar <= 0.06])
    wa = _w(est, a)
    np.testing.assert_allclose(wa, w.value, atol=W_TOL)
    assert est.mu @ wa - 0.25 * wa @ est.Sigma @ wa == pytest.approx(ref, rel=REL)
    assert a.metrics.cvar == pytest.approx(0.06, rel=1e-6)
    assert a.metrics.cvar_level == 0.9


def test_scenario_loss_caps(est):
    policy = _policy(
        est,
        {"kind": "utility", "risk_aversion": 0.5},
        {"scenario_loss": ["tariff-shock loss <= 3%", "yield-spike loss <= 2%"]},
    )
    a = optimize(est, policy)
    m = {s.id: s.mu for s in est.scenarios}
    w = cp.Variable(len(est.tickers))
    obj = est.mu @ w - 0.25 * cp.quad_form(w, est.Sigma, assume_PSD=True)
    _solve(
        cp.Maximize(obj), [*_base(w), m["tariff-shock"] @ w >= -0.03, m["yield-spike"] @ w >= -0.02]
    )
    np.testing.assert_allclose(_w(est, a), w.value, atol=W_TOL)
    assert a.metrics.scenario_returns["tariff-shock"] >= -0.03 - 1e-7
    assert a.metrics.scenario_returns["yield-spike"] >= -0.02 - 1e-7
    assert any(b.constraint.startswith("tariff-shock") for b in a.binding)


def test_robust_worst_case_and_min_regret(est):
    m = np.array([s.mu for s in est.scenarios])
    groups = ["equity <= 0.8"]
    a = optimize(est, _policy(est, {"kind": "robust"}, {"groups": groups}))
    eq = _ind(est, "equity")
    w, t = cp.Variable(len(est.tickers)), cp.Variable()
    ref = _solve(cp.Maximize(t), [*_base(w), eq @ w <= 0.8, t <= m @ w])
    assert (m @ _w(est, a)).min() == pytest.approx(ref, rel=REL)

    b = optimize(est, _policy(est, {"kind": "min_regret"}, {"groups": groups}))
    best = []
    for row in m:
        v = cp.Variable(len(est.tickers))
        best.append(_solve(cp.Maximize(row @ v), [*_base(v), eq @ v <= 0.8]))
    ref_regret = _solve(cp.Minimize(t), [*_base(w), eq @ w <= 0.8, t >= np.array(best) - m @ w])
    assert (np.array(best) - m @ _w(est, b)).max() == pytest.approx(ref_regret, rel=REL, abs=1e-9)


def test_target_return_with_groups(est):
    policy = _policy(
        est, {"kind": "target_return", "target_return": 0.06}, {"groups": ["small_cap <= 0.1"]}
    )
    a = optimize(est, policy)
    w = cp.Variable(len(est.tickers))
    target = 0.06 * est.horizon_years
    ref = _solve(
        cp.Minimize(cp.quad_form(w, est.Sigma, assume_PSD=True)),
        [*_base(w), est.mu @ w >= target, _ind(est, "small_cap") @ w <= 0.1],
    )
    wa = _w(est, a)
    np.testing.assert_allclose(wa, w.value, atol=W_TOL)
    assert wa @ est.Sigma @ wa == pytest.approx(ref, rel=REL)
    assert a.annual_return == pytest.approx(0.06, rel=1e-6)


@pytest.mark.parametrize(
    ("group", "loosened"),
    [("bonds >= 0.3", "bonds >= 0.2999"), ("equity <= 0.4", "equity <= 0.4001")],
)
def test_max_sharpe_shadow_prices_are_annual_sharpe_per_unit(est, group, loosened):
    """A max-Sharpe shadow price is the annual Sharpe ratio gained per unit the constraint
    is loosened: checked against re-solving with the constraint moved by 1e-4."""
    a = optimize(est, _policy(est, {"kind": "max_sharpe"}, {"groups": [group]}))
    b = optimize(est, _policy(est, {"kind": "max_sharpe"}, {"groups": [loosened]}))
    prices = {x.constraint: x.shadow_price for x in a.binding}
    assert group in prices, prices  # it binds, or the test says nothing
    gained = (b.annual_sharpe - a.annual_sharpe) / 1e-4
    assert gained > 0
    assert prices[group] == pytest.approx(gained, rel=2e-3)
