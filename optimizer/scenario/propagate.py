"""The maths of propagation: conditional Gaussian, stress, plausibility, mixture, sampling.

Everything here works on plain arrays so it can be checked against closed forms:

* conditional Gaussian of the unshocked factors given the shocked ones,
  ``E[f_u | f_s = s] = mu_u + S_us S_ss^-1 (s - mu_s)``,
  ``Cov[f_u | f_s = s] = S_uu - S_us S_ss^-1 S_su``;
* asset horizon moments ``mu = a h + B E[f|s]``, ``Sigma = B Cov[f|s] B' + h D``;
* mixture ``mu = sum p_k mu_k``, ``Sigma = sum p_k (Sigma_k + mu_k mu_k') - mu mu'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from optimizer.errors import ScenarioError, UnsupportedScenario
from optimizer.scenario.model import PsdPolicy, Stress

PSD_TOL = 1e-10


def conditional_gaussian(
    mean: np.ndarray, cov: np.ndarray, shocked: Sequence[int], values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Condition a Gaussian on some coordinates taking given values.

    Parameters
    ----------
    mean : ndarray (k,)
    cov : ndarray (k, k), PSD
    shocked : indices of the fixed coordinates, (m,)
    values : ndarray (m,), their values

    Returns
    -------
    mean : ndarray (k,) with the shocked coordinates equal to ``values``
    cov : ndarray (k, k) with zero rows and columns for the shocked coordinates
    """
    k = len(mean)
    s = np.asarray(list(shocked), dtype=int)
    u = np.setdiff1d(np.arange(k), s)
    out_mean = np.array(mean, dtype=float)
    out_cov = np.zeros((k, k))
    if len(s) == 0:
        return out_mean, np.array(cov, dtype=float)
    out_mean[s] = values
    if len(u) == 0:
        return out_mean, out_cov
    S_ss = cov[np.ix_(s, s)]
    S_us = cov[np.ix_(u, s)]
    gain = S_us @ np.linalg.pinv(S_ss)  # (n_u, m)
    out_mean[u] = mean[u] + gain @ (np.asarray(values) - mean[s])
    cond = cov[np.ix_(u, u)] - gain @ S_us.T
    # a Schur complement of a PSD matrix is PSD: negative eigenvalues are rounding (seen:
    # -3.6e-15 where the exact value is 0), clipped so that later checks see a PSD matrix
    out_cov[np.ix_(u, u)] = clip_to_psd(cond)
    return out_mean, out_cov


