"""The HTML proposal: structure, self-containment, content, chart geometry, escaping.

Chart checks recompute the expected geometry from the document's numbers in the test
(weights, tag sums, scenario returns) and compare with the SVG attributes at 0.01 px
(coordinates are written with three decimals).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.report import render_proposal
from optimizer.report.disclosure import LEGEND
from tests.conftest import ROOT
from tests.test_report_support import (
    URL_IN_ATTR,
    URL_IN_CSS,
    find,
    parse,
    proposal_doc,
    visible_text,
)

PX = 0.01  # tolerance on pixel geometry


def _bars(page: str, section: str, css_class: str = "bar") -> dict[tuple[str, str], dict]:
    return {
        (e.attrs["data-series"], e.attrs["data-category"]): {
            k: e.num(k) for k in ("x", "y", "width", "height")
        }
        for e in find(page, section, "rect", css_class)
    }


def test_page_is_one_balanced_html5_document():
    page = render_proposal(proposal_doc())
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert tree.errors == []
    assert [e.tag for e in tree.elements].count("html") == 1


def test_page_loads_nothing_from_anywhere():
    doc = proposal_doc()
    doc["scenarios"]["fed-easing"]["narrative"] = "see https://example.com/fed and //cdn.x/y.js"
    page = render_proposal(doc)
    assert not URL_IN_ATTR.search(page)
    assert not URL_IN_CSS.search(page)
    tags = {e.tag for e in parse(page).elements}
    assert tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed", "image", "use"})
    for e in parse(page).elements:
        assert not any(a in e.attrs for a in ("src", "href", "xlink:href"))


def test_every_trade_scenario_and_the_disclosure_are_shown():
    doc = proposal_doc()
    page = render_proposal(doc)
    text = visible_text(page)
    trade_cells = [e.text for e in find(page, "trades", "td")]
    for trade in doc["trades"]:
        assert trade["ticker"] in trade_cells
    for scenario in doc["scenarios"].values():
        assert scenario["title"] in text
        assert scenario["narrative"] in text
        assert scenario["plausibility"] in text
    assert LEGEND in text
    assert "hypothetical in nature" in text
    assert "do not reflect actual investment results" in text
    assert "not guarantees of future results" in text
    assert "may vary with each use and over time" in text
    assert "similar or superior" in text
    for ticker in doc["weights"]:
        assert ticker in " ".join(e.text for e in find(page, "disclosure", "p"))


def test_sample_banner_names_the_sample_and_its_dates():
    doc = proposal_doc()
    banner = " ".join(
        e.text for e in parse(render_proposal(doc)).elements if e.attrs.get("role") == "note"
    )
    assert "bundled sample" in banner
    assert doc["provenance"]["first"] in banner and doc["provenance"]["last"] in banner

    doc["provenance"] |= {"source": "yahoo", "stale": False}
    notes = [e for e in parse(render_proposal(doc)).elements if e.attrs.get("role") == "note"]
    assert notes == []

    doc["provenance"]["stale"] = True
    notes = [e.text for e in parse(render_proposal(doc)).elements if e.attrs.get("role") == "note"]
    assert len(notes) == 1 and "stale" in notes[0]


def test_weight_bars_are_proportional_to_the_weights():
    doc = proposal_doc()
    doc["current_weights"] = {"SPY": 0.4, "IWM": 0.2, "BND": 0.3, "CASH": 0.1}
    doc["weights"] = {"SPY": 0.5, "IWM": 0.1, "BND": 0.4, "CASH": 0.0}
    bars = _bars(render_proposal(doc), "weights")
    # a weight twice as large draws a bar twice as tall
    assert bars[("current", "SPY")]["height"] == pytest.approx(
        2 * bars[("current", "IWM")]["height"], abs=PX
    )
    k = bars[("proposed", "SPY")]["height"] / 0.5
    for (series, ticker), bar in bars.items():
        w = doc["weights" if series == "proposed" else "current_weights"][ticker]
        assert bar["height"] == pytest.approx(k * w, abs=PX)
    baseline = {round(b["y"] + b["height"], 2) for b in bars.values()}
    assert len(baseline) == 1  # all rise from the same zero line
    for ticker in doc["weights"]:
        assert bars[("current", ticker)]["x"] < bars[("proposed", ticker)]["x"]
    # groups ordered small cap, large cap, bonds, cash (IWM, SPY, BND, CASH)
    xs = [bars[("current", t)]["x"] for t in ("IWM", "SPY", "BND", "CASH")]
    assert xs == sorted(xs)


def test_scenario_bars_hang_below_zero_for_losses():
    doc = proposal_doc()
    page = render_proposal(doc)
    bars = _bars(page, "scenarios")
    k = bars[("current", "Tariff shock")]["height"] / 0.10
    zero = bars[("current", "Fed easing")]["y"] + bars[("current", "Fed easing")]["height"]
    for s in doc["scenarios"].values():
        for series in ("current", "proposed"):
            r = s[f"{series}_return"]
            bar = bars[(series, s["title"])]
            assert bar["height"] == pytest.approx(k * abs(r), abs=PX)
            edge = bar["y"] if r < 0 else bar["y"] + bar["height"]
            assert edge == pytest.approx(zero, abs=PX)


def test_size_split_sums_weights_by_tag():
    doc = proposal_doc()
    doc["tags"]["VO"] = ["Equity", "Mid-Cap"]  # tags are matched case- and dash-insensitively
    doc["weights"]["VO"], doc["weights"]["BND"] = 0.06, 0.30
    doc["current_weights"]["VO"] = 0.0
    page = render_proposal(doc)
    segments = find(page, "split", "rect", "segment")
    by_row: dict[str, list] = {}
    for s in segments:
        by_row.setdefault(s.attrs["data-category"], []).append(s)
    w = doc["weights"]
    expected = {
        "small_cap": w["IWM"],
        "mid_cap": w["VO"],
        "large_cap": w["SPY"],
        "bonds": w["BND"],
        "cash": w["CASH"],
    }
    got = {s.attrs["data-series"]: s.num("width") for s in by_row["Proposed"]}
    assert set(got) == set(expected)
    k = got["large_cap"] / expected["large_cap"]
    for bucket, weight in expected.items():
        assert got[bucket] == pytest.approx(k * weight, abs=PX)
    row = by_row["Proposed"]
    for a, b in itertools.pairwise(row):  # contiguous, left to right
        assert b.num("x") == pytest.approx(a.num("x") + a.num("width"), abs=PX)
    share = w["IWM"] / (w["IWM"] + w["VO"] + w["SPY"])
    rows = [e.text for e in find(page, "split", "tr")]
    assert any(
        r.startswith("Small-cap share of equity") and f"{100 * share:.1f}%" in r for r in rows
    )


def test_frontier_and_both_portfolios_share_one_linear_map():
    doc = proposal_doc()
    page = render_proposal(doc)
    points = find(page, "frontier", "circle", "frontier-point")
    markers = {e.attrs["data-series"]: e for e in find(page, "frontier", "circle", "marker")}
    data = [(p["volatility"], p["expected_return"]) for p in doc["frontier"]["points"]]
    data += [
        (doc["frontier"][k]["volatility"], doc["frontier"][k]["expected_return"])
        for k in ("current", "proposed")
    ]
    px = [(e.num("cx"), e.num("cy")) for e in [*points, markers["current"], markers["proposed"]]]
    v, r = np.array(data).T
    cx, cy = np.array(px).T
    for x, y, sign in ((v, cx, 1), (r, cy, -1)):  # x right with volatility, y up with return
        slope, intercept = np.polyfit(x, y, 1)
        assert sign * slope > 0
        assert np.max(np.abs(slope * x + intercept - y)) < PX


def test_summary_states_the_change_computed_from_the_weights():
    doc = proposal_doc()
    text = visible_text(render_proposal(doc))
    cur, new = doc["current_weights"], doc["weights"]
    eq_cur, eq_new = cur["SPY"] + cur["IWM"], new["SPY"] + new["IWM"]
    assert f"from {100 * eq_cur:.1f}% to {100 * eq_new:.1f}% in equities" in text
    biggest = max(new, key=lambda t: abs(new[t] - cur[t]))
    delta = 100 * (new[biggest] - cur[biggest])
    assert f"largest changes are {biggest} {delta:+.1f} pp".replace("-", "−") in text


def test_trade_totals_fall_back_to_the_sum_of_the_trades():
    doc = proposal_doc()
    del doc["trade_summary"]
    page = render_proposal(doc)
    cells = [e.text for e in find(page, "trades", "td")]
    total_cost = sum(t["est_cost"] for t in doc["trades"])
    total_lt = sum(t["lt_gain"] for t in doc["trades"])
    assert f"${total_cost:,.2f}" in cells and f"${total_lt:,.2f}" in cells


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&"\''


def test_every_string_is_escaped():
    doc = proposal_doc()
    doc["account"]["name"] = HOSTILE
    doc["title"] = HOSTILE
    doc["tags"][HOSTILE] = [HOSTILE]
    doc["weights"][HOSTILE] = 0.01
    doc["scenarios"][HOSTILE] = doc["scenarios"]["fed-easing"] | {
        "title": HOSTILE,
        "narrative": HOSTILE,
        "plausibility": HOSTILE,
        "history": HOSTILE,
        "shocks": [{"factor": HOSTILE, "move": 1, "unit": HOSTILE}],
    }
    doc["constraints"].append({"name": HOSTILE, "binding": True, "shadow_price": HOSTILE})
    doc["trades"][0] |= {"ticker": HOSTILE, "reason": HOSTILE, "side": HOSTILE}
    doc["warnings"].append(HOSTILE)
    doc["provenance"]["notes"].append(HOSTILE)
    doc["objective"]["description"] = HOSTILE
    doc["assumptions"]["method"] = HOSTILE
    page = render_proposal(doc)
    tree = parse(page)
    assert tree.errors == []
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert not any(k.startswith("on") for e in tree.elements for k in e.attrs)
    assert visible_text(page).count(HOSTILE) >= 10  # shown as text, intact


@pytest.mark.parametrize(
    "drop",
    [
        ["frontier"],
        ["trades", "trade_summary"],
        ["scenarios"],
        ["metrics"],
        ["current_weights"],
        ["provenance", "warnings", "assumptions", "objective", "constraints", "tags"],
    ],
)
def test_absent_optional_sections_are_left_out(drop):
    doc = proposal_doc()
    for key in drop:
        del doc[key]
    page = render_proposal(doc)
    assert parse(page).errors == []
    ids = {e.attrs.get("id") for e in parse(page).elements}
    section_of = {
        "frontier": "frontier",
        "trades": "trades",
        "scenarios": "scenarios",
        "metrics": "risk",
        "provenance": "provenance",
        "warnings": "warnings",
    }
    for key in drop:
        if key in section_of:
            assert section_of[key] not in ids
    assert "disclosure" in ids


def test_empty_trade_list_says_no_trades():
    doc = proposal_doc()
    doc["trades"] = []
    assert "No trades are needed." in visible_text(render_proposal(doc))


_odd_number = st.one_of(
    st.none(),
    st.just(math.nan),
    st.just(math.inf),
    st.text(max_size=3),
    st.floats(-1e6, 1e6, allow_nan=False),
)
_sections = [
    "frontier",
    "trades",
    "trade_summary",
    "scenarios",
    "metrics",
    "current_weights",
    "provenance",
    "warnings",
    "assumptions",
    "objective",
    "constraints",
    "tags",
    "account",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dropped=st.sets(st.sampled_from(_sections)),
    value=_odd_number,
    where=st.sampled_from(
        ["weights", "current_weights", "metrics", "scenarios", "trades", "frontier"]
    ),
)
def test_any_subset_and_odd_numbers_still_render(dropped, value, where):
    doc = proposal_doc()
    target = doc[where]
    if where == "weights" or where == "current_weights":
        target["SPY"] = value
    elif where == "metrics":
        target["proposed"]["volatility"] = value
        target["current"]["worst_scenario"]["return"] = value
    elif where == "scenarios":
        target["fed-easing"]["proposed_return"] = value
        target["fed-easing"]["shocks"][0]["move"] = value
    elif where == "trades":
        target[0]["est_cost"] = value
    else:
        target["points"][0]["volatility"] = value
    for key in dropped:
        doc.pop(key, None)
    page = render_proposal(doc)
    assert parse(page).errors == []
    assert LEGEND in visible_text(page)
    assert not re.search(r"\bnan\b|\binf\b", visible_text(page).lower())


def test_docs_quote_the_disclosure_the_pages_carry():
    from pathlib import Path

    from optimizer.report.disclosure import FAVOURS, LIMITATIONS, VARY

    docs = " ".join(
        line.lstrip("> ").strip()
        for line in (Path(__file__).parents[1] / "docs" / "report.md").read_text().splitlines()
    )
    docs = docs.replace("**", "")
    for text in (LEGEND, LIMITATIONS, VARY, FAVOURS):
        assert text in docs


def test_the_disclosure_states_the_window_the_assumptions_table_states():
    """The methodology sentence a client reads names the estimators' own window (the
    assumptions table's row), not the data's span at another frequency."""
    from optimizer.workflows import propose

    doc = propose(ROOT / "examples" / "proposal" / "account.toml").document
    text = " ".join(visible_text(render_proposal(doc)).split())
    method = text.split("Criteria and methodology.", 1)[1].split("Limitations", 1)[0]
    window = doc["assumptions"]["window"]
    assert window and f"historical prices: {window}; {doc['assumptions']['method']}." in method
