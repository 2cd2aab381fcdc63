"""``capalloc scenarios list|show|validate`` and ``capalloc stress``.

Heavy imports (numpy, pandas, the engine) happen inside the commands.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from optimizer.cli.output import MONEY, GivenPath, emit, format_option, note, pct, table
from optimizer.errors import ScenarioError

scenario_dir_option = click.option(
    "--scenario-dir",
    "scenario_dirs",
    multiple=True,
    type=GivenPath(file_okay=False, path_type=Path),
    help="Extra folder of scenario files (repeatable); same ids override built-ins.",
)


def _library(dirs: tuple[Path, ...]) -> Any:
    from optimizer.scenario.library import ScenarioLibrary

    return ScenarioLibrary.with_extra(dirs)


@click.group("scenarios")
def scenarios() -> None:
    """List, show and validate scenario files."""


@scenarios.command("list")
@scenario_dir_option
@format_option
def list_(scenario_dirs: tuple[Path, ...], fmt: str) -> None:
    """Every scenario: id, title, horizon, probability, regime."""
    lib = _library(scenario_dirs)
    paths = lib.paths()
    items = [(s, paths[s.id]) for s in lib.all()]
    document = {"scenarios": {s.id: _summary(s, p) for s, p in items}}
    rows = [
        (s.id, s.title, s.horizon_text(), _prob(s.probability), s.regime.value) for s, _ in items
    ]
    emit(fmt, document, lambda: table("Scenarios", ["id", "title", "horizon", "p", "regime"], rows))


@scenarios.command("show")
@click.argument("scenario_id")
@scenario_dir_option
@format_option
def show(scenario_id: str, scenario_dirs: tuple[Path, ...], fmt: str) -> None:
    """One scenario in full: narrative, shocks, stress, history and sources."""
    lib = _library(scenario_dirs)
    s = lib.get(scenario_id)
    path = lib.paths()[scenario_id]
    document = {"scenarios": {s.id: {**_summary(s, path), **s.model_dump(mode="json")}}}

    def render() -> None:
        note(f"[bold]{escape(s.title)}[/bold] ({s.id}, {escape(str(path))})", markup=True)
        note(" ".join(s.narrative.split()))
        rows = [(sh.factor or sh.index, _shock_text(sh), sh.note) for sh in s.shocks]
        if s.replay is not None:
            rows.append(
                (", ".join(s.replay.factors), f"replay {s.replay.start}..{s.replay.end}", "")
            )
        table("Shocks", ["factor / index", "move", "note"], rows)
        note(
            f"horizon {s.horizon_text()}; probability {_prob(s.probability)}; regime "
            f"{s.regime.value}; history {s.history.text() if s.history else 'full window'}; "
            f"vol x{s.stress.vol_multiplier:g}; correlation stress {s.stress.correlation_stress:g}"
        )
        for src in s.sources:
            note(f"source: {src}")

    emit(fmt, document, render)


@scenarios.command("validate")
@click.argument("path", type=GivenPath(exists=True, path_type=Path))
@scenario_dir_option
@format_option
def validate(path: Path, scenario_dirs: tuple[Path, ...], fmt: str) -> None:
    """Check a scenario file (or every *.toml in a folder); the first problem is an error."""
    from optimizer.scenario.model import load_scenario

    _library(scenario_dirs)  # extra folders must exist
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    if not files:  # nothing checked is not "all valid"
        raise ScenarioError("folder holds no scenario files (*.toml)", file=str(path))
    checked = {str(p): load_scenario(p).id for p in files}
    document = {"valid": checked}
    emit(fmt, document, lambda: [note(f"ok {sid} ({p})") for p, sid in checked.items()])


def _summary(s: Any, path: Path) -> dict[str, Any]:
    return {
        "title": s.title,
        "horizon": s.horizon_text(),
        "horizon_years": s.horizon_years,
        "probability": s.probability,
        "regime": s.regime.value,
        "history": s.history.text() if s.history else "full window",
        "file": str(path),
    }


def _prob(p: float | None) -> str:
    return "–" if p is None else f"{p:g}"


def _shock_text(sh: Any) -> str:
    if sh.level is not None:
        ref = f" (reference {sh.reference.level:g} on {sh.reference.date})" if sh.reference else ""
        return f"to level {sh.level:g}{ref}"
    if sh.return_pct is not None:
        return f"{sh.return_pct:+g} %"
    if sh.change_bp is not None:
        return f"{sh.change_bp:+g} bp"
    return f"{sh.change_pct:+g} % (level)"


@click.command("stress")
@click.option(
    "--weights",
    "weights_file",
    type=GivenPath(path_type=Path),
    help="CSV ticker,weight (weights sum to 1).",
)
@click.option(
    "--holdings",
    "holdings_file",
    type=GivenPath(path_type=Path),
    help="CSV with at least ticker,shares, of one account; valued at the last prices.",
)
@click.option("--source", help="Data source: sample, yahoo, csv:PATH[,PATH...].")
@click.option(
    "--scenario",
    "scenario_ids",
    multiple=True,
    help="Scenario id (repeatable; default: every scenario the data supports).",
)
@click.option(
    "--value",
    type=MONEY,
    default=None,
    help="Portfolio value in money, 0 to 1e12 (default 1,000,000; holdings: their value).",
)
@click.option(
    "--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First date of history to use."
)
@click.option(
    "--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last date of history to use."
)
@click.option(
    "--config",
    "config_file",
    type=GivenPath(path_type=Path),
    help="Account TOML: its [data], [estimation] and [scenarios] sections are used.",
)
@scenario_dir_option
@format_option
def stress(
    weights_file: Path | None,
    holdings_file: Path | None,
    source: str | None,
    scenario_ids: tuple[str, ...],
    value: float | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    config_file: Path | None,
    scenario_dirs: tuple[Path, ...],
    fmt: str,
) -> None:
    """A portfolio's expected return in each scenario, by asset and by factor."""
    if (weights_file is None) == (holdings_file is None):
        raise click.UsageError("give exactly one of --weights FILE or --holdings FILE")
    if source is None and config_file is None:
        raise click.UsageError("give --source SOURCE (or --config FILE with a [data] section)")
    document = run_stress(
        weights_file=weights_file,
        holdings_file=holdings_file,
        source=source,
        scenario_ids=scenario_ids or None,
        value=value,
        start=start.date() if start else None,
        end=end.date() if end else None,
        config_file=config_file,
        scenario_dirs=scenario_dirs,
    )
    emit(fmt, document, lambda: _render_stress(document))


