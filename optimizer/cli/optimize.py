"""``capalloc optimize --config FILE``: the allocation for a policy, and its scenario table.

Heavy imports (numpy, cvxpy, the scenario engine) happen inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import GivenPath, data_line, emit, format_option, note, pct, table


@click.command("optimize")
@click.option(
    "--config",
    "config_file",
    required=True,
    type=GivenPath(dir_okay=False, path_type=Path),
    help="TOML with [data], [estimation], [scenarios], [universe], [objective], [constraints].",
)
@format_option
def optimize(config_file: Path, fmt: str) -> None:
    """Optimal allocation for the policy in FILE, with each scenario's return."""
    document = run_optimize(config_file)
    emit(fmt, document, lambda: _render(document))


def run_optimize(path: Path) -> dict[str, Any]:
    """Load and validate FILE, build the estimate, solve (from the holdings of [account],
    when given, as current weights); the JSON document."""
    from optimizer.account import load_account
    from optimizer.workflows import Pipeline

    run = Pipeline().run(load_account(path), plan=False)
    # everything the user must be told: the data's warnings (a short history, a late
    # series, an unadjusted split) as well as the optimizer's
    doc = run.allocation.to_dict()
    return {**doc, "warnings": run.warnings, "estimate": run.estimate.describe()}


def _render(doc: dict[str, Any]) -> None:
    m = doc["metrics"]
    table(
        f"Allocation ({m['objective']})",
        ["ticker", "weight"],
        [(t, pct(w)) for t, w in doc["weights"].items() if abs(w) >= 5e-5],
    )
    table(
        "Portfolio (annualised)",
        ["metric", "value"],
        [
            ("expected return", pct(m["annual_return"])),
            ("volatility", pct(m["annual_volatility"])),
            ("Sharpe", "–" if m["annual_sharpe"] is None else f"{m['annual_sharpe']:.2f}"),
            (f"CVaR {m['cvar_level']:.0%} ({_cvar_period(m)})", pct(m["cvar"])),
            ("small-cap share of equity", pct(m["small_cap_share_of_equity"])),
        ],
    )
    if doc["scenarios"]:
        table(
            f"Scenarios (return over {12 * m['horizon_years']:g} months)",
            ["scenario", "title", "return"],
            [(sid, s["title"], pct(s["return"])) for sid, s in doc["scenarios"].items()],
        )
    if doc["constraints"]:
        table(
            "Binding constraints",
            ["constraint", "shadow price"],
            [(c["constraint"], f"{c['shadow_price']:.4g}") for c in doc["constraints"]],
        )
    est = doc["estimate"]
    note(f"estimate: {est['method']}")
    if est["samples"]:
        note(f"CVaR samples: {est['samples']}")
    s = doc["solver"]
    fallbacks = f"; fell back from {', '.join(s['fallbacks'])}" if s["fallbacks"] else ""
    note(f"solver {s['name']} ({s['status']}, {s['seconds']:.3f}s{fallbacks})")
    note(data_line(doc.get("provenance")))
    for w in doc["warnings"]:
        note(f"warning: {w}")


def _cvar_period(m: dict[str, Any]) -> str:
    """What the CVaR is over: the horizon, or one period of historical returns."""
    period = m.get("cvar_period", "horizon")
    return "horizon" if period == "horizon" else f"one {period} period"
