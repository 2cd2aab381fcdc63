"""Factor definitions, the regression, and calm/stressed covariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis
from sklearn.linear_model import LinearRegression

from optimizer.errors import ConfigError, ScenarioError
from optimizer.factors import (
    FactorKind,
    FactorModel,
    FactorSpec,
    Frequency,
    default_factors,
    factor_candidates,
    factor_values,
    period_end_levels,
    require_market,
)


def _synthetic(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2010-01-08", periods=n, freq="W-FRI")
    F = rng.multivariate_normal([0.002, -0.0005], [[4e-4, 5e-5], [5e-5, 1e-4]], size=n)
    B = np.array([[1.0, 0.0], [1.1, 0.9], [-0.2, 0.1]])
    a = np.array([0.0005, 0.0, 0.0003])
    E = rng.standard_normal((n, 3)) * np.sqrt([1e-5, 4e-5, 9e-5])
    R = a + F @ B.T + E
    factors = pd.DataFrame(F, index=idx, columns=["equity", "size"])
    returns = pd.DataFrame(R, index=idx, columns=["A", "B", "C"])
    return returns, factors, a, B


def test_regression_matches_sklearn_and_recovers_truth():
    returns, factors, a, B = _synthetic()
    model = FactorModel().fit(returns, factors)
    for i, t in enumerate(returns.columns):
        ref = LinearRegression().fit(factors.to_numpy(), returns[t].to_numpy())
        np.testing.assert_allclose(model.exposures_[i], ref.coef_, atol=1e-10)
        assert model.intercept_[i] == pytest.approx(ref.intercept_, abs=1e-12)
        resid = returns[t].to_numpy() - ref.predict(factors.to_numpy())
        dof = len(resid) - factors.shape[1] - 1
        assert model.residual_var_[i] == pytest.approx(resid @ resid / dof, rel=1e-9)
    np.testing.assert_allclose(model.exposures_, B, atol=0.05)  # about 3 standard errors
    np.testing.assert_allclose(model.intercept_, a, atol=6e-4)  # about 3 standard errors
    np.testing.assert_allclose(model.factor_cov_, np.cov(factors.to_numpy(), rowvar=False))
    assert model.first_.isoformat() == "2010-01-08" and model.n_periods_ == 3000


def test_stressed_covariance_from_most_turbulent_periods():
    returns, factors, *_ = _synthetic()
    model = FactorModel(stressed_quantile=0.1).fit(returns, factors)
    X = factors.to_numpy()
    mean, cov = X.mean(axis=0), np.cov(X, rowvar=False)
    inv = np.linalg.inv(cov)
    d = np.array([scipy_mahalanobis(x, mean, inv) for x in X])
    np.testing.assert_allclose(model.turbulence_.to_numpy(), d, rtol=1e-9)
    top = X[np.argsort(d)[-300:]] - mean  # 10 % of 3000, centred on the full-window mean
    np.testing.assert_allclose(model.stressed_cov_, top.T @ top / 299, rtol=1e-9)
    # turbulent periods are more volatile than the whole window
    assert np.all(np.diag(model.stressed_cov_) > np.diag(model.factor_cov_))
    # residual variances of the same periods, residuals of an independent least squares
    X1 = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(X1, returns.to_numpy(), rcond=None)
    resid = (returns.to_numpy() - X1 @ coef)[np.argsort(d)[-300:]]
    np.testing.assert_allclose(model.stressed_residual_var_, (resid**2).sum(0) / 299, rtol=1e-8)
    shrunk = FactorModel(stressed_quantile=0.1, stressed_prior=100).fit(returns, factors)
    want = (300 * model.stressed_residual_var_ + 100 * model.residual_var_) / 400
    np.testing.assert_allclose(shrunk.stressed_residual_var_, want, rtol=1e-9)


def test_too_little_data_is_one_clear_error():
    returns, factors, *_ = _synthetic(n=10)
    with pytest.raises(ScenarioError, match="only 10 periods"):
        FactorModel().fit(returns, factors)


def test_factor_units():
    idx = pd.to_datetime(["2024-01-05", "2024-01-12", "2024-01-19"])
    prices = pd.DataFrame({"SPY": [100.0, 102.0, 101.0], "IWM": [50.0, 52.0, 51.0]}, index=idx)
    rates = pd.DataFrame({"^TNX": [4.0, 4.1, 3.85], "^VIX": [20.0, 25.0, 20.0]}, index=idx)
    both = pd.concat([prices, rates], axis=1)
    specs = {
        "equity": FactorSpec(kind="return", series="SPY"),
        "size": FactorSpec(kind="relative_return", series="IWM", minus="SPY"),
        "long_rate": FactorSpec(kind="rate_change", series="^TNX"),
        "vol": FactorSpec(kind="log_change", series="^VIX"),
    }
    f = factor_values(specs, both, both)
    np.testing.assert_allclose(f["equity"], [0.02, 101 / 102 - 1])
    np.testing.assert_allclose(f["size"], [0.04 - 0.02, (51 / 52 - 1) - (101 / 102 - 1)])
    np.testing.assert_allclose(f["long_rate"], [0.001, -0.0025])  # 10 bp, -25 bp in decimal
    np.testing.assert_allclose(f["vol"], [np.log(1.25), np.log(0.8)])


def test_default_factors_per_source():
    sample = default_factors("sample", None)
    assert sample["equity"].series == "MKT" and sample["size"].tickers() == ("SMALL", "LARGE")
    assert sample["long_rate"].kind is FactorKind.RATE_CHANGE
    yahoo_only = default_factors("csv:x", ["SPY", "IWM", "TLT", "^TNX", "^FVX", "^VIX"])
    assert yahoo_only["short_rate"].series == "^FVX"
    with_fred = default_factors("csv:x", ["SPY", "IWM", "^TNX", "DGS10", "T10Y2Y", "BAA10Y"])
    assert with_fred["short_rate"].tickers() == ("DGS10", "T10Y2Y")
    assert with_fred["credit"].series == "BAA10Y" and "vol" not in with_fred
    assert default_factors("yahoo", None)["short_rate"].series == "^IRX"
    assert default_factors("csv:x", ["TLT"]) == {}  # any universe: no factor is required ...
    with pytest.raises(ConfigError, match=r"estimation\.factors\.equity") as err:
        require_market({}, "csv:x")  # ... until a scenario needs the market
    assert "csv:x" in str(err.value)
    both = factor_candidates("csv:x", ["^TNX", "DGS10"])["long_rate"]
    assert [s.series for s in both] == ["^TNX", "DGS10"]  # preferred first


def test_period_end_levels_keeps_real_dates():
    idx = pd.bdate_range("2024-01-01", "2024-03-15")
    frame = pd.DataFrame({"x": np.arange(len(idx), dtype=float)}, index=idx)
    monthly = period_end_levels(frame, Frequency.MONTHLY)
    assert [d.date().isoformat() for d in monthly.index] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-15",
    ]
    weekly = period_end_levels(frame, Frequency.WEEKLY)
    assert all(d.dayofweek == 4 for d in weekly.index[:-1])


def test_real_data_exposures(shared_data):
    """On real weekly data TLT's 10-year exposure is minus a long-bond duration."""
    from types import SimpleNamespace

    from optimizer.data import get_provider
    from optimizer.scenarios import EstimationConfig, ScenarioEngine, load_history

    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    data = SimpleNamespace(source=source, start=pd.Timestamp("2005-01-01").date(), end=None)
    history = load_history(get_provider(source), data, EstimationConfig(), ["SPY", "IWM", "TLT"])
    model = ScenarioEngine(history).fit().model_
    beta = model.exposures_dict()
    assert beta["SPY"]["equity"] == pytest.approx(1.0, abs=1e-9)  # SPY is the equity factor
    assert beta["IWM"]["size"] == pytest.approx(1.0, abs=1e-9)  # IWM = SPY + size
    assert -20 < beta["TLT"]["long_rate"] < -13
    assert history.provenance.frequency == "weekly"


