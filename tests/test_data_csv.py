"""``csv:PATH`` on the real Yahoo and FRED exports, and on small wide tables."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.errors import DataError


def _raw(path):
    """The file read with the csv module only: (dates, second column as text)."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return header, [r[0] for r in body], [r[1] for r in body]


def test_yahoo_folder_prices_match_the_close_column(shared_data):
    provider = get_provider(f"csv:{shared_data / 'yahoo'}")
    data = provider.prices(["SPY", "IWM", "TLT"])
    firsts = {}
    for ticker in ("SPY", "IWM", "TLT"):
        header, dates, close = _raw(shared_data / "yahoo" / f"{ticker}.csv")
        assert header[1] == "Close"
        cov = {c.ticker: c for c in data.coverage}[ticker]
        assert (cov.first.isoformat(), cov.last.isoformat()) == (dates[0], dates[-1])
        assert cov.observations == len(dates)
        firsts[ticker] = dates[0]
        got = data.frame[ticker]
        want = pd.Series([float(x) for x in close], index=pd.to_datetime(dates))
        common = want.loc[got.index[0] :]
        np.testing.assert_allclose(got.reindex(common.index), common, rtol=1e-12)
    assert data.provenance.first.isoformat() == max(firsts.values())
    assert data.provenance.frequency == "daily"
    assert any("common window" in w for w in data.warnings)


def test_fred_rates_drop_blank_holidays(shared_data):
    provider = get_provider(f"csv:{shared_data / 'fred'}")
    data = provider.rates(["DGS10"])
    _, dates, values = _raw(shared_data / "fred" / "DGS10.csv")
    kept = [(d, float(v)) for d, v in zip(dates, values, strict=True) if v.strip()]
    assert len(kept) < len(dates)
    assert len(data.frame) == len(kept)
    assert data.frame["DGS10"].iloc[-1] == kept[-1][1]
    assert data.frame.index[0].date().isoformat() == kept[0][0]


def test_unknown_ticker_names_it(shared_data):
    with pytest.raises(DataError, match="NOPE"):
        get_provider(f"csv:{shared_data / 'yahoo'}").prices(["SPY", "NOPE"])
