"""From cash only, the planner against PyPortfolioOpt's DiscreteAllocation.

Closeness is DiscreteAllocation's own measure (what ``lp_portfolio`` minimises): the L1
distance in money between target and held values, plus the leftover cash,
``sum_i |w_i V - p_i x_i| + leftover``, divided by V. With bands, costs, minimums and the
drift priority switched off, the planner minimises the same quantity exactly, so it must
be at least as close as both ``lp_portfolio()`` and ``greedy_portfolio()``, to within
the planner's stated optimality gap (one cent plus 1e-6 relative, when HiGHS decides; 1e-9
otherwise), divided by the account value. Cases: the documented workflow (max-Sharpe weights from
EfficientFrontier, then DiscreteAllocation at 10,000 and 80,000) on real ETF prices, and
generated weights and prices.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.rebalance import Account, RebalanceRules, plan
from optimizer.rebalance.milp import MIP_ABS_GAP, MIP_ABS_GAP_OF_VALUE, MIP_REL_GAP

RULES = RebalanceRules(band_abs=0.0, band_rel=None, drift_priority=0.0)
AS_OF = dt.date(2026, 2, 23)
ETFS = ("SPY", "IWM", "QQQ", "TLT", "BND", "LQD", "HYG")


def distance(weights, prices, value, shares):
    """DiscreteAllocation's lp objective, as a fraction of the account value."""
    held = sum(shares.get(t, 0) * prices[t] for t in weights)
    leftover = value - held
    assert leftover >= -1e-6
    return (
        sum(abs(w * value - shares.get(t, 0) * prices[t]) for t, w in weights.items()) + leftover
    ) / value


def ours(weights, prices, value):
    result = plan(Account("E", value), {**weights, "CASH": 0.0}, prices, RULES, as_of=AS_OF)
    assert result.cash_after >= -1e-9
    return {t.ticker: t.shares for t in result.trades}


def theirs(weights, prices, value):
    from pypfopt.discrete_allocation import DiscreteAllocation

    series = pd.Series(prices)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lp, _ = DiscreteAllocation(weights, series, total_portfolio_value=value).lp_portfolio(
            solver="HIGHS"
        )
        greedy, _ = DiscreteAllocation(
            weights, series, total_portfolio_value=value
        ).greedy_portfolio()
    return lp, greedy


def compare(weights, prices, value):
    d_ours = distance(weights, prices, value, ours(weights, prices, value))
    gap = (max(MIP_ABS_GAP, MIP_ABS_GAP_OF_VALUE * value) + MIP_REL_GAP * d_ours * value) / value
    gap += 1e-9
    lp, greedy = theirs(weights, prices, value)
    d_lp = distance(weights, prices, value, lp)
    d_greedy = distance(weights, prices, value, greedy)
    assert d_ours <= d_lp + gap, (d_ours, d_lp)
    assert d_ours <= d_greedy + gap, (d_ours, d_greedy)
    return d_ours, d_lp, d_greedy


@pytest.fixture(scope="module")
def etf_case(shared_data):
    from pypfopt import EfficientFrontier, expected_returns, risk_models

    closes = {}
    for t in ETFS:
        frame = pd.read_csv(shared_data / "yahoo" / f"{t}.csv", parse_dates=["Date"])
        closes[t] = frame.set_index("Date")["Close"]
    df = pd.DataFrame(closes).dropna()
    df = df[df.index >= df.index[-1] - pd.Timedelta(days=3 * 365)]
    ef = EfficientFrontier(expected_returns.mean_historical_return(df), risk_models.sample_cov(df))
    ef.max_sharpe(risk_free_rate=0.0)
    weights = {t: w for t, w in ef.clean_weights().items() if w > 0}
    prices = {t: float(df[t].iloc[-1]) for t in weights}
    return weights, prices


@pytest.mark.parametrize("value", [10_000.0, 80_000.0, 1_234.5])
def test_documented_workflow_on_real_etf_prices(etf_case, value):
    weights, prices = etf_case
    assert abs(sum(weights.values()) - 1) < 1e-6
    weights = {t: w / sum(weights.values()) for t, w in weights.items()}
    compare(weights, prices, value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 8),
    seed=st.integers(0, 2**32 - 1),
    value=st.floats(500.0, 250_000.0),
)
def test_generated_cases(n, seed, value):
    rng = np.random.default_rng(seed)
    tickers = [f"T{i}" for i in range(n)]
    w = rng.dirichlet(np.full(n, 0.8))
    weights = {t: float(x) for t, x in zip(tickers, w, strict=True)}
    weights[tickers[-1]] = 1.0 - sum(weights[t] for t in tickers[:-1])
    prices = {t: float(np.round(rng.lognormal(np.log(80), 1.0), 2)) + 0.01 for t in tickers}
    compare(weights, prices, round(value, 2))
