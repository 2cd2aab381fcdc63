"""The scenario backtest and the shocks-in model: a synthetic linear factor world where the
answer is known, no look-ahead, the Python call equal to the CLI's month, the CLI itself."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from optimizer.factors import FactorKind, FactorSpec, Frequency, Regime
from optimizer.scenario.backtest import backtest_scenarios
from optimizer.scenario.engine import MarketHistory
from optimizer.scenario.predict import EngineOptions, ShockModel
from tests.conftest import run_cli

SPECS = {
    "equity": FactorSpec(kind=FactorKind.RETURN, series="MKT"),
    "long_rate": FactorSpec(kind=FactorKind.RATE_CHANGE, series="Y10"),
}
B = np.array([[1.2, -2.0], [0.3, -16.0]])  # (n_assets, n_factors) true exposures
SD_F = np.array([0.045, 0.0025])  # monthly sd of the equity return and the yield change
SD_E = np.array([0.02, 0.01])  # residual sd of the two assets
PLAIN = EngineOptions(
    sampling=Frequency.MONTHLY,
    halflife=None,
    monthly_errors=False,
    expanding=False,
    log_returns=False,
)


def _world(n_months: int, seed: int, freq: str = "ME") -> MarketHistory:
    """Levels from ``r = a + B f + e`` with Gaussian f and e, iid per period."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("1990-01-01", periods=n_months, freq=freq)
    scale = 1.0 if freq == "ME" else np.sqrt(12 / 252)
    f = rng.standard_normal((len(dates), 2)) * SD_F * scale
    r = 0.002 * scale**2 + f @ B.T + rng.standard_normal((len(dates), 2)) * SD_E * scale
    levels = pd.DataFrame(
        {
            "A": np.cumprod(1 + r[:, 0]),
            "T": np.cumprod(1 + r[:, 1]),
            "MKT": np.cumprod(1 + f[:, 0]),
            "Y10": 4.0 + np.cumsum(f[:, 1]) * 100,  # percent
        },
        index=dates,
    )
    returns = levels[["A", "T"]].pct_change().iloc[1:]
    return MarketHistory(returns, returns * 0, Frequency.MONTHLY, SPECS, levels=levels)


@pytest.mark.parametrize("monthly_errors", [False, True])
def test_synthetic_world_r2_and_coverage_near_theory(monthly_errors):
    options = dataclasses.replace(PLAIN, monthly_errors=monthly_errors)
    bt = backtest_scenarios(_world(460, seed=7), options=options)
    n, window = len(bt.months), PLAIN.window
    assert n == 460 - 1 - window
    explained = np.einsum("ij,j,ij->i", B, SD_F**2, B)
    # out-of-sample: the fitted a, B add about (k + 1) / window of the residual variance
    expected = 1 - SD_E**2 * (1 + 3 / window) / (explained + SD_E**2)
    for j, t in enumerate(bt.tickers):
        s = bt.scores[t]
        assert s.r2 == pytest.approx(expected[j], abs=0.04), t
        assert s.coverage_90 == pytest.approx(0.90, abs=3 * np.sqrt(0.09 / n)), t
        assert s.coverage_50 == pytest.approx(0.50, abs=3 * np.sqrt(0.25 / n)), t
    rarer = next(c for c in bt.calibration if c["band"] == "rarer than 1 in 20")
    assert rarer["expected"] == pytest.approx(0.05 * n)
    assert abs(rarer["observed"] - rarer["expected"]) < 3 * np.sqrt(0.05 * 0.95 * n) + 2


def test_monthly_equal_weight_model_is_the_two_factor_regression():
    """An independent OLS of the window's monthly returns on the two shocked factors."""
    h = _world(200, seed=3)
    bt = backtest_scenarios(h, start="1998-01", end="1998-12", options=PLAIN)
    lv = h.levels
    R = lv[["A", "T"]].pct_change().iloc[1:]
    F = pd.DataFrame({"eq": lv["MKT"].pct_change(), "dy": lv["Y10"].diff() / 100}).iloc[1:]
    for i, month in enumerate(bt.months):
        m = pd.Period(month, "M")
        rows = (R.index.to_period("M") < m) & (R.index.to_period("M") >= m - 60)
        X = np.column_stack([np.ones(rows.sum()), F[rows].to_numpy()])
        coef, *_ = np.linalg.lstsq(X, R[rows].to_numpy(), rcond=None)
        now = R.index.to_period("M") == m
        x = np.r_[1.0, F[now].to_numpy()[0]]
        np.testing.assert_allclose(bt.predicted[i], x @ coef, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bt.realised[i], R[now].to_numpy()[0], rtol=1e-12)


