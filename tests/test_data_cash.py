"""The built-in CASH asset: priced from a short-rate series of the source, else from
``[data] cash_rate``; compared with compounding done here day by day."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.data.cash import accrue
from optimizer.errors import DataError
from tests.conftest import run_cli


def _compound(dates, rate_on):
    """Price path by hand: each step grows by (1 + r of the earlier date) ** (days / 365)."""
    price, out = 1.0, [1.0]
    for a, b in itertools.pairwise(dates):
        price *= (1.0 + rate_on(a)) ** ((b - a).days / 365.0)
        out.append(price)
    return np.array(out)


def test_fixed_rate_grows_by_the_rate_over_a_year():
    dates = pd.DatetimeIndex(["2024-01-02", "2024-07-01", "2025-01-01"])
    got = accrue(dates, 0.04)
    np.testing.assert_allclose(got.iloc[-1], 1.04 ** (365 / 365), rtol=1e-12)
    np.testing.assert_allclose(got.to_numpy(), _compound(dates, lambda d: 0.04), rtol=1e-12)


def test_fixed_rate_on_real_prices(shared_data):
    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    provider = get_provider(source, cash_rate=0.04)
    assert "CASH" in provider.available()
    got = provider.prices(["SPY", "CASH"], start=dt.date(2025, 1, 1))
    assert list(got.frame.columns) == ["SPY", "CASH"]
    want = _compound(list(got.frame.index), lambda d: 0.04)
    np.testing.assert_allclose(got.frame["CASH"].to_numpy(), want, rtol=1e-12)
    assert any("4.00% a year" in n for n in got.provenance.notes)
    # no series and no rate: CASH is not offered, and asking for it names the fix
    bare = get_provider(source)
    assert "CASH" not in bare.available()
    with pytest.raises(DataError, match="cash_rate"):
        bare.prices(["SPY", "CASH"])


def test_short_rate_series_is_preferred_to_the_fixed_rate(shared_data, tmp_path):
    """A FRED DTB3 file (synthesised: DGS10 minus one point, holidays blank) prices CASH."""
    fred = pd.read_csv(shared_data / "fred" / "DGS10.csv")
    fred = fred[fred["observation_date"] >= "2024-01-01"].rename(columns={"DGS10": "DTB3"})
    fred["DTB3"] = (fred["DTB3"] - 1.0).round(2)
    fred.to_csv(tmp_path / "DTB3.csv", index=False)
    provider = get_provider(f"csv:{shared_data / 'yahoo'},{tmp_path}", cash_rate=0.5)
    got = provider.prices(["TLT", "CASH"], start=dt.date(2024, 6, 1)).frame
    rates = fred.dropna().set_index(pd.to_datetime(fred.dropna()["observation_date"]))["DTB3"]

    def rate_on(day):
        return rates.loc[:day].iloc[-1] / 100.0

    np.testing.assert_allclose(got["CASH"].to_numpy(), _compound(list(got.index), rate_on),
                               rtol=1e-12)  # fmt: skip
    res = run_cli("data", "show", "--source", f"csv:{shared_data / 'yahoo'},{tmp_path}",
                  "--tickers", "SPY,CASH", "--start", "2024-06-01", "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert "CASH" in json.dumps(doc) and "DTB3" in json.dumps(doc["provenance"])


def test_cash_without_rate_is_one_line_naming_the_key(shared_data):
    res = run_cli("data", "show", "--source", f"csv:{shared_data / 'yahoo'}",
                  "--tickers", "SPY,CASH")  # fmt: skip
    assert res.returncode == 4
    assert len(res.stderr.strip().splitlines()) == 1
    assert "CASH" in res.stderr and "cash_rate" in res.stderr and "Traceback" not in res.stderr
