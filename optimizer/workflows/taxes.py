"""The proposal's ``tax`` section: the tax-aware allocation beside the tax-blind one.

Both bills are computed the same way (lots in tax-optimal order, losses counted), in money.
``after_tax_utility`` is the utility objective's value net of the tax as a fraction of the
account: ``mu'w - gamma/2 w'Sigma w - tax/value`` over the estimate's horizon (``gamma`` the
policy's risk aversion), so the two allocations are judged on one scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.optimize.taxterm import TaxLots, outcome

if TYPE_CHECKING:
    from optimizer.estimate import Estimate
    from optimizer.workflows.pipeline import AccountRun


def after_tax_utility(
    w: np.ndarray, w0: np.ndarray, estimate: Estimate, gamma: float, tax: TaxLots
) -> float:
    """``mu'w - gamma/2 w'Sigma w - tax(w)/value`` (horizon units; see the module doc)."""
    bill = outcome(tax, w, w0, None).bill
    mu, Sigma = np.asarray(estimate.mu), np.asarray(estimate.Sigma)
    return float(mu @ w - 0.5 * gamma * w @ Sigma @ w - bill.tax / tax.value)


def tax_section(run: AccountRun, level: float) -> dict[str, Any] | None:
    """The tax figures of a taxable run: the trades' tax (short/long term), the budget used,
    the plan's realised gains, and the tax-blind alternative; None when not tax-aware."""
    from optimizer.optimize.result import clean_weights
    from optimizer.workflows.figures import portfolio_metrics, vector

    tax, alloc, est = run.tax_lots, run.allocation, run.estimate
    if tax is None or alloc.tax is None:
        return None
    tickers = est.tickers
    w0 = vector(run.position.weights, tickers)
    gamma = run.config.policy.objective.risk_aversion
    w = vector(alloc.weights, tickers)
    doc: dict[str, Any] = {
        "tax_aware": {
            **alloc.tax.to_dict(),
            "after_tax_utility": after_tax_utility(w, w0, est, gamma, tax),
        },
        "plan": _plan_gains(run),
        "harvest": _harvest(run),
        "tax_blind": None,
    }
    if run.tax_blind is not None:
        wb = vector(run.tax_blind.weights, tickers)
        doc["tax_blind"] = {
            "weights": clean_weights(run.tax_blind.weights),
            "metrics": portfolio_metrics(wb, est, run.config, level),
            "scenarios": {s.id: float(s.mu @ wb) for s in est.scenarios},
            **outcome(tax, wb, w0, None).to_dict(),
            "after_tax_utility": after_tax_utility(wb, w0, est, gamma, tax),
        }
    return doc


def _plan_gains(run: AccountRun) -> dict[str, float] | None:
    """Realised gains of the planned trades (whole shares), short and long term."""
    if run.plan is None or run.tax_lots is None:
        return None
    st = lt = 0.0
    for trade in run.plan.trades:
        for use in trade.lots:
            if use.short_term:
                st += use.gain
            else:
                lt += use.gain
    t = run.tax_lots
    return {
        "short_term_gain": st,
        "long_term_gain": lt,
        "gain": st + lt,
        "short_term_tax": t.short_term_rate * st,
        "long_term_tax": t.long_term_rate * lt,
        "tax": t.short_term_rate * st + t.long_term_rate * lt,
        "gain_budget_used": None if t.gain_budget is None else max(st + lt, 0.0),
        "gains_ytd_after": t.realized_gains_ytd + st + lt,
    }


def _harvest(run: AccountRun) -> dict[str, Any] | None:
    """The loss-harvesting pass: what was harvested, with which substitute, the tax benefit
    net of costs, and what was not harvested and why; None when not configured."""
    if run.plan is None or run.plan.harvest is None:
        return None
    return run.plan.harvest.to_dict()


def ledger_figures(run: AccountRun) -> dict[str, float] | None:
    """A taxable account's figures for the monthly job's ledger: the plan's short- and
    long-term realised gains (harvested losses included), the tax due on them at the
    account's rates (< 0: losses that offset other gains), the gain budget used (net
    gains, not below 0) and the harvested losses (> 0); None when not taxable."""
    cfg = run.config.tax
    if not cfg.taxable or run.plan is None:
        return None
    st = sum(t.st_gain for t in run.plan.trades)
    lt = sum(t.lt_gain for t in run.plan.trades)
    harvested = run.plan.harvest.loss if run.plan.harvest is not None else 0.0
    return {
        "tax_st_gain": st,
        "tax_lt_gain": lt,
        "tax_due": cfg.short_term_rate * st + cfg.long_term_rate * lt,
        "tax_gain_budget_used": max(st + lt, 0.0),
        "tax_harvested_loss": harvested,
    }
