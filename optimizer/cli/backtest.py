"""``capalloc backtest``: the account's policy walked forward month by month, with
benchmarks (docs/backtest.md). The command parses, calls :func:`run_backtest`, prints and
writes; the work is in optimizer.backtest."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from optimizer.cli.output import (
    MONEY,
    GivenPath,
    check_output,
    emit,
    format_option,
    note,
    pct,
    table,
)
from optimizer.cli.workflows import PERIOD, _progress


@click.command("backtest")
@click.option(
    "--config",
    "config",
    required=True,
    type=GivenPath(path_type=Path),
    help="Account file: the policy, data, scenarios and rebalance rules.",
)
@click.option("--start", required=True, type=PERIOD, help="First month, YYYY-MM.")
@click.option("--end", required=True, type=PERIOD, help="Last month, YYYY-MM.")
@click.option(
    "--benchmark",
    "benchmarks",
    multiple=True,
    metavar="T=W,...",
    help='Fixed weights rebalanced monthly, e.g. "SPY=0.6,TLT=0.4" (repeatable); '
    "default: 60/40 over the equity and bonds tags.",
)
@click.option(
    "--initial-cash",
    type=MONEY,
    default=None,
    help="Start from this much cash (default: the holdings file, when all its lots "
    "predate the start; else 1,000,000 in cash).",
)
@click.option(
    "--tax-rates",
    metavar="ST,LT",
    default=None,
    help="Tax on realised short- and long-term gains, e.g. 0.37,0.2 (default: the "
    "account's [tax] rates when it is taxable, else none).",
)
@click.option(
    "--csv",
    "csv_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Write the monthly path of every strategy as CSV.",
)
@click.option(
    "--html",
    "html_path",
    type=GivenPath(dir_okay=False, path_type=Path),
    help="Write an HTML report with charts.",
)
@format_option
def backtest(
    config: Path,
    start: str,
    end: str,
    benchmarks: tuple[str, ...],
    initial_cash: float | None,
    tax_rates: str | None,
    csv_path: Path | None,
    html_path: Path | None,
    fmt: str,
) -> None:
    """Walk the policy forward month by month with only the data known then.

    Each month the monthly job's pipeline decides on its first NYSE session; orders fill
    at the next close with the configured costs; lots, cash and taxes carry forward.
    """
    from optimizer.backtest import run_backtest
    from optimizer.backtest.document import document, path_csv

    tax = _tax(tax_rates)
    for key, p in (("--csv", csv_path), ("--html", html_path)):
        check_output(key, p)
    with _progress(enabled=fmt != "json" and sys.stderr.isatty(), label="months") as bar:
        started: list[bool] = []

        def progress(done: int, total: int) -> None:
            if not started:
                bar.start(total)
                started.append(True)
            bar.advance(1)

        bt = run_backtest(config, start, end, benchmarks=benchmarks, initial_cash=initial_cash,
                          tax=tax, progress=progress)  # fmt: skip
    doc = document(bt)
    texts: dict[Path, str] = {}
    if csv_path is not None:
        texts[csv_path] = path_csv(bt)
    if html_path is not None:
        from optimizer.cli.output import to_jsonable
        from optimizer.report.backtest import render_backtest

        texts[html_path] = render_backtest(to_jsonable(doc))
    _write(texts)
    emit(fmt, doc, lambda: _render(doc, texts))


def _tax(text: str | None) -> Any:
    from optimizer.backtest import TaxRates
    from optimizer.errors import ConfigError

    if text is None:
        return None
    try:
        st, lt = (float(x) for x in text.split(","))
    except ValueError:
        st = lt = math.nan
    if not all(math.isfinite(x) and 0 <= x < 1 for x in (st, lt)):
        raise ConfigError("expected two rates from 0 to 1, e.g. 0.37,0.2", key="--tax-rates",
                          value=text)  # fmt: skip
    return TaxRates(st, lt)


def _write(texts: dict[Path, str]) -> None:
    from optimizer.atomic import write_files_atomic

    write_files_atomic(texts)  # all of them or none, each error naming its file


def _render(doc: dict[str, Any], texts: dict[Path, str]) -> None:
    prov = doc["provenance"]
    names = list(doc["metrics"])
    rows = []
    labels = [
        ("final value", "final_value", "money"), ("total return", "total_return", "pct"),
        ("CAGR", "cagr", "pct"), ("volatility", "volatility", "pct"),
        ("Sharpe", "sharpe", "num"), ("CVaR 95% (monthly)", "cvar_95_monthly", "pct"),
        ("max drawdown", "max_drawdown", "pct"), ("turnover a year", "turnover_annual", "pct"),
        ("costs", "costs", "money"), ("taxes paid", "taxes", "money"),
        ("realised ST gains", "st_gains", "money"), ("realised LT gains", "lt_gains", "money"),
        (f"tracking error to {doc['tracking_error_to']}", "tracking_error", "pct"),
        ("small-cap share of equity (mean)", "small_cap_share_mean", "pct"),
    ]  # fmt: skip
    for label, key, kind in labels:
        rows.append([label, *(_fmt(doc["metrics"][n][key], kind) for n in names)])
    for window in doc["stress_windows"]:
        if any(window in doc["scenarios"][n] for n in names):
            rows.append([window, *(_fmt(doc["scenarios"][n].get(window), "pct") for n in names)])
    path = doc["path"][names[0]]
    title = f"backtest {prov['start']}..{prov['end']} ({len(path)} months"
    if path:  # from the first decision to the last fill: a year's return ends there too
        title += f", {path[0]['decided']} to {path[-1]['executed']}"
    title += ")"
    table(title, ["", *names], rows)
    note(f"Data: {prov.get('source')} {prov.get('first')}..{prov.get('last')} "
         f"({prov.get('frequency')}); {prov['decisions']}")  # fmt: skip
    for n in doc["notes"]:
        note(n)
    if doc["warnings"]:
        note(f"{len(doc['warnings'])} warnings, e.g. {doc['warnings'][0]}")
    for path in texts:
        note(f"wrote {path}")


def _fmt(x: Any, kind: str) -> str:
    if x is None:
        return "–"
    if kind == "pct":
        return pct(x)
    if kind == "money":
        return f"{x:,.0f}"
    return f"{x:.2f}"
