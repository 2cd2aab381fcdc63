"""``capalloc whatif``: every scenario side by side, and the regret of each choice.

Column k is the policy's optimum when scenario k is certain (its conditional moments,
with Monte Carlo samples drawn from that scenario alone); the ``robust`` column is the
optimum for the probability-weighted mixture. Regret is measured in certainty-equivalent
horizon return, CE_j(w) = mu_j'w - (lambda/2) w'Sigma_j w with lambda the policy's risk
aversion: regret[i][j] = max_k CE_j(w_k) - CE_j(w_i) >= 0 is what holding column i's
portfolio costs, if scenario j happens, against the best of the candidates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.errors import InfeasibleError
from optimizer.optimize.policy import ObjectiveKind
from optimizer.optimize.result import clean_weights as clean
from optimizer.workflows.figures import small_cap_share, vector
from optimizer.workflows.proposal import advisor_section
from optimizer.workflows.views import views_section

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.estimate import Estimate, ScenarioMoments
    from optimizer.workflows.pipeline import AccountRun, Pipeline

ROBUST = "robust"
Column = str  # a scenario id, or ROBUST


@dataclass(frozen=True, kw_only=True)
class WhatIfDocument:
    """The what-if document handed to the report and printed as JSON (docs/report.md):
    one column per scenario plus ``robust``; :meth:`to_dict` is its JSON form."""

    title: str
    generated: str  # ISO timestamp, seconds
    account: dict[str, str]  # id, name
    advisor: dict[str, Any] | None  # the [advisor] section (firm, advisor, contact, logo)
    tickers: list[str]  # (n_assets,)
    tags: dict[str, list[str]]  # ticker -> tags
    columns: list[Column]  # the scenario ids, then ROBUST
    column_titles: dict[Column, str]
    probabilities: dict[str, float]  # scenario id -> mixture weight
    weights: dict[Column, dict[str, float]]  # column -> ticker -> weight (the column's optimum)
    small_cap_share: dict[Column, float | None]  # small caps / equity of the column's optimum
    expected_return: dict[Column, float]  # annualised, the column's optimum, its own moments
    volatility: dict[Column, float]  # annualised, likewise
    current_return: dict[Column, float | None]  # horizon, current weights, if it happens
    proposed_return: dict[Column, float]  # horizon, the robust optimum, if it happens
    regret: dict[Column, dict[str, float]]  # holding column -> scenario happening -> regret
    tax: dict[Column, dict[str, float]] | None  # the tax bill of trading to each column
    horizon_years: float
    estimate: dict[str, Any]  # Estimate.describe()
    views: dict[str, Any] | None  # the views, their effect (docs/views.md), or None
    provenance: dict[str, Any] | None
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, keys in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def weights_frame(self) -> pd.DataFrame:
        """Weights as a DataFrame: one row a ticker, one column a what-if column."""
        import pandas as pd

        return pd.DataFrame(self.weights, index=self.tickers, columns=self.columns)


def conditional_estimate(est: Estimate, s: ScenarioMoments) -> Estimate:
    """The estimate as if scenario ``s`` were certain (same shape as ``est``)."""
    samples = None
    if est.samples is not None:
        rng = np.random.default_rng(est.seed)
        samples = rng.multivariate_normal(s.mu, s.Sigma, size=est.samples.shape[0], method="eigh")
    scenarios = tuple(
        dataclasses.replace(o, probability=1.0 if o.id == s.id else 0.0) for o in est.scenarios
    )
    return dataclasses.replace(
        est,
        mu=s.mu,
        Sigma=s.Sigma,
        samples=samples,
        probabilities=None,  # fresh draws from the scenario alone, equally likely
        scenarios=scenarios,
        method=f"{est.method}; conditional on {s.id}",
    )


def build_whatif(
    run: AccountRun, pipeline: Pipeline, *, generated: dt.datetime | None = None
) -> WhatIfDocument:
    """The what-if document (docs/report.md): one column per scenario plus ``robust``."""
    from optimizer.optimize import Inputs

    cfg, est = run.config, run.estimate
    tax = run.tax_lots  # a taxable account: every column sees the tax of its trades
    solver = pipeline.solver(cfg, est, 0 if tax is None else tax.n_lots)
    current = run.position.weights or None
    weights: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for s in est.scenarios:
        inputs = Inputs(conditional_estimate(est, s), current)
        try:
            alloc = solver.solve(dataclasses.replace(inputs, tax=tax))
            weights[s.id] = clean(alloc.weights)
            notes += [f"{s.id}: {w}" for w in alloc.warnings]
        except InfeasibleError as exc:
            if cfg.policy.objective.kind is not ObjectiveKind.MAX_SHARPE:
                raise
            # max Sharpe has no answer when nothing beats cash in this scenario
            weights[s.id] = clean(_utility_solver(cfg, est, pipeline).solve(inputs).weights)
            notes.append(
                f"{s.id}: {exc.message}; shown instead: the mean-variance utility optimum "
                f"(risk aversion {cfg.policy.objective.risk_aversion:g})"
            )
    weights[ROBUST] = clean(run.allocation.weights)
    columns = [*(s.id for s in est.scenarios), ROBUST]
    W = {c: vector(weights[c], est.tickers) for c in columns}
    w_cur = vector(current, est.tickers) if current else None
    h = est.horizon_years
    moments = {s.id: (s.mu, s.Sigma) for s in est.scenarios}
    moments[ROBUST] = (est.mu, est.Sigma)
    return WhatIfDocument(
        title="What if: every scenario side by side",
        generated=(generated or dt.datetime.now()).isoformat(timespec="seconds"),
        account={"id": cfg.account.id, "name": cfg.account.name or cfg.account.id},
        advisor=advisor_section(cfg),
        tickers=list(est.tickers),
        tags={t: list(a.tags) for t, a in cfg.policy.universe.assets.items()},
        columns=columns,
        column_titles={
            **{s.id: s.title for s in est.scenarios},
            ROBUST: "Probability-weighted robust",
        },
        probabilities={s.id: s.probability for s in est.scenarios},
        weights=weights,
        small_cap_share={c: _zero(small_cap_share(weights[c], cfg)) for c in columns},
        # the column's own optimum under the column's own moments, annualised
        expected_return={c: float(moments[c][0] @ W[c]) / h for c in columns},
        volatility={
            c: float(np.sqrt(max(W[c] @ moments[c][1] @ W[c], 0.0)) / np.sqrt(h)) for c in columns
        },
        # horizon returns if that scenario happens
        current_return={
            c: None if w_cur is None else float(moments[c][0] @ w_cur) for c in columns
        },
        proposed_return={c: float(moments[c][0] @ W[ROBUST]) for c in columns},
        regret=regret_matrix(W, moments, [s.id for s in est.scenarios], _aversion(cfg)),
        tax=None if tax is None else {c: _tax_bill(tax, W[c], current, est) for c in columns},
        horizon_years=h,
        estimate=est.describe(),
        views=views_section(run),
        provenance=est.provenance.to_dict() if est.provenance else None,
        warnings=[*run.warnings, *notes],
    )


def _tax_bill(tax: Any, w: np.ndarray, current: Any, est: Estimate) -> dict[str, float]:
    """Gains and tax (money) of trading from the current weights to ``w``, lots in
    tax-optimal order (docs/optimizer.md, "Tax-aware allocation")."""
    from optimizer.optimize.taxterm import bill_of_weights

    return bill_of_weights(tax, w, vector(current, est.tickers)).to_dict()


def _utility_solver(cfg: Any, est: Estimate, pipeline: Pipeline) -> Any:
    """The account's policy with a mean-variance utility objective, compiled once."""
    from optimizer.optimize import Optimizer, Shape
    from optimizer.workflows.pipeline import policy_key

    key = f"whatif-utility|{policy_key(cfg)}|{Shape.of(est)}"
    if key not in pipeline.problems:
        objective = cfg.policy.objective.model_copy(update={"kind": ObjectiveKind.UTILITY})
        policy = dataclasses.replace(cfg.policy, objective=objective)
        pipeline.problems[key] = Optimizer(policy).build(est, file=str(cfg.path))
    return pipeline.problems[key]


def certainty_equivalent(w: np.ndarray, mu: np.ndarray, Sigma: np.ndarray, lam: float) -> float:
    return float(mu @ w - 0.5 * lam * (w @ Sigma @ w))


def regret_matrix(
    W: dict[str, np.ndarray],
    moments: dict[str, tuple[np.ndarray, np.ndarray]],
    happens: list[str],
    lam: float,
) -> dict[str, dict[str, float]]:
    """regret[hold][happens] = max over candidates of CE_happens minus CE_happens(hold)."""
    out: dict[str, dict[str, float]] = {hold: {} for hold in W}
    for j in happens:
        mu, Sigma = moments[j]
        ce = {hold: certainty_equivalent(w, mu, Sigma, lam) for hold, w in W.items()}
        best = max(ce.values())
        for hold in W:
            out[hold][j] = _zero(best - ce[hold]) or 0.0  # a solver's 1e-11 is no regret
    return out


def _aversion(cfg: Any) -> float:
    return float(cfg.policy.objective.risk_aversion)


def _zero(x: float | None, tol: float = 1e-9) -> float | None:
    return None if x is None else (0.0 if abs(x) < tol else x)
