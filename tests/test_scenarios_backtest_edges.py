"""Edges of the scenario backtest on real data: monthly files dated on different days, a
month without a common month end, forward-filled monthly gaps, a one-month range, a range
after the data, a shocked factor's own series, duplicate shocks, the provenance's span and
sampling, bad stated shocks, the one-month chart, and no look-ahead in the market-variance
weights when the market's first move is zero."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import ScenarioError
from optimizer.factors import Frequency, period_end_levels
from optimizer.scenario.backtest import _months, backtest_scenarios
from optimizer.scenario.predict import EngineOptions, ShockModel, load_market
from tests.conftest import run_cli

YAHOO = ("SPY", "IWM", "TLT", "QQQ")
FRED = ("DGS10", "BAA10Y", "T10Y2Y")


def _month_ends(src: Path, dst: Path) -> None:
    """``src`` reduced to the last row with a value of each month (its real date kept)."""
    frame = pd.read_csv(src, dtype=str)
    date, value = frame.columns[0], frame.columns[1]
    frame = frame[frame[value].fillna("").str.strip() != ""]
    months = pd.to_datetime(frame[date]).dt.to_period("M")
    frame.groupby(months.to_numpy()).tail(1).to_csv(dst, index=False)


@pytest.fixture(scope="module")
def real_source(shared_data):
    return f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"


@pytest.fixture(scope="module")
def monthly(shared_data, tmp_path_factory) -> Path:
    """Monthly files: the last row of each month of the real Yahoo and FRED files (FRED's
    BAA10Y has no value on 2021-12-31: its December row is dated 2021-12-30)."""
    root = tmp_path_factory.mktemp("monthly")
    for sub, names in (("yahoo", YAHOO), ("fred", FRED)):
        (root / sub).mkdir()
        for name in names:
            _month_ends(shared_data / sub / f"{name}.csv", root / sub / f"{name}.csv")
    return root


def _source(root: Path) -> str:
    return f"csv:{root / 'yahoo'},{root / 'fred'}"


def _backtest_json(source: str, tickers: str, *args: str) -> tuple[dict, object]:
    out = run_cli("scenarios", "backtest", "--source", source, "--tickers", tickers,
                  *args, "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out


# 1 -------------------------------------------------------------------------------------


def test_monthly_files_dated_30th_and_31st_score_a_one_month_return(monthly):
    baa = pd.read_csv(monthly / "fred" / "BAA10Y.csv")
    assert "2021-12-30" in set(baa["observation_date"])  # the case: not the 31st
    assert "2021-12-31" not in set(baa["observation_date"])
    doc, _ = _backtest_json(_source(monthly), "IWM,TLT", "--start", "2021-06", "--end", "2022-06")
    rows = {m["month"]: m for m in doc["months"]}
    assert "2022-01" in rows
    assert list(rows) == [str(m) for m in pd.period_range("2021-06", "2022-06", freq="M")]
    iwm = pd.read_csv(monthly / "yahoo" / "IWM.csv", index_col="Date")["Close"]
    want = iwm["2022-01-31"] / iwm["2021-12-31"] - 1  # one month, not two
    assert rows["2022-01"]["assets"]["IWM"]["realised"] == pytest.approx(want, rel=1e-12)
    assert rows["2022-01"]["as_of"] == "2021-12-31"


def test_period_end_levels_joins_a_30th_and_a_31st_into_one_month():
    frame = pd.DataFrame(
        {"A": [1.0, 2.0, np.nan, 4.0], "B": [10.0, np.nan, 30.0, 40.0]},
        index=pd.to_datetime(["2021-11-30", "2021-12-30", "2021-12-31", "2022-01-31"]),
    )
    out = period_end_levels(frame, Frequency.MONTHLY)
    assert list(out.index.strftime("%Y-%m-%d")) == ["2021-11-30", "2021-12-31", "2022-01-31"]
    assert out.loc["2021-12-31"].tolist() == [2.0, 30.0]


# 2 -------------------------------------------------------------------------------------


def test_a_month_without_a_month_end_before_it_is_not_scored_and_named():
    available = pd.period_range("2019-01", "2021-12", freq="M")
    ends = {m: m.to_timestamp(how="end") for m in available if str(m) != "2021-03"}
    months, notes = _months(available, "2021-01", "2021-06", 12, ends)
    assert [str(m) for m in months] == ["2021-01", "2021-02", "2021-03", "2021-05", "2021-06"]
    assert len(notes) == 1 and notes[0].startswith("not scored: 2021-04 (")
    # without the month ends every month in the range is scored
    every, none = _months(available, "2021-01", "2021-06", 12)
    assert len(every) == 6 and none == []


# 3 -------------------------------------------------------------------------------------


FILLED = "QQQ: 2 missing monthly value(s) forward-filled (2015-03-31, 2015-04-30)"


@pytest.fixture(scope="module")
def qqq_gap(monthly, tmp_path_factory) -> Path:
    """The monthly files with QQQ's 2015-03 and 2015-04 rows deleted."""
    root = tmp_path_factory.mktemp("qqq_gap")
    shutil.copytree(monthly, root, dirs_exist_ok=True)
    path = root / "yahoo" / "QQQ.csv"
    frame = pd.read_csv(path, dtype=str)
    gone = frame["Date"].str.startswith(("2015-03", "2015-04"))
    assert list(frame.loc[gone, "Date"]) == ["2015-03-31", "2015-04-30"]
    frame[~gone].to_csv(path, index=False)
    return root