@pytest.mark.parametrize("options", [PLAIN, EngineOptions(sampling=Frequency.DAILY)])
def test_data_after_a_month_does_not_change_its_prediction(options):
    freq = "ME" if options.sampling is Frequency.MONTHLY else "B"
    n = 120 if freq == "ME" else 2600
    h = _world(n, seed=11, freq=freq)
    base = backtest_scenarios(h, options=options)
    cut = len(base.months) // 2
    m_end = pd.Timestamp(base.as_of[cut + 1])  # the last date month `cut` saw (its end)
    noisy = h.levels.copy()
    later = noisy.index > m_end
    noisy.loc[later] *= np.random.default_rng(0).uniform(0.5, 1.5, size=(later.sum(), 4))
    other = backtest_scenarios(
        MarketHistory(h.returns, h.factors, h.frequency, SPECS, levels=noisy), options=options
    )
    np.testing.assert_array_equal(other.predicted[: cut + 1], base.predicted[: cut + 1])
    np.testing.assert_array_equal(other.sd[: cut + 1], base.sd[: cut + 1])
    assert not np.allclose(other.predicted[cut + 2 :], base.predicted[cut + 2 :])


def test_fitted_model_is_reused_across_calls_and_refuses_unknown_factors():
    model = ShockModel(_world(120, seed=5), PLAIN).fit(as_of="1996-06-30")
    a = model.predict({"equity": -0.08, "long_rate": 0.005})
    b = model.predict({"equity": -0.16, "long_rate": 0.005})
    # linear in the shock: the difference is the equity exposure times the extra move
    np.testing.assert_allclose(b.mu - a.mu, -0.08 * model.model_.exposures_[:, 0], rtol=1e-9)
    assert a.as_of.isoformat() == "1996-06-30"
    _, hi = a.interval(0.9)
    np.testing.assert_allclose(hi - a.mu, 1.6448536 * a.sd, rtol=1e-6)
    assert list(a.frame().columns) == ["mean", "sd", "q05", "q25", "q75", "q95"]
    with pytest.raises(Exception, match="factor has no series"):
        model.predict({"vol": 0.1})


@pytest.fixture(scope="module")
def real_source(shared_data):
    return f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"


def test_cli_json_month_equals_the_python_call(real_source):
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "IWM,TLT",
                  "--start", "2022-03", "--end", "2022-05", "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [m["month"] for m in doc["months"]] == ["2022-03", "2022-04", "2022-05"]
    model = ShockModel.from_source(real_source, ["IWM", "TLT"])  # the defaults the CLI uses
    for row in doc["months"]:
        p = model.fit(as_of=row["as_of"]).predict(row["shocks"])
        for j, t in enumerate(p.tickers):
            assert row["assets"][t]["predicted"] == pytest.approx(p.mu[j], rel=1e-12)
            assert row["assets"][t]["hi90"] == pytest.approx(p.interval(0.9)[1][j], rel=1e-12)
    assert set(doc["scores"]) == {"IWM", "TLT"}


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--shocks", "equity,nope"], 3, "shocks='nope'"),
        (["--start", "2022-13"], 2, "is not a month"),
        (["--start", "1990-01", "--end", "1991-01"], 4, "no month in the range"),
        (["--start", "2022-05", "--end", "2022-01"], 3, "end month is before"),
    ],
)
def test_cli_bad_input_is_one_stderr_line(real_source, args, code, words):
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "IWM", *args)
    assert out.returncode == code, out.stderr
    assert words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 or code == 2
    assert out.stdout == ""


def test_cli_html_has_a_chart_per_asset(real_source, tmp_path):
    page = tmp_path / "bt.html"
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "IWM,HYG",
                  "--start", "2020-01", "--end", "2020-12", "--html", str(page))  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = page.read_text()
    assert text.count("<svg") == 2 and "HYG: predicted and realised" in text


def test_monthly_error_intervals_are_the_window_residual_variance():
    """Both shocked factors fixed: the in-window errors are the OLS residuals (SSR / n)."""
    h = _world(120, seed=9)
    options = dataclasses.replace(PLAIN, monthly_errors=True)
    p = ShockModel(h, options).fit(as_of="1997-12-31").predict({"equity": 0.01, "long_rate": 0.0})
    lv = h.levels.loc[:"1997-12-31"].iloc[-61:]
    R = lv[["A", "T"]].pct_change().iloc[1:].to_numpy()
    X = np.column_stack([np.ones(60), lv["MKT"].pct_change().iloc[1:], lv["Y10"].diff().iloc[1:]])
    coef, *_ = np.linalg.lstsq(X, R, rcond=None)
    np.testing.assert_allclose(p.sd**2, ((R - X @ coef) ** 2).mean(axis=0), rtol=1e-9)


