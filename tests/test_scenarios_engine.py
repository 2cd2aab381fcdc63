"""Scenario engine on the real data in ../shared/data: monotonicity, regimes, replay, levels."""

from __future__ import annotations

import datetime as dt
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.factors import HistoryWindow
from optimizer.scenario.estimator import EngineOptions
from optimizer.scenarios import (
    EstimationConfig,
    ScenarioEngine,
    ScenarioLibrary,
    is_psd,
    load_history,
)

TICKERS = ["SPY", "IWM", "QQQ", "TLT", "LQD", "HYG"]


@pytest.fixture(scope="module")
def source(shared_data):
    return f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"


@pytest.fixture(scope="module")
def engine(source):
    data = SimpleNamespace(source=source, start=dt.date(2005, 1, 1), end=None)
    history = load_history(get_provider(source), data, EstimationConfig(), TICKERS)
    return ScenarioEngine(history).fit()


@pytest.fixture(scope="module")
def library():
    return ScenarioLibrary.with_extra()


def _with(scenario, **changes):
    """A validated copy of a scenario with some keys changed."""
    return type(scenario).model_validate({**scenario.model_dump(), **changes})


def _level(scenario, level):
    shock = {**scenario.shocks[0].model_dump(), "level": level}
    return _with(scenario, shocks=[shock])


def _daily_weighted_beta(history):
    """Beta of each asset's daily log return to SPY's, every day weighted by 0.5 ** (age of
    its month / 36 months): the engine's default estimator, computed here with plain numpy."""
    series = [*TICKERS, *(t for spec in history.specs.values() for t in spec.tickers())]
    daily = history.daily[list(dict.fromkeys(series))].dropna()
    logs = np.log(daily[TICKERS]).diff().iloc[1:]
    logs = logs[(logs.index > history.levels.index[0]) & (logs.index <= history.levels.index[-1])]
    months = logs.index.to_period("M")
    age = np.array([(months[-1] - m).n for m in months], dtype=float)
    w = 0.5 ** (age / 36)
    x = logs["SPY"].to_numpy() - np.average(logs["SPY"], weights=w)
    out = []
    for t in TICKERS:
        y = logs[t].to_numpy() - np.average(logs[t], weights=w)
        out.append((w * x * y).sum() / (w * x * x).sum())
    return np.array(out)


@pytest.mark.parametrize("regime", ["calm", "stressed"])
def test_deeper_sp500_drop_lowers_every_positive_beta_asset(engine, library, regime):
    base = _with(library.get("sp500-correction-6200"), regime=regime)
    model = engine.model_
    S = model.covariance(base.regime)
    eq = model.factor_names_.index("equity")
    beta = model.exposures_ @ S[:, eq] / S[eq, eq]  # regime beta of each asset to equity
    if regime == "calm":  # month weights only: the weighted beta computed from the daily closes
        plain = ScenarioEngine(engine.history, options=EngineOptions(vol_halflife=None)).fit()
        S0 = plain.model_.covariance(base.regime)
        beta0 = plain.model_.exposures_ @ S0[:, eq] / S0[eq, eq]
        np.testing.assert_allclose(beta0, _daily_weighted_beta(engine.history), rtol=1e-8)
    levels = [6700, 6550, 6400, 6200, 6000, 5600]
    mus = np.array([engine.moments(_level(base, lv)).mu for lv in levels])
    assert (beta > 0).sum() >= 4  # SPY, IWM, QQQ, HYG at least
    for i, t in enumerate(TICKERS):
        steps = np.diff(mus[:, i])
        if beta[i] > 0:
            assert np.all(steps < 0), t
        else:
            assert np.all(steps > 0), t


def test_shipped_scenarios_on_real_data(engine, library):
    for scenario in library.all():
        m = engine.moments(scenario)
        assert is_psd(m.Sigma) and np.all(np.isfinite(m.mu)), scenario.id
        assert m.history and m.plausibility


