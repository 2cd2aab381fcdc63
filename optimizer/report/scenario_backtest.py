"""The HTML page of a scenario backtest (optimizer.scenario.backtest): the scores table, the
plausibility calibration, and per asset a chart of predicted versus realised monthly returns
with the model's own 90 % interval. Inline SVG (optimizer.report.charts); no script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optimizer.report.backtest import line_chart
from optimizer.report.charts import PALETTE, Series
from optimizer.report.fmt import pct
from optimizer.report.html import Raw, el, join, page, section, table

SCORE_ROWS = (
    ("Out-of-sample R² (vs the window's mean)", "r2", "num"),
    ("Out-of-sample R² (vs the months' mean)", "r2_centred", "num"),
    ("Sign right", "hit_rate", "pct"),
    ("Mean absolute error", "mae", "pct"),
    ("Inside the 50 % interval", "coverage_50", "pct"),
    ("Inside the 90 % interval", "coverage_90", "pct"),
    ("Inside the 90 % interval, shocks rarer than 1 in 20", "coverage_90_unusual", "pct"),
)


def render_scenario_backtest(doc: Mapping[str, Any]) -> str:
    """One self-contained HTML page from a scenario backtest document."""
    months = doc["months"]
    labels = [m["month"] for m in months]
    tickers = list(doc["scores"])
    title = f"Scenario backtest {labels[0]}..{labels[-1]}"
    prov = doc.get("provenance") or {}
    intro = (
        f"Each month the engine ({doc['engine']['text']}) was fitted on the months before it "
        f"and shocked with that month's realised {', '.join(doc['shocked'])} moves; data "
        f"{prov.get('source')} {prov.get('first')}..{prov.get('last')}."
    )
    body = [
        el("h1", title),
        el("p", intro),
        *(el("p", n) for n in doc.get("notes", [])),
        *(el("p", f"Warning: {w}") for w in doc.get("warnings", [])),
        section("Scores", scores_table(doc["scores"], tickers)),
        section("Plausibility calibration", calibration_table(doc["calibration"])),
        *(section(f"{t}: predicted and realised", _chart(months, labels, t)) for t in tickers),
    ]
    return page(title, join(body))


def scores_table(scores: Mapping[str, Any], tickers: list[str]) -> Raw:
    rows = [
        [label, *(_fmt(scores[t][key], kind) for t in tickers)] for label, key, kind in SCORE_ROWS
    ]
    return table(["", *tickers], rows)


def calibration_table(rows: list[Mapping[str, Any]]) -> Raw:
    return table(
        ["band", "tail probability", "months observed", "months expected"],
        [
            [
                r["band"],
                f"{r['tail_from']:g}..{r['tail_to']:g}",
                r["observed"],
                f"{r['expected']:.1f}",
            ]
            for r in rows
        ],
    )


def _chart(months: list[Mapping[str, Any]], labels: list[str], ticker: str) -> Raw:
    def values(key: str) -> tuple[float | None, ...]:
        return tuple(m["assets"][ticker][key] for m in months)

    series = [
        Series("realised", "realised", values("realised"), PALETTE[0]),
        Series("predicted", "predicted (mean)", values("predicted"), PALETTE[7]),
        Series("lo90", "90 % interval, bottom", values("lo90"), "#b8c2cc"),
        Series("hi90", "90 % interval, top", values("hi90"), "#b8c2cc"),
    ]
    return line_chart(labels, series, title=f"{ticker} monthly return", fmt=pct)


def _fmt(x: Any, kind: str) -> str:
    if x is None:
        return "–"
    return pct(x) if kind == "pct" else f"{x:.3f}"