def test_stressed_covariance_has_a_floor_and_shrinks_toward_calm():
    from optimizer.factors import FactorModel

    h = _world(100, seed=2)
    R, F = h.returns, pd.DataFrame(np.random.default_rng(1).standard_normal((99, 2)))
    F.index = R.index
    every = FactorModel(stressed_min=len(F)).fit(R, F)  # all periods, around the mean: calm
    np.testing.assert_allclose(every.stressed_cov_, every.factor_cov_, rtol=1e-12)
    plain, shrunk = FactorModel().fit(R, F), FactorModel(stressed_prior=30).fit(R, F)
    n_top = int(np.ceil(0.15 * len(F)))
    want = (n_top * plain.stressed_cov_ + 30 * plain.factor_cov_) / (n_top + 30)
    np.testing.assert_allclose(shrunk.stressed_cov_, want, rtol=1e-12)


def test_shock_model_equals_the_scenario_engine_on_the_same_window():
    """Monthly data (the engine keeps the plain regression on data coarser than daily):
    monthly returns, equal weights, calm, the model's own variance give the same mean and
    covariance as a one-month scenario file through ScenarioEngine.moments."""
    from optimizer.scenario.engine import ScenarioEngine
    from optimizer.scenario.model import Scenario

    h = _world(130, seed=4)
    as_of = "1998-06-30"
    window = h.levels.loc[:as_of].iloc[-61:]
    engine = ScenarioEngine(MarketHistory.from_levels(window, ["A", "T"], SPECS, h.frequency))
    scenario = Scenario.model_validate({
        "id": "s", "title": "s", "narrative": "s", "horizon": {"value": 1, "unit": "months"},
        "shocks": [{"factor": "equity", "return_pct": -8.0}],
    })  # fmt: skip
    want = engine.fit().moments(scenario)
    p = ShockModel(h, PLAIN).fit(as_of=as_of).predict({"equity": -0.08})
    np.testing.assert_allclose(p.mu, want.mu, rtol=1e-10)
    np.testing.assert_allclose(p.Sigma, want.Sigma, rtol=1e-10)
    assert p.mahalanobis == pytest.approx(want.mahalanobis, rel=1e-10)
    assert p.plausibility == want.plausibility


def test_a_monthly_pin_on_a_weekly_model_ends_on_true_month_ends():
    from optimizer.factors import HistoryWindow, period_end_levels

    daily = _world(600, seed=8, freq="B").levels  # business days
    weekly = period_end_levels(daily, Frequency.WEEKLY)
    h = MarketHistory.from_levels(weekly, ["A", "T"], SPECS, Frequency.WEEKLY, daily=daily)
    pinned = h.window(HistoryWindow(frequency=Frequency.MONTHLY))
    month_ends = daily.index.to_series().groupby(daily.index.to_period("M")).max()
    assert list(pinned.returns.index) == list(month_ends.iloc[1:])
    fridays = period_end_levels(weekly, Frequency.MONTHLY).index[1:]  # what it used to read
    assert (pinned.returns.index != fridays).sum() > 10


def test_alpha_shrink_takes_the_intercept_out():
    """Both factors shocked: the prediction is a h + B s, and B s alone with the intercept
    fully shrunk."""
    h = _world(120, seed=6)
    shocks = {"equity": 0.02, "long_rate": -0.001}
    full = ShockModel(h, PLAIN).fit(as_of="1997-12-31")
    none = ShockModel(h, dataclasses.replace(PLAIN, alpha_shrink=1.0)).fit(as_of="1997-12-31")
    B = full.model_.exposures_
    s = np.array(list(shocks.values()))
    np.testing.assert_allclose(none.predict(shocks).mu, B @ s, rtol=1e-10)
    np.testing.assert_allclose(full.predict(shocks).mu, full.model_.intercept_ + B @ s, rtol=1e-10)