def test_a_forward_filled_monthly_gap_is_a_warning_everywhere(qqq_gap):
    source = _source(qqq_gap)
    range_ = ("--start", "2015-01", "--end", "2015-06")
    doc, _ = _backtest_json(source, "QQQ,IWM", *range_)
    assert any(w.startswith(FILLED) for w in doc["warnings"]), doc["warnings"]
    table = run_cli("scenarios", "backtest", "--source", source, "--tickers", "QQQ,IWM", *range_)
    assert table.returncode == 0, table.stderr
    assert f"warning: {FILLED}" in table.stdout
    show = run_cli("data", "show", "--source", source, "--tickers", "QQQ,IWM")
    assert show.returncode == 0, show.stderr
    assert f"warning: {FILLED}" in show.stdout


# 4 -------------------------------------------------------------------------------------


def test_one_month_has_no_centred_r2_and_no_runtime_warning(real_source):
    args = ("--tickers", "QQQ", "--start", "2020-03", "--end", "2020-03")
    out = run_cli("scenarios", "backtest", "--source", real_source, *args, "--format", "json",
                  env={"PYTHONWARNINGS": "default"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" not in out.stderr
    doc = json.loads(out.stdout)
    assert [m["month"] for m in doc["months"]] == ["2020-03"]
    score = doc["scores"]["QQQ"]
    assert score["r2_centred"] is None
    assert isinstance(score["r2"], float) and np.isfinite(score["r2"])
    table = run_cli("scenarios", "backtest", "--source", real_source, *args)
    assert table.returncode == 0, table.stderr
    assert "RuntimeWarning" not in table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("│ QQQ"))
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[:3] == ["QQQ", f"{score['r2']:.3f}", "–"]


# 5 -------------------------------------------------------------------------------------


def test_a_range_after_the_data_is_one_data_error_line(real_source):
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "QQQ",
                  "--start", "2027-01", "--end", "2028-01")  # fmt: skip
    assert out.returncode == 4, out.stderr  # a data error
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "the range starts after the data's last month" in lines[0]
    assert "--start='2027-01'" in lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


# 6 -------------------------------------------------------------------------------------


def test_a_target_that_is_a_shocked_series_gets_a_note(real_source):
    doc, _ = _backtest_json(real_source, "SPY", "--shocks", "equity,long_rate",
                            "--start", "2022-01", "--end", "2022-02")  # fmt: skip
    said = [n for n in doc["notes"] if "SPY is the series of the shocked factor" in n]
    assert len(said) == 1, doc["notes"]
    assert said[0].startswith("SPY is the series of the shocked factor equity:")


# 7 -------------------------------------------------------------------------------------


def test_a_factor_shocked_twice_is_refused(real_source):
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "IWM",
                  "--shocks", "equity,equity", "--start", "2022-01",
                  "--end", "2022-02")  # fmt: skip
    assert out.returncode == 3, out.stderr  # a config error
    assert "--shocks" in out.stderr and "a factor is named twice" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == ""


# 8 -------------------------------------------------------------------------------------


