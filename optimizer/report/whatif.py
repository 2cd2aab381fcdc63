"""The what-if comparison: one column per scenario (and the robust choice), as HTML and CSV.

A what-if document holds, for every column, the optimal weights, small-cap share,
expected return and volatility, the current and proposed portfolios' returns, and the
regret matrix ``regret[holding][happens]`` (see docs/report.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.atomic import write_files_atomic
from optimizer.csvout import csv_text
from optimizer.report import charts
from optimizer.report.common import (
    data_banners,
    header,
    listing,
    mapping,
    order_tickers,
    provenance_section,
    running_head,
    warnings_section,
)
from optimizer.report.disclosure import disclosure
from optimizer.report.fmt import DASH, num, pct, plain, signed_pct
from optimizer.report.html import Raw, el, join, page, section, table
from optimizer.report.views import views_section

# (document key, label, formatter) of the one-number-per-column rows, in display order
METRICS: tuple[tuple[str, str, Any], ...] = (
    ("small_cap_share", "Small-cap share", pct),
    ("expected_return", "Expected return (annual)", pct),
    ("volatility", "Volatility (annual)", pct),
    ("current_return", "Current portfolio's return (horizon)", signed_pct),
    ("proposed_return", "Proposed portfolio's return (horizon)", signed_pct),
)


@dataclass(frozen=True)
class WhatIfView:
    """The document with its columns, titles, tickers and regret rows resolved once."""

    doc: Mapping[str, Any]
    columns: tuple[str, ...]
    titles: Mapping[str, str]
    tickers: tuple[str, ...]
    happens: tuple[str, ...]  # scenarios that appear as "if this happens" in the regret

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> WhatIfView:
        columns = tuple(str(c) for c in listing(doc.get("columns")))
        given = mapping(doc.get("column_titles"))
        titles = {c: str(given.get(c) or c) for c in columns}
        weights = mapping(doc.get("weights"))
        names = [
            *listing(doc.get("tickers")),
            *(t for c in columns for t in mapping(weights.get(c))),
        ]
        regret = mapping(doc.get("regret"))
        inner = [h for row in regret.values() for h in mapping(row)]
        happens = tuple(dict.fromkeys([*(c for c in columns if c in inner), *map(str, inner)]))
        tickers = tuple(order_tickers(names, mapping(doc.get("tags"))))
        return cls(doc, columns, titles, tickers, happens)

    def weight(self, column: str, ticker: str) -> float | None:
        return num(mapping(mapping(self.doc.get("weights")).get(column)).get(ticker))

    def metric(self, key: str, column: str) -> float | None:
        return num(mapping(self.doc.get(key)).get(column))

    def regret(self, holding: str, happens: str) -> float | None:
        return num(mapping(mapping(self.doc.get("regret")).get(holding)).get(happens))

    def holders(self) -> list[str]:
        """The columns whose optimum has a regret row (the portfolio held)."""
        return [c for c in self.columns if c in mapping(self.doc.get("regret"))]

    def title(self, key: str) -> str:
        return self.titles.get(key, key)


def whatif_csv(doc: Mapping[str, Any]) -> str:
    """The what-if table as CSV: one row per metric or ticker, one column per scenario.

    Columns are ``metric``, ``item`` and then the document's ``columns`` (scenario ids).
    Rows: ``weight,<ticker>`` for every ticker, one row per metric (``item`` empty), and
    ``regret,<held>``: the regret of holding ``<held>``'s optimum if the column's scenario
    happens (rows are the portfolio held, as in the table and the HTML; the ``robust``
    column, not a scenario that can happen, is empty). Numbers are plain decimals (no
    exponent, no percent); empty means absent.
    """
    view = WhatIfView.of(doc)
    rows = [
        *(["weight", t, *(plain(view.weight(c, t)) for c in view.columns)] for t in view.tickers),
        *([key, "", *(plain(view.metric(key, c)) for c in view.columns)] for key, _, _ in METRICS),
        *(["regret", h, *(plain(view.regret(h, c)) for c in view.columns)] for h in view.holders()),
    ]
    return csv_text(["metric", "item", *view.columns], rows)


def render_whatif(doc: Mapping[str, Any]) -> str:
    """Render a what-if document as one self-contained HTML page.

    Parameters
    ----------
    doc:
        The what-if document (see docs/report.md).

    Returns
    -------
    str
        A complete HTML5 document: the side-by-side table, charts, the regret matrix,
        provenance and the hypothetical-results disclosure.
    """
    view = WhatIfView.of(doc)
    provenance = mapping(doc.get("provenance"))
    body = join(
        [
            header(doc, "What-if comparison"),
            data_banners(provenance),
            _side_by_side(view),
            _charts(view),
            _regret(view),
            views_section(doc.get("views")),
            provenance_section(provenance),
            warnings_section(doc.get("warnings")),
            disclosure(doc, view.tickers),
        ]
    )
    return page(
        str(doc.get("title") or "What-if comparison"),
        body,
        running_head=running_head(doc, "What-if comparison"),
    )


def write_whatif(
    doc: Mapping[str, Any], folder: str | os.PathLike[str], stem: str = "whatif"
) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` and ``<stem>.html`` into ``folder`` atomically; returns both paths."""
    base = Path(folder)
    texts = {base / f"{stem}.csv": whatif_csv(doc), base / f"{stem}.html": render_whatif(doc)}
    csv_path, html_path = write_files_atomic(texts)
    return csv_path, html_path


