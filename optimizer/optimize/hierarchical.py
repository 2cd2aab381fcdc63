"""Risk parity and hierarchical risk parity through Riskfolio-Lib, with typed errors.

Riskfolio-Lib prints a message and returns ``None`` when it finds no solution; here that
becomes a :class:`SolverError`. Both take the estimate's covariance exactly: risk parity via
``Portfolio.cov``, HRP via a returns matrix constructed to have that sample covariance.
Only per-ticker bounds apply (risk parity's as linear constraints on the weights, HRP's
``w_min`` / ``w_max``); other constraints are refused.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from typing import Any

import numpy as np

from optimizer.errors import ConfigError, SolverError
from optimizer.estimate import Estimate
from optimizer.optimize.frame import Numbers
from optimizer.optimize.inputs import Inputs, numbers
from optimizer.optimize.policy import ConstraintsConfig, ObjectiveKind, Policy
from optimizer.optimize.program import SolveReport
from optimizer.optimize.result import Allocation, metrics
from optimizer.optimize.universe import Universe

_UNSUPPORTED = (
    "groups",
    "turnover",
    "tracking_error",
    "max_volatility",
    "max_cvar",
    "scenario_loss",
)


def exact_cov_returns(x: Numbers, n_rows: int | None = None, seed: int = 0) -> np.ndarray:
    """Returns of shape (n_rows, n_assets) whose mean is ``mu`` and sample covariance
    (ddof=1) is exactly ``Sigma``."""
    n = len(x.mu)
    T = n_rows or max(4 * n, 250)
    Z = np.random.default_rng(seed).standard_normal((T, n))
    Z -= Z.mean(axis=0)
    Q, _ = np.linalg.qr(Z)  # orthonormal, zero-mean columns
    return Q * np.sqrt(T - 1) @ x.Lt + x.mu


class RiskfolioBuilt:
    """Same contract as ``Built``: ``solve(inputs) -> Allocation``."""

    def __init__(self, policy: Policy, universe: Universe) -> None:
        self.policy, self.universe = policy, universe

    @classmethod
    def create(cls, policy: Policy, shape: Any, *, file: str | None = None) -> RiskfolioBuilt:
        cons = policy.constraints
        defaults = ConstraintsConfig()
        for key in _UNSUPPORTED:
            if getattr(cons, key) != getattr(defaults, key):
                raise ConfigError(
                    f"objective {policy.objective.kind.value!r} takes per-ticker bounds only",
                    file=file,
                    key=f"constraints.{key}",
                    hint="use a cvxpy objective (utility, min_variance, ...) for constraints",
                )
        return cls(policy, Universe.from_config(policy.universe, file=file))

    def numbers(self, inputs: Inputs) -> Numbers:
        return numbers(inputs, self.universe.tickers, self.policy.constraints.covariance)

    def solve(self, inputs: Inputs) -> Allocation:
        x = self.numbers(inputs)
        start = time.perf_counter()
        kind = self.policy.objective.kind
        w = self._hrp(x) if kind is ObjectiveKind.HRP else self._risk_parity(x)
        report = SolveReport(f"riskfolio:{kind.value}", "optimal", time.perf_counter() - start, ())
        return self._allocation(w, x, report, inputs.estimate)

    def _frame(self, data: np.ndarray) -> Any:
        import pandas as pd

        return pd.DataFrame(data, columns=list(self.universe.tickers))

    def _risk_parity(self, x: Numbers) -> np.ndarray:
        import riskfolio as rp

        port = rp.Portfolio(returns=self._frame(exact_cov_returns(x)))
        port.mu = self._frame(x.mu[None, :])
        port.cov = self._frame(x.Sigma).set_axis(list(self.universe.tickers))
        port.solvers = ["CLARABEL"]
        u = self.universe
        lower, upper = np.maximum(u.lower, 0.0), np.minimum(u.upper, 1.0)
        bounded = bool(np.any(lower > 0) or np.any(upper < 1))
        if bounded:  # rows of A w <= B sum(w): the bounds on the normalised weights
            n = len(u.tickers)
            port.ainequality = np.vstack([np.eye(n), -np.eye(n)])
            port.binequality = np.concatenate([upper, -lower])[:, None]
        out = _quiet(port.rp_optimization, model="Classic", rm="MV", rf=0.0, hist=False)
        w = self._checked(out, "risk parity")
        if bounded and (np.any(w < lower - 1e-6) or np.any(w > upper + 1e-6)):
            raise SolverError("Riskfolio-Lib's risk parity weights break the per-ticker bounds")
        return w

    def _hrp(self, x: Numbers) -> np.ndarray:
        import pandas as pd
        import riskfolio as rp

        port = rp.HCPortfolio(returns=self._frame(exact_cov_returns(x)))
        u = self.universe
        if np.any(u.lower > 0) or np.any(u.upper < 1):
            port.w_min = pd.Series(u.lower, index=list(u.tickers))
            port.w_max = pd.Series(u.upper, index=list(u.tickers))
        out = _quiet(
            port.optimization,
            model="HRP",
            codependence="pearson",
            rm="MV",
            linkage="single",
            leaf_order=False,
        )
        return self._checked(out, "HRP")

    def _checked(self, out: Any, what: str) -> np.ndarray:
        if out is None:
            raise SolverError(f"Riskfolio-Lib found no {what} portfolio for these inputs")
        w = np.asarray(out.reindex(list(self.universe.tickers)).to_numpy(), dtype=float).ravel()
        if not np.all(np.isfinite(w)):
            raise SolverError(f"Riskfolio-Lib returned non-finite {what} weights")
        return w

    def _allocation(
        self, w: np.ndarray, x: Numbers, report: SolveReport, estimate: Estimate
    ) -> Allocation:
        return Allocation(
            weights=dict(zip(self.universe.tickers, map(float, w), strict=True)),
            objective=self.policy.objective.kind.value,
            metrics=metrics(w, x, self.universe, self.policy.objective.cvar_level),
            horizon_years=x.horizon_years,
            risk_free=x.risk_free,
            binding=(),
            solver=report.solver,
            status=report.status,
            solve_seconds=report.seconds,
            fallbacks=(),
            provenance=estimate.provenance,
            warnings=x.warnings,
            scenario_titles={s.id: s.title for s in estimate.scenarios},
        )


def _quiet(fn: Any, **kwargs: Any) -> Any:
    """Call a Riskfolio-Lib method without its prints and warnings reaching the user."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return fn(**kwargs)
        except Exception as exc:  # its internal failures become one typed line
            raise SolverError(f"Riskfolio-Lib failed: {type(exc).__name__}: {exc}") from None
