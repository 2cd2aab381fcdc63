"""The self-contained HTML backtest report, rendered from a backtest document (a dict,
optimizer.backtest.document): value, drawdown and small-cap share over time, annual
returns, the metrics and the stress windows side by side. Charts are inline SVG built
with optimizer.report.charts; no script or external reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optimizer.report import charts
from optimizer.report.charts import PALETTE, LinearScale, Series, nice_ticks
from optimizer.report.common import warnings_section
from optimizer.report.fmt import pct
from optimizer.report.html import Raw, el, join, page, section, table

ROWS = (
    ("Final value", "final_value", "money"),
    ("Total return", "total_return", "pct"),
    ("CAGR", "cagr", "pct"),
    ("Volatility", "volatility", "pct"),
    ("Sharpe", "sharpe", "num"),
    ("CVaR 95 % (monthly)", "cvar_95_monthly", "pct"),
    ("Max drawdown", "max_drawdown", "pct"),
    ("Turnover a year", "turnover_annual", "pct"),
    ("Costs", "costs", "money"),
    ("Taxes paid", "taxes", "money"),
    ("Realised short-term gains", "st_gains", "money"),
    ("Realised long-term gains", "lt_gains", "money"),
    ("Tracking error", "tracking_error", "pct"),
    ("Small-cap share of equity (mean)", "small_cap_share_mean", "pct"),
)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: charts.Formatter = pct,
    height: float = 260,
    width: float = 880,
) -> Raw:
    """One polyline per series over ``labels`` (x evenly spaced); None values are gaps, and
    a value with none beside it (one month, or between gaps) is drawn as a dot."""
    left, right, top, bottom = 64.0, 12.0, 26.0, 40.0
    values = [v for s in series for v in s.values if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    ticks = nice_ticks(lo, hi)
    y = LinearScale(min(ticks[0], lo), max(ticks[-1], hi), height - bottom, top)
    n = max(len(labels) - 1, 1)
    x = LinearScale(0, n, left, width - right)
    body = list(charts._value_axis(y, ticks, left, width - right, fmt))
    for s in series:
        pts = " ".join(f"{x(i):.2f},{y(v):.2f}" for i, v in enumerate(s.values) if v is not None)
        body.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="1.6" '
                    f'data-series="{s.key}" points="{pts}"/>')  # fmt: skip
        v = s.values
        for i in range(len(v)):
            alone = (i == 0 or v[i - 1] is None) and (i == len(v) - 1 or v[i + 1] is None)
            if v[i] is not None and alone:
                body.append(f'<circle cx="{x(i):.2f}" cy="{y(v[i]):.2f}" r="2.5" '
                            f'fill="{s.color}" data-series="{s.key}"/>')  # fmt: skip
    every = max(1, len(labels) // 8)
    for i in range(0, len(labels), every):
        anchor = "end" if i > len(labels) - every else "middle"  # the last label inside
        body.append(charts._text(x(i), height - bottom + 16, labels[i], text_anchor=anchor))
    legend, _ = charts._legend(series, left, width - right, height - 6)
    return charts._svg(width, height + 6, title, [*body, *legend])


def render_backtest(doc: Mapping[str, Any]) -> str:
    """Render a backtest document as one self-contained HTML page."""
    prov = doc.get("provenance", {})
    names = list(doc.get("metrics", {}))
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    paths = doc.get("path", {})
    labels = [m["month"] for m in paths[names[0]]] if names else []
    title = f"Backtest {prov.get('start')}..{prov.get('end')}"
    body = [
        el("h1", title),
        el("p", f"{prov.get('config')}: data {prov.get('source')} {prov.get('first')}.."
                f"{prov.get('last')} ({prov.get('frequency')}); {prov.get('decisions')}."),
        *(el("p", n) for n in doc.get("notes", [])),
        section("Value after costs and taxes", _chart(doc, labels, colors, "value")),
        section("Drawdown", _chart(doc, labels, colors, "drawdown")),
        section("Small-cap share of equity", _chart(doc, labels, colors, "small_cap")),
        section("Annual returns", _annual(doc, colors)),
        section("Metrics", _metrics(doc, names)),
        section("Stress windows", _stress(doc, names)),
        warnings_section(doc.get("warnings", [])[:50]),
    ]  # fmt: skip
    return page(title, join(b for b in body if b is not None))


def _chart(doc: Mapping[str, Any], labels: list[str], colors: dict[str, str], what: str) -> Raw:
    series = []
    for name, months in doc["path"].items():
        start = doc["metrics"][name]["start_value"]
        values = [m["value"] / start for m in months]
        if what == "drawdown":
            peak, dd = 1.0, []
            for v in values:
                peak = max(peak, v)
                dd.append(v / peak - 1)
            values = dd
        elif what == "small_cap":
            values = [_small_share(m["weights"], doc.get("tags", {})) for m in months]
        series.append(Series(name, name, tuple(values), colors[name]))
    fmt = (lambda v: "–" if v is None else f"{v:.2f}x") if what == "value" else pct
    return line_chart(labels, series, title=what, fmt=fmt)


def _small_share(weights: Mapping[str, float], tags: Mapping[str, Any]) -> float | None:
    eq = sum(w for t, w in weights.items() if "equity" in tags.get(t, ()))
    sc = sum(w for t, w in weights.items() if "small_cap" in tags.get(t, ()))
    return sc / eq if eq > 1e-12 else None


def _annual(doc: Mapping[str, Any], colors: dict[str, str]) -> Raw:
    annual = doc.get("annual_returns", {})
    years = sorted({y for r in annual.values() for y in r})
    series = [Series(n, n, tuple(r.get(y) for y in years), colors[n]) for n, r in annual.items()]
    return charts.grouped_bars([str(y) for y in years], series, title="annual returns")


def _metrics(doc: Mapping[str, Any], names: list[str]) -> Raw:
    rows = [
        [label, *(_fmt(doc["metrics"][n].get(key), kind) for n in names)]
        for label, key, kind in ROWS
    ]
    ref = doc.get("tracking_error_to")
    return table(["", *names], rows, caption=f"tracking error to {ref}" if ref else None)


def _stress(doc: Mapping[str, Any], names: list[str]) -> Raw:
    windows = doc.get("stress_windows", {})
    rows = [
        [f"{w} ({a}..{b})", *(_fmt(doc["scenarios"][n].get(w), "pct") for n in names)]
        for w, (a, b) in windows.items()
        if any(w in doc["scenarios"][n] for n in names)
    ]
    if not rows:
        return el("p", "No named stress window lies inside the backtest's range.")
    return table(["window", *names], rows)


def _fmt(x: Any, kind: str) -> str:
    if x is None:
        return "–"
    if kind == "pct":
        return pct(x)
    return f"{x:,.0f}" if kind == "money" else f"{x:.2f}"
