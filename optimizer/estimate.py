"""The ``Estimate``: what the scenario engine hands to the optimizer.

All moments are for the scenario *horizon* (``horizon_years``, e.g. 0.25 for three months),
as simple (not log) returns. Annualise with ``mu / horizon_years`` and
``Sigma / horizon_years`` for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.data.base import Provenance


@dataclass(frozen=True)
class ScenarioMoments:
    """One scenario's conditional moments and how plausible its shocks are."""

    id: str
    title: str
    probability: float  # weight in the mixture, 0..1
    mu: np.ndarray  # (n_assets,) conditional horizon mean
    Sigma: np.ndarray  # (n_assets, n_assets) conditional horizon covariance, PSD
    factor_moves: dict[str, float]  # factor -> conditional expected move (shocked and implied)
    mahalanobis: float  # distance of the stated shocks from the factor distribution
    plausibility: str  # plain words: "ordinary", "unusual (1 in 20)", "extreme (1 in 1000)"
    history: str  # which history the relationships came from, e.g. "2022-01-03..2025-12-31"
    regime: str = "calm"  # covariance regime used: "calm" or "stressed"
    details: dict[str, Any] = field(default_factory=dict)  # shocks as stated, spot levels, ...


@dataclass(frozen=True)
class Estimate:
    """Horizon return moments for ``tickers``, per scenario and as a mixture.

    ``samples`` is the seeded Monte Carlo matrix of horizon returns drawn from the mixture,
    used by CVaR and robust objectives; ``None`` when no scenarios were requested.
    """

    tickers: tuple[str, ...]
    mu: np.ndarray  # (n_assets,) mixture (or baseline) horizon mean
    Sigma: np.ndarray  # (n_assets, n_assets) mixture horizon covariance, PSD
    horizon_years: float  # horizon of mu/Sigma in years
    risk_free: float  # risk-free return over the horizon
    provenance: Provenance
    scenarios: tuple[ScenarioMoments, ...] = ()
    samples: np.ndarray | None = None  # (n_samples, n_assets) horizon returns
    seed: int | None = None
    method: str = ""  # e.g. "factor model (4 factors) + 3 scenarios" or "ledoit_wolf"
    exposures: dict[str, dict[str, float]] = field(default_factory=dict)  # ticker -> factor -> beta

    @property
    def n_assets(self) -> int:
        return len(self.tickers)

    def scenario(self, scenario_id: str) -> ScenarioMoments:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        from optimizer.errors import ScenarioError

        known = ", ".join(s.id for s in self.scenarios) or "none"
        raise ScenarioError(f"unknown scenario; known: {known}", key="scenario", value=scenario_id)