def test_provenance_states_the_levels_span_and_the_sampling_used(real_source, monthly):
    doc, _ = _backtest_json(
        real_source, "IWM,QQQ,HYG,TLT", "--start", "2022-01", "--end", "2022-02"
    )
    assert doc["provenance"]["frequency"] == "daily"
    assert doc["provenance"]["first"] == "2007-04-11"  # HYG's first close: the first level
    assert doc["engine"]["sampling"] == "daily"
    doc, _ = _backtest_json(_source(monthly), "IWM,TLT", "--start", "2022-01", "--end", "2022-02")
    assert doc["provenance"]["frequency"] == "monthly"
    assert doc["engine"]["sampling"] == "monthly"
    assert "monthly" in doc["engine"]["text"] and "daily" not in doc["engine"]["text"]


# 9 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(real_source) -> ShockModel:
    history = load_market(real_source, ["IWM", "TLT"])
    return ShockModel(history, EngineOptions()).fit("2022-03-31")


@pytest.mark.parametrize(
    ("shocks", "words"),
    [
        ({"equity": -1.5}, "beyond a total loss"),
        ({"equity": float("nan")}, "finite"),
        ({"equity": "x"}, "a shock is a number"),
    ],
)
def test_a_stated_shock_that_is_no_return_is_refused(fitted, shocks, words):
    with pytest.raises(ScenarioError) as caught:
        fitted.predict(shocks)
    text = caught.value.render()
    assert "shocks.equity" in text and words in text


def test_a_huge_rate_shock_is_predicted_and_called_extreme(fitted):
    p = fitted.predict({"long_rate": 0.2})
    assert "extreme" in p.plausibility
    assert np.isfinite(p.mu).all() and p.tickers == ("IWM", "TLT")


# 10 ------------------------------------------------------------------------------------


def test_a_one_month_chart_draws_each_series_as_a_dot(real_source, tmp_path):
    page = tmp_path / "out.html"
    out = run_cli("scenarios", "backtest", "--source", real_source, "--tickers", "IWM,TLT",
                  "--start", "2020-03", "--end", "2020-03", "--html", str(page))  # fmt: skip
    assert out.returncode == 0, out.stderr
    charts = page.read_text().split("<svg")[1:]
    assert len(charts) == 2
    for chart in charts:
        dots = [c.split(">")[0] for c in chart.split("</svg>")[0].split("<circle")[1:]]
        drawn = sorted(d.split('data-series="')[1].split('"')[0] for d in dots)
        assert drawn == ["hi90", "lo90", "predicted", "realised"]


# 11 ------------------------------------------------------------------------------------


def _cut_folder(shared: Path, root: Path, end: str | None) -> str:
    """The series the loader uses for IWM (SPY, IWM, ^VIX; DGS10, T10Y2Y, BAA10Y) from
    2003-01-02 (to ``end``), SPY's second close set equal to its first: the market's first
    move is zero."""
    for sub, names in (("yahoo", ("SPY", "IWM", "^VIX")), ("fred", FRED)):
        (root / sub).mkdir(parents=True)
        for name in names:
            frame = pd.read_csv(shared / sub / f"{name}.csv", dtype=str)
            dates = frame[frame.columns[0]]
            keep = (dates >= "2003-01-02") & (dates <= end if end else True)
            frame = frame[keep].reset_index(drop=True)
            if name == "SPY":
                frame.loc[1, "Close"] = frame.loc[0, "Close"]
            frame.to_csv(root / sub / f"{name}.csv", index=False)
    return _source(root)


def test_market_precision_with_a_zero_first_move_does_not_look_ahead(shared_data, tmp_path):
    full = load_market(_cut_folder(shared_data, tmp_path / "full", None), ["IWM"])
    cut = load_market(_cut_folder(shared_data, tmp_path / "cut", "2012-12-31"), ["IWM"])
    assert full.provenance.notes[-1] == cut.provenance.notes[-1]  # the same factor series
    sampled = ShockModel(full, EngineOptions()).sampled
    assert sampled.start == pd.Timestamp("2003-01-02")
    assert sampled.factors["equity"].iloc[0] == 0.0  # the case: the first move is zero
    a = backtest_scenarios(full, start="2012-05", end="2012-07")
    b = backtest_scenarios(cut, start="2012-05", end="2012-07")
    assert a.months == b.months == ("2012-05", "2012-06", "2012-07")
    np.testing.assert_array_equal(a.predicted, b.predicted)
    np.testing.assert_array_equal(a.sd, b.sd)