def _market_precision(x: np.ndarray, halflife: float) -> np.ndarray:
    """1 / the market's variance known before each day, written out: the exponentially
    weighted mean of the squared moves up to the day before (weights a ** age), floored at
    a tenth of their plain mean up to then; the first day: its own square."""
    a = 0.5 ** (1 / halflife)
    v = np.empty(len(x))
    v[0] = x[0] ** 2
    for t in range(1, len(x)):
        past = x[:t] ** 2
        ages = np.arange(t - 1, -1, -1)
        v[t] = max((a**ages) @ past / (a**ages).sum(), 0.1 * past.mean())
    return 1 / v


@pytest.mark.parametrize("vol_halflife", [None, 21.0])
def test_default_exposures_are_a_weighted_regression_of_daily_log_returns(vol_halflife):
    """The default estimator on business days: every day up to the as-of date, log returns,
    weights 0.5 ** (age of the day's month / 36) times (by default) the inverse of the
    market's variance before the day: an independent weighted least squares."""
    h = _world(2000, seed=12, freq="B")
    as_of = "1996-06-28"
    options = EngineOptions(monthly_errors=False, vol_halflife=vol_halflife)
    model = ShockModel(h, options).fit(as_of=as_of)
    lv = np.log(h.levels.loc[:as_of])
    d = lv.diff().iloc[1:]
    months = d.index.to_period("M")
    w = 0.5 ** (np.array([(months[-1] - m).n for m in months], dtype=float) / 36)
    if vol_halflife is not None:
        w = w * _market_precision(d["MKT"].to_numpy(), vol_halflife)
    dy = h.levels.loc[:as_of, "Y10"].diff().iloc[1:] / 100
    X = np.column_stack([np.ones(len(d)), d["MKT"], dy])
    sw = np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(X * sw, d[["A", "T"]].to_numpy() * sw, rcond=None)
    np.testing.assert_allclose(model.model_.exposures_, coef[1:].T, rtol=1e-9)
    np.testing.assert_allclose(model.model_.intercept_, coef[0], rtol=1e-9)
    assert model.periods_ == pytest.approx(len(d) / len(set(months)))
    # a stated 8 % fall is a log return of log(0.92); the mean comes back as a simple return
    p = model.predict({"equity": -0.08, "long_rate": 0.0})
    log_mu = coef[0] * model.periods_ + coef[1] * np.log(0.92)
    assert np.all(p.mu > np.expm1(log_mu))  # the lognormal mean adds half the variance
    log_var = model.model_.residual_var_ * model.periods_  # both factors fixed: residual only
    np.testing.assert_allclose(p.mu, np.expm1(log_mu + log_var / 2), rtol=1e-9)


def test_stressed_variant_keeps_the_calm_prediction_and_widens_its_spread():
    h = _world(2600, seed=13, freq="B")
    calm = ShockModel(h).fit(as_of="1997-12-31")
    stressed = ShockModel(h, EngineOptions(regime=Regime.STRESSED)).fit(as_of="1997-12-31")
    shocks = {"equity": -0.12}  # the yield is left to move: its spread is the regime's
    a, b = calm.predict(shocks), stressed.predict(shocks)
    np.testing.assert_array_equal(a.mu, b.mu)  # the point prediction: R² no worse
    assert not np.allclose(a.sd, b.sd)


def test_shock_model_equals_the_scenario_engine_on_daily_data():
    """Daily data: the engine behind stress and propose uses the backtest's default estimator
    (all days up to the as-of date, log returns, weights by month): a one-month scenario
    equals ShockModel's prediction over the same days."""
    from optimizer.scenario.engine import ScenarioEngine
    from optimizer.scenario.model import Scenario

    h = _world(1500, seed=14, freq="B")
    as_of = "1995-09-29"
    cut = h.levels.loc[:as_of]
    part = MarketHistory.from_levels(cut, ["A", "T"], SPECS, Frequency.DAILY, daily=cut)
    engine = ScenarioEngine(part).fit()
    model = ShockModel(part, EngineOptions(monthly_errors=False)).fit(as_of=as_of)
    np.testing.assert_allclose(engine.model_.exposures_, model.model_.exposures_, rtol=1e-10)
    scenario = Scenario.model_validate({
        "id": "s", "title": "s", "narrative": "s", "horizon": {"value": 1, "unit": "months"},
        "shocks": [{"factor": "equity", "return_pct": -8.0}],
    })  # fmt: skip
    want = engine.moments(scenario)
    assert want.details["horizon_periods"] == pytest.approx(model.periods_)
    p = model.predict({"equity": -0.08})
    np.testing.assert_allclose(p.mu, want.mu, rtol=1e-10)
    np.testing.assert_allclose(p.Sigma, want.Sigma, rtol=1e-10)
