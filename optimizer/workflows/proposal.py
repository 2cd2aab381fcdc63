"""``capalloc propose``: the advisor's proposal document (JSON contract of DESIGN.md).

The document is plain data; the report layer renders it to HTML and the CLI prints it.
Returns and volatility in ``metrics`` are annualised; scenario returns are over each
scenario's horizon as stated in the estimate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.optimize.result import clean_weights as clean
from optimizer.workflows.figures import portfolio_metrics, vector
from optimizer.workflows.views import views_section

if TYPE_CHECKING:
    from optimizer.account import AccountConfig
    from optimizer.estimate import Estimate
    from optimizer.optimize.result import Allocation
    from optimizer.workflows.pipeline import AccountRun

FRONTIER_POINTS = 15


def scenario_section(run: AccountRun, current: np.ndarray | None) -> dict[str, Any]:
    """Per scenario: title, probability, narrative, shocks, plausibility and both returns."""
    from optimizer.scenario.library import ScenarioLibrary
    from optimizer.scenario.stress import factor_move

    est, cfg = run.estimate, run.config
    extra = [cfg.base_dir / cfg.scenarios.dir] if cfg.scenarios.dir else []
    library = ScenarioLibrary.with_extra(extra)
    known = library.paths()
    w = vector(clean(run.allocation.weights), est.tickers)
    out: dict[str, Any] = {}
    for s in est.scenarios:
        spec = library.get(s.id) if s.id in known else None
        out[s.id] = {
            "title": s.title,
            "probability": s.probability,
            "horizon": f"{12 * est.horizon_years:g} months",  # returns are over this
            "shock_horizon": s.details.get("horizon"),  # the shocks play out over this
            "narrative": " ".join(spec.narrative.split()) if spec else "",
            "shocks": [_shock(x) for x in s.details.get("shocks", [])],
            "proposed_return": float(s.mu @ w),
            "current_return": None if current is None else float(s.mu @ current),
            "mahalanobis": s.mahalanobis,
            "plausibility": s.plausibility,
            "history": s.history,
            "regime": s.regime,
            "factor_moves": {f: factor_move(f, x) for f, x in s.factor_moves.items()},
        }
    return out


def _shock(record: dict[str, Any]) -> dict[str, Any]:
    """A stated shock in the units the report shows: bp for rates, the target for index
    levels, a return otherwise; ``implied_return`` is the factor move in all cases."""
    factor, move = record.get("factor"), record.get("move")
    if "change_bp" in record:
        out = {"factor": factor, "move": record["change_bp"], "unit": "bp"}
    elif "level" in record:
        out = {"factor": factor, "move": record["level"], "unit": "level"}
    elif move is not None:  # replayed moves: bp for rates and spreads, else a return
        from optimizer.scenario.stress import factor_move

        out = {"factor": factor, **factor_move(str(factor), move)}
    else:
        out = {"factor": factor, "move": move, "unit": "return"}
    out["implied_return" if out["unit"] == "level" else "factor_move"] = move
    for key in ("index", "spot", "replay", "note"):
        if key in record:
            out[key] = record[key]
    return out


def frontier_section(run: AccountRun, current: dict[str, float] | None) -> dict[str, Any] | None:
    """The efficient frontier with the current and proposed portfolios placed on it."""
    from optimizer.errors import CapallocError
    from optimizer.optimize import frontier

    portfolios = {"proposed": run.allocation.weights}
    if current:
        portfolios["current"] = current
    try:
        f = frontier(
            run.estimate,
            run.config.policy,
            FRONTIER_POINTS,
            current=current,
            portfolios=portfolios,
        ).to_dict()
    except CapallocError:  # e.g. a policy with no room to move: the report omits the chart
        return None

    def point(p: dict[str, Any]) -> dict[str, float]:
        return {"volatility": p["annual_volatility"], "expected_return": p["annual_return"]}

    est, h = run.estimate, run.estimate.horizon_years
    assets = {  # each asset alone, annualised as the portfolios are: context for the curve
        t: {
            "volatility": math.sqrt(max(float(est.Sigma[i, i]), 0.0) / h),
            "expected_return": float(est.mu[i]) / h,
        }
        for i, t in enumerate(est.tickers)
    }
    return {
        "points": [point(p) for p in f["points"]],
        **{name: point(p) for name, p in f["placed"].items()},
        "assets": assets,
    }


def trade_section(run: AccountRun) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if run.plan is None:
        return [], None
    doc = run.plan.to_dict()
    m = doc["metrics"]
    summary = {
        "n_trades": m["n_trades"],
        "total_cost": m["total_cost"],
        "st_gain": m["st_gain"],
        "lt_gain": m["lt_gain"],
        "residual_cash": m["residual_cash"],
        "deposit": m["deposit"],
        "withdraw": m["withdraw"],
        "value_before": m["value_before"],  # after the deposit or withdrawal
        "method": m["method"],
        "method_note": m["method_note"],
        "no_trade_reason": m["no_trade_reason"],
        "blocked": doc["blocked"],
    }
    return doc["trades"], summary


def post_trade_weights(run: AccountRun) -> dict[str, float] | None:
    """What the account will hold after the planned trades, by universe ticker (whole
    shares, blocked lots and residual cash included; a [tax.harvest] substitute counted
    with its ticker); None without a holdings file."""
    from optimizer.workflows.pipeline import is_cash

    if run.plan is None:
        return None
    held = {p.ticker: p.weight for p in run.plan.holdings}
    for sub, (ticker, _) in post_trade_substitutes(run).items():
        held[ticker] = held.get(ticker, 0.0) + held.pop(sub)  # it holds its ticker's exposure
    cash = run.plan.metrics()["cash_weight"]
    out = {
        t: cash if is_cash(run.config, t) and t not in held else held.get(t, 0.0)
        for t in run.estimate.tickers
    }
    return clean(out)


def post_trade_substitutes(run: AccountRun) -> dict[str, tuple[str, float]]:
    """The [tax.harvest] substitutes held after the planned trades: substitute -> (the
    ticker whose exposure it holds, its weight); their weights count in that ticker's
    post-trade weight."""
    harvest = run.config.tax.harvest
    if run.plan is None or harvest is None:
        return {}
    held = {p.ticker: p.weight for p in run.plan.holdings}
    return {s: (t, held[s]) for s, t in harvest.held_for().items() if held.get(s, 0.0) > 0}


def build_proposal(run: AccountRun, *, generated: dt.datetime | None = None) -> dict[str, Any]:
    """The proposal document of one account run (see docs/report.md for the schema)."""
    from optimizer.workflows.taxes import tax_section

    cfg, est, alloc = run.config, run.estimate, run.allocation
    level = cfg.policy.constraints.cvar_level
    current = run.position.weights or None
    w_cur = vector(current, est.tickers) if current else None
    trades, summary = trade_section(run)
    weights = clean(alloc.weights)
    metrics = {"proposed": portfolio_metrics(vector(weights, est.tickers), est, cfg, level)}
    if w_cur is not None:
        metrics["current"] = portfolio_metrics(w_cur, est, cfg, level)
    info = cfg.account
    return {
        "title": "Allocation proposal",
        "generated": (generated or dt.datetime.now()).isoformat(timespec="seconds"),
        "account": {
            "id": info.id,
            "name": info.name or info.id,
            "value": run.position.value or None,
            "currency": info.currency,
        },
        "advisor": advisor_section(cfg),
        "as_of": run.position.as_of.isoformat(),
        "tags": {t: list(a.tags) for t, a in cfg.policy.universe.assets.items()},
        "current_weights": clean(current) if current else {},
        "weights": weights,
        "post_trade_weights": post_trade_weights(run),
        "post_trade_substitutes": {
            s: {"for": t, "weight": w} for s, (t, w) in post_trade_substitutes(run).items()
        },
        "metrics": metrics,
        "objective": _objective(alloc, cfg),
        "constraints": _constraints(alloc, cfg),
        "scenarios": scenario_section(run, w_cur),
        "frontier": frontier_section(run, current),
        "trades": trades,
        "trade_summary": summary,
        "tax": tax_section(run, level),
        "assumptions": _assumptions(est, cfg),
        "views": views_section(run),
        "solver": alloc.to_dict()["solver"],
        "provenance": est.provenance.to_dict() if est.provenance else None,
        "warnings": run.warnings,
    }


def advisor_section(cfg: AccountConfig) -> dict[str, Any] | None:
    """``[advisor]`` for the reports: firm, advisor, contact and the logo's data URI."""
    a = cfg.advisor
    if a is None:
        return None
    return {"firm": a.firm, "advisor": a.advisor, "contact": a.contact, "logo": cfg.logo}


