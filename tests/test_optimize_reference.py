"""Max Sharpe, min variance, efficient risk and min CVaR against PyPortfolioOpt and
Riskfolio-Lib on the same real inputs (7 ETFs, 2015-2022 daily returns from ../shared/data).

Tolerances: weights within 1e-4 (absolute), objectives within 1e-6 (relative); the peers
are run with Clarabel at tight tolerances.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from optimizer.optimize import Inputs, Optimizer, Policy, optimize
from tests.optimize_support import daily_returns, estimate_from_returns

W_TOL = 1e-4
OBJ_TOL = 1e-6
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


@pytest.fixture(scope="module", params=["real-etfs", "bundled-sample"])
def est(request):
    """Daily ETF returns from ../shared/data (skipped when absent), and the bundled monthly
    sample, which every checkout has, so the comparisons always run."""
    if request.param == "real-etfs":
        return estimate_from_returns(daily_returns(request.getfixturevalue("shared_data")))
    import datetime as dt

    from optimizer.data import get_provider, returns

    tickers = ["LARGE", "MID", "SMALL", "BOND"]  # see docs/optimizer.md on near-riskless assets
    prices = get_provider("sample").prices(tickers, dt.date(1987, 1, 1)).frame
    return estimate_from_returns(returns(prices, "monthly"), scale=3.0)


def _pf_ef(est, bounds=(0, 1)):
    from pypfopt import EfficientFrontier

    return EfficientFrontier(
        pd.Series(est.mu, index=est.tickers),
        pd.DataFrame(est.Sigma, index=est.tickers, columns=est.tickers),
        weight_bounds=bounds,
        solver="CLARABEL",
        solver_options=TIGHT,
    )


def _rp_port(est, returns=None):
    import riskfolio as rp

    rets = pd.DataFrame(est.samples if returns is None else returns, columns=list(est.tickers))
    port = rp.Portfolio(returns=rets)
    port.mu = pd.DataFrame([est.mu], columns=list(est.tickers))
    port.cov = pd.DataFrame(est.Sigma, index=list(est.tickers), columns=list(est.tickers))
    port.solvers = ["CLARABEL"]
    port.sol_params = {"CLARABEL": TIGHT}
    return port


def _ours(est, kind, **objective):
    policy = Policy.simple(est.tickers, objective={"kind": kind, **objective})
    a = optimize(est, policy)
    return np.array([a.weights[t] for t in est.tickers]), a


def _sharpe(est, w):
    return (est.mu @ w - est.risk_free) / np.sqrt(w @ est.Sigma @ w)


def test_max_sharpe_matches_pypfopt_and_riskfolio(est):
    w, a = _ours(est, "max_sharpe")
    ef = _pf_ef(est)
    ef.max_sharpe(risk_free_rate=est.risk_free)
    w_pf = np.array([ef.weights[i] for i in range(len(est.tickers))])
    port = _rp_port(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w_rp = (
            port.optimization(model="Classic", rm="MV", obj="Sharpe", rf=est.risk_free, hist=False)
            .to_numpy()
            .ravel()
        )
    np.testing.assert_allclose(w, w_pf, atol=W_TOL)
    np.testing.assert_allclose(w, w_rp, atol=W_TOL)
    assert _sharpe(est, w) == pytest.approx(_sharpe(est, w_pf), rel=OBJ_TOL)
    assert _sharpe(est, w) >= _sharpe(est, w_rp) * (1 - OBJ_TOL)
    assert a.metrics.sharpe == pytest.approx(_sharpe(est, w), rel=1e-12)


def test_min_variance_matches_pypfopt_and_riskfolio(est):
    w, a = _ours(est, "min_variance")
    ef = _pf_ef(est)
    ef.min_volatility()
    w_pf = np.array([ef.weights[i] for i in range(len(est.tickers))])
    port = _rp_port(est)
    w_rp = port.optimization(model="Classic", rm="MV", obj="MinRisk", hist=False)
    w_rp = w_rp.to_numpy().ravel()
    np.testing.assert_allclose(w, w_pf, atol=W_TOL)
    np.testing.assert_allclose(w, w_rp, atol=W_TOL)
    var = w @ est.Sigma @ w
    assert var == pytest.approx(w_pf @ est.Sigma @ w_pf, rel=OBJ_TOL)
    assert var == pytest.approx(w_rp @ est.Sigma @ w_rp, rel=OBJ_TOL)
    assert a.metrics.volatility == pytest.approx(np.sqrt(var), rel=1e-12)


def test_efficient_risk_matches_pypfopt_and_riskfolio(est):
    annual_vol = 0.08
    w, a = _ours(est, "target_volatility", target_volatility=annual_vol)
    horizon_vol = annual_vol * np.sqrt(est.horizon_years)
    ef = _pf_ef(est)
    ef.efficient_risk(horizon_vol)
    w_pf = np.array([ef.weights[i] for i in range(len(est.tickers))])
    port = _rp_port(est)
    port.upperdev = horizon_vol
    w_rp = port.optimization(model="Classic", rm="MV", obj="MaxRet", hist=False)
    w_rp = w_rp.to_numpy().ravel()
    np.testing.assert_allclose(w, w_pf, atol=W_TOL)
    np.testing.assert_allclose(w, w_rp, atol=W_TOL)
    assert est.mu @ w == pytest.approx(est.mu @ w_pf, rel=OBJ_TOL)
    assert a.annual_volatility == pytest.approx(annual_vol, rel=1e-6)


def test_min_cvar_matches_pypfopt_and_riskfolio(est):
    w, a = _ours(est, "min_cvar", cvar_level=0.95)
    from pypfopt import EfficientCVaR

    ec = EfficientCVaR(
        pd.Series(est.mu, index=est.tickers),
        pd.DataFrame(est.samples, columns=est.tickers),
        beta=0.95,
        solver="CLARABEL",
        solver_options=TIGHT,
    )
    ec.min_cvar()
    w_pf = np.array([ec.weights[i] for i in range(len(est.tickers))])
    port = _rp_port(est)
    w_rp = port.optimization(model="Classic", rm="CVaR", obj="MinRisk", hist=True)
    w_rp = w_rp.to_numpy().ravel()
    ours, theirs = _cvar(est.samples @ w, 0.95), _cvar(est.samples @ w_pf, 0.95)
    assert ours == pytest.approx(theirs, rel=OBJ_TOL)
    assert ours == pytest.approx(_cvar(est.samples @ w_rp, 0.95), rel=OBJ_TOL)
    np.testing.assert_allclose(w, w_pf, atol=W_TOL)
    np.testing.assert_allclose(w, w_rp, atol=W_TOL)
    assert a.metrics.cvar == pytest.approx(ours, rel=1e-12)
    assert a.solver == "HIGHS"


def test_compiled_problem_resolves_per_account_like_fresh_builds(est):
    """One build, many accounts: each re-solve equals a fresh one-call optimize."""
    policy = Policy.simple(
        est.tickers,
        objective={"kind": "utility", "risk_aversion": 4.0},
        constraints={"turnover": 0.6, "costs_bps": 15},
    )
    built = Optimizer(policy).build(est)
    rng = np.random.default_rng(3)
    for _ in range(3):
        w0 = rng.dirichlet(np.ones(len(est.tickers)))
        current = dict(zip(est.tickers, w0, strict=True))
        a = built.solve(Inputs(est, current))
        b = optimize(est, policy, current)
        np.testing.assert_allclose(list(a.weights.values()), list(b.weights.values()), atol=1e-7)
        assert a.metrics.turnover <= 0.6 + 1e-7


def _cvar(returns: np.ndarray, level: float) -> float:
    """Sample CVaR of the loss, written out here (mean of the worst (1 - level) tail, with
    the fractional tail observation weighted), independent of the product's cvar_of."""
    losses = np.sort(-np.asarray(returns))[::-1]
    tail = (1 - level) * len(losses)
    k = int(np.floor(tail))
    total = losses[:k].sum() + (tail - k) * (losses[k] if k < len(losses) else 0.0)
    return float(total / tail)
