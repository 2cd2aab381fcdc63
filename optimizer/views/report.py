"""What the views did to an estimate: each view before and after, and the tilt's entropy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from optimizer.estimate import Estimate


@dataclass(frozen=True)
class ViewOutcome:
    """One view before and after: its statistic under the prior, the posterior, and the
    posterior at full confidence (what the view asks for when it is imposed)."""

    name: str
    kind: str
    op: str
    target: float  # in the statistic's units (a return, a probability, a volatility...)
    confidence: float
    prior: float
    posterior: float
    imposed: float  # the statistic under the confidence-1 posterior of the views
    source: str = ""


@dataclass(frozen=True)
class ViewsReport:
    """What the views did to the estimate (``Estimate.views``)."""

    method: str
    views: tuple[ViewOutcome, ...]
    relative_entropy: float  # sum p log(p / q) of the posterior against the prior
    effective_scenarios: float  # exp(-sum p log p)
    n_scenarios: int
    prior_mu: np.ndarray  # (n_assets,) the estimate's mean before the views
    prior_Sigma: np.ndarray  # (n_assets, n_assets) its covariance before the views
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the prior moments are left to the caller)."""
        return {
            "method": self.method,
            "relative_entropy": self.relative_entropy,
            "effective_scenarios": self.effective_scenarios,
            "n_scenarios": self.n_scenarios,
            "views": [dataclasses.asdict(v) for v in self.views],
            "warnings": list(self.warnings),
        }


def sample_span_years(est: Estimate) -> float:
    """What one row of ``est.samples`` spans, in years."""
    if est.samples_period == "horizon":
        return float(est.horizon_years)
    from optimizer.factors import Frequency

    return 1.0 / Frequency(est.samples_period).periods_per_year
