"""Baseline estimators and build_estimate on the bundled sample (no network, no shared data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import ledoit_wolf

from optimizer.data import get_provider
from optimizer.data.settings import DataConfig
from optimizer.errors import ConfigError, ScenarioError
from optimizer.estimate import (
    BaselineInputs,
    CovMethod,
    MeanMethod,
    baseline_moments,
)
from optimizer.scenarios import (
    EstimationConfig,
    ScenarioSetConfig,
    build_estimate,
    is_psd,
    mixture_moments,
)

TICKERS = ["LARGE", "SMALL", "BOND"]


@pytest.fixture(scope="module")
def prices():
    return get_provider("sample").prices([*TICKERS, "MKT"]).frame.iloc[-241:]


def _inputs(prices, **kw):
    return BaselineInputs(prices=prices[TICKERS], periods_per_year=12, **kw)


def test_historical_mean_and_sample_cov_against_numpy(prices):
    r = prices[TICKERS].pct_change().dropna().to_numpy()
    mu, Sigma = baseline_moments(_inputs(prices), MeanMethod.HISTORICAL, CovMethod.SAMPLE, 0.25)
    np.testing.assert_allclose(mu, r.mean(axis=0) * 12 * 0.25, rtol=1e-10)
    np.testing.assert_allclose(Sigma, np.cov(r, rowvar=False) * 12 * 0.25, rtol=1e-10)


def test_ledoit_wolf_against_sklearn(prices):
    r = prices[TICKERS].pct_change().dropna().to_numpy()
    _, Sigma = baseline_moments(_inputs(prices), "historical", "ledoit_wolf", 1.0)
    ref, _ = ledoit_wolf(r)  # population (1/n) covariance, shrunk
    np.testing.assert_allclose(Sigma, ref * 12, rtol=1e-6)


@pytest.mark.parametrize(("T", "n"), [(240, 3), (60, 40), (30, 1), (500, 25)])
def test_ledoit_wolf_equals_sklearn(T, n):
    from optimizer.estimate import ledoit_wolf as ours

    X = np.random.default_rng(T + n).standard_normal((T, n)) @ np.diag(np.linspace(0.5, 2, n))
    np.testing.assert_allclose(ours(X), ledoit_wolf(X)[0], rtol=1e-12, atol=1e-15)


def test_ledoit_wolf_equals_pypfopt_covariance_shrinkage(prices):
    from pypfopt.risk_models import CovarianceShrinkage

    ragged = prices[TICKERS].copy()
    ragged.iloc[:30, 1] = np.nan  # one series starts later: PyPortfolioOpt zero-fills
    for frame in (prices[TICKERS], ragged):
        _, Sigma = baseline_moments(_inputs(frame), "historical", "ledoit_wolf", 1.0)
        ref = CovarianceShrinkage(frame, frequency=12).ledoit_wolf().to_numpy()
        np.testing.assert_allclose(Sigma, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cov", ["ledoit_wolf", "sample", "exp"])
def test_riskless_cash_stays_out_of_the_covariance_estimator(prices, cov):
    """Cash accruing at 4 % beside the assets: the assets' block is the estimator on them
    alone (PyPortfolioOpt's Ledoit-Wolf for ``ledoit_wolf``), cash keeps its own sample
    variance and no covariance. Shrunk with the assets, its volatility was a bond's."""
    from pypfopt.risk_models import CovarianceShrinkage, sample_cov

    frame = prices[TICKERS].copy()
    frame["CASH"] = 1.04 ** (np.arange(len(frame)) / 12) * (
        1 + 1e-5 * np.sin(np.arange(len(frame)))
    )
    inputs = BaselineInputs(prices=frame, periods_per_year=12)
    _, Sigma = baseline_moments(inputs, "historical", cov, 1.0, riskless="CASH")
    risky = baseline_moments(_inputs(prices), "historical", cov, 1.0)[1]
    np.testing.assert_allclose(Sigma[:3, :3], risky, rtol=1e-12, atol=1e-15)
    own = sample_cov(frame[["CASH"]], frequency=12).to_numpy()[0, 0]
    assert Sigma[3, 3] == pytest.approx(own, rel=1e-12) and own < 1e-8
    assert not Sigma[3, :3].any() and not Sigma[:3, 3].any()
    if cov == "ledoit_wolf":
        np.testing.assert_allclose(
            Sigma[:3, :3], CovarianceShrinkage(prices[TICKERS], frequency=12).ledoit_wolf(),
            rtol=1e-12, atol=1e-15,
        )  # fmt: skip
        shrunk = baseline_moments(inputs, "historical", cov, 1.0)[1]  # cash shrunk with them
        assert shrunk[3, 3] > 1e3 * own


def test_ema_mean_and_exp_cov_against_pandas(prices):
    r = prices[TICKERS].pct_change().dropna()
    mu, Sigma = baseline_moments(_inputs(prices, span=24), "ema", "exp", 1.0)
    np.testing.assert_allclose(mu, r.ewm(span=24).mean().iloc[-1].to_numpy() * 12, rtol=1e-10)
    centred = r - r.mean()
    want = np.array(
        [[(centred[a] * centred[b]).ewm(span=24).mean().iloc[-1] for b in TICKERS] for a in TICKERS]
    )
    np.testing.assert_allclose(Sigma, want * 12, rtol=1e-10)


def test_capm_against_numpy(prices):
    r = prices[TICKERS].pct_change().dropna().to_numpy()
    m = prices["MKT"].pct_change().dropna().to_numpy()
    inputs = _inputs(prices, market_prices=prices["MKT"], risk_free_annual=0.02)
    mu, _ = baseline_moments(inputs, "capm", "sample", 1.0)
    beta = np.array([np.cov(r[:, i], m)[0, 1] / np.var(m, ddof=1) for i in range(3)])
    np.testing.assert_allclose(mu, 0.02 + beta * (m.mean() * 12 - 0.02), rtol=1e-8)


def test_compounded_means_against_numpy(prices):
    r = prices[TICKERS].pct_change().dropna()
    inputs = _inputs(prices, compounding=True, span=24)
    mu, _ = baseline_moments(inputs, "historical", "sample", 1.0)
    cagr = (1 + r).prod().to_numpy() ** (12 / len(r)) - 1
    np.testing.assert_allclose(mu, cagr, rtol=1e-10)
    mu, _ = baseline_moments(inputs, "ema", "sample", 1.0)
    np.testing.assert_allclose(mu, (1 + r.ewm(span=24).mean().iloc[-1]) ** 12 - 1, rtol=1e-10)


def test_ragged_prices_use_each_series_and_pairwise_covariance(prices):
    """NaN before a series starts: its own returns for the mean, pairwise covariance."""
    ragged = prices[TICKERS].copy()
    ragged.iloc[:100, 1] = np.nan  # SMALL lists 100 months later
    r = ragged.pct_change(fill_method=None)
    mu, Sigma = baseline_moments(_inputs(ragged), "historical", "sample", 1.0)
    small = r["SMALL"].dropna()
    assert len(small) == 240 - 100
    np.testing.assert_allclose(mu[1], small.mean() * 12, rtol=1e-10)
    np.testing.assert_allclose(mu[0], r["LARGE"].dropna().mean() * 12, rtol=1e-10)
    pair = r[["LARGE", "SMALL"]].dropna()
    np.testing.assert_allclose(Sigma[0, 1], np.cov(pair.to_numpy().T)[0, 1] * 12, rtol=1e-8)
    np.testing.assert_allclose(Sigma[0, 0], r["LARGE"].dropna().var() * 12, rtol=1e-8)


def test_full_window_with_ledoit_wolf_is_a_config_error():
    from optimizer.config import validate

    with pytest.raises(ConfigError, match=r"estimation\.window='full'.*'sample' or 'exp'"):
        validate(EstimationConfig, {"window": "full"}, prefix="estimation")
    ok = validate(EstimationConfig, {"window": "full", "covariance": "sample"}, prefix="e")
    assert ok.window == "full" and ok.compounding is False and ok.samples == "scenarios"


def test_historical_samples_are_the_period_returns():
    est = build_estimate(
        SAMPLE,
        EstimationConfig(covariance="sample", samples="historical", window_years=10),
        ScenarioSetConfig(),
        TICKERS,
    )
    r = get_provider("sample").prices(TICKERS).frame.pct_change().dropna().iloc[-120:]
    np.testing.assert_allclose(est.samples, r.to_numpy(), rtol=1e-12)
    assert est.samples_period == "monthly" and est.seed is None
    assert est.samples_note == "120 historical monthly returns 2007-04-30..2017-03-31"


def test_unknown_estimator_names_are_config_errors():
    from optimizer.config import validate

    with pytest.raises(ConfigError, match=r"estimation\.covariance"):
        validate(EstimationConfig, {"covariance": "shrunk"}, prefix="estimation")
    with pytest.raises(ConfigError, match=r"estimation\.factors"):
        validate(
            EstimationConfig,
            {"factors": {"momentum": {"kind": "return", "series": "X"}}},
            prefix="estimation",
        )


SAMPLE = DataConfig(source="sample")


def test_build_estimate_baseline_when_no_scenarios():
    est = build_estimate(
        SAMPLE, EstimationConfig(covariance="sample"), ScenarioSetConfig(), TICKERS
    )
    assert est.samples is None and est.scenarios == ()
    assert est.method.startswith("historical mean, sample covariance; monthly returns ")
    assert est.window.endswith("the periods all assets share") and est.window in est.method
    assert est.provenance.frequency == "monthly" and est.horizon_years == 0.25
    # no scenario: no factor model is built (any universe works), so no exposures
    assert est.exposures == {} and "no factor model (no scenario)" in est.provenance.notes
    assert is_psd(est.Sigma)


def test_build_estimate_mixture_with_baseline_remainder():
    sset = ScenarioSetConfig(
        use=[{"id": "fed-easing"}, {"id": "sp500-correction-6200", "probability": 0.1}],
        n_samples=4000,
        seed=5,
    )
    est = build_estimate(SAMPLE, EstimationConfig(), sset, TICKERS)
    probs = {s.id: s.probability for s in est.scenarios}
    assert probs == {"fed-easing": 0.3, "sp500-correction-6200": 0.1, "baseline": 0.6}
    mu, Sigma = mixture_moments(
        [s.mu for s in est.scenarios], [s.Sigma for s in est.scenarios], list(probs.values())
    )
    np.testing.assert_allclose(est.mu, mu)
    np.testing.assert_allclose(est.Sigma, Sigma)
    assert all(is_psd(s.Sigma) for s in est.scenarios) and is_psd(est.Sigma)
    assert est.samples.shape == (4000, 3) and est.seed == 5
    again = build_estimate(SAMPLE, EstimationConfig(), sset, TICKERS)
    np.testing.assert_array_equal(est.samples, again.samples)
    other = build_estimate(SAMPLE, EstimationConfig(), sset.model_copy(update={"seed": 6}), TICKERS)
    assert not np.array_equal(est.samples, other.samples)
    assert any("fed-easing: history 1949" in n for n in est.provenance.notes)
    # a level target on sample data (no S&P 500 level) uses the scenario's reference
    drop = est.scenario("sp500-correction-6200")
    assert drop.factor_moves["equity"] == pytest.approx(6200 / 6800 - 1)
    assert drop.mu[1] < drop.mu[0] < 0  # small caps fall more than large caps


def test_longer_estimate_horizon_adds_baseline_time():
    use = ScenarioSetConfig(use=[{"id": "sp500-correction-6200"}, {"id": "baseline"}])
    three = build_estimate(SAMPLE, EstimationConfig(), use, TICKERS)
    six = build_estimate(
        SAMPLE, EstimationConfig(horizon={"value": 6, "unit": "months"}), use, TICKERS
    )
    base = three.scenario("baseline")
    np.testing.assert_allclose(
        six.scenario("sp500-correction-6200").mu,
        three.scenario("sp500-correction-6200").mu + base.mu,
        atol=1e-12,
    )
    np.testing.assert_allclose(six.scenario("baseline").mu, 2 * base.mu, atol=1e-12)
    with pytest.raises(ScenarioError, match="longer than the estimate horizon"):
        build_estimate(
            SAMPLE, EstimationConfig(horizon={"value": 1, "unit": "months"}), use, TICKERS
        )


def test_probabilities_above_one_in_account_config():
    use = ScenarioSetConfig(
        use=[{"id": "fed-easing", "probability": 0.7}, {"id": "baseline", "probability": 0.5}]
    )
    with pytest.raises(ConfigError) as err:
        build_estimate(SAMPLE, EstimationConfig(), use, TICKERS)
    assert "scenarios.use[1].probability=0.5" in str(err.value)


def test_window_longer_than_data_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        build_estimate(SAMPLE, EstimationConfig(window_years=90), ScenarioSetConfig(), TICKERS)
    assert "estimation.window_years=90" in str(err.value)


def test_window_keeps_the_last_years():
    est = build_estimate(SAMPLE, EstimationConfig(window_years=10), ScenarioSetConfig(), TICKERS)
    first = pd.Timestamp(est.provenance.first)
    assert first == pd.Timestamp("2007-04-30")  # 120 monthly returns ending 2017-03