def test_sp500_correction_carries_its_dated_reference_to_the_as_of_date(
    shared_data, engine, library
):
    # no S&P 500 level in the data: the reference (6,800 on 2025-12-12) moves with SPY's
    # closes from that day to the data's last day, read here from the file itself
    m = engine.moments(library.get("sp500-correction-6200"))
    spy = pd.read_csv(shared_data / "yahoo" / "SPY.csv", parse_dates=["Date"]).set_index("Date")
    last = engine.history.levels.index[-1]
    close = spy["Close"].loc[:last]
    growth = close.iloc[-1] / close.loc[:"2025-12-12"].iloc[-1]
    assert abs(growth - 1) > 1e-3  # SPY moved: the carried level is not the reference
    spot = m.details["shocks"][0]["spot"]
    assert spot["level"] == pytest.approx(6800 * growth, rel=1e-12)
    assert spot["date"] == close.index[-1].date() and "carried" in spot["source"]
    assert m.factor_moves["equity"] == pytest.approx(6200 / (6800 * growth) - 1, abs=1e-12)
    i_spy, i_iwm = TICKERS.index("SPY"), TICKERS.index("IWM")
    assert m.mu[i_iwm] < m.mu[i_spy] < 0


def test_a_reference_dated_after_the_data_applies_its_move_and_says_so(source, library):
    # as of 2024-06-28 the 2025 reference is in the future: no carrying it (that would need
    # the future), the stated move from the reference (-8.8 %) applies, and the spot says so
    data = SimpleNamespace(source=source, start=dt.date(2005, 1, 1), end=dt.date(2024, 6, 28))
    history = load_history(get_provider(source), data, EstimationConfig(), TICKERS)
    m = ScenarioEngine(history).fit().moments(library.get("sp500-correction-6200"))
    spot = m.details["shocks"][0]["spot"]
    assert spot["level"] == 6800 and spot["date"] == dt.date(2025, 12, 12)
    assert "dated after the data's last day 2024-06-28" in spot["source"]
    assert m.factor_moves["equity"] == pytest.approx(6200 / 6800 - 1, abs=1e-12)


def test_level_target_uses_spot_from_the_data(shared_data, tmp_path, library):
    # a source that has an index level: an ^GSPC file (here SPY's closes times ten)
    folder = tmp_path / "prices"
    folder.mkdir()
    for t in ("SPY", "IWM", "^TNX"):
        shutil.copy(shared_data / "yahoo" / f"{t}.csv", folder / f"{t}.csv")
    spy = pd.read_csv(shared_data / "yahoo" / "SPY.csv")
    spy["Close"] = spy["Close"] * 10
    spy.to_csv(folder / "^GSPC.csv", index=False)
    source = f"csv:{folder}"
    data = SimpleNamespace(source=source, start=dt.date(2015, 1, 1), end=None)
    history = load_history(get_provider(source), data, EstimationConfig(), ["SPY", "IWM"])
    spot = history.index_levels["SP500"]
    # the spot is taken on the as-of date (^TNX's last, 2026-02-13), not SPY's later last day
    as_of = history.provenance.as_of.isoformat()
    assert as_of == pd.read_csv(folder / "^TNX.csv")["Date"].iloc[-1]
    on_as_of = spy[spy["Date"] <= as_of].iloc[-1]
    assert spot.level == pytest.approx(on_as_of["Close"])
    assert spot.date.isoformat() == on_as_of["Date"]
    m = ScenarioEngine(history).fit().moments(library.get("sp500-correction-6200"))
    assert m.factor_moves["equity"] == pytest.approx(6200 / spot.level - 1, abs=1e-12)


def test_regime_pinning_changes_the_sign_of_the_stock_yield_link(engine, library):
    """From 2005 to 2021 stocks rose with yields; since 2022 they fall with them."""
    spike = library.get("yield-spike")
    assert spike.history is not None and spike.history.start == dt.date(2022, 1, 1)
    base_monthly = HistoryWindow(frequency="monthly")
    moves = {}
    for name, window in {
        "before": HistoryWindow(start=dt.date(2005, 1, 1), end=dt.date(2021, 12, 31)),
        "after": spike.history,
    }.items():
        window = window.model_copy(update={"frequency": base_monthly.frequency})
        shocked = engine.moments(_with(spike, history=window))
        calm = engine.moments(_with(library.get("baseline"), history=window))
        moves[name] = shocked.factor_moves["equity"] - calm.factor_moves["equity"]
    assert moves["before"] > 0 > moves["after"]
    m = engine.moments(spike)
    assert m.history.startswith("2022-01") and "pinned" in m.history


