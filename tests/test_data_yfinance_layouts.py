"""yfinance CSVs in every layout it and its users write, built from the real Yahoo exports.

Each file is written in tmp_path from ../shared/data/yahoo (skipped when absent); the prices
read back must equal the real ``Close`` column read with the csv module alone.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.data.csv_source import CsvProvider
from optimizer.errors import DataError
from tests.conftest import ROOT
from tests.realdata_support import write_stock_table, yahoo_frame

TICKERS = ("SPY", "IWM", "TLT")
FIELDS = ["Close", "High", "Low", "Open", "Volume"]


def _real_close(shared_data, ticker, start="2024-01-01"):
    """The Close column of the real export, read with the csv module only."""
    with open(shared_data / "yahoo" / f"{ticker}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pairs = [(r["Date"], float(r["Close"])) for r in rows if r["Date"] >= start]
    return pd.Series(dict(pairs)).rename(ticker)


def _download(shared_data, tickers, start="2024-01-01"):
    """What ``yf.download(tickers)`` returns: (Price, Ticker) columns, index named Date."""
    parts = {t: yahoo_frame(shared_data, t).loc[start:, FIELDS] for t in tickers}
    frame = pd.concat(parts, axis=1).swaplevel(axis=1)
    frame = frame[[(f, t) for f in FIELDS for t in tickers]]
    frame.columns = frame.columns.set_names(["Price", "Ticker"])
    return frame.dropna()


def _check(provider, shared_data, tickers):
    got = provider.prices(list(tickers)).frame
    for t in tickers:
        want = _real_close(shared_data, t)
        want = want.loc[got.index[0].strftime("%Y-%m-%d") :]
        assert list(got.index.strftime("%Y-%m-%d")) == list(want.index)
        np.testing.assert_allclose(got[t].to_numpy(), want.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("tickers", [("SPY",), TICKERS], ids=["one", "several"])
def test_download_to_csv_three_header_rows(shared_data, tmp_path, tickers):
    _download(shared_data, tickers).to_csv(tmp_path / "prices.csv")
    assert (tmp_path / "prices.csv").read_text().splitlines()[0].startswith("Price,Close")
    _check(CsvProvider([tmp_path / "prices.csv"]), shared_data, tickers)


@pytest.mark.parametrize("tickers", [("SPY",), TICKERS], ids=["one", "several"])
def test_reset_index_ticker_row_under_date_close_header(shared_data, tmp_path, tickers):
    path = tmp_path / "xle.csv"
    _download(shared_data, tickers).reset_index().to_csv(path, index=False)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("Date,Close") and lines[1].startswith(f",{tickers[0]},")
    _check(CsvProvider([path]), shared_data, tickers)


def test_group_by_ticker_and_unnamed_levels_with_adj_close(shared_data, tmp_path):
    by_ticker = _download(shared_data, TICKERS).swaplevel(axis=1)
    by_ticker.columns = by_ticker.columns.set_names(["Ticker", "Price"])
    by_ticker.to_csv(tmp_path / "by_ticker.csv")
    _check(CsvProvider([tmp_path / "by_ticker.csv"]), shared_data, TICKERS)
    # older yfinance, auto_adjust=False: unnamed levels, Close unadjusted beside Adj Close
    old = _download(shared_data, ("QQQ", "HYG"))
    adjusted = old.xs("Close", axis=1, level=0)
    old = pd.concat({"Adj Close": adjusted, "Close": adjusted * 1.25}, axis=1)
    old.columns = old.columns.set_names([None, None])
    old.to_csv(tmp_path / "old.csv")
    assert (tmp_path / "old.csv").read_text().startswith(",Adj Close,Adj Close,Close")
    _check(CsvProvider([tmp_path / "old.csv"]), shared_data, ("QQQ", "HYG"))


def test_layouts_side_by_side_in_one_folder_are_detected(shared_data, tmp_path):
    _download(shared_data, ("SPY",)).to_csv(tmp_path / "a.csv")
    _download(shared_data, ("IWM",)).reset_index().to_csv(tmp_path / "b.csv", index=False)
    yahoo_frame(shared_data, "TLT").to_csv(tmp_path / "TLT.csv")
    provider = get_provider(f"csv:{tmp_path}")
    assert provider.available() == ["IWM", "SPY", "TLT"]
    _check(provider, shared_data, ("SPY", "IWM", "TLT"))


def test_ticker_level_dropped_is_one_ticker_named_by_the_file(shared_data, tmp_path):
    frame = _download(shared_data, ("TLT",)).droplevel("Ticker", axis=1)
    frame.to_csv(tmp_path / "TLT.csv")  # pandas writes Date,Close,High,... here
    _check(CsvProvider([tmp_path / "TLT.csv"]), shared_data, ("TLT",))
    # the same with a field row over yfinance's Date,,, row
    lines = (tmp_path / "TLT.csv").read_text().splitlines()
    fields = lines[0].split(",")[1:]
    lines[:1] = ["Price," + ",".join(fields), "Date" + "," * len(fields)]
    (tmp_path / "IWM.csv").write_text("\n".join(lines) + "\n")  # named IWM by its stem
    got = CsvProvider([tmp_path / "IWM.csv"]).prices(["IWM"]).frame["IWM"]
    np.testing.assert_allclose(got.to_numpy(), frame["Close"].to_numpy(), rtol=1e-12)


def test_multi_row_header_without_price_fields_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Price,Bid,Bid\nTicker,AAA,BBB\nDate,,\n2024-01-02,1,2\n")
    with pytest.raises(DataError, match="row of price fields") as err:
        CsvProvider([path]).available()
    assert "bad.csv" in str(err.value) and "Price,Bid,Bid" in str(err.value)


def test_wide_file_is_read_once_per_command(shared_data, tmp_path):
    """``capalloc optimize`` on a 20-column wide CSV opens it once (an audit hook counts
    every open of the file in the real process)."""
    wide = tmp_path / "stocks.csv"
    tickers = write_stock_table(shared_data, wide)
    assets = "\n".join(f'[universe.assets.{t}]\ntags = ["equity"]' for t in tickers)
    config = tmp_path / "account.toml"
    config.write_text(f'[data]\nsource = "csv:stocks.csv"\n\n{assets}\n')
    script = textwrap.dedent(f"""
        import runpy, sys
        opened = []
        def hook(event, args):
            if event == "open" and str(args[0]).endswith("stocks.csv"):
                opened.append(args[0])
        sys.addaudithook(hook)
        sys.argv = ["capalloc", "optimize", "--config", {str(config)!r}, "--format", "json"]
        try:
            runpy.run_module("optimizer", run_name="__main__")
        finally:
            sys.stderr.write(f"OPENS={{len(opened)}}\\n")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert "OPENS=1" in res.stderr.splitlines()[-1]
