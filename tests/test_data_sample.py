"""The bundled sample: rebuilt from its sources and recomputed independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.data.sample import sample_dir

PRICES = ["LARGE", "MID", "SMALL", "MKT", "BOND", "CASH"]


@pytest.fixture(scope="module")
def sources():
    french = pytest.importorskip("linearmodels.datasets.french").load()
    yields = pytest.importorskip("arch.data.default").load()
    french.index = pd.DatetimeIndex(french.pop("dates")) + pd.offsets.MonthEnd(0)
    yields.index = pd.DatetimeIndex(yields.index) + pd.offsets.MonthEnd(0)
    return french, yields


@pytest.fixture(scope="module")
def sample_prices():
    return get_provider("sample").prices(PRICES)


def test_sample_is_small_and_has_a_provenance_note():
    files = list(sample_dir().iterdir())
    assert sum(f.stat().st_size for f in files) < 2_000_000
    text = (sample_dir() / "PROVENANCE.md").read_text()
    assert "NCSA" in text and "French" in text and "D = 8" in text


def test_sample_returns_match_french_portfolios(sources, sample_prices):
    french, _ = sources
    r = sample_prices.frame.pct_change().iloc[1:]
    expected = pd.DataFrame(
        {
            "LARGE": (french.S5V1 + french.S5V3 + french.S5V5) / 3,
            "MID": (french.S3V1 + french.S3V3 + french.S3V5) / 3,
            "SMALL": (french.S1V1 + french.S1V3 + french.S1V5) / 3,
            "MKT": french.MktRF + french.RF,
            "CASH": french.RF,
        }
    )
    assert list(r.index) == list(expected.index)
    np.testing.assert_allclose(r[expected.columns].to_numpy(), expected.to_numpy(), atol=1e-8)
    assert np.allclose(sample_prices.frame.iloc[-1], 100.0, rtol=1e-9)


def test_sample_bond_follows_the_stated_duration_formula(sources, sample_prices):
    _, yields = sources
    y = yields["AAA"]
    r = sample_prices.frame["BOND"].pct_change().iloc[1:]
    for date in r.index[[0, 100, 400, -1]]:
        prev = date - pd.offsets.MonthEnd(1)
        expected = y[prev] / 1200 - 8.0 * (y[date] - y[prev]) / 100
        assert r[date] == pytest.approx(expected, abs=1e-8)


def test_sample_rates_and_provenance(sources):
    french, yields = sources
    data = get_provider("sample").rates(["AAA", "BAA", "TBILL"])
    f = data.frame
    np.testing.assert_allclose(f["TBILL"], 1200 * french.RF.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(f["BAA"], yields.BAA.reindex(f.index), atol=1e-9)
    p = data.provenance
    assert p.source == "sample" and p.frequency == "monthly"
    assert (p.first.isoformat(), p.last.isoformat()) == ("1949-01-31", "2017-03-31")
    assert "bundled sample" in p.notes[0] and "1949-01..2017-03" in p.notes[0]


def test_build_script_reproduces_the_bundled_files(tmp_path, sources):
    from optimizer.data.build_sample import build

    build(tmp_path)
    for name in ("prices.csv", "rates.csv", "PROVENANCE.md"):
        assert (tmp_path / name).read_bytes() == (sample_dir() / name).read_bytes(), name