def test_a_pinned_frequency_is_a_fit_of_its_own(source, engine, library):
    # the fits were cached by window dates alone: a monthly pin after a weekly one on the
    # same dates re-used the weekly regression (and the other way round)
    spike = library.get("yield-spike")
    weekly, monthly = (
        _with(spike, history={**spike.history.model_dump(), "frequency": f})
        for f in ("weekly", "monthly")
    )
    first_weekly = engine.moments(weekly)
    shared = engine.moments(monthly)
    data = SimpleNamespace(source=source, start=dt.date(2005, 1, 1), end=None)
    history = load_history(get_provider(source), data, EstimationConfig(), TICKERS)
    alone = ScenarioEngine(history).fit().moments(monthly)
    np.testing.assert_allclose(shared.mu, alone.mu, rtol=1e-12)
    np.testing.assert_allclose(shared.Sigma, alone.Sigma, rtol=1e-12)
    assert "monthly" in shared.history and "weekly" in first_weekly.history
    assert np.max(np.abs(shared.mu - first_weekly.mu)) > 1e-4


def test_a_pinned_window_counts_the_historys_periods_not_days(engine, library):
    # a pinned window of 3.5 months on daily data held 75 daily returns, above the 24
    # "periods" asked, and a 100 bp spike read as 1 in 31,000 from them
    from optimizer.errors import ScenarioError

    spike = library.get("yield-spike")
    short = _with(spike, history={"start": dt.date(2025, 11, 1)})
    with pytest.raises(ScenarioError) as err:
        engine.moments(short)
    assert "weekly periods; need at least 24" in err.value.render()
    longer = _with(spike, history={"start": dt.date(2025, 6, 1)})  # 37 weeks
    assert engine.moments(longer).plausibility


def test_yield_spike_as_shipped(engine, library):
    m = engine.moments(library.get("yield-spike"))
    mu = dict(zip(TICKERS, m.mu, strict=True))
    assert mu["IWM"] < mu["SPY"] < 0
    assert -0.20 <= mu["TLT"] <= -0.13  # roughly a long-bond duration times +100 bp
    assert m.factor_moves["long_rate"] == pytest.approx(0.01)


def test_replay_uses_realised_moves(shared_data, engine, library):
    m = engine.moments(library.get("rate-shock-2022"))
    spy = pd.read_csv(shared_data / "yahoo" / "SPY.csv", index_col="Date", parse_dates=True)
    # ^TNX ends 2026-02-13, before the ETFs (2026-02-23): FRED's DGS10 is the fresher proxy
    assert engine.history.specs["long_rate"].series == "DGS10"
    tnx = pd.read_csv(shared_data / "fred" / "DGS10.csv", index_col=0, parse_dates=True)
    tnx = tnx.rename(columns={"DGS10": "Close"}).dropna()
    spy_ret = spy.Close.loc["2022-10-14"] / spy.Close.loc[:"2021-12-31"].iloc[-1] - 1
    tnx_move = (tnx.Close.loc[:"2022-10-14"].iloc[-1] - tnx.Close.loc[:"2021-12-31"].iloc[-1]) / 100
    # the move from the last close before the window to the last close in it
    assert m.factor_moves["equity"] == pytest.approx(spy_ret, abs=1e-9)
    assert m.factor_moves["long_rate"] == pytest.approx(tnx_move, abs=1e-9)
    assert m.details["horizon"] == "2022-01-03..2022-10-14"
    assert m.plausibility.startswith(("rare", "extreme"))


def test_short_replay_window_april_2025(shared_data, engine, library):
    m = engine.moments(library.get("tariff-replay-2025"))
    spy = pd.read_csv(shared_data / "yahoo" / "SPY.csv", index_col="Date", parse_dates=True)
    iwm = pd.read_csv(shared_data / "yahoo" / "IWM.csv", index_col="Date", parse_dates=True)

    def ret(frame):
        return frame.Close.loc[:"2025-04-08"].iloc[-1] / frame.Close.loc[:"2025-04-01"].iloc[-1] - 1

    assert m.factor_moves["equity"] == pytest.approx(ret(spy), abs=1e-9)
    assert m.factor_moves["size"] == pytest.approx(ret(iwm) - ret(spy), abs=1e-9)
    assert m.factor_moves["equity"] < -0.10  # the April 2025 sell-off