def regime_conditional(
    mean: np.ndarray,
    calm: np.ndarray,
    spread: np.ndarray,
    shocked: Sequence[int],
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Conditional factor mean from the ``calm`` covariance (k, k) and conditional covariance
    from ``spread`` (the calm one, or a stressed one): a stressed regime widens what is
    around the mean the window's relationships predict, it does not move that mean."""
    f_mean, f_cov = conditional_gaussian(mean, calm, shocked, values)
    if spread is not calm:
        _, f_cov = conditional_gaussian(mean, spread, shocked, values)
    return f_mean, f_cov


def asset_moments(
    a: np.ndarray,
    B: np.ndarray,
    D: np.ndarray,
    periods: float,
    f_mean: np.ndarray,
    f_cov: np.ndarray,
    vol_multiplier: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Horizon asset moments from horizon factor moments.

    Parameters
    ----------
    a : ndarray (n_assets,) per-period intercepts
    B : ndarray (n_assets, n_factors) exposures
    D : ndarray (n_assets,) per-period residual variances
    periods : number of model periods in the horizon
    f_mean : ndarray (n_factors,) horizon factor mean (conditional)
    f_cov : ndarray (n_factors, n_factors) horizon factor covariance (conditional)
    vol_multiplier : scales every volatility (factor and residual) by this factor

    Returns
    -------
    mu : ndarray (n_assets,), Sigma : ndarray (n_assets, n_assets)
    """
    m2 = vol_multiplier**2
    mu = a * periods + B @ f_mean
    Sigma = m2 * (B @ f_cov @ B.T) + m2 * periods * np.diag(D)
    return mu, (Sigma + Sigma.T) / 2


def simple_moments(
    mu: np.ndarray, Sigma: np.ndarray, *, mean_var: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (n,) and covariance (n, n) of simple returns ``exp(x) - 1`` when the log
    returns ``x`` are normal with mean ``mu`` and covariance ``Sigma`` (lognormal moments):
    ``E = exp(mu + Sigma_ii / 2) - 1``, ``Cov_ij = (1 + E_i)(1 + E_j)(exp(Sigma_ij) - 1)``.
    ``mean_var`` (n,), when given, replaces ``Sigma_ii`` in the mean (a stress that widens
    the spread without moving the mean)."""
    var = np.diag(Sigma) if mean_var is None else mean_var
    growth = np.exp(mu + var / 2)
    cov = np.outer(growth, growth) * np.expm1(Sigma)
    return growth - 1.0, (cov + cov.T) / 2


def min_eigenvalue(M: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((M + M.T) / 2).min())


def is_psd(M: np.ndarray, tol: float = PSD_TOL) -> bool:
    """True when the smallest eigenvalue is above ``-tol`` times the largest scale."""
    scale = max(float(np.abs(np.diag(M)).max(initial=0.0)), 1.0e-300)
    return min_eigenvalue(M) >= -tol * scale


def clip_to_psd(M: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Nearest symmetric matrix with eigenvalues at least ``floor`` (Frobenius norm)."""
    w, V = np.linalg.eigh((M + M.T) / 2)
    out = (V * np.maximum(w, floor)) @ V.T
    return (out + out.T) / 2


@dataclass(frozen=True)
class StressResult:
    cov: np.ndarray  # (k, k) stressed factor covariance
    repaired: bool  # True when the PSD repair changed it


def stress_covariance(
    cov: np.ndarray, names: Sequence[str], stress: Stress, file: str | None = None
) -> StressResult:
    """Apply correlation stress and overrides to a factor covariance, keeping it PSD.

    ``correlation_stress`` c moves every correlation towards +-1 keeping its sign
    (``rho + c (sign(rho) - rho)``); ``correlations`` then set chosen pairs. When the result
    is not PSD, ``psd = "error"`` raises a ScenarioError naming the key and value, and
    ``psd = "repair"`` clips the correlation matrix's negative eigenvalues.
    """
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    safe = np.where(sd > 0, sd, 1.0)
    C = cov / np.outer(safe, safe)
    c = stress.correlation_stress
    off = ~np.eye(len(sd), dtype=bool)
    C[off] = C[off] + c * (np.sign(C[off]) - C[off])
    index = {n: i for i, n in enumerate(names)}
    for k, over in enumerate(stress.correlations):
        missing = [f for f in over.factors if f not in index]
        if missing:  # the stated correlation would silently not be set
            raise UnsupportedScenario(
                f"factor {missing[0]!r} has no series in this data; factors available: "
                + ", ".join(names),
                file=file,
                key=f"stress.correlations[{k}].factors",
                value=missing[0],
                hint=f"map it in the account file: [estimation.factors.{missing[0]}]",
            )
        i, j = index[over.factors[0]], index[over.factors[1]]
        C[i, j] = C[j, i] = over.value
    if is_psd(C):
        return StressResult(np.outer(sd, sd) * C, False)
    if stress.psd is PsdPolicy.ERROR:
        key, value = _breaking_key(stress)
        raise ScenarioError(
            f"the stressed factor correlation matrix is not positive semidefinite "
            f"(smallest eigenvalue {min_eigenvalue(C):.3g})",
            file=file,
            key=key,
            value=value,
            hint='soften the stress, or set stress.psd = "repair" to clip it',
        )
    C = clip_to_psd(C, 1e-8)
    d = np.sqrt(np.diag(C))
    C = C / np.outer(d, d)
    return StressResult(np.outer(sd, sd) * C, True)


def _breaking_key(stress: Stress) -> tuple[str, object]:
    if stress.correlations:
        text = ", ".join(f"{a}/{b}={v:g}" for (a, b), v in _pairs(stress))
        return "stress.correlations", text
    return "stress.correlation_stress", stress.correlation_stress


def _pairs(stress: Stress) -> list[tuple[tuple[str, str], float]]:
    return [(o.factors, o.value) for o in stress.correlations]


# (upper tail probability bound, label): the first row whose bound the tail is above
_PLAUSIBILITY = (
    (0.32, "ordinary"),
    (0.05, "plausible"),
    (0.01, "unusual"),
    (0.001, "rare"),
    (0.0, "extreme"),
)
PLAUSIBILITY_BANDS = _PLAUSIBILITY  # (lower tail-probability bound, label), most likely first


def plausibility(distance: float, dof: int) -> tuple[float, str]:
    """Tail probability of a Mahalanobis distance and its meaning in words.

    Under the fitted Gaussian the squared distance of ``dof`` shocked factors is
    chi-square with ``dof`` degrees of freedom; the tail probability is how often a move at
    least this unusual happens over a horizon of the same length.
    """
    if dof == 0:
        return 1.0, "no shock (the baseline)"
    p = float(special.chdtrc(dof, distance**2))  # chi-square upper tail
    label = next(text for bound, text in _PLAUSIBILITY if p > bound or bound == 0.0)
    if p >= 0.32:
        return p, f"{label} (within 1 sd)"
    if p < 1e-6:
        return p, f"{label} (under 1 in a million)"
    return p, f"{label} (1 in {_round_sig(1 / p):,})"


def _round_sig(x: float) -> int:
    if x < 10:
        return round(x)
    digits = int(np.floor(np.log10(x))) - 1
    return int(round(x, -digits))


def mixture_moments(
    mus: Sequence[np.ndarray], Sigmas: Sequence[np.ndarray], probs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (n,) and covariance (n, n) of a probability-weighted Gaussian mixture."""
    p = np.asarray(probs, dtype=float)
    M = np.asarray(mus, dtype=float)  # (K, n)
    mu = p @ M
    second = sum(pk * (S + np.outer(m, m)) for pk, m, S in zip(p, M, Sigmas, strict=True))
    Sigma = second - np.outer(mu, mu)
    return mu, (Sigma + Sigma.T) / 2


def sample_mixture(
    mus: Sequence[np.ndarray],
    Sigmas: Sequence[np.ndarray],
    probs: Sequence[float],
    n_samples: int,
    seed: int,
) -> np.ndarray:
    """Seeded draws (n_samples, n_assets) from the Gaussian mixture.

    The component of each draw is chosen with ``probs``; each component is drawn through
    the symmetric square root of its covariance, so a singular (PSD) covariance is fine.
    The same seed gives the same matrix.
    """
    rng = np.random.default_rng(seed)
    p = np.asarray(probs, dtype=float)
    labels = rng.choice(len(p), size=n_samples, p=p / p.sum())
    n_assets = len(mus[0])
    out = np.empty((n_samples, n_assets))
    for k, (m, S) in enumerate(zip(mus, Sigmas, strict=True)):
        rows = np.flatnonzero(labels == k)
        w, V = np.linalg.eigh((S + S.T) / 2)
        root = V * np.sqrt(np.clip(w, 0.0, None))
        out[rows] = m + rng.standard_normal((len(rows), n_assets)) @ root.T
    return out


def mixture_weights(stated: Sequence[float | None], tol: float = 1e-9) -> tuple[list[float], float]:
    """Probabilities for a scenario set, and the remainder that goes to the baseline.

    Stated probabilities above 1 in total are an error. Scenarios without a probability
    share what is left equally; if every scenario states one and they sum below 1, the
    remainder is returned for the baseline (no shock).
    """
    total = sum(p for p in stated if p is not None)
    if total > 1 + tol:
        raise ScenarioError(
            "scenario probabilities sum above 1",
            key="scenarios.use.probability",
            value=round(total, 6),
            hint="lower them; any remainder below 1 goes to the baseline",
        )
    missing = [i for i, p in enumerate(stated) if p is None]
    left = max(1.0 - total, 0.0)
    if missing:
        share = left / len(missing)
        return [share if p is None else float(p) for p in stated], 0.0
    return [float(p) for p in stated], left if left > tol else 0.0