def test_lead_lag_exposure_against_numpy_and_the_analytic_limit():
    """An asset that takes up 60 % of a factor's move the same day and 40 % the next: the
    same-day regression sees 0.6; one lead-lag day with Bartlett weight 1/2 sees
    0.6 + 0.4 / 2 = 0.8, two days (weight 2/3 on the first lag) 0.6 + 0.4 * 2 / 3."""
    rng = np.random.default_rng(4)
    n = 200_000
    f = rng.standard_normal(n) * 0.01
    r = 0.6 * f + 0.4 * np.r_[0.0, f[:-1]] + rng.standard_normal(n) * 0.002
    idx = pd.date_range("1900-01-01", periods=n, freq="D")
    R, F = pd.DataFrame({"A": r}, index=idx), pd.DataFrame({"equity": f}, index=idx)
    for lags, weight in ((0, 0.0), (1, 0.5), (2, 2 / 3)):
        model = FactorModel(lags=lags).fit(R, F)
        x, y = f - f.mean(), r - r.mean()
        cross, var = x @ y, x @ x
        for lag in range(1, lags + 1):  # Bartlett weights 1 - lag / (lags + 1)
            w = 1 - lag / (lags + 1)
            cross += w * (x[:-lag] @ y[lag:] + x[lag:] @ y[:-lag])
            var += w * 2 * (x[:-lag] @ x[lag:])
        cross, var = cross / n, var / n
        assert model.exposures_[0, 0] == pytest.approx(cross / var, rel=1e-9)  # plain numpy
        assert model.exposures_[0, 0] == pytest.approx(0.6 + 0.4 * weight, abs=0.005)
        assert model.factor_cov_[0, 0] == pytest.approx(var * n / (n - 1), rel=1e-9)


