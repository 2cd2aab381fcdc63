"""What the page shows of a :class:`~optimizer.workflows.live.LiveResult`: rows, numbers as
text and the report's SVG charts. Formatting only; every number comes from the workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optimizer.report import charts
from optimizer.report.fmt import pct, signed_pct

if TYPE_CHECKING:
    from optimizer.workflows.live import Control, LiveResult, LiveSession


def controls_context(session: LiveSession, shown: dict[str, str]) -> dict[str, Any]:
    """The controls grouped by scenario (in the account's order), then the policy's."""
    titles = {sid: s.title for sid, s in session.scenarios_.items()}
    groups: dict[str, dict[str, Any]] = {}
    for c in session.controls_:
        g = groups.setdefault(
            c.scenario, {"id": c.scenario, "title": titles.get(c.scenario), "controls": []}
        )
        g["controls"].append({"c": c, "value": shown.get(c.name, c.text), "id": field_id(c)})
    scenarios = [g for sid, g in groups.items() if sid in titles]
    return {"scenarios": scenarios, "policy": groups.get("policy", {"controls": []})}


def field_id(c: Control) -> str:
    """An HTML id for a control (its name with ':' as '--')."""
    return "f-" + c.name.replace(":", "--")


def results_context(session: LiveSession, result: LiveResult) -> dict[str, Any]:
    """Tables and charts of one update."""
    ids = {c.name: field_id(c) for c in session.controls_}
    out: dict[str, Any] = {
        "ms": f"{1e3 * result.seconds:.0f}",
        "infeasible": result.infeasible,
        "shock_notes": {ids[n]: text for n, text in result.shocks.items() if n in ids},
    }
    if result.document is None or result.run is None:
        return out
    doc, run = result.document, result.run
    proposed = run.allocation.weights
    current = run.position.weights or {}
    tickers = list(doc.tickers)
    out["weights"] = [
        {
            "ticker": t,
            "proposed": proposed.get(t, 0.0),
            "current": current.get(t),
            "proposed_text": pct(proposed.get(t, 0.0)),
            "current_text": pct(current.get(t)) if current else "–",
        }
        for t in tickers
    ]
    out["split"] = _split(session, proposed, current)
    out["scenarios"] = [
        {
            "id": s.id,
            "title": s.title,
            "probability": f"{s.probability:.3g}",
            "plausibility": s.plausibility,
            "mahalanobis": f"{s.mahalanobis:.2f}",
            "current": signed_pct(doc.current_return.get(s.id)),
            "proposed": signed_pct(doc.proposed_return.get(s.id)),
            "proposed_value": doc.proposed_return.get(s.id),
        }
        for s in run.estimate.scenarios
    ]
    happens = [s.id for s in run.estimate.scenarios]
    out["regret_head"] = [doc.column_titles.get(s, s) for s in happens]
    out["regret"] = [
        {
            "title": doc.column_titles.get(h, h),
            "cells": [pct(doc.regret[h].get(s), 2) for s in happens],
        }
        for h in doc.columns
        if h in doc.regret
    ]
    out["trades"] = [] if run.plan is None else run.plan.order_rows()
    out["has_plan"] = run.plan is not None
    out["warnings"] = doc.warnings
    out["charts"] = _charts(tickers, proposed, current, doc, happens)
    return out


def _split(session: LiveSession, proposed: dict, current: dict) -> list[dict[str, str]]:
    assets = session.cfg_.policy.universe.assets
    rows = []
    for label, tag in (
        ("Small caps", "small_cap"),
        ("Mid caps", "mid_cap"),
        ("Large caps", "large_cap"),
        ("Equity", "equity"),
    ):
        names = [t for t, a in assets.items() if tag in a.tags]
        if not names:
            continue
        p = sum(proposed.get(t, 0.0) for t in names)
        c = sum(current.get(t, 0.0) for t in names) if current else None
        rows.append(
            {"label": label, "proposed": pct(p), "current": pct(c) if c is not None else "–"}
        )
    return rows


def _charts(tickers: list, proposed: dict, current: dict, doc: Any, happens: list) -> list[str]:
    rows = ["Current", "Proposed"] if current else ["Proposed"]
    segments = [
        charts.Series(
            t,
            t,
            tuple(w.get(t) for w in ([current] if current else []) + [proposed]),
            charts.PALETTE[i % len(charts.PALETTE)],
        )
        for i, t in enumerate(tickers)
    ]
    weights = charts.stacked_bars(rows, segments, title="Current and proposed weights")
    titles = [doc.column_titles.get(s, s) for s in happens]
    series = [
        charts.Series(
            "current",
            "Current portfolio",
            tuple(doc.current_return.get(s) for s in happens),
            charts.CURRENT_COLOR,
        ),
        charts.Series(
            "proposed",
            "Proposed portfolio",
            tuple(doc.proposed_return.get(s) for s in happens),
            charts.PROPOSED_COLOR,
        ),
    ]
    returns = charts.grouped_bars(titles, series, title="Return in each scenario", fmt=signed_pct)
    return [str(weights), str(returns)]
