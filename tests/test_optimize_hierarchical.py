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