def _objective(alloc: Allocation, cfg: AccountConfig) -> dict[str, Any]:
    o = cfg.policy.objective
    text = {
        "max_sharpe": "highest expected excess return per unit of volatility",
        "utility": f"mean-variance utility with risk aversion {o.risk_aversion:g}",
        "min_variance": "lowest volatility",
        "target_return": f"lowest volatility for an annual return of {o.target_return}",
        "target_volatility": f"highest return for an annual volatility of {o.target_volatility}",
        "min_cvar": f"smallest expected loss in the worst {100 * (1 - o.cvar_level):.0f}% "
        "of scenario outcomes (CVaR)",
        "robust": "best worst-case return across the named scenarios",
        "min_regret": "smallest maximum regret across the named scenarios",
        "risk_parity": "equal risk contribution (Riskfolio-Lib)",
        "hrp": "hierarchical risk parity (Riskfolio-Lib)",
    }.get(alloc.objective, alloc.objective)
    return {"kind": alloc.objective, "description": text}


def _constraints(alloc: Allocation, cfg: AccountConfig) -> list[dict[str, Any]]:
    binding = {b.constraint: b.shadow_price for b in alloc.binding}
    c = cfg.policy.constraints
    stated = [*c.groups, *c.scenario_loss]
    for name, value in (
        ("turnover", c.turnover),
        ("max_volatility", c.max_volatility),
        ("max_cvar", c.max_cvar),
    ):
        if value is not None:
            stated.append(f"{name} <= {value:g}")
    rows = [{"name": s, "binding": s in binding, "shadow_price": binding.get(s)} for s in stated]
    rows += [
        {"name": name, "binding": True, "shadow_price": price}
        for name, price in binding.items()
        if name not in stated
    ]
    return rows