def test_replay_horizon_is_exactly_its_trading_days(shared_data, engine, library):
    """2025-04-02..2025-04-08 is five trading days (Wed, Thu, Fri, Mon, Tue) and seven
    calendar days: the move runs from the close of 1 April to the close of 8 April."""
    scenario = library.get("tariff-replay-2025")
    assert scenario.replay.years == pytest.approx(7 / 365.25)
    m = engine.moments(scenario)
    frames = [
        pd.read_csv(shared_data / "yahoo" / f"{t}.csv", index_col="Date", parse_dates=True)
        for t in ("SPY", "IWM", "TLT")
    ]
    days = frames[0].loc["2025-04-02":"2025-04-08"].index
    assert list(days.strftime("%m-%d")) == ["04-02", "04-03", "04-04", "04-07", "04-08"]
    assert all(days.isin(f.index).all() for f in frames)
    assert m.details["horizon_periods"] == len(days) == 5
    # the baseline drift of those five days, no more: no shock, a replay of the same window
    quiet = _with(scenario, replay={**scenario.replay.model_dump(), "factors": []})
    model = engine.model_
    growth = np.exp(model.intercept_ * 5 + model.exposures_ @ model.factor_mean_ * 5)
    # the mean's lognormal term takes the calm variance: the stressed regime of this
    # replay widens the spread only (docs/scenarios.md)
    cov = quiet_cov(model, 5, "calm")
    want = growth * np.exp(np.diag(cov) / 2) - 1
    moments = engine.moments(quiet)
    np.testing.assert_allclose(moments.mu, want, rtol=1e-9)
    wide = np.diag(quiet_cov(model, 5, scenario.regime))
    assert scenario.regime.value == "stressed" and np.all(wide > np.diag(cov))
    spread = np.log1p(np.diag(moments.Sigma) / (1 + moments.mu) ** 2)  # back to log variance
    np.testing.assert_allclose(spread, wide, rtol=1e-9)


def test_a_stress_widens_the_spread_and_leaves_the_expected_returns(engine, library):
    # a vol_multiplier of 2, or the stressed regime, made a fall smaller (TLT +0.97 % ->
    # +1.82 %, IWM -12.2 % -> -11.7 % in an equity fall): the lognormal mean's exp(s2/2)
    # took the widened variance
    base = _with(library.get("sp500-correction-6200"), regime="calm")
    doubled = _with(base, stress={**base.stress.model_dump(), "vol_multiplier": 2.0})
    stressed = _with(base, regime="stressed")
    m0, m2, ms = (engine.moments(s) for s in (base, doubled, stressed))
    np.testing.assert_allclose(m2.mu, m0.mu, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ms.mu, m0.mu, rtol=1e-12, atol=1e-15)
    assert np.all(np.diag(m2.Sigma) > 3.5 * np.diag(m0.Sigma))
    assert np.all(np.diag(ms.Sigma) > np.diag(m0.Sigma))


def quiet_cov(model, periods, regime):
    """Log-return covariance of the assets over ``periods`` with no factor fixed."""
    B, D = model.exposures_, model.residual_variance(regime)
    return (B @ model.covariance(regime) @ B.T + np.diag(D)) * periods


def test_mean_cash_rate_of_a_straight_line_path():
    from optimizer.scenario.engine import mean_cash_rate

    assert mean_cash_rate(0.04, -0.005, 0.0, 3, 0) == pytest.approx(0.0375, abs=1e-15)
    # 3 periods from 4 % to 3.5 %, then 9 more drifting up 10 bp: 3.55 % on average there
    expected = (3 * 0.0375 + 9 * (0.035 + 0.0005)) / 12
    assert mean_cash_rate(0.04, -0.005, 0.001, 3, 9) == pytest.approx(expected, abs=1e-15)
    assert mean_cash_rate(0.04, 0.01, 0.0, 0, 0) == 0.04
    # a 100 bp cut from 0.5 % stops at zero halfway: 0.25 % on average over the first half
    assert mean_cash_rate(0.005, -0.01, 0.0, 3, 0) == pytest.approx(0.00125, abs=1e-15)
    assert mean_cash_rate(0.005, -0.01, -0.001, 3, 3) == pytest.approx(0.000625, abs=1e-15)
    # today below zero (Europe, 2015-2022): that is the floor
    assert mean_cash_rate(-0.005, -0.002, 0.0, 3, 0) == pytest.approx(-0.005, abs=1e-15)
    assert mean_cash_rate(-0.005, 0.004, 0.0, 3, 0) == pytest.approx(-0.003, abs=1e-15)


