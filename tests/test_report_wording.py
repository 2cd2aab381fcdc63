"""Report details an advisor hands over: one minus sign, losses worded as losses, the
worst-scenario row, sleeve colours that do not depend on what else is shown, the frontier's
context, the what-if regret header and the what-if options' help."""

from __future__ import annotations

import re

import pytest

from optimizer.report import render_proposal, render_whatif
from optimizer.report.buckets import Bucket
from optimizer.report.fmt import MINUS, minus_signs
from tests.conftest import ROOT, run_cli
from tests.test_report_support import find, proposal_doc, visible_text, whatif_doc

HYPHEN_MINUS = re.compile(r"(?<![\w.\-−])-\.?\d")  # "-0.5%", " -3": a hyphen as a minus


def words(page: str) -> str:
    """The page's visible text (the stylesheet left out)."""
    return visible_text(re.sub(r"<style>.*?</style>", "", page, flags=re.S))


@pytest.fixture(scope="module")
def example_page(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("p")
    res = run_cli("propose", "--config", str(ROOT / "examples" / "proposal" / "account.toml"),
                  "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    return (out / "report.html").read_text()


def test_one_minus_sign_in_the_example_report(example_page):
    text = words(example_page)
    assert MINUS in text and not HYPHEN_MINUS.findall(text)
    assert "2017-03-31" in text  # dates keep their hyphens


def test_one_minus_sign_with_negative_numbers_everywhere():
    doc = proposal_doc()
    for m in doc["metrics"].values():
        m["expected_return"], m["sharpe"] = -0.005, -0.07
    doc["trades"][0]["reason"] = "drift -19.31% outside band ±3.00%"
    text = words(render_proposal(doc))
    assert "−0.5%" in text and "−0.07" in text and "drift −19.31%" in text
    assert not HYPHEN_MINUS.findall(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drift -1.5%", "drift −1.5%"),
        ("2017-03-31", "2017-03-31"),
        ("a-1", "a-1"),
        ("(-5)", "(−5)"),
        ("x - 3", "x - 3"),
    ],
)
def test_minus_signs_in_free_text(text, expected):
    assert minus_signs(text) == expected


def summary(doc: dict) -> str:
    return " ".join(e.text for e in find(render_proposal(doc), "summary", "p"))


def test_losses_are_worded_as_losses():
    doc = proposal_doc()
    doc["trade_summary"]["st_gain"], doc["trade_summary"]["lt_gain"] = -2898.0, 26606.6
    text = summary(doc)
    assert "realised losses of $2,898.00 short-term and gains of $26,606.60 long-term" in text
    assert "gains of −" not in text and "gains of -" not in text
    doc["trade_summary"]["st_gain"], doc["trade_summary"]["lt_gain"] = -10.0, -20.0
    assert "realised losses of $10.00 short-term and $20.00 long-term" in summary(doc)
    doc["trade_summary"]["st_gain"], doc["trade_summary"]["lt_gain"] = 0.0, 0.0
    assert "no realised gains or losses" in summary(doc)


def test_worst_scenario_title_is_in_the_label_and_numbers_in_number_columns():
    doc = proposal_doc()
    page = render_proposal(doc)
    rows = [e for e in find(page, "risk", "tr") if e.text.startswith("Worst scenario")]
    assert len(rows) == 1
    cells = [c.text for c in find(page, "risk", "td")]
    i = next(k for k, c in enumerate(cells) if c.startswith("Worst scenario"))
    numbers = cells[i + 1 : i + 4]
    assert all(re.fullmatch(r"[+−]\d+\.\d%|[+−]\d+\.\d pp|–", c) for c in numbers), numbers
    prop = doc["metrics"]["proposed"]["worst_scenario"]
    title = doc["scenarios"][prop["id"]]["title"]
    assert title in cells[i]


def split_colors(doc: dict) -> dict[str, str]:
    return {
        s.attrs["data-series"]: s.attrs["fill"]
        for s in find(render_proposal(doc), "split", "rect", "segment")
    }


def test_sleeve_colours_are_the_same_whatever_else_is_shown():
    full = proposal_doc()
    full["tags"]["VO"] = ["equity", "mid_cap"]
    full["weights"]["VO"] = full["current_weights"]["VO"] = 0.05
    without = proposal_doc()
    a, b = split_colors(full), split_colors(without)
    assert "mid_cap" in a and "mid_cap" not in b
    for sleeve in b:
        assert a[sleeve] == b[sleeve] == Bucket[sleeve.upper()].color
    assert len({bucket.color for bucket in Bucket}) == len(Bucket)


def test_narrow_segments_carry_their_value_below_the_bar():
    doc = proposal_doc()
    doc["tags"]["VO"] = ["equity", "mid_cap"]
    doc["weights"]["VO"] = doc["current_weights"]["VO"] = 0.012
    page = render_proposal(doc)
    labels = [t.text for t in find(page, "split", "text")]
    assert labels.count("1.2%") == 2  # one per bar, although the segments are ~8 px wide


def test_frontier_shows_each_asset_and_the_move(example_page):
    circles = find(example_page, "frontier", "circle", "context")
    names = {c.attrs["data-series"] for c in circles}
    assert names == {f"asset-{t}" for t in ("SMALL", "MID", "LARGE", "BOND", "CASH")}
    assert len(find(example_page, "frontier", "line", "move")) == 1


def test_regret_header_is_short_and_explained():
    page = render_whatif(whatif_doc())
    headers = [e.text for e in find(page, "regret", "th")]
    assert headers[0] == "Held ↓ · happens →"
    assert "Rows: the optimum held; columns: the scenario that happens." in visible_text(page)


def test_whatif_output_options_have_help():
    res = run_cli("whatif", "--help")
    text = " ".join(res.stdout.split())
    for option in ("--csv FILE Also write the table as CSV", "--html FILE Also write a",
                   "--pdf FILE Also write the same page as a PDF"):  # fmt: skip
        assert option in text


def test_a_difference_that_rounds_to_zero_has_no_sign_of_its_own():
    from optimizer.report.fmt import pp

    assert [pp(x) for x in (-3e-12, -0.0004, 0.0, 0.0004)] == ["+0.0 pp"] * 4
    assert pp(-0.0006) == f"{MINUS}0.1 pp" and pp(0.07) == "+7.0 pp"
