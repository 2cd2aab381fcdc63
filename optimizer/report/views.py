"""The "Views" section of the proposal and what-if pages: each view with its confidence,
its value before and after the tilt, and the weights with the views against without."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optimizer.report.common import listing, mapping
from optimizer.report.fmt import decimal, num, pct, pp
from optimizer.report.html import Raw, el, section, table


def views_section(views: Any) -> Raw | None:
    """None when the document has no views."""
    v = mapping(views)
    if not v:
        return None
    rows = [
        (
            str(x.get("name")),
            pct(x.get("confidence"), 0),
            *(_value(x, x.get(k)) for k in ("target", "prior", "posterior")),
            str(x.get("source") or ""),
        )
        for x in map(mapping, listing(v.get("views")))
    ]
    headers = ["View", "Confidence", "Target", "Before", "After", "Source"]
    weights = mapping(v.get("weights"))
    without, with_ = mapping(weights.get("without_views")), mapping(weights.get("with_views"))
    change = mapping(v.get("weight_change"))
    effect = [(t, pct(without.get(t)), pct(with_.get(t)), pp(num(d))) for t, d in change.items()]
    method = str(v.get("method") or "").replace("_", " ")
    text = (
        f"Views enter by {method}: the scenario probabilities are tilted as little as "
        "possible (minimum relative entropy) for each view to hold, then blended with the "
        "untilted ones by its confidence."
        if v.get("method") == "entropy_pooling"
        else f"Views enter by {method}: expected returns and covariances move towards them "
        "by their confidence."
    )
    facts = ""
    if num(v.get("n_scenarios")):
        facts = (
            f" Relative entropy of the tilt: {decimal(v.get('relative_entropy'), 4)}; "
            f"effective number of scenarios: {num(v.get('effective_scenarios')):,.0f} of "
            f"{num(v.get('n_scenarios')):,.0f}."
        )
    return section(
        "Views and their effect",
        el("p", text + facts),
        table(headers, rows, text_cols=(0, 5)),
        table(["Ticker", "Without views", "With views", "Change"], effect),
        id_="views",
    )


def _value(view: Mapping[str, Any], x: Any) -> str:
    return decimal(x) if view.get("kind") == "correlation" else pct(x, 2)
