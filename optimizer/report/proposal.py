"""The self-contained HTML proposal page, rendered from a proposal document (a dict).

The document's schema is described in docs/report.md. Every key is optional except
that a useful report needs ``weights``; absent sections are left out, absent numbers
show as an en dash. No JavaScript, fonts, images or stylesheets are loaded from anywhere:
charts are inline SVG and the stylesheet is inline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.atomic import write_atomic
from optimizer.report import charts
from optimizer.report import proposal_tables as tables
from optimizer.report.buckets import Bucket, SizeSplit, size_split
from optimizer.report.common import (
    acknowledgement,
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
from optimizer.report.fmt import DASH, num, pct, pp, signed_pct
from optimizer.report.html import Raw, el, join, page, section
from optimizer.report.tax_section import taxes
from optimizer.report.views import views_section

CURRENT = ("current", "Current")
PROPOSED = ("proposed", "Proposed")


@dataclass(frozen=True)
class ProposalView:
    """The document with its derived pieces computed once.

    ``tickers`` is the display order (by size bucket); ``current`` and ``proposed`` map
    every ticker to a weight (0.0 where the document has none); ``split`` aggregates
    each by tag.
    """

    doc: Mapping[str, Any]
    tickers: tuple[str, ...]
    current: Mapping[str, float]
    proposed: Mapping[str, float]
    split_current: SizeSplit
    split_proposed: SizeSplit

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ProposalView:
        tags = mapping(doc.get("tags"))
        cur, prop = mapping(doc.get("current_weights")), mapping(doc.get("weights"))
        tickers = tuple(order_tickers([*prop, *cur], tags))
        current = {t: num(cur.get(t)) or 0.0 for t in tickers}
        proposed = {t: num(prop.get(t)) or 0.0 for t in tickers}
        return cls(
            doc=doc,
            tickers=tickers,
            current=current,
            proposed=proposed,
            split_current=size_split(current, tags),
            split_proposed=size_split(proposed, tags),
        )

    def section(self, key: str) -> Mapping[str, Any]:
        return mapping(self.doc.get(key))

    @property
    def has_current(self) -> bool:
        return bool(mapping(self.doc.get("current_weights")))


Section = Callable[[ProposalView], Raw | None]


def render_proposal(doc: Mapping[str, Any]) -> str:
    """Render a proposal document as one self-contained, printable HTML page.

    Parameters
    ----------
    doc:
        The proposal document (see docs/report.md): account, tags, current and proposed
        weights, metrics, scenarios, frontier, trades, assumptions, provenance, warnings.

    Returns
    -------
    str
        A complete HTML5 document.
    """
    view = ProposalView.of(doc)
    body = join(part(view) for part in SECTIONS)
    return page(
        str(doc.get("title") or "Allocation proposal"),
        body,
        running_head=running_head(doc, "Allocation proposal"),
    )


def _header(view: ProposalView) -> Raw:
    return join([header(view.doc, "Allocation proposal"), data_banners(view.section("provenance"))])


def _summary(view: ProposalView) -> Raw:
    return section("Summary", el("p", summary_text(view), class_="summary"), id_="summary")


def summary_text(view: ProposalView) -> str:
    """The proposed change in a few sentences, generated from the numbers."""
    sc, sp = view.split_current, view.split_proposed
    account = view.section("account")
    who = account.get("name") or account.get("id") or "the account"
    changes = sorted(
        ((t, view.proposed[t] - view.current[t]) for t in view.tickers),
        key=lambda c: -abs(c[1]),
    )
    moves = [f"{t} {pp(d)}" for t, d in changes[:3] if abs(d) >= 0.0005]
    if not view.has_current:
        text = [f"Proposed allocation for {who}: {pct(sp.equity)} in equities"]
    elif not moves:
        text = [f"The proposal keeps the current allocation of {who}: no weight changes by 0.05 pp"]
    else:
        text = [f"We propose moving {who} from {pct(sc.equity)} to {pct(sp.equity)} in equities"]
    text[0] += _small_cap_clause(sc, sp, view.has_current) + "."
    if moves and view.has_current:
        text.append(f"The largest changes are {', '.join(moves)}.")
    text.extend(_metric_sentences(view))
    text.extend(_trade_sentence(view))
    return " ".join(text)


def _small_cap_clause(sc: SizeSplit, sp: SizeSplit, has_current: bool) -> str:
    if sp.small_cap_share_of_equity is None:
        return ""
    if not has_current or sc.small_cap_share_of_equity is None:
        return f", with small caps {pct(sp.small_cap_share_of_equity)} of the equity"
    return (
        f", with small caps going from {pct(sc.small_cap_share_of_equity)} to "
        f"{pct(sp.small_cap_share_of_equity)} of the equity"
    )


def _metric_sentences(view: ProposalView) -> list[str]:
    metrics = view.section("metrics")
    cur, prop = mapping(metrics.get("current")), mapping(metrics.get("proposed"))
    out = []
    if num(prop.get("expected_return")) is not None:
        out.append(
            f"Expected return is {_from_to(cur, prop, 'expected_return')} a year and "
            f"volatility {_from_to(cur, prop, 'volatility')}."
        )
    worst = mapping(prop.get("worst_scenario"))
    if num(worst.get("return")) is not None:
        scen = mapping(view.section("scenarios").get(worst.get("id")))
        title = scen.get("title") or worst.get("id") or "the worst scenario"
        cur_ret = num(scen.get("current_return"))
        versus = (
            f" against {signed_pct(cur_ret)} for the current portfolio"
            if cur_ret is not None
            else ""
        )
        out.append(
            f"In its worst scenario, {title}, the proposed portfolio would return "
            f"{signed_pct(worst.get('return'))}{versus}."
        )
    return out


def _from_to(cur: Mapping[str, Any], prop: Mapping[str, Any], key: str) -> str:
    if num(cur.get(key)) is None:
        return pct(prop.get(key))
    return f"{pct(cur.get(key))} → {pct(prop.get(key))}"


def _trade_sentence(view: ProposalView) -> list[str]:
    trades = listing(view.doc.get("trades"))
    if "trades" not in view.doc:
        return []
    if not trades:
        return ["No trades are needed."]
    cost = tables.trade_totals(view)["cost"]
    return [
        f"Getting there takes {len(trades)} trade{'s' if len(trades) != 1 else ''} with estimated "
        f"costs of {cost} and {tables.realised_text(view)}."
    ]


def _substitutes(doc: Mapping[str, Any]) -> str:
    """The sentence naming the tax-loss harvest substitutes counted in their tickers'
    post-trade weights; empty when none is held."""
    held = mapping(doc.get("post_trade_substitutes"))
    parts = [
        f"{t} includes {sub} ({pct(num(mapping(x).get('weight')))}), held as its tax-loss "
        "harvest substitute"
        for sub, x in held.items()
        if (t := mapping(x).get("for"))
    ]
    return f"{'; '.join(parts)}." if parts else ""


def _allocation(view: ProposalView) -> Raw | None:
    if not view.tickers:
        return None
    series = [
        charts.Series(*CURRENT, tuple(view.current[t] for t in view.tickers), charts.CURRENT_COLOR),
        charts.Series(
            *PROPOSED, tuple(view.proposed[t] for t in view.tickers), charts.PROPOSED_COLOR
        ),
    ]
    if not view.has_current:
        series = series[1:]
    chart = charts.grouped_bars(view.tickers, series, title="Current and proposed weights")
    after = mapping(view.doc.get("post_trade_weights"))
    rows = [
        (
            t,
            pct(view.current[t]) if view.has_current else DASH,
            pct(view.proposed[t]),
            pp(view.proposed[t] - view.current[t]) if view.has_current else DASH,
            *([pct(num(after.get(t)) or 0.0)] if after else []),
        )
        for t in view.tickers
    ]
    headers = [
        "Ticker",
        "Current",
        "Proposed (target)",
        "Change",
        *(["After trades"] * bool(after)),
    ]
    note = (
        "After trades: what the account holds once the planned trades are done (whole shares, "
        "blocked lots and cash left over included); it can differ from the target."
    )
    if subs := _substitutes(view.doc):
        note += f" {subs}"
    return section(
        "Current and proposed weights",
        el("figure", chart, el("figcaption", "Weight of each holding, current and proposed.")),
        tables.data_table(headers, rows) if view.has_current or after else None,
        el("p", note, class_="small") if after else None,
        id_="weights",
    )


def _split(view: ProposalView) -> Raw | None:
    shown = [
        b
        for b in Bucket
        if abs(view.split_current.weights[b]) > 1e-9 or abs(view.split_proposed.weights[b]) > 1e-9
    ]
    if not shown:
        return None
    rows = ["Current", "Proposed"] if view.has_current else ["Proposed"]
    splits = [view.split_current, view.split_proposed][-len(rows) :]
    segments = [
        charts.Series(b.name.lower(), b.value, tuple(s.weights[b] for s in splits), b.color)
        for b in shown
    ]
    chart = charts.stacked_bars(rows, segments, title="Small-cap versus large-cap split")
    table_rows = [(b.value, *(pct(s.weights[b]) for s in splits)) for b in shown]
    share = ("Small-cap share of equity", *(pct(s.small_cap_share_of_equity) for s in splits))
    return section(
        "Size split: small cap versus large cap",
        el("figure", chart, el("figcaption", "Weights summed by each holding's tags.")),
        tables.data_table(["Sleeve", *rows], [*table_rows, share]),
        id_="split",
    )


def _frontier(view: ProposalView) -> Raw | None:
    frontier = view.section("frontier")
    points = [mapping(p) for p in listing(frontier.get("points"))]
    curve = [(p.get("volatility"), p.get("expected_return")) for p in points]
    markers = []
    for (key, label), color in ((CURRENT, "#6b7785"), (PROPOSED, "#c0392b")):
        m = mapping(frontier.get(key))
        x, y = num(m.get("volatility")), num(m.get("expected_return"))
        if x is not None and y is not None:
            markers.append(charts.Marker(key, label, x, y, color))
    if not curve and not markers:
        return None
    assets = [
        charts.Marker(f"asset-{t}", str(t), x, y, "#9aa7b4")
        for t, p in mapping(frontier.get("assets")).items()
        if (x := num(mapping(p).get("volatility"))) is not None
        and (y := num(mapping(p).get("expected_return"))) is not None
    ]
    chart = charts.scatter_chart(
        curve, markers, title="Efficient frontier", x_label="Volatility",
        y_label="Expected return", context=assets, arrow=("current", "proposed"),
    )  # fmt: skip
    caption = (
        "Annualised expected return against volatility. The line is the efficient frontier "
        "under this account's constraints (so it can be short: the constraints leave a narrow "
        "range); grey dots are each asset held alone, for scale; the dashed line is the move "
        "from the current portfolio to the proposed one."
    )
    return section(
        "Efficient frontier", el("figure", chart, el("figcaption", caption)), id_="frontier"
    )


SECTIONS: tuple[Section, ...] = (
    _header,
    _summary,
    _allocation,
    _split,
    _frontier,
    tables.scenario_returns,
    tables.risk,
    tables.trades,
    taxes,
    tables.blocked,
    tables.objective,
    lambda v: views_section(v.doc.get("views")),
    tables.assumptions,
    lambda v: provenance_section(v.section("provenance")),
    lambda v: warnings_section(v.doc.get("warnings")),
    lambda v: disclosure(v.doc, v.tickers),
    lambda v: acknowledgement(v.doc),
)


def proposal_filename(doc: Mapping[str, Any]) -> str:
    """``proposal-<account id>-<date>.html``, reduced to safe file-name characters."""
    account = mapping(doc.get("account"))
    parts = ["proposal", str(account.get("id") or ""), str(doc.get("generated") or "")[:10]]
    slug = "-".join(p for p in (re.sub(r"[^A-Za-z0-9._]+", "-", x).strip("-.") for x in parts) if p)
    return f"{slug}.html"


def write_proposal(
    doc: Mapping[str, Any], folder: str | os.PathLike[str], name: str | None = None
) -> Path:
    """Render ``doc`` and write it atomically into ``folder`` (file name from
    :func:`proposal_filename` unless ``name`` is given); returns the path."""
    return write_atomic(Path(folder) / (name or proposal_filename(doc)), render_proposal(doc))
