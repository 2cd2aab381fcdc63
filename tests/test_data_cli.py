"""``capalloc data show`` through a real subprocess, checked against the files themselves."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.conftest import run_cli


def _dates_and_closes(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["Date"] for r in rows], np.array([float(r["Close"]) for r in rows])


def test_show_yahoo_folder_json(shared_data):
    res = run_cli(
        "data",
        "show",
        "--source",
        "csv:../shared/data/yahoo",
        "--tickers",
        "SPY,IWM,TLT",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert list(doc["tickers"]) == ["SPY", "IWM", "TLT"]
    files = {t: _dates_and_closes(shared_data / "yahoo" / f"{t}.csv") for t in doc["tickers"]}
    for ticker, (dates, _) in files.items():
        row = doc["tickers"][ticker]
        assert (row["first"], row["last"], row["observations"]) == (
            dates[0],
            dates[-1],
            len(dates),
        )
    window_start = max(d[0] for d, _ in files.values())
    assert doc["provenance"]["first"] == window_start == "2002-07-30"
    assert doc["provenance"]["frequency"] == "daily"
    # statistics over the common window, recomputed from the raw closes
    dates, close = files["SPY"]
    close = close[dates.index(window_start) :]
    r = close[1:] / close[:-1] - 1
    cagr = (close[-1] / close[0]) ** (252 / len(r)) - 1
    spy = doc["tickers"]["SPY"]
    assert spy["annual_return"] == pytest.approx(cagr, rel=1e-9)
    assert spy["annual_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert 0.07 < spy["annual_return"] < 0.13 and 0.15 < spy["annual_volatility"] < 0.23
    assert any("common window 2002-07-30" in w for w in doc["warnings"])


def test_show_sample_offline_table():
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    res = run_cli("data", "show", "--source", "sample", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for text in ("LARGE", "SMALL", "BOND", "TBILL", "bundled sample", "1948-12..2017-03"):
        assert text in res.stdout


def test_show_sample_json_states_the_sample_and_its_range():
    res = run_cli(
        "data",
        "show",
        "--source",
        "sample",
        "--tickers",
        "LARGE,SMALL,AAA",
        "--start",
        "1990-01-01",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    prov = doc["provenance"]
    assert prov["source"] == "sample" and prov["frequency"] == "monthly"
    assert prov["first"] == "1990-01-31" and prov["last"] == "2017-03-31"
    assert "bundled sample" in prov["notes"][0] and "1990-01..2017-03" in prov["notes"][0]
    assert doc["tickers"]["AAA"]["kind"] == "rate"
    assert doc["rates_provenance"]["tickers"] == ["AAA"]


def test_show_mixes_prices_and_rates_from_two_folders(shared_data):
    res = run_cli(
        "data",
        "show",
        "--source",
        "csv:../shared/data/yahoo,../shared/data/fred",
        "--tickers",
        "SPY,DGS10",
        "--start",
        "2020-01-01",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["tickers"]["SPY"]["kind"] == "price"
    dgs10 = doc["tickers"]["DGS10"]
    assert dgs10["kind"] == "rate" and dgs10["first"] == "2020-01-02"
    assert 0.5 < dgs10["min"] < dgs10["max"] < 6.0


def test_show_says_when_it_annualises_less_than_a_year(shared_data):
    # four daily returns annualised to -45 % for IWM: true arithmetic, said out loud
    args = ["data", "show", "--source", "csv:../shared/data/yahoo", "--tickers", "IWM,SPY"]
    short = json.loads(run_cli(*args, "--start", "2026-02-17", "--format", "json").stdout)
    (warning,) = [w for w in short["warnings"] if "extrapolate" in w]
    assert "extrapolate 6 days (2026-02-17..2026-02-23) to a year" in warning
    year = json.loads(run_cli(*args, "--start", "2025-01-02", "--format", "json").stdout)
    assert not [w for w in year["warnings"] if "extrapolate" in w]


def test_show_takes_each_rate_series_beside_prices_on_its_own(shared_data):
    # FRED's DGS10 runs months past Yahoo's ^TNX: beside prices, neither is stale for the
    # other (the workflows' rule: stale only against the prices); each keeps its own span
    args = ["--source", "csv:../shared/data/yahoo,../shared/data/fred"]
    res = run_cli("data", "show", *args, "--tickers", "SPY,DGS10,^TNX", "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["tickers"]
    for ticker, folder in (("DGS10", "fred"), ("^TNX", "yahoo")):
        with open(shared_data / folder / f"{ticker}.csv", newline="") as fh:
            file_rows = [r for r in csv.reader(fh)][1:]
        values = [r for r in file_rows if r[-1] not in ("", ".")]
        assert rows[ticker]["kind"] == "rate"
        assert rows[ticker]["last"] == values[-1][0], ticker
    assert rows["DGS10"]["last"] > rows["^TNX"]["last"]
