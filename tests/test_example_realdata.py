"""examples/realdata: a proposal on real Yahoo and FRED files with built-in CASH, tax lots
and a short-term-gain block; the trade date, prices and lots agree. Also run by the monthly
job. Skipped when ../shared/data is absent."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "realdata"


def _close(shared_data, ticker, day):
    with open(shared_data / "yahoo" / f"{ticker}.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Date"] <= day]
    return float(rows[-1]["Close"])


def test_example_needs_no_data_file():
    assert sorted(p.name for p in EXAMPLE.iterdir()) == ["account.toml", "holdings.csv"]


def test_realdata_proposal_dates_prices_and_lots_agree(shared_data, tmp_path):
    res = run_cli("propose", "--config", str(EXAMPLE / "account.toml"), "--out", str(tmp_path),
                  "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    as_of = doc["as_of"]
    assert as_of == doc["provenance"]["as_of"] == doc["provenance"]["last"] == "2026-02-23"
    assert set(doc["weights"]) == {"SPY", "IWM", "QQQ", "TLT", "HYG", "CASH"}
    assert doc["trades"]
    for trade in doc["trades"]:
        assert trade["est_price"] == pytest.approx(
            _close(shared_data, trade["ticker"], as_of), rel=1e-12
        )
        for lot in trade["lots"]:
            assert lot["acquired"] <= as_of
            assert lot["lot_id"] != "SPY-2025"  # bought 2025-10-01: a short-term gain
    blocked = doc["trade_summary"]["blocked"]
    assert [(b["ticker"], b["shares"], b["rule"]) for b in blocked] == [
        ("SPY", 150.0, "block_short_term_gains")
    ]
    saved = json.loads((tmp_path / "proposal.json").read_text())
    assert saved["as_of"] == as_of and saved["provenance"]["as_of"] == as_of
    # today is after the data: the prices are stale, and the lots' date is said to be not today
    counted = "holding periods and wash-sale windows are counted to 2026-02-23"
    assert any(counted in w for w in doc["warnings"]), doc["warnings"]


def test_a_trade_date_after_the_data_counts_the_lots_to_it(shared_data, tmp_path):
    folder = tmp_path / "acct"
    folder.mkdir()
    (folder / "holdings.csv").write_bytes((EXAMPLE / "holdings.csv").read_bytes())
    text = (EXAMPLE / "account.toml").read_text().replace("../../../shared/data", str(shared_data))
    text = text.replace(
        'holdings = "holdings.csv"', 'holdings = "holdings.csv"\nas_of = 2026-11-30'
    )
    (folder / "account.toml").write_text(text)
    res = run_cli("propose", "--config", str(folder / "account.toml"), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["as_of"] == "2026-11-30"
    # bought 2025-10-01: long-term by 2026-11-30, so no short-term block; the stale prices
    # are measured to the same date, and no note says the lots are counted to another
    assert not doc["trade_summary"]["blocked"]
    assert any("before the as-of date 2026-11-30" in w for w in doc["warnings"])
    assert not any("counted to" in w for w in doc["warnings"])


def test_monthly_job_prices_builtin_cash(shared_data, tmp_path):
    account = tmp_path / "accounts" / "okafor-ira"
    account.mkdir(parents=True)
    text = (EXAMPLE / "account.toml").read_text()
    text = text.replace("../../../shared/data", str(shared_data))
    (account / "account.toml").write_text(text)
    (account / "holdings.csv").write_text((EXAMPLE / "holdings.csv").read_text())
    res = run_cli("run-monthly", "--accounts", str(tmp_path / "accounts"), "--db",
                  str(tmp_path / "ledger.db"), "--period", "2026-03", "--orders-dir",
                  str(tmp_path / "orders"), "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout)["metrics"]
    assert metrics["n_traded"] == 1 and metrics["n_failed"] == 0
    assert (tmp_path / "orders" / "2026-03" / "okafor-ira.csv").is_file()
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        (prov,) = db.execute("select provenance_json from account_runs").fetchone()
    assert json.loads(prov)["as_of"] == "2026-02-23"  # the data's as-of, in the ledger
    assert any("CASH: built-in" in n for n in json.loads(prov)["notes"])
