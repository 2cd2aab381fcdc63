"""Returns: against pandas/numpy written out here, skfolio and PyPortfolioOpt, and
properties over generated price paths (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.data import get_provider
from optimizer.data.period_returns import returns
from optimizer.errors import DataError


@pytest.fixture(scope="module")
def spy_iwm(shared_data):
    return get_provider(f"csv:{shared_data / 'yahoo'}").prices(["SPY", "IWM"]).frame


def test_daily_simple_and_log_match_skfolio(spy_iwm):
    from skfolio.preprocessing import prices_to_returns

    simple = returns(spy_iwm, "daily", "simple")
    np.testing.assert_allclose(simple, prices_to_returns(spy_iwm), rtol=1e-12, atol=1e-15)
    log = returns(spy_iwm, "daily", "log")
    ref = prices_to_returns(spy_iwm, log_returns=True)
    np.testing.assert_allclose(log, ref, rtol=1e-12, atol=1e-15)


def test_weekly_and_monthly_sample_the_last_observation(spy_iwm):
    for freq, rule in (("weekly", "W-FRI"), ("monthly", "ME")):
        got = returns(spy_iwm, freq)
        last = spy_iwm.resample(rule).last().dropna()
        np.testing.assert_allclose(got, (last / last.shift(1) - 1).iloc[1:], rtol=1e-12)
        period = "W-FRI" if freq == "weekly" else "M"
        true_last = spy_iwm.index.to_series().groupby(spy_iwm.index.to_period(period)).max()
        assert list(got.index) == list(true_last.iloc[1:])


def test_sample_is_monthly_and_refuses_finer_returns():
    frame = get_provider("sample").prices(["LARGE", "SMALL"]).frame
    r = returns(frame, "monthly")
    np.testing.assert_allclose(r, frame.pct_change().iloc[1:], rtol=1e-12)
    with pytest.raises(DataError, match="the data is monthly"):
        returns(frame, "daily")
    with pytest.raises(DataError, match="known: simple, log"):
        returns(frame, "monthly", "arith")
    with pytest.raises(DataError, match="known: daily, weekly, monthly"):
        returns(frame, "yearly")


def test_annualised_geometric_return_matches_pypfopt(spy_iwm):
    from pypfopt.expected_returns import mean_historical_return

    from optimizer.data.frequency import Frequency
    from optimizer.data.summary import price_stats

    stats = price_stats(spy_iwm, Frequency.DAILY)
    ref = mean_historical_return(spy_iwm, frequency=252)
    for t in ("SPY", "IWM"):
        assert stats[t]["annual_return"] == pytest.approx(ref[t], rel=1e-9)
        vol = spy_iwm[t].pct_change().std() * np.sqrt(252)
        assert stats[t]["annual_volatility"] == pytest.approx(vol, rel=1e-12)


prices_paths = st.lists(
    st.floats(min_value=-0.2, max_value=0.2, allow_nan=False), min_size=30, max_size=120
)


@settings(max_examples=40, deadline=None)
@given(steps=prices_paths, start=st.dates(min_value=pd.Timestamp("2000-01-01").date()))
def test_compounding_recovers_price_ratios(steps, start):
    days = pd.bdate_range(start, periods=len(steps) + 1, name="date")
    path = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    frame = pd.DataFrame({"A": path, "B": path[::-1]}, index=days)
    for freq, code in (("daily", "D"), ("weekly", "W-FRI"), ("monthly", "M")):
        simple, log = returns(frame, freq, "simple"), returns(frame, freq, "log")
        np.testing.assert_allclose(np.log1p(simple), log, atol=1e-12)
        if len(simple):
            period_start = simple.index[0].to_period(code).start_time
            first = frame[frame.index < period_start].iloc[-1]  # last price of the period before
            ratio = frame.loc[simple.index[-1]] / first
            np.testing.assert_allclose((1 + simple).prod(), ratio, rtol=1e-9)
            np.testing.assert_allclose(log.sum(), np.log(ratio), atol=1e-9)
