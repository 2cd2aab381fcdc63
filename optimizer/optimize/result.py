"""The ``Allocation``: weights and everything an advisor needs to judge them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # (results are read without cvxpy: the what-if page, the reports)
    import pandas as pd

    from optimizer.data.base import Provenance
    from optimizer.optimize.frame import Numbers
    from optimizer.optimize.taxterm import TaxOutcome
    from optimizer.optimize.universe import Universe


@dataclass(frozen=True)
class Binding:
    """A constraint that holds with equality, and its shadow price (dual value)."""

    constraint: str
    shadow_price: float


@dataclass(frozen=True)
class Metrics:
    """Horizon figures of one portfolio, recomputed from its weights."""

    expected_return: float  # mu @ w over the horizon
    volatility: float  # sqrt(w' Sigma w) over the horizon
    sharpe: float | None  # (return - rf) / volatility over the horizon
    cvar: float | None  # CVaR of the horizon loss over the samples at cvar_level
    cvar_level: float
    small_cap_share: float | None  # small_cap weight / equity weight
    scenario_returns: dict[str, float]  # scenario id -> mean horizon return
    turnover: float  # sum |w - w0|


def clean_weights(weights: dict[str, float], tol: float = 1e-9) -> dict[str, float]:
    """Weights with solver noise below ``tol`` set to exactly 0 (for documents and exports)."""
    return {t: (0.0 if abs(w) < tol else float(w)) for t, w in weights.items()}


def cvar_of(returns: np.ndarray, level: float, p: np.ndarray | None = None) -> float:
    """CVaR of the loss ``-returns`` at ``level`` (Rockafellar-Uryasev, exact for samples);
    ``p`` (n_samples,): the samples' probabilities (None: equal)."""
    losses = -np.asarray(returns, dtype=float)
    if p is None:
        var = float(np.quantile(losses, level, method="inverted_cdf"))
        return var + float(np.mean(np.maximum(losses - var, 0.0))) / (1.0 - level)
    order = np.argsort(losses, kind="stable")
    cum = np.cumsum(np.asarray(p, dtype=float)[order])
    var = float(losses[order][min(np.searchsorted(cum, level * cum[-1]), len(cum) - 1)])
    return var + float(p @ np.maximum(losses - var, 0.0)) / (1.0 - level)


def metrics(w: np.ndarray, x: Numbers, universe: Universe, level: float) -> Metrics:
    """All figures of ``w`` (shape (n_assets,)) from the run's numbers."""
    ret = float(x.mu @ w)
    vol = float(math.sqrt(max(float(w @ x.Sigma @ w), 0.0)))
    return Metrics(
        expected_return=ret,
        volatility=vol,
        sharpe=(ret - x.risk_free) / vol if vol > 1e-12 else None,
        cvar=cvar_of(x.samples @ w, level, x.probabilities) if x.samples is not None else None,
        cvar_level=level,
        small_cap_share=universe.small_cap_share(w),
        scenario_returns={sid: float(m @ w) for sid, m in x.scenario_mu.items()},
        turnover=float(np.abs(w - x.w0).sum()),
    )


@dataclass(frozen=True)
class Allocation:
    """The optimizer's answer for one account (frozen; nothing downstream mutates it)."""

    weights: dict[str, float]
    objective: str
    metrics: Metrics
    horizon_years: float
    risk_free: float
    binding: tuple[Binding, ...]
    solver: str
    status: str
    solve_seconds: float
    fallbacks: tuple[str, ...]
    provenance: Provenance | None
    warnings: tuple[str, ...] = ()
    scenario_titles: dict[str, str] | None = None
    cvar_period: str = "horizon"  # what the CVaR's samples span (Estimate.samples_period)
    tax: TaxOutcome | None = None  # the sale's tax bill, for a taxable account with lots

    @property
    def weights_series(self) -> pd.Series:
        """The weights as a float Series indexed by ticker (solver noise below 1e-9 set to
        exactly 0, as in the JSON documents), named ``weight``."""
        import pandas as pd

        return pd.Series(clean_weights(self.weights), dtype=float, name="weight")

    @property
    def annual_return(self) -> float:
        return self.metrics.expected_return / self.horizon_years

    @property
    def annual_volatility(self) -> float:
        return self.metrics.volatility / math.sqrt(self.horizon_years)

    @property
    def annual_sharpe(self) -> float | None:
        s = self.metrics.sharpe
        return None if s is None else s / math.sqrt(self.horizon_years)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``weights``, ``metrics``, ``scenarios``, ``constraints``, ``solver``,
        ``provenance``."""
        m = self.metrics
        titles = self.scenario_titles or {}
        return {
            "weights": clean_weights(self.weights),
            "metrics": {
                "objective": self.objective,
                "horizon_years": self.horizon_years,
                "expected_return": m.expected_return,
                "volatility": m.volatility,
                "sharpe": m.sharpe,
                "annual_return": self.annual_return,
                "annual_volatility": self.annual_volatility,
                "annual_sharpe": self.annual_sharpe,
                "cvar": m.cvar,
                "cvar_level": m.cvar_level,
                "cvar_period": self.cvar_period,
                "small_cap_share_of_equity": m.small_cap_share,
                "turnover": m.turnover,
            },
            "scenarios": {
                sid: {"title": titles.get(sid, sid), "return": r}
                for sid, r in m.scenario_returns.items()
            },
            "constraints": [
                {"constraint": b.constraint, "shadow_price": b.shadow_price} for b in self.binding
            ],
            "solver": {
                "name": self.solver,
                "status": self.status,
                "seconds": self.solve_seconds,
                "fallbacks": list(self.fallbacks),
            },
            "warnings": list(self.warnings),
            "provenance": None if self.provenance is None else self.provenance.to_dict(),
            **({"tax": self.tax.to_dict()} if self.tax is not None else {}),
        }