def test_floating_cash_earns_the_mean_short_rate_on_the_scenarios_path():
    # the bundled sample's CASH is a T-bill total-return index and its short_rate factor
    # the one-month bill: Fed easing (-50 bp over 3 months) lowers what cash earns by half
    # the cut (down to zero), a scenario without a short-rate move by half the move the
    # model expects
    from optimizer.scenario.engine import cash_rate

    tickers = ["LARGE", "SMALL", "BOND", "CASH"]
    data = SimpleNamespace(source="sample", start=dt.date(1990, 1, 1), end=None)
    history = load_history(get_provider("sample"), data, EstimationConfig(), tickers)
    engine = ScenarioEngine(history).fit()
    assert engine.cash_floats_
    today = cash_rate(history)
    levels = history.levels["CASH"].dropna()  # the file's last month, compounded
    assert today == pytest.approx((levels.iloc[-1] / levels.iloc[-2]) ** 12 - 1, rel=1e-12)
    library = ScenarioLibrary.with_extra()
    fed = library.get("fed-easing")
    m = engine.moments(fed)
    assert m.factor_moves["short_rate"] == pytest.approx(-0.005, abs=1e-12)
    # the sample ends in 2017 at a 0.36 % bill rate: the cut's path stops at zero
    path = np.maximum(np.linspace(today, today - 0.005, 2_000_001), 0.0).mean()
    assert 0 < today < 0.005 and path > today - 0.0025
    assert m.details["cash_rate"] == pytest.approx(path, abs=1e-9)
    assert m.mu[3] == pytest.approx(
        (1 + m.details["cash_rate"]) ** fed.horizon_years - 1, rel=1e-12
    )
    tariff = library.get("tariff-shock")  # an equity fall: short rates move with it
    m = engine.moments(tariff)
    move = m.factor_moves["short_rate"]
    rate = np.maximum(np.linspace(today, today + move, 2_000_001), 0.0).mean()
    assert m.details["cash_rate"] == pytest.approx(rate, abs=1e-9)
    assert m.mu[3] == pytest.approx(
        (1 + m.details["cash_rate"]) ** tariff.horizon_years - 1, rel=1e-12
    )
    assert abs(m.factor_moves["short_rate"]) > 1e-6


def test_cash_at_a_fixed_rate_does_not_float(tmp_path):
    # a CASH column that accrues 3 % a year every day, rounded to 6 decimals as a file
    # would hold it: the same rate in every scenario, short-rate shocks or not
    from optimizer.scenario.engine import cash_floats

    days = pd.bdate_range("2015-01-01", "2020-12-31")
    years = (days - days[0]).days / 365.0
    history = SimpleNamespace(
        daily=pd.DataFrame({"CASH": np.round(100 * 1.03**years, 6)}, index=days),
        levels=None,
        provenance=None,
    )
    assert not cash_floats(history)
    # in cents (100.00, 100.25, ...), and monthly levels compounded a twelfth of 3 % a
    # month (February's 28 days earned as much as March's 31)
    history.daily = pd.DataFrame({"CASH": np.round(100 * 1.03**years, 2)}, index=days)
    assert not cash_floats(history)
    months = pd.date_range("2005-01-31", "2020-12-31", freq="ME")
    monthly = np.round(100 * 1.03 ** (np.arange(len(months)) / 12), 2)
    history.daily, history.levels = None, pd.DataFrame({"CASH": monthly}, index=months)
    assert not cash_floats(history)
    history.levels = pd.DataFrame({"CASH": 100 * 1.0035 ** np.arange(len(months))}, index=months)
    assert not cash_floats(history)
    # the built-in CASH (calendar-day accrual) on month-end trading days, at 4 % and 8 %:
    # quarters of 87 to 94 days
    from optimizer.data.cash import accrue

    business = pd.date_range("2005-01-31", "2020-12-31", freq="BME")
    for rate in (0.04, 0.08):
        history.levels = pd.DataFrame({"CASH": accrue(business, rate)})
        assert not cash_floats(history)
    bills = np.where(months.year < 2010, 0.045, np.where(months.year < 2016, 0.001, 0.02))
    history.levels = pd.DataFrame({"CASH": 100 * np.cumprod(1 + bills / 12)}, index=months)
    assert cash_floats(history)
    # a weekly money-market series from 5.00 % to 5.45 %: a short rate that moved
    weeks = pd.date_range("2022-01-07", "2025-12-26", freq="W-FRI")
    weekly = np.where(weeks.year < 2024, 0.05, 0.0545)
    history.levels = pd.DataFrame(
        {"CASH": 100 * np.cumprod((1 + weekly) ** (7 / 365))}, index=weeks
    )
    assert cash_floats(history)
    moving = 100 * np.exp(np.cumsum(np.where(days.year < 2018, 0.01, 0.03) / 365 * 1.4))
    history.daily = pd.DataFrame({"CASH": moving}, index=days)
    assert cash_floats(history)
