"""Per-run inputs: the estimate and the account's current weights, checked and aligned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from optimizer.errors import ConfigError, DataError
from optimizer.estimate import Estimate
from optimizer.optimize.frame import Numbers
from optimizer.optimize.policy import CovarianceRepair
from optimizer.optimize.taxterm import TaxLots

_PSD_TOL = 1e-10  # relative to the largest eigenvalue


@dataclass(frozen=True)
class Inputs:
    """What changes every run: the estimate, the current weights (ticker -> weight) and,
    for a tax-aware problem, the account's tax lots (in the universe's ticker order)."""

    estimate: Estimate
    current: Mapping[str, float] | None = field(default=None)
    tax: TaxLots | None = None


def numbers(
    inputs: Inputs, tickers: tuple[str, ...], repair: CovarianceRepair = CovarianceRepair.REPAIR
) -> Numbers:
    """Align ``inputs`` to ``tickers`` and factor the covariance.

    Raises DataError for missing tickers, NaN, or a covariance that is not PSD when
    ``repair`` is ``refuse``.
    """
    est = inputs.estimate
    same = tuple(est.tickers) == tuple(tickers)
    idx = slice(None) if same else _index(est.tickers, tickers)
    mu = np.asarray(est.mu, dtype=float)[idx]
    bad = [tickers[i] for i in np.flatnonzero(~np.isfinite(mu))]
    if bad:
        raise DataError("expected returns are not finite", key="mu", value=", ".join(bad))
    Sigma = np.asarray(est.Sigma, dtype=float)
    Sigma = Sigma if same else Sigma[np.ix_(idx, idx)]
    if not np.all(np.isfinite(Sigma)):
        raise DataError("the covariance has NaN or infinite entries", key="Sigma")
    Sigma = 0.5 * (Sigma + Sigma.T)
    Lt, Sigma, warnings = factor(Sigma, tickers, repair)
    indices = [t for t in tickers if t.startswith("^")]  # Yahoo's spelling of an index
    if indices:
        warnings = (
            *warnings,
            f"{', '.join(indices)}: an index level, not an investable asset: its returns are "
            "not a fund's (an index like ^VIX does not compound); hold a fund that tracks it",
        )
    samples = None if est.samples is None else np.asarray(est.samples, dtype=float)[:, idx]
    if samples is not None and not np.all(np.isfinite(samples)):
        raise DataError("the Monte Carlo samples have NaN or infinite entries", key="samples")
    return Numbers(
        mu=mu,
        Sigma=Sigma,
        Lt=Lt,
        risk_free=float(est.risk_free),
        horizon_years=float(est.horizon_years),
        w0=current_weights(inputs.current, tickers),
        samples=samples,
        scenario_mu={s.id: np.asarray(s.mu, dtype=float)[idx] for s in est.scenarios},
        warnings=warnings,
        has_current=inputs.current is not None,
        probabilities=None if est.probabilities is None else np.asarray(est.probabilities),
        tax=inputs.tax,
    )


def factor(
    Sigma: np.ndarray, tickers: tuple[str, ...], repair: CovarianceRepair
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(Lt, Sigma, warnings)`` with ``Lt.T @ Lt == Sigma``, shape (n_assets, n_assets).

    Cholesky when Sigma is positive definite; otherwise eigenvalues below zero are clipped
    (nearest PSD matrix in Frobenius norm) or refused.
    """
    try:
        return np.linalg.cholesky(Sigma).T.copy(), Sigma, ()
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(Sigma)
    floor = -_PSD_TOL * max(float(vals.max()), 1e-300)
    notes: tuple[str, ...] = ()
    if vals.min() < floor:
        if repair is CovarianceRepair.REFUSE:
            raise DataError(
                f"the covariance is not positive semidefinite (smallest eigenvalue "
                f"{vals.min():.3g})",
                key="constraints.covariance",
                value="refuse",
                hint="set constraints.covariance = 'repair' to clip it to the nearest PSD",
            )
        notes = (
            f"covariance was not PSD (smallest eigenvalue {vals.min():.3g}); repaired by "
            "clipping negative eigenvalues to 0",
        )
    vals = np.clip(vals, 0.0, None)
    Lt = (vecs * np.sqrt(vals)).T
    return Lt, Lt.T @ Lt, notes


def current_weights(current: Mapping[str, float] | None, tickers: tuple[str, ...]) -> np.ndarray:
    """Current weights as an array of shape (n_assets,); all zeros (all cash) when None."""
    if current is None:
        return np.zeros(len(tickers))
    unknown = sorted(set(current) - set(tickers))
    if unknown:
        raise ConfigError(
            f"current weights name tickers outside the universe; known: {', '.join(tickers)}",
            key="current",
            value=", ".join(unknown),
        )
    w0 = np.array([float(current.get(t, 0.0)) for t in tickers])
    if not np.all(np.isfinite(w0)):
        raise ConfigError("current weights must be finite numbers", key="current")
    return w0


def _index(have: tuple[str, ...], want: tuple[str, ...]) -> np.ndarray:
    pos = {t: i for i, t in enumerate(have)}
    missing = [t for t in want if t not in pos]
    if missing:
        raise DataError(
            f"the estimate has no numbers for {', '.join(missing)}; it covers {', '.join(have)}",
            key="universe",
        )
    return np.array([pos[t] for t in want], dtype=int)
