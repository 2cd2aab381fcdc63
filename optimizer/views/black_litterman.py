"""Black-Litterman (He-Litterman form) for return views, with Idzorek's confidences.

With prior mean ``pi`` (n,), covariance ``Sigma`` (n, n), views ``P w = Q`` (P: (k, n),
Q: (k,)) and view uncertainty ``Omega`` (k, k)::

    mu_BL    = pi + tau Sigma P' (P tau Sigma P' + Omega)^-1 (Q - P pi)
    Sigma_BL = Sigma + tau Sigma - tau Sigma P' (P tau Sigma P' + Omega)^-1 P tau Sigma

A view at confidence ``c`` has ``Omega_kk = tau (1 - c) / c P_k Sigma P_k'`` (Idzorek, in
Walters' closed form): confidence 1 imposes the view, confidence 0.5 moves the mean
halfway. PyPortfolioOpt's ``BlackLittermanModel`` (omega="idzorek") is the cross-check in
the tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from optimizer.views.model import ViewConfig, ViewKind, ViewsConfig

if TYPE_CHECKING:
    from optimizer.estimate import Estimate


def picking(
    views: Sequence[ViewConfig], tickers: Sequence[str], span_years: float
) -> tuple[np.ndarray, np.ndarray]:
    """``P`` (k, n) and ``Q`` (k,) of return, level and relative views."""
    col = {str(t): i for i, t in enumerate(tickers)}
    P = np.zeros((len(views), len(col)))
    Q = np.zeros(len(views))
    for k, v in enumerate(views):
        P[k, col[v.series]] = 1.0
        if v.kind is ViewKind.RELATIVE:
            P[k, col[str(v.versus)]] = -1.0
        Q[k] = v.target(span_years)
    return P, Q


def idzorek_omega(
    P: np.ndarray, Sigma: np.ndarray, confidences: np.ndarray, tau: float
) -> np.ndarray:
    """Diagonal view uncertainty (k, k) from confidences in (0, 1]."""
    c = np.asarray(confidences, dtype=float)
    var = np.einsum("ki,ij,kj->k", P, Sigma, P)
    return np.diag(tau * (1.0 - c) / c * var)


def black_litterman(
    pi: np.ndarray,
    Sigma: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    Omega: np.ndarray,
    tau: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean (n,) and covariance (n, n); ``Omega`` may be singular (views held
    with certainty), ``P tau Sigma P' + Omega`` may not."""
    tS = tau * np.asarray(Sigma, dtype=float)
    tSP = tS @ P.T  # (n, k)
    A = P @ tSP + Omega  # (k, k)
    gain = np.linalg.solve(A, np.column_stack([Q - P @ pi, tSP.T]))  # (k, 1 + n)
    mu = pi + tSP @ gain[:, 0]
    Sigma_bl = Sigma + tS - tSP @ gain[:, 1:]
    return mu, (Sigma_bl + Sigma_bl.T) / 2


def apply_black_litterman(est: Estimate, cfg: ViewsConfig) -> Estimate:
    """The Estimate with Black-Litterman posterior moments (prior: its own mu and Sigma);
    Monte Carlo samples are shifted by the change in mean so CVaR sees the views too."""
    from optimizer.views.report import ViewOutcome, ViewsReport, sample_span_years

    views = [v for v in cfg.view if v.confidence > 0]
    span = float(est.horizon_years)
    pi, Sigma = np.asarray(est.mu, dtype=float), np.asarray(est.Sigma, dtype=float)
    P, Q = picking(views, est.tickers, span)
    Omega = idzorek_omega(P, Sigma, np.array([v.confidence for v in views]), cfg.tau)
    mu, Sigma_bl = black_litterman(pi, Sigma, P, Q, Omega, cfg.tau)
    P_all, Q_all = picking(cfg.view, est.tickers, span)
    outcomes = tuple(
        ViewOutcome(
            name=v.name(),
            kind=v.kind.value,
            op=v.op.value,
            target=float(Q_all[k]),
            confidence=v.confidence,
            prior=float(P_all[k] @ pi),
            posterior=float(P_all[k] @ mu),
            imposed=float(Q_all[k]),
            source=v.source,
        )
        for k, v in enumerate(cfg.view)
    )
    samples = est.samples
    if samples is not None:
        samples = samples + (mu - pi) * (sample_span_years(est) / span)
    report = ViewsReport(
        method=cfg.method.value,
        views=outcomes,
        relative_entropy=0.0,
        effective_scenarios=float(len(samples)) if samples is not None else 0.0,
        n_scenarios=0 if samples is None else len(samples),
        prior_mu=pi,
        prior_Sigma=Sigma,
    )
    return dataclasses.replace(
        est,
        mu=mu,
        Sigma=Sigma_bl,
        samples=samples,
        views=report,
        method=f"{est.method}; {len(cfg.view)} views by Black-Litterman (tau {cfg.tau:g})",
    )
