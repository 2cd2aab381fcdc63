"""What the user must be told about the data behind an estimate: a short history, and a
series that starts late and so cuts every other series' history (real files from
../shared/data; the proposal through the real CLI)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optimizer.data import get_provider
from optimizer.scenarios import EstimationConfig, load_history
from tests.conftest import ROOT, run_cli
from tests.realdata_support import cut_copy


def _history(source: str, tickers: list[str], start: dt.date):
    data = SimpleNamespace(source=source, start=start, end=None)
    return load_history(get_provider(source), data, EstimationConfig(), tickers)


def test_a_history_under_a_year_is_a_warning_and_a_longer_one_is_not(shared_data):
    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    short = _history(source, ["SPY", "TLT"], dt.date(2026, 1, 15)).provenance
    (warning,) = short.warnings
    first, last = short.first, short.last
    assert f"..{last}" in warning and "less than a year" in warning
    assert (last - first).days < 365
    year = _history(source, ["SPY", "TLT"], dt.date(2025, 1, 2)).provenance
    assert year.warnings == ()


def test_a_late_series_that_cuts_the_others_is_a_warning(shared_data, tmp_path):
    # QQQ's closes from 2020 only, under another name: SPY and TLT lose ten years with it
    qqq = pd.read_csv(shared_data / "yahoo" / "QQQ.csv")
    folder = tmp_path / "late"
    folder.mkdir()
    qqq[qqq["Date"] >= "2020-01-02"].to_csv(folder / "NEWQ.csv", index=False)
    for t in ("SPY", "TLT", "^TNX"):
        shutil.copy(shared_data / "yahoo" / f"{t}.csv", folder / f"{t}.csv")
    prov = _history(f"csv:{folder}", ["SPY", "TLT", "NEWQ"], dt.date(2010, 1, 1)).provenance
    (warning,) = prov.warnings
    assert re.search(r"because NEWQ starts 2020-01-02 \(other series from 2010-01-0\d\)", warning)
    assert prov.first.year == 2020
    # CASH at a fixed rate starts where the others start: the late series is still named
    data = SimpleNamespace(source=f"csv:{folder}", start=dt.date(2010, 1, 1), end=None)
    provider = get_provider(f"csv:{folder}", cash_rate=0.04)
    tickers = ["SPY", "TLT", "CASH", "NEWQ"]  # CASH first, as a universe may list it
    (warning,) = load_history(provider, data, EstimationConfig(), tickers).provenance.warnings
    assert "because NEWQ starts 2020-01-02" in warning, warning
    # without the late series there is nothing to say
    assert _history(f"csv:{folder}", ["SPY", "TLT"], dt.date(2010, 1, 1)).provenance.warnings == ()


def test_the_series_that_ends_the_history_is_named(shared_data, tmp_path):
    # TLT cut at 2026-02-02, the others to 2026-02-23: the note named QQQ (the assets come
    # aligned to their common window, so every asset seemed to end there)
    tickers = ("SPY", "QQQ", "TLT", "^TNX")
    folder = cut_copy(shared_data, tmp_path / "cut", tickers, {"TLT": "2026-02-02"})
    prov = _history(f"csv:{folder}", ["SPY", "QQQ", "TLT"], dt.date(2015, 1, 1)).provenance
    ends = [n for n in prov.notes if n.startswith("history ends")]
    assert len(ends) == 1 and "because TLT ends 2026-02-02" in ends[0], prov.notes
    assert "(the longest, " in ends[0] and "runs to 2026-02-23)" in ends[0]  # one of them


def test_propose_shows_the_data_warning_in_the_table_and_the_json(shared_data, tmp_path):
    config = (ROOT / "examples" / "realdata" / "account.toml").read_text()
    config = re.sub(r"^start = .*$", "start = 2026-01-15", config, count=1, flags=re.M)
    config = re.sub(r'^\s*\{ id = "yield-spike".*\n', "", config, flags=re.M)  # pins 2022..
    data = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    config = re.sub(r"^source = .*$", f'source = "{data}"', config, count=1, flags=re.M)
    (tmp_path / "account.toml").write_text(config)
    shutil.copy(ROOT / "examples" / "realdata" / "holdings.csv", tmp_path / "holdings.csv")
    args = ["propose", "--config", str(tmp_path / "account.toml")]
    res = run_cli(*args, "--format", "json")
    assert res.returncode == 0, res.stderr
    warnings = json.loads(res.stdout)["warnings"]
    assert sum("less than a year" in w for w in warnings) == 1, warnings
    table = run_cli(*args)
    assert table.returncode == 0, table.stderr
    # the warning line keeps its "[data] start" (no markup eats it)
    assert "start the data earlier ([data] start)" in " ".join(table.stdout.split())


def _split_folder(shared_data, tmp_path, ratio, stepped=("SPY",), day="2020-08-31"):
    """SPY, TLT and ^TNX from the real files, the closes of ``stepped`` from ``day`` on
    divided by ``ratio`` (a split the file is not adjusted for)."""
    folder = tmp_path / f"split{ratio}"
    folder.mkdir()
    for t in ("SPY", "TLT", "^TNX"):
        frame = pd.read_csv(shared_data / "yahoo" / f"{t}.csv")
        if t in stepped:
            after = frame["Date"] >= day
            for column in ("Open", "High", "Low", "Close", "Adj Close"):
                if column in frame:
                    frame.loc[after, column] = frame.loc[after, column] / ratio
        frame.to_csv(folder / f"{t}.csv", index=False)
    return folder


@pytest.mark.parametrize(
    ("ratio", "words"),
    [(10, "10-for-1 split"), (0.25, "1-for-4 reverse"), (1.5, "3-for-2 split"),
     (1.25, "5-for-4 split")],
)  # fmt: skip
def test_an_unadjusted_split_is_a_warning_with_the_results(shared_data, tmp_path, ratio, words):
    folder = _split_folder(shared_data, tmp_path, ratio)
    prov = _history(f"csv:{folder}", ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance
    (warning,) = prov.warnings
    assert warning.startswith("SPY: the close goes from") and words in warning
    assert "on 2020-08-31" in warning
    res = run_cli("data", "show", "--source", f"csv:{folder}", "--tickers", "SPY,TLT")
    assert res.returncode == 0, res.stderr
    assert sum(words in line for line in res.stdout.splitlines()) == 1
    # the real files have no such step (nor has any price file of ../shared/data)
    real = f"csv:{shared_data / 'yahoo'}"
    assert _history(real, ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance.warnings == ()


@pytest.mark.parametrize(
    ("ratio", "day", "words"),
    [(2, "2020-03-16", "2-for-1 split"),  # SPY fell 10.9 % that day: 0.446, not 0.5
     (0.1, "2020-03-13", "1-for-10 reverse"),  # SPY rose 9.1 %: x10.9, not x10
     (2.4, "2020-08-31", "a split or a wrong price")],  # no usual ratio within 15 %
)  # fmt: skip
def test_a_split_on_a_day_the_market_moved_is_still_seen(shared_data, tmp_path, ratio, day, words):
    # the step was flagged only within 2 % of a split's ratio: a split on a volatile day
    # went into every estimate as a real move of -55 % or +990 %
    folder = _split_folder(shared_data, tmp_path, ratio, day=day)
    (warning,) = _history(f"csv:{folder}", ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance.warnings
    assert warning.startswith("SPY: the close goes from") and words in warning, warning
    assert f"on {day}" in warning


def test_a_fall_of_a_split_ratio_is_no_split_when_the_market_fell_too(shared_data, tmp_path):
    # SPY and TLT both fall by a fifth in one day: a crash, not two 5-for-4 splits; ^VIX
    # alone falls 20 % on calm days many times in its real file (its own moves are large)
    folder = _split_folder(shared_data, tmp_path, 1.25, stepped=("SPY", "TLT"))
    assert _history(f"csv:{folder}", ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance.warnings == ()
    real = f"csv:{shared_data / 'yahoo'}"
    vix = _history(real, ["^VIX"], dt.date(1990, 1, 1))
    assert not [w for w in vix.provenance.warnings if "split" in w]
    moves = vix.returns["^VIX"]
    assert ((moves - -0.2).abs() < 0.01).sum() >= 5  # such days are there
    # a 3-for-2 step in SPY alone (no other series to judge the market by) is still seen
    (tmp_path / "alone").mkdir()
    alone = _split_folder(shared_data, tmp_path / "alone", 1.5)
    (warning,) = _history(f"csv:{alone}", ["SPY"], dt.date(2015, 1, 1)).provenance.warnings
    assert "3-for-2 split" in warning


def test_cash_is_riskless_at_the_rate_it_earns_in_every_scenario(shared_data):
    # built-in CASH at a fixed 4 %: the same compounded return in every scenario, whatever
    # the shocks, and no covariance with the other assets (the 1-month tariff shock too)
    from optimizer.scenario.engine import ScenarioEngine
    from optimizer.scenarios import ScenarioLibrary

    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    data = SimpleNamespace(source=source, start=dt.date(2010, 1, 1), end=None)
    provider = get_provider(source, cash_rate=0.04)
    history = load_history(provider, data, EstimationConfig(), ["SPY", "TLT", "CASH"])
    engine = ScenarioEngine(history).fit()
    library = ScenarioLibrary.with_extra()
    for sid in ("fed-easing", "tariff-shock", "yield-spike"):
        s = library.get(sid)
        m = engine.moments(s)
        years = s.horizon_years
        assert m.mu[2] == pytest.approx(1.04**years - 1, rel=1e-9), sid
        assert m.Sigma[2, 0] == m.Sigma[2, 1] == m.Sigma[0, 2] == 0.0
        assert 0 < m.Sigma[2, 2] < 1e-5 and np.all(np.linalg.eigvalsh(m.Sigma) > 0)


def test_the_stale_price_warning_names_the_closes_the_trades_use(shared_data, tmp_path):
    # Yahoo files only: ^TNX ends 2026-02-13, so the estimate and the trades' prices are
    # taken on that day, ten days before the funds' last closes; the warning says so
    config = (ROOT / "examples" / "realdata" / "account.toml").read_text()
    data = f"csv:{shared_data / 'yahoo'}"
    config = re.sub(r"^source = .*$", f'source = "{data}"', config, count=1, flags=re.M)
    config = re.sub(r'^\s*\{ id = "fed-easing".*\n', "", config, flags=re.M)  # a short rate
    (tmp_path / "account.toml").write_text(config)
    shutil.copy(ROOT / "examples" / "realdata" / "holdings.csv", tmp_path / "holdings.csv")
    res = run_cli("propose", "--config", str(tmp_path / "account.toml"), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    tnx_last = pd.read_csv(shared_data / "yahoo" / "^TNX.csv")["Date"].iloc[-1]
    assert doc["as_of"] == tnx_last
    (stale,) = [w for w in doc["warnings"] if w.startswith("stale prices")]
    assert f"is {tnx_last}," in stale
    # named: the series that ends first (the funds run ten days past it), not a fund
    assert stale.startswith(f"stale prices: the last price of ^TNX ({data}) is {tnx_last}")
    assert doc["provenance"]["ended_by"] == "^TNX"


def test_a_window_of_calm_weeks_does_not_make_a_real_fall_a_split(shared_data):
    # ^VIX fell 20.7 % on 2012-12-31; against the seven weeks asked for alone it looked
    # like ten of its typical moves, a "5-for-4 split"; its whole series says otherwise
    source = f"csv:{shared_data / 'yahoo'}"
    got = get_provider(source).prices(["^VIX", "SPY"], dt.date(2012, 12, 5), dt.date(2013, 1, 23))
    assert not [w for w in got.provenance.warnings if "split" in w]
    assert got.frame["^VIX"].pct_change().min() < -0.2  # the fall is in the window


def test_yields_written_as_fractions_are_a_warning(shared_data, tmp_path):
    # DGS10 divided by 100 (0.0405 for 4.05 %): every rate move a hundred times too small,
    # and a fed-easing portfolio of bonds at +30 % a quarter, without a word
    prices, rates = tmp_path / "prices", tmp_path / "rates"
    prices.mkdir()
    rates.mkdir()
    for t in ("SPY", "TLT"):
        shutil.copy(shared_data / "yahoo" / f"{t}.csv", prices / f"{t}.csv")
    fred = pd.read_csv(shared_data / "fred" / "DGS10.csv")
    column = fred.columns[1]
    fred[column] = pd.to_numeric(fred[column], errors="coerce") / 100
    fred.to_csv(rates / "DGS10.csv", index=False)
    prov = _history(f"csv:{prices},{rates}", ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance
    (warning,) = [w for w in prov.warnings if w.startswith("DGS10:")]
    assert "rates are read in percent" in warning and "multiply it by 100" in warning
    # the file as FRED writes it says nothing
    shutil.copy(shared_data / "fred" / "DGS10.csv", rates / "DGS10.csv")
    prov = _history(f"csv:{prices},{rates}", ["SPY", "TLT"], dt.date(2015, 1, 1)).provenance
    assert not [w for w in prov.warnings if w.startswith("DGS10:")]
