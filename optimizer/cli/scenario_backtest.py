"""``capalloc scenarios backtest``: how well the scenario engine's propagated returns matched
what markets did (docs/scenarios.md, "How good is it"). The command parses, calls
:func:`optimizer.scenario.backtest.backtest_scenarios`, prints and writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import GivenPath, emit, format_option, note, pct, table
from optimizer.cli.workflows import PERIOD


@click.command("backtest")
@click.option("--source", required=True, help="Data source: sample, yahoo, csv:PATH[,PATH...].")
@click.option("--tickers", required=True, help="Assets to predict, comma-separated.")
@click.option("--start", type=PERIOD, default=None, help="First month, YYYY-MM.")
@click.option("--end", type=PERIOD, default=None, help="Last month, YYYY-MM.")
@click.option(
    "--shocks",
    default="equity,long_rate",
    show_default=True,
    help="Factors set to their realised moves each month, comma-separated.",
)
@click.option(
    "--window",
    type=click.IntRange(12, 600),
    default=60,
    show_default=True,
    help="Months: the fewest fitted on, and the window of the intervals' errors.",
)
@click.option(
    "--rolling", is_flag=True, help="Fit on exactly --window months, not all months before."
)
@click.option("--simple-returns", is_flag=True, help="Model simple returns, not log returns.")
@click.option(
    "--lead-lag",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Lead-lag days in the covariances (Bartlett weights; daily sampling only).",
)
@click.option(
    "--vol-halflife",
    type=click.FloatRange(min=0),
    default=21.0,
    show_default=True,
    help="Trading days: the exposures weighted by the inverse of the market's variance "
    "estimated with this half-life (0: not weighted; daily sampling only).",
)
@click.option(
    "--sampling",
    type=click.Choice(["daily", "weekly", "monthly"]),
    default="daily",
    show_default=True,
    help="Returns the exposures are estimated from (the horizon is always a month).",
)
@click.option(
    "--halflife",
    type=click.FloatRange(min=0, min_open=True),
    default=36.0,
    show_default=True,
    help="Exponential weights' half-life in months (0 < x; see --equal-weights).",
)
@click.option("--equal-weights", is_flag=True, help="Weigh every period of the window alike.")
@click.option(
    "--tail-dof",
    type=click.FloatRange(min=2, min_open=True),
    default=None,
    help="Student-t degrees of freedom of the intervals and plausibility (default: normal).",
)
@click.option(
    "--alpha-shrink",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of the fitted intercepts taken out of the predictions (1: none kept).",
)
@click.option(
    "--regime",
    type=click.Choice(["calm", "stressed"]),
    default="calm",
    show_default=True,
    help="Factor covariance the shocks are propagated with (stressed: at least 12 turbulent "
    "months, shrunk toward calm by 30 months).",
)
@click.option(
    "--model-intervals",
    is_flag=True,
    help="Intervals from the model's own variance, not scaled to the window's monthly errors.",
)
@click.option(
    "--html",
    "html_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Write an HTML page with a predicted-versus-realised chart per asset.",
)
@format_option
def backtest(
    source: str,
    tickers: str,
    start: str | None,
    end: str | None,
    shocks: str,
    window: int,
    rolling: bool,
    simple_returns: bool,
    lead_lag: int,
    vol_halflife: float,
    sampling: str,
    halflife: float,
    equal_weights: bool,
    tail_dof: float | None,
    alpha_shrink: float,
    regime: str,
    model_intervals: bool,
    html_path: Path | None,
    fmt: str,
) -> None:
    """Each month, the engine fitted on the months before it and shocked with that month's
    realised factor moves, against the assets' realised returns (no look-ahead)."""
    from optimizer.cli.backtest import _write
    from optimizer.cli.output import check_output
    from optimizer.factors import Regime
    from optimizer.frequency import Frequency
    from optimizer.scenario.backtest import backtest_scenarios
    from optimizer.scenario.predict import EngineOptions, load_market

    check_output("--html", html_path)
    options = EngineOptions(
        window=window,
        expanding=not rolling,
        log_returns=not simple_returns,
        lead_lag=lead_lag,
        vol_halflife=vol_halflife or None,
        sampling=Frequency(sampling),
        halflife=None if equal_weights else halflife,
        tail_dof=tail_dof,
        monthly_errors=not model_intervals,
        regime=Regime(regime),
        alpha_shrink=alpha_shrink,
    )
    history = load_market(source, [t.upper() for t in _names(tickers, "--tickers")])
    bt = backtest_scenarios(
        history, start=start, end=end, shocked=_names(shocks, "--shocks"), options=options
    )
    doc = bt.document()
    if html_path is not None:
        from optimizer.cli.output import to_jsonable
        from optimizer.report.scenario_backtest import render_scenario_backtest

        _write({html_path: render_scenario_backtest(to_jsonable(doc))})
    emit(fmt, doc, lambda: _render(doc, html_path))


def _names(text: str, key: str) -> list[str]:
    from optimizer.errors import ConfigError

    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("give at least one name, comma-separated", key=key, value=text)
    return names


def _r2(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _render(doc: dict[str, Any], html_path: Path | None) -> None:
    scores = doc["scores"]
    rows = [
        (t, _r2(s["r2"]), _r2(s["r2_centred"]), pct(s["hit_rate"], 0), pct(s["mae"]),
         pct(s["coverage_50"], 0), pct(s["coverage_90"], 0))
        for t, s in scores.items()
    ]  # fmt: skip
    months = doc["months"]
    table(
        f"Scenario backtest {months[0]['month']}..{months[-1]['month']} ({len(months)} months)",
        ["asset", "R²", "R² (centred)", "sign right", "MAE", "in 50 %", "in 90 %"],
        rows,
    )
    cal = [(r["band"], r["observed"], f"{r['expected']:.1f}") for r in doc["calibration"]]
    table("Plausibility of the realised shocks", ["band", "observed", "expected"], cal)
    note(f"engine: {doc['engine']['text']}; shocks: {', '.join(doc['shocked'])}")
    note(
        "R²: 1 - SSE/SST with SST around each window's historical mean (centred: the months' mean)"
    )
    for n in doc["notes"]:
        note(n)
    for w in doc["warnings"]:
        note(f"warning: {w}")
    if html_path is not None:
        note(f"wrote {html_path}")
