"""One as-of date for estimation, prices and lots, on the real Yahoo folder alone (where
^TNX ends 2026-02-13, ^FVX 2025-11-14 and the ETFs 2026-02-23); skipped without the data."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import run_cli

LOTS = "account,ticker,shares,cost_per_share,acquired,lot_id\nc,SPY,100,400,2023-01-10,S1\n"


def _close(shared_data, ticker, day):
    """The real close on ``day`` or the last before, read with the csv module only."""
    with open(shared_data / "yahoo" / f"{ticker}.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Date"] <= day]
    return float(rows[-1]["Close"])


def _account(tmp_path, shared_data, *, lots=LOTS, account="", extra=""):
    (tmp_path / "holdings.csv").write_text(lots)
    config = tmp_path / "account.toml"
    config.write_text(
        f'[account]\nid = "c"\nholdings = "holdings.csv"\n{account}\n'
        f'[data]\nsource = "csv:{shared_data / "yahoo"}"\n\n{extra}\n'
        '[scenarios]\nuse = [{ id = "tariff-shock", probability = 1.0 }]\n\n'
        '[objective]\nkind = "utility"\n\n'
        '[universe.assets.SPY]\ntags = ["equity"]\n[universe.assets.IWM]\ntags = ["equity"]\n'
        '[universe.assets.TLT]\ntags = ["bonds"]\n'
    )
    return config


def test_default_as_of_is_the_last_shared_date_everywhere(shared_data, tmp_path):
    config = _account(tmp_path, shared_data)
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    prov = doc["provenance"]
    # ^TNX (the only 10-year series here) ends 2026-02-13: the as-of for everything
    assert prov["as_of"] == prov["last"] == doc["as_of"] == "2026-02-13"
    assert any("short_rate left out" in n and "2025-11-14" in n for n in prov["notes"])
    for trade in doc["trades"]:
        want = _close(shared_data, trade["ticker"], "2026-02-13")
        assert trade["est_price"] == pytest.approx(want, rel=1e-12)
    table = run_cli("propose", "--config", str(config), "--out", str(tmp_path / "out"))
    assert table.returncode == 0 and "as of 2026-02-13" in table.stdout
    html = (tmp_path / "out" / "report.html").read_text()
    assert "As of (estimation, prices and lots)" in html and "2026-02-13" in html


def test_account_as_of_cuts_the_data_and_prices(shared_data, tmp_path):
    config = _account(tmp_path, shared_data, account="as_of = 2025-06-02")
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["as_of"] == "2025-06-02" == doc["provenance"]["as_of"]
    for trade in doc["trades"]:
        want = _close(shared_data, trade["ticker"], "2025-06-02")
        assert trade["est_price"] == pytest.approx(want, rel=1e-12)


def test_lot_after_as_of_names_file_lot_and_date(shared_data, tmp_path):
    lots = LOTS + "c,SPY,150,600,2026-02-20,S2\n"
    res = run_cli("propose", "--config", str(_account(tmp_path, shared_data, lots=lots)))
    assert res.returncode == 8
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "holdings.csv" in line and "S2" in line and "2026-02-20" in line
    assert "2026-02-13" in line


def test_as_of_before_the_data_names_the_key(shared_data, tmp_path):
    config = _account(tmp_path, shared_data, account="as_of = 1999-01-04")
    res = run_cli("propose", "--config", str(config))
    assert res.returncode == 3
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "account.toml" in line
    assert "account.as_of='1999-01-04'" in line and "before the data" in line


def test_stale_factor_series_is_the_same_error_as_data_show(shared_data, tmp_path):
    mapping = '[estimation.factors.long_rate]\nkind = "rate_change"\nseries = "^FVX"\n'
    res = run_cli("propose", "--config", str(_account(tmp_path, shared_data, extra=mapping)))
    show = run_cli("data", "show", "--source", f"csv:{shared_data / 'yahoo'}",
                   "--tickers", "SPY,IWM,TLT,^FVX")  # fmt: skip
    assert res.returncode == show.returncode == 4
    assert "^FVX='2025-11-14'" in res.stderr and "stale" in res.stderr
    assert res.stderr == show.stderr


def test_risk_free_series_is_read_on_the_as_of_date(shared_data, tmp_path):
    """FRED DGS10 runs to 2026-07-30, the ETFs to 2026-02-23: the risk-free rate is the
    DGS10 value of 2026-02-23, not a later one."""
    from optimizer.account import load_account
    from optimizer.scenario.build import build_estimate

    config = tmp_path / "rf.toml"
    config.write_text(
        f'[data]\nsource = "csv:{shared_data / "yahoo"},{shared_data / "fred"}"\n'
        '[estimation]\nrisk_free_series = "DGS10"\n'
        '[universe.assets.SPY]\ntags = ["equity"]\n[universe.assets.TLT]\ntags = ["bonds"]\n'
    )
    cfg = load_account(config)
    est = build_estimate(cfg.data, cfg.estimation, cfg.scenarios, cfg.tickers)
    assert est.provenance.as_of.isoformat() == "2026-02-23"
    with open(shared_data / "fred" / "DGS10.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["DGS10"].strip()]
    on = [float(r["DGS10"]) for r in rows if r["observation_date"] <= "2026-02-23"][-1]
    assert float(rows[-1]["DGS10"]) != on  # the file does run later, with another value
    assert est.risk_free == pytest.approx(on / 100 * est.horizon_years, rel=1e-12)


def _no_scenarios(folder, source, estimation, end=""):
    config = folder / "account.toml"
    config.write_text(
        f'[account]\nid = "c"\n\n[data]\nsource = "{source}"\n{end}\n'
        f"[estimation]\n{estimation}\n"
        '[objective]\nkind = "min_variance"\n\n'
        '[universe.assets.QQQ]\ntags = ["equity"]\n[universe.assets.HYG]\ntags = ["bonds"]\n'
    )
    return config


@pytest.mark.parametrize("window", ["common", "full"])
def test_estimators_and_samples_end_where_a_factor_series_ends(shared_data, tmp_path, window):
    """^TNX ends 2026-02-13, the ETFs 2026-02-23: with the factor series loaded (CAPM's
    market), the as-of date is 2026-02-13, and the baseline estimators and the historical
    CVaR samples read nothing after it: the same estimate as with [data] end = 2026-02-13."""
    import numpy as np

    from optimizer.account import load_account
    from optimizer.workflows.pipeline import Pipeline

    source = f"csv:{shared_data / 'yahoo'}"
    estimation = (
        f'mean = "capm"\ncovariance = "sample"\nsamples = "historical"\nwindow = "{window}"'
    )
    estimates = []
    for end in ("", "end = 2026-02-13"):
        folder = tmp_path / f"a{len(estimates)}"
        folder.mkdir()
        config = _no_scenarios(folder, source, estimation, end)
        estimates.append(Pipeline().estimate(load_account(config)))
    cut, written = estimates
    assert str(cut.provenance.as_of) == str(written.provenance.as_of) == "2026-02-13"
    assert cut.samples_note.endswith("..2026-02-13")
    np.testing.assert_array_equal(cut.samples, written.samples)
    np.testing.assert_allclose(cut.mu, written.mu, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cut.Sigma, written.Sigma, rtol=1e-12, atol=1e-15)


def test_full_window_dates_its_last_period_by_its_last_price(shared_data, tmp_path):
    """Weekly full-window prices end on the last price's own day, not on the week's
    Friday label; and no warning says every estimate rests on the shortest history."""
    source = f"csv:{shared_data / 'yahoo'},{shared_data / 'fred'}"
    config = _no_scenarios(tmp_path, source, 'window = "full"\ncovariance = "sample"')
    res = run_cli("optimize", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    with open(shared_data / "yahoo" / "HYG.csv", newline="") as fh:
        last = max(r["Date"] for r in csv.DictReader(fh))
    assert doc["provenance"]["last"] == last == "2026-02-23"
    assert not any("rests on the shorter history" in w for w in doc["warnings"])
