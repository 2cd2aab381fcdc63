"""Risk parity and HRP through Riskfolio-Lib: checked against the defining property and
against PyPortfolioOpt's HRP on the same covariance (real ETF moments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import ConfigError
from optimizer.optimize import Policy, optimize
from tests.optimize_support import daily_returns, estimate_from_returns


@pytest.fixture(scope="module")
def est(shared_data):
    return estimate_from_returns(daily_returns(shared_data))


def test_risk_parity_equalises_risk_contributions(est):
    a = optimize(est, Policy.simple(est.tickers, objective={"kind": "risk_parity"}))
    w = np.array([a.weights[t] for t in est.tickers])
    rc = w * (est.Sigma @ w)
    assert w.sum() == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(rc / rc.sum(), 1 / len(w), rtol=1e-3)
    assert a.solver == "riskfolio:risk_parity"


def test_risk_parity_keeps_per_ticker_bounds_as_the_convex_program_does(est):
    """Risk parity with bounds: Spinu's convex form, min x'Sx subject to mean log x >= 1
    and each bound on x / sum(x), solved here in plain cvxpy; the bounds bind."""
    import cvxpy as cp

    tickers = est.tickers
    free = optimize(est, Policy.simple(tickers, objective={"kind": "risk_parity"}))
    big = max(tickers, key=lambda t: free.weights[t])
    small = min(tickers, key=lambda t: free.weights[t])
    cap, floor = free.weights[big] - 0.05, free.weights[small] + 0.05
    policy = Policy.simple(
        tickers,
        objective={"kind": "risk_parity"},
        assets={big: {"max": cap}, small: {"min": floor}},
    )
    a = optimize(est, policy)
    w = np.array([a.weights[t] for t in tickers])
    lo = np.array([floor if t == small else 0.0 for t in tickers])
    hi = np.array([cap if t == big else 1.0 for t in tickers])
    x = cp.Variable(len(tickers))
    k = cp.sum(x)
    spinu = [cp.sum(cp.log(x)) / len(tickers) >= 1, x <= hi * k, x >= lo * k]
    cp.Problem(cp.Minimize(cp.quad_form(x, est.Sigma)), spinu).solve()
    np.testing.assert_allclose(w, x.value / x.value.sum(), atol=1e-5)
    assert a.weights[big] == pytest.approx(cap, abs=1e-6)
    assert a.weights[small] == pytest.approx(floor, abs=1e-6)


def test_hrp_matches_pypfopt_on_the_same_covariance(est):
    from pypfopt import HRPOpt

    a = optimize(est, Policy.simple(est.tickers, objective={"kind": "hrp"}))
    cov = pd.DataFrame(est.Sigma, index=est.tickers, columns=est.tickers)
    ref = HRPOpt(cov_matrix=cov).optimize(linkage_method="single")
    np.testing.assert_allclose(
        [a.weights[t] for t in est.tickers], [ref[t] for t in est.tickers], atol=1e-8
    )


def test_risk_parity_refuses_other_constraints(est):
    policy = Policy.simple(
        est.tickers, objective={"kind": "hrp"}, constraints={"groups": ["SPY <= 0.2"]}
    )
    with pytest.raises(ConfigError, match="takes per-ticker bounds only") as info:
        optimize(est, policy)
    assert "constraints.groups" in str(info.value)