def expected_return_origin(est: Estimate) -> str:
    """Where the expected returns come from, in words (the report says it)."""
    if est.views is not None:
        n, how = len(est.views.views), est.views.method.replace("_", " ")
        base = expected_return_origin(dataclasses.replace(est, views=None))
        return f"{base}; then moved by {n} views with their confidences ({how})"
    months = f"{12 * est.horizon_years:g}-month"
    if est.scenarios:
        mix = ", ".join(f"{s.id} {100 * s.probability:.0f}%" for s in est.scenarios)
        return (
            f"the probability-weighted mixture of the scenarios' {months} returns ({mix}), "
            "annualised; not a forecast from history alone"
        )
    return f"historical estimators ({est.method}), annual"


def _assumptions(est: Estimate, cfg: AccountConfig) -> dict[str, Any]:
    p = est.provenance
    months = est.horizon_years * 12
    return {
        "estimation_window": f"{p.first}..{p.last}" if p else None,
        "frequency": p.frequency if p else None,
        "horizon": f"{months:g} months",
        "method": est.method,
        "window": est.window,
        "expected_returns": expected_return_origin(est),
        "cvar_period": est.samples_period,
        "samples": est.samples_note or None,
        "risk_free": est.risk_free / est.horizon_years,
        "monte_carlo": None
        if est.samples is None
        else {"n_samples": int(est.samples.shape[0]), "seed": est.seed},
        "exposures": est.exposures,
    }