def _render_stress(doc: dict[str, Any]) -> None:
    value = doc["value"]
    results = doc["scenarios"]
    rows = [
        (
            sid,
            r["horizon"],
            pct(r["return"]),
            f"{r['money']:,.0f}",
            pct(r["volatility"]),
            f"{r['mahalanobis']:.2f}",
            r["plausibility"],
        )
        for sid, r in results.items()
    ]
    table(
        f"Portfolio of {value:,.0f} under each scenario (return over its horizon)",
        ["scenario", "horizon", "return", "money", "vol", "distance", "plausibility"],
        rows,
    )
    tickers = list(doc["weights"])
    for title, key in (
        ("Asset return (over each scenario's horizon)", "return"),
        ("Contribution by asset (weight × asset return)", "contribution"),
    ):
        rows = [
            (t, pct(doc["weights"][t]), *(pct(r["per_asset"][t][key]) for r in results.values()))
            for t in tickers
        ]
        table(title, ["ticker", "weight", *results], rows)
    factors = sorted({f for r in results.values() for f in r["per_factor"]})
    factor_rows = [(f, *(pct(r["per_factor"].get(f)) for r in results.values())) for f in factors]
    table("Contribution by factor (to the portfolio return)", ["factor", *results], factor_rows)
    rates = doc.get("rate_exposures") or {}
    if rates:
        rows = [(t, f"{x['level']:.1f}", f"{x['slope']:.1f}") for t, x in rates.items()]
        table("Yield exposures (level: parallel move, about minus the duration)",
              ["ticker", "level", "slope"], rows)  # fmt: skip
    for sid, r in results.items():
        note(f"{sid}: relationships from {r['history']}, {r['regime']} covariance")
        for index, spot in r.get("spots", {}).items():
            note(f"{sid}: {index} to {spot['target']:,.2f} from {spot['level']:,.2f}, "
                 f"{spot['source']}")  # fmt: skip
    for line in doc.get("skipped", []):
        note(f"skipped {line}")
    for line in doc.get("notes", []):
        note(line)
    prov = doc["provenance"]
    note(f"data: {prov['source']}, {prov['first']}..{prov['last']}, {prov['frequency']}")