def test_rate_exposures_equal_a_regression_on_level_and_slope():
    """The level and slope reading of two yield factors is the regression on (long, long -
    short) itself: an independent numpy least squares on that basis."""
    rng = np.random.default_rng(9)
    n = 2000
    idx = pd.date_range("2000-01-07", periods=n, freq="W-FRI")
    d10 = rng.standard_normal(n) * 0.001
    d2 = 0.8 * d10 + rng.standard_normal(n) * 0.0006  # collinear yields
    r = 0.0002 - 16.0 * d10 + 0.5 * (d10 - d2) + rng.standard_normal(n) * 0.002
    F = pd.DataFrame({"long_rate": d10, "short_rate": d2}, index=idx)
    model = FactorModel().fit(pd.DataFrame({"TLT": r}, index=idx), F)
    X = np.column_stack([np.ones(n), d10, d10 - d2])
    coef, *_ = np.linalg.lstsq(X, r, rcond=None)
    got = model.rate_exposures()["TLT"]
    assert got["level"] == pytest.approx(coef[1], rel=1e-9)
    assert got["slope"] == pytest.approx(coef[2], rel=1e-9)
    assert got["level"] == pytest.approx(-16.0, abs=0.5)
    one = FactorModel().fit(pd.DataFrame({"TLT": r}, index=idx), F[["long_rate"]])
    assert one.rate_exposures() == {}


def test_precision_weights_the_regression_only_and_beat_plain_least_squares():
    """Residuals whose variance moves with a known profile (calm and turbulent spells):
    exposures weighted by its inverse equal an independent numpy weighted least squares
    (and, with a lead-lag day, the Bartlett formula on those weights); the factor mean and
    covariance and the residual variances are those of the unweighted fit; and over many
    samples the weighted exposure errs less than the plain one (generalised least squares)."""
    rng = np.random.default_rng(21)
    n = 600
    idx = pd.date_range("2000-01-03", periods=n, freq="B")
    sd = np.where((np.arange(n) // 50) % 2 == 0, 0.005, 0.025)  # the variance profile
    f = rng.standard_normal((n, 2)) * [0.01, 0.001]
    r = 0.0001 + f @ np.array([[1.3], [-4.0]]).ravel() + rng.standard_normal(n) * sd
    R, F = pd.DataFrame({"A": r}, index=idx), pd.DataFrame(f, index=idx, columns=["eq", "y"])
    w = 0.5 ** (np.arange(n)[::-1] / 300)  # time weights as well
    p = 1 / sd**2
    plain = FactorModel().fit(R, F, w)
    gls = FactorModel().fit(R, F, w, p)
    X = np.column_stack([np.ones(n), f])
    s = np.sqrt(w * p)[:, None]
    coef, *_ = np.linalg.lstsq(X * s, r[:, None] * s, rcond=None)
    np.testing.assert_allclose(gls.exposures_[0], coef[1:, 0], rtol=1e-9)
    np.testing.assert_allclose(gls.intercept_, coef[0], rtol=1e-9)
    np.testing.assert_array_equal(gls.factor_cov_, plain.factor_cov_)
    np.testing.assert_array_equal(gls.factor_mean_, plain.factor_mean_)
    resid = r - X @ coef[:, 0]
    wn = w / w.sum()
    n_eff = 1 / (wn**2).sum()
    assert gls.residual_var_[0] == pytest.approx(wn @ resid**2 * n_eff / (n_eff - 3), rel=1e-9)

    lagged = FactorModel(lags=1).fit(R, F, w, p)  # Bartlett weight 1/2 on the first lag
    v = w * p / (w * p).sum()
    Z = np.column_stack([r, f])
    C = Z - v @ Z
    G = (C * v[:, None]).T @ C
    cross = (C[1:] * v[1:, None]).T @ C[:-1]
    G = (G + 0.5 * (cross + cross.T)) / (1 - (v**2).sum())
    np.testing.assert_allclose(lagged.exposures_[0], G[0, 1:] @ np.linalg.inv(G[1:, 1:]), rtol=1e-9)
    same = FactorModel(lags=1).fit(R, F, w, np.ones(n))
    np.testing.assert_allclose(same.exposures_, FactorModel(lags=1).fit(R, F, w).exposures_)

    errors = {"plain": [], "gls": []}
    for seed in range(200):
        g = np.random.default_rng(1000 + seed)
        f = g.standard_normal((n, 1)) * 0.01
        r = 1.3 * f[:, 0] + g.standard_normal(n) * sd
        R, F = pd.DataFrame({"A": r}, index=idx), pd.DataFrame(f, index=idx, columns=["eq"])
        errors["plain"].append(FactorModel().fit(R, F).exposures_[0, 0] - 1.3)
        errors["gls"].append(FactorModel().fit(R, F, None, p).exposures_[0, 0] - 1.3)
    ratio = np.mean(np.square(errors["gls"])) / np.mean(np.square(errors["plain"]))
    # theory: 1 / (mean(s^2) mean(1 / s^2)) = 1 / (13 x 0.52) = 0.148 for variances 1 : 25
    assert ratio == pytest.approx(0.148, abs=0.04)