def _side_by_side(view: WhatIfView) -> Raw:
    headers = ["", *(view.title(c) for c in view.columns)]
    rows: list[Sequence[Any]] = [
        (f"Weight {t}", *(pct(view.weight(c, t)) for c in view.columns)) for t in view.tickers
    ]
    rows += [
        (label, *(fmt(view.metric(key, c)) for c in view.columns)) for key, label, fmt in METRICS
    ]
    note = (
        "Each column is the optimal allocation if that scenario happens; the robust column "
        "optimises over the probability-weighted mix. Scenario returns are over the horizon."
    )
    return section(
        "Scenarios side by side",
        table(headers, rows),
        el("p", note, class_="small"),
        id_="side-by-side",
    )


def _charts(view: WhatIfView) -> Raw | None:
    if not view.columns:
        return None
    titles = [view.title(c) for c in view.columns]
    segments = [
        charts.Series(t, t, tuple(view.weight(c, t) for c in view.columns), color)
        for t, color in zip(view.tickers, _colors(len(view.tickers)), strict=True)
    ]
    weights = charts.stacked_bars(titles, segments, title="Optimal weights in each column")
    series = [
        charts.Series(key, label, tuple(view.metric(key, c) for c in view.columns), color)
        for key, label, color in (
            ("current_return", "Current portfolio", charts.CURRENT_COLOR),
            ("proposed_return", "Proposed portfolio", charts.PROPOSED_COLOR),
        )
    ]
    returns = charts.grouped_bars(titles, series, title="Return in each scenario", fmt=signed_pct)
    return section(
        "Charts",
        el("figure", weights, el("figcaption", "Optimal weights per column.")),
        el("figure", returns, el("figcaption", "Return of the current and proposed portfolios.")),
        id_="charts",
    )


def _colors(n: int) -> list[str]:
    return [charts.PALETTE[i % len(charts.PALETTE)] for i in range(n)]


def _regret(view: WhatIfView) -> Raw | None:
    holders = view.holders()
    if not holders or not view.happens:
        return None
    top = max(
        [r for h in holders for s in view.happens if (r := view.regret(h, s)) is not None] or [0]
    )
    headers = ["Held ↓ · happens →", *(view.title(s) for s in view.happens)]
    rows = [
        (view.title(h), *(_regret_cell(view.regret(h, s), top) for s in view.happens))
        for h in holders
    ]
    note = (
        "Rows: the optimum held; columns: the scenario that happens. "
        "Regret: how much certainty-equivalent return is given up over the horizon by "
        "holding one row's optimum when the column's scenario happens, against the best "
        "candidate for what happened (0 on the diagonal). Darker cells cost more."
    )
    return section(
        "Regret matrix", table(headers, rows), el("p", note, class_="small"), id_="regret"
    )


def _regret_cell(value: float | None, top: float) -> Raw | str:
    if value is None:
        return DASH
    alpha = 0.0 if top <= 0 else min(max(value / top, 0.0), 1.0) * 0.45
    return el(
        "span", pct(value, 2), style=f"background:rgba(161,43,43,{alpha:.2f});padding:1px 4px"
    )
