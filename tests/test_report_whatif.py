"""The what-if exports: CSV that round-trips through pandas, and the HTML page."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.report import render_whatif, whatif_csv
from optimizer.report.disclosure import LEGEND
from optimizer.report.whatif import write_whatif
from tests.test_report_support import (
    URL_IN_ATTR,
    URL_IN_CSS,
    find,
    parse,
    visible_text,
    whatif_doc,
)

PX = 0.01


def _read(text: str) -> pd.DataFrame:
    frame = pd.read_csv(
        io.StringIO(text),
        keep_default_na=False,
        na_values={c: [""] for c in text.splitlines()[0].split(",")[2:]},
    )
    return frame.set_index(["metric", "item"])


def test_csv_round_trips_to_the_same_numbers():
    doc = whatif_doc()
    frame = _read(whatif_csv(doc))
    assert list(frame.columns) == doc["columns"]
    for col in doc["columns"]:
        for ticker in doc["tickers"]:
            assert frame.loc[("weight", ticker), col] == doc["weights"][col][ticker]
        for key in (
            "small_cap_share",
            "expected_return",
            "volatility",
            "current_return",
            "proposed_return",
        ):
            assert frame.loc[(key, ""), col] == doc[key][col]
    # rows are the portfolio held, columns the scenario that happens (as table and HTML)
    for holding, row in doc["regret"].items():
        for happens, value in row.items():
            assert frame.loc[("regret", holding), happens] == value
    # no regret row for holding the baseline; robust cannot happen: empty, not zero
    assert ("regret", "baseline") not in frame.index
    held = frame.loc[("regret", next(iter(doc["regret"])))]
    assert held["robust"] != held["robust"]
    assert len(frame) == len(doc["tickers"]) + 5 + len(doc["regret"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=4, max_size=4))
def test_csv_numbers_are_plain_decimals_that_parse_back_exactly(values):
    doc = whatif_doc()
    for col, v in zip(doc["columns"], values, strict=True):
        doc["weights"][col]["SPY"] = v
    text = whatif_csv(doc)
    spy = next(line for line in text.splitlines() if line.startswith("weight,SPY,"))
    assert "e" not in spy.lower().split(",", 2)[2]
    frame = _read(text)
    for col, v in zip(doc["columns"], values, strict=True):
        assert frame.loc[("weight", "SPY"), col] == v


def test_csv_leaves_missing_and_non_finite_cells_empty():
    doc = whatif_doc()
    doc["volatility"]["robust"] = math.nan
    del doc["expected_return"]["baseline"]
    del doc["weights"]["fed-easing"]["CASH"]
    frame = _read(whatif_csv(doc))
    assert frame[["robust"]].loc[("volatility", "")].isna().all()
    assert pd.isna(frame.loc[("expected_return", ""), "baseline"])
    assert pd.isna(frame.loc[("weight", "CASH"), "fed-easing"])


def test_html_parses_is_self_contained_and_shows_every_column():
    doc = whatif_doc()
    page = render_whatif(doc)
    assert parse(page).errors == []
    assert not URL_IN_ATTR.search(page) and not URL_IN_CSS.search(page)
    text = visible_text(page)
    for title in doc["column_titles"].values():
        assert title in text
    assert LEGEND in text
    assert "bundled sample" in text


def test_regret_matrix_shows_each_value():
    doc = whatif_doc()
    page = render_whatif(doc)
    titles = doc["column_titles"]
    header, *body = (e.text for e in find(page, "regret", "tr"))
    assert header.endswith(titles["fed-easing"] + titles["tariff-shock"])
    assert len(body) == len(doc["regret"])
    for holding, row in doc["regret"].items():
        line = next(text for text in body if text.startswith(titles[holding]))
        assert line == titles[holding] + "".join(f"{100 * v:.2f}%" for v in row.values())


def test_weight_segments_are_proportional_within_each_column():
    doc = whatif_doc()
    page = render_whatif(doc)
    segments = find(page, "charts", "rect", "segment")
    widths = {(s.attrs["data-category"], s.attrs["data-series"]): s.num("width") for s in segments}
    k = widths[("Baseline", "SPY")] / doc["weights"]["baseline"]["SPY"]
    for col in doc["columns"]:
        for ticker, w in doc["weights"][col].items():
            assert widths[(doc["column_titles"][col], ticker)] == pytest.approx(k * w, abs=PX)


def test_write_whatif_writes_both_exports(tmp_path):
    doc = whatif_doc()
    csv_path, html_path = write_whatif(doc, tmp_path / "out", stem="smith")
    assert csv_path.read_text(encoding="utf-8") == whatif_csv(doc)
    assert html_path.read_text(encoding="utf-8") == render_whatif(doc)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["smith.csv", "smith.html"]


def test_minimal_document_renders():
    doc = {"columns": ["a"], "weights": {"a": {"X": 1.0}}}
    page = render_whatif(doc)
    assert parse(page).errors == []
    lines = whatif_csv(doc).splitlines()
    assert lines[:2] == ["metric,item,a", "weight,X,1.0"]
    assert lines[2:] == [
        f"{key},,"
        for key in (
            "small_cap_share",
            "expected_return",
            "volatility",
            "current_return",
            "proposed_return",
        )
    ]


def test_the_real_page_states_its_method_and_no_trades(tmp_path):
    import json

    from tests.conftest import ROOT, run_cli

    config = str(ROOT / "examples" / "whatif" / "account.toml")
    page = tmp_path / "whatif.html"
    res = run_cli("whatif", "--config", config, "--html", str(page), "--format", "json")
    assert res.returncode == 0, res.stderr
    est = json.loads(res.stdout)["estimate"]
    text = " ".join(visible_text(page.read_text()).split())
    method = text.split("Criteria and methodology.", 1)[1].split("Limitations", 1)[0]
    assert (
        f"using {est['method']}." in method and f"The estimators read: {est['window']}." in method
    )
    assert f"horizon of {12 * est['horizon_years']:g} months" in method
    assert f"Tail risk (CVaR) uses {est['samples']}." in method
    assert "whole-share trades" not in method  # the what-if makes none