def run_stress(
    *,
    weights_file: Path | None,
    holdings_file: Path | None,
    source: str | None,
    scenario_ids: tuple[str, ...] | None,
    value: float | None,
    start: dt.date | None,
    end: dt.date | None,
    config_file: Path | None,
    scenario_dirs: tuple[Path, ...],
) -> dict[str, Any]:
    """Load everything, run the scenarios, and return the JSON document."""
    from optimizer.errors import naming_file
    from optimizer.rebalance.holdings import CASH
    from optimizer.scenario.build import last_prices
    from optimizer.scenario.config import ScenarioUse
    from optimizer.scenario.engine import ScenarioEngine
    from optimizer.scenario.estimator import engine_options
    from optimizer.scenario.history import load_history
    from optimizer.scenario.stress import (
        read_holdings,
        read_weights,
        run_scenarios,
        stress_portfolio,
    )

    data, estimation, sset, extra_dir = _account(config_file, source, start, end)
    relative_to = config_file if config_file is not None else None
    provider = data.provider(relative_to)
    shares = None
    if weights_file is not None:
        weights = read_weights(weights_file)
        value = 1_000_000.0 if value is None else value
        tickers = list(weights)
    else:
        shares = read_holdings(holdings_file)
        tickers = list(shares)
    with naming_file(config_file):
        history = load_history(provider, data, estimation, tickers)
    if shares is not None:  # holdings valued on the history's as-of date, like the estimate
        as_of = history.provenance.as_of if history.provenance else None
        prices = last_prices(provider, data, [t for t in shares if t != CASH], as_of=as_of)
        prices[CASH] = 1.0  # a CASH row is money; its returns come from the CASH series
        held = {t: n * prices[t] for t, n in shares.items()}
        value = sum(held.values()) if value is None else value
        weights = {t: v / sum(held.values()) for t, v in held.items()}
    engine = ScenarioEngine(
        history,
        stressed_quantile=estimation.stressed_quantile,
        min_periods=estimation.min_periods,
        options=engine_options(estimation.frequency),
    ).fit()
    library = _library(tuple(scenario_dirs) + extra_dir)
    uses = [ScenarioUse(id=i) for i in scenario_ids] if scenario_ids else (sset.use or None)
    with naming_file(config_file):
        moments, skipped, notes = run_scenarios(engine, library, uses)
    results = {m.id: stress_portfolio(weights, tickers, m, value) for m in moments}
    return {
        "weights": weights,
        "value": value,
        "scenarios": {sid: r.to_dict(value) for sid, r in results.items()},
        "skipped": skipped,
        "notes": notes,
        "exposures": engine.model_.exposures_dict(),
        "rate_exposures": engine.model_.rate_exposures(),
        "provenance": history.provenance.to_dict() if history.provenance else None,
    }


def _account(
    config_file: Path | None, source: str | None, start: dt.date | None, end: dt.date | None
) -> tuple[Any, Any, Any, tuple[Path, ...]]:
    """[data] and [estimation] from the account file (if any), command-line values on top."""
    from optimizer.config import read_toml, resolve_path, validate
    from optimizer.data.settings import DataConfig
    from optimizer.scenario.config import EstimationConfig, ScenarioSetConfig

    raw: dict[str, Any] = read_toml(config_file) if config_file is not None else {}
    file = str(config_file) if config_file is not None else None
    data_raw = dict(raw.get("data", {}))
    overrides = {"source": source, "start": start, "end": end}
    data_raw.update({k: v for k, v in overrides.items() if v is not None})
    data = validate(DataConfig, data_raw, file=file, prefix="data")
    estimation = validate(
        EstimationConfig, raw.get("estimation", {}), file=file, prefix="estimation"
    )
    sset = validate(ScenarioSetConfig, raw.get("scenarios", {}), file=file, prefix="scenarios")
    extra = (resolve_path(sset.dir, config_file),) if sset.dir and config_file else ()
    return data, estimation, sset, extra


def _register_backtest() -> None:
    from optimizer.cli.scenario_backtest import backtest

    scenarios.add_command(backtest)


_register_backtest()
