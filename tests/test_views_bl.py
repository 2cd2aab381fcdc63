"""Black-Litterman against PyPortfolioOpt's BlackLittermanModel (1e-8) and the precision
form of the posterior (Theil's mixed estimation)."""

from __future__ import annotations

import numpy as np
import pytest
from pypfopt.black_litterman import BlackLittermanModel

from optimizer.config import validate
from optimizer.views import ViewConfig, black_litterman, idzorek_omega, picking

TICKERS = ("LARGE", "MID", "SMALL", "BOND")


def _inputs(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(4, 6))
    Sigma = (B @ B.T / 6 + np.diag([0.01, 0.02, 0.03, 0.005])) * 0.05
    pi = np.array([0.02, 0.022, 0.025, 0.01])
    return pi, Sigma


VIEWS = [
    {"kind": "return", "series": "SMALL", "value": 0.04, "confidence": 0.6},
    {"kind": "relative", "series": "SMALL", "versus": "LARGE", "value": 0.01, "confidence": 0.3},
    {"kind": "level", "series": "BOND", "value": 101.5, "spot": 100.0, "confidence": 1.0},
]


@pytest.mark.parametrize("tau", [0.025, 0.05, 1.0])
def test_black_litterman_equals_pypfopt(tau: float) -> None:
    pi, Sigma = _inputs()
    views = [validate(ViewConfig, v) for v in VIEWS]
    P, Q = picking(views, TICKERS, 0.25)
    assert Q[2] == pytest.approx(0.015, abs=1e-15)
    conf = np.array([v.confidence for v in views])
    mu, Sigma_bl = black_litterman(pi, Sigma, P, Q, idzorek_omega(P, Sigma, conf, tau), tau)
    ref = BlackLittermanModel(
        Sigma, pi=pi, P=P, Q=Q, omega="idzorek", view_confidences=conf, tau=tau
    )
    np.testing.assert_allclose(mu, ref.bl_returns().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(Sigma_bl, ref.bl_cov().to_numpy(), rtol=0, atol=1e-8)
    assert float(P[2] @ mu) == pytest.approx(0.015, abs=1e-10)  # confidence 1 is imposed


def test_black_litterman_precision_form() -> None:
    # with every confidence below 1, Omega is invertible and the posterior mean is
    # [(tau S)^-1 + P' O^-1 P]^-1 [(tau S)^-1 pi + P' O^-1 Q], its covariance S + that inverse
    pi, Sigma = _inputs(5)
    views = [validate(ViewConfig, {**v, "confidence": 0.5}) for v in VIEWS]
    P, Q = picking(views, TICKERS, 0.25)
    tau = 0.05
    Omega = idzorek_omega(P, Sigma, np.full(3, 0.5), tau)
    mu, Sigma_bl = black_litterman(pi, Sigma, P, Q, Omega, tau)
    prec = np.linalg.inv(tau * Sigma) + P.T @ np.linalg.inv(Omega) @ P
    M = np.linalg.inv(prec)
    ref = M @ (np.linalg.solve(tau * Sigma, pi) + P.T @ np.linalg.solve(Omega, Q))
    np.testing.assert_allclose(mu, ref, atol=1e-10)
    np.testing.assert_allclose(Sigma_bl, Sigma + M, atol=1e-10)
