"""Propagation maths against closed forms: conditional Gaussian, stress, mixture, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import ScenarioError
from optimizer.scenarios import (
    Stress,
    asset_moments,
    conditional_gaussian,
    is_psd,
    mixture_moments,
    mixture_weights,
    plausibility,
    sample_mixture,
    stress_covariance,
)

TOL = 1e-12


def test_two_factor_conditional_matches_closed_form():
    # equity and size, sd 0.08 and 0.04, correlation 0.4; shock equity to -0.10
    mu = np.array([0.02, -0.001])
    s1, s2, rho = 0.08, 0.04, 0.4
    S = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
    mean, cov = conditional_gaussian(mu, S, [0], np.array([-0.10]))
    expected_size = mu[1] + rho * s2 / s1 * (-0.10 - mu[0])
    assert mean[0] == pytest.approx(-0.10, abs=TOL)
    assert mean[1] == pytest.approx(expected_size, abs=TOL)
    assert cov[1, 1] == pytest.approx(s2**2 * (1 - rho**2), abs=TOL)
    assert cov[0, 0] == 0 and cov[0, 1] == 0

    # two assets: SPY-like (1, 0) and IWM-like (1, 1) plus a bond (-0.1, 0), over h periods
    a = np.array([0.001, 0.0005, 0.0002])
    B = np.array([[1.0, 0.0], [1.0, 1.0], [-0.1, 0.0]])
    D = np.array([0.0, 1e-5, 4e-5])
    h = 13.0
    m, Sig = asset_moments(a, B, D, h, mean, cov)
    want_mu = np.array([a[0] * h - 0.10, a[1] * h - 0.10 + expected_size, a[2] * h + 0.01])
    np.testing.assert_allclose(m, want_mu, atol=TOL)
    var_size = s2**2 * (1 - rho**2)
    want_Sigma = np.array(
        [
            [0.0, 0.0, 0.0],
            [0.0, var_size + h * D[1], 0.0],
            [0.0, 0.0, h * D[2]],
        ]
    )
    np.testing.assert_allclose(Sig, want_Sigma, atol=TOL)


def test_conditioning_on_nothing_and_on_everything():
    mu = np.array([0.1, 0.2])
    S = np.array([[1.0, 0.3], [0.3, 2.0]])
    m, C = conditional_gaussian(mu, S, [], np.array([]))
    np.testing.assert_array_equal(m, mu)
    np.testing.assert_array_equal(C, S)
    m, C = conditional_gaussian(mu, S, [0, 1], np.array([1.0, -1.0]))
    np.testing.assert_array_equal(m, [1.0, -1.0])
    np.testing.assert_array_equal(C, np.zeros((2, 2)))


def test_conditional_matches_regression_on_simulated_draws():
    # independent check: regress simulated f_u on f_s and compare slope and residual variance
    rng = np.random.default_rng(7)
    A = rng.standard_normal((4, 4))
    S = A @ A.T + 0.1 * np.eye(4)
    mu = rng.standard_normal(4)
    X = rng.multivariate_normal(mu, S, size=400_000)
    s_idx = [0, 2]
    s_val = mu[s_idx] + np.array([1.0, -0.5])
    mean, cov = conditional_gaussian(mu, S, s_idx, s_val)
    Xs = np.column_stack([np.ones(len(X)), X[:, s_idx]])
    for u in (1, 3):
        coef, *_ = np.linalg.lstsq(Xs, X[:, u], rcond=None)
        pred = coef[0] + coef[1:] @ s_val
        assert mean[u] == pytest.approx(pred, abs=0.02)
        resid = X[:, u] - Xs @ coef
        assert cov[u, u] == pytest.approx(resid.var(), rel=0.02)


@st.composite
def covariances(draw, k=4):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, k)) * draw(st.floats(0.01, 1.0))
    rank_deficient = draw(st.booleans())
    if rank_deficient:
        A[:, -1] = 0.0
    return A @ A.T + (0.0 if rank_deficient else 1e-6) * np.eye(k), rng


@settings(max_examples=40, deadline=None)
@given(
    cov_rng=covariances(),
    c=st.floats(0.0, 1.0),
    vol=st.floats(0.5, 3.0),
    n_shocked=st.integers(0, 3),
)
def test_every_covariance_stays_psd(cov_rng, c, vol, n_shocked):
    S, rng = cov_rng
    names = ["equity", "size", "long_rate", "vol"]
    stressed = stress_covariance(S, names, Stress(correlation_stress=c, psd="repair"))
    assert is_psd(stressed.cov)
    idx = list(range(n_shocked))
    mean, cov = conditional_gaussian(np.zeros(4), stressed.cov, idx, rng.standard_normal(n_shocked))
    assert is_psd(cov)
    B = rng.standard_normal((5, 4))
    D = rng.uniform(0, 1e-3, 5)
    _, Sigma = asset_moments(np.zeros(5), B, D, 13.0, mean, cov, vol)
    assert is_psd(Sigma)


def test_correlation_stress_moves_correlations_towards_one_keeping_sign():
    S = np.array([[1.0, 0.5, -0.4], [0.5, 1.0, -0.2], [-0.4, -0.2, 1.0]]) * 0.04
    out = stress_covariance(S, ["a", "b", "c"], Stress(correlation_stress=0.5)).cov
    corr = out / np.sqrt(np.outer(np.diag(out), np.diag(out)))
    np.testing.assert_allclose(np.diag(out), np.diag(S))
    assert corr[0, 1] == pytest.approx(0.75)
    assert corr[0, 2] == pytest.approx(-0.7)
    assert corr[1, 2] == pytest.approx(-0.6)


def test_stress_that_breaks_psd_is_an_error_or_repaired():
    S = np.eye(3) * 0.01
    overrides = [
        {"factors": ["a", "b"], "value": 0.95},
        {"factors": ["a", "c"], "value": 0.95},
        {"factors": ["b", "c"], "value": -0.95},
    ]
    with pytest.raises(ScenarioError) as err:
        stress_covariance(S, ["a", "b", "c"], Stress(correlations=overrides), "x.toml")
    assert "x.toml" in str(err.value) and "stress.correlations" in str(err.value)
    fixed = stress_covariance(S, ["a", "b", "c"], Stress(correlations=overrides, psd="repair"))
    assert fixed.repaired and is_psd(fixed.cov)
    np.testing.assert_allclose(np.diag(fixed.cov), np.diag(S), rtol=1e-9)


def test_vol_multiplier_scales_covariance_not_mean():
    B = np.array([[1.0, 0.2]])
    m1, S1 = asset_moments(np.zeros(1), B, np.array([1e-4]), 4, np.array([0.1, 0.0]), np.eye(2))
    m2, S2 = asset_moments(
        np.zeros(1), B, np.array([1e-4]), 4, np.array([0.1, 0.0]), np.eye(2), 1.5
    )
    np.testing.assert_allclose(m1, m2)
    np.testing.assert_allclose(S2, 2.25 * S1)


def test_plausibility_against_normal_tail():
    # one shocked factor: the chi-square(1) tail of d^2 is the two-sided normal tail of d
    for d in (0.5, 1.0, 2.0, 3.0, 4.0):
        p, words = plausibility(d, 1)
        assert p == pytest.approx(math.erfc(d / math.sqrt(2)), rel=1e-9)
        assert words
    assert plausibility(0.5, 1)[1].startswith("ordinary")
    assert plausibility(2.2, 1)[1].startswith("unusual")
    assert plausibility(3.0, 1)[1].startswith("rare")
    assert plausibility(5.0, 1)[1].startswith("extreme")
    # two factors: chi-square(2) tail is exp(-d^2 / 2)
    p2, _ = plausibility(2.0, 2)
    assert p2 == pytest.approx(math.exp(-2.0), rel=1e-9)
    assert plausibility(0.0, 0) == (1.0, "no shock (the baseline)")


def test_mixture_moments_closed_form_and_psd():
    mus = [np.array([0.05, 0.01]), np.array([-0.10, 0.03])]
    Sigmas = [np.diag([0.01, 0.002]), np.array([[0.04, 0.01], [0.01, 0.003]])]
    p = [0.7, 0.3]
    mu, Sigma = mixture_moments(mus, Sigmas, p)
    np.testing.assert_allclose(mu, 0.7 * mus[0] + 0.3 * mus[1])
    # law of total variance for two components: p1 S1 + p2 S2 + p1 p2 (m1-m2)(m1-m2)'
    d = mus[0] - mus[1]
    want = 0.7 * Sigmas[0] + 0.3 * Sigmas[1] + 0.7 * 0.3 * np.outer(d, d)
    np.testing.assert_allclose(Sigma, want, atol=1e-15)
    assert is_psd(Sigma)


def test_monte_carlo_reproducible_and_consistent_with_mixture():
    mus = [np.array([0.02, 0.03, 0.0]), np.array([-0.1, -0.15, 0.04])]
    A = np.array([[0.05, 0.0, 0.0], [0.06, 0.03, 0.0], [-0.01, 0.0, 0.02]])
    Sigmas = [A @ A.T, 2.0 * A @ A.T]
    p = [0.8, 0.2]
    x1 = sample_mixture(mus, Sigmas, p, 50_000, seed=11)
    x2 = sample_mixture(mus, Sigmas, p, 50_000, seed=11)
    x3 = sample_mixture(mus, Sigmas, p, 50_000, seed=12)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, x3)
    mu, Sigma = mixture_moments(mus, Sigmas, p)
    np.testing.assert_allclose(x1.mean(axis=0), mu, atol=3e-3)
    np.testing.assert_allclose(np.cov(x1, rowvar=False), Sigma, atol=3e-4)


def test_mixture_weights_rules():
    assert mixture_weights([0.3, 0.2]) == ([0.3, 0.2], pytest.approx(0.5))
    probs, rest = mixture_weights([0.3, None, None])
    assert probs == [0.3, pytest.approx(0.35), pytest.approx(0.35)] and rest == 0.0
    assert mixture_weights([0.6, 0.4]) == ([0.6, 0.4], 0.0)
    with pytest.raises(ScenarioError, match="above 1"):
        mixture_weights([0.7, 0.6])


@settings(max_examples=40, deadline=None)
@given(
    cov_rng=covariances(),
    s_hi=st.floats(-0.05, 0.05),
    gap=st.floats(0.001, 0.3),
)
def test_monotone_in_the_equity_shock(cov_rng, s_hi, gap):
    """A deeper equity shock lowers the conditional mean of every positive-beta asset."""
    S, rng = cov_rng
    S = S + 1e-4 * np.eye(4)  # equity must have variance to be shocked
    B = rng.standard_normal((6, 4))
    beta = B @ S[:, 0] / S[0, 0]  # each asset's total beta to the equity factor
    mus = []
    for s in (s_hi, s_hi - gap):
        mean, cov = conditional_gaussian(np.zeros(4), S, [0], np.array([s]))
        mus.append(asset_moments(np.zeros(6), B, np.zeros(6), 13.0, mean, cov)[0])
    change = mus[1] - mus[0]
    np.testing.assert_allclose(change, -gap * beta, atol=1e-9)
    assert np.all(change[beta > 1e-9] < 0)


def test_conditioning_a_singular_covariance_stays_psd_regression():
    """Found by the property above: with a rank-3 covariance the exact conditional variance
    of the fourth factor given the other three is 0, and rounding made it -3.6e-15, which is
    not PSD relative to its own (zero) scale."""
    A = np.random.default_rng(0).standard_normal((4, 4))
    A[:, -1] = 0.0
    _, cov = conditional_gaussian(np.zeros(4), A @ A.T, [0, 1, 2], np.array([0.1, -0.2, 0.3]))
    assert is_psd(cov)
    assert cov[3, 3] == pytest.approx(0.0, abs=1e-12)
