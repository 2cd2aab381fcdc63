"""Stale prices: the monthly job refuses them before writing anything (unless
``--allow-stale``); ``propose`` and ``whatif`` warn. The bundled sample ends 2017-03-31."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.data.freshness import (
    DEFAULT_MAX_PRICE_AGE,
    LastPrice,
    business_days,
    staleness,
)
from tests.conftest import ROOT, run_cli

EXAMPLES = ROOT / "examples" / "monthly"
SAMPLE_END = "2017-03-31"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def monthly(tmp: Path, *extra: str):
    return run_cli("run-monthly", "--accounts", str(tmp / "accounts"), "--db",
                   str(tmp / "work" / "ledger.db"), "--orders-dir", str(tmp / "work" / "orders"),
                   "--format", "json", *extra, timeout=180)  # fmt: skip


@pytest.fixture
def book(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "accounts")
    (tmp_path / "work").mkdir()
    return tmp_path


def weekdays(a: dt.date, b: dt.date) -> int:
    """Independent count: Monday-to-Friday dates d with a <= d < b."""
    return sum((a + dt.timedelta(days=i)).weekday() < 5 for i in range(max((b - a).days, 0)))


@given(st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)), st.integers(-30, 400))
def test_business_days_count_weekdays(start, span):
    end = start + dt.timedelta(days=span)
    assert business_days(start, end) == weekdays(start, end)


def test_limit_is_inclusive_friday_to_next_monday_week():
    last = LastPrice("sample", "LARGE", dt.date(2026, 2, 23))  # a Monday
    assert staleness(last, dt.date(2026, 3, 2), 5) is None  # 5 business days: allowed
    found = staleness(last, dt.date(2026, 3, 3), 5)
    assert found is not None and found.age == 6
    assert "LARGE (sample) is 2026-02-23, 6 business days" in found.message()
    assert staleness(last, dt.date(2030, 1, 1), None) is None


def test_cli_default_is_the_documented_default():
    res = run_cli("run-monthly", "--help")
    assert "--max-price-age DAYS" in res.stdout
    assert f"[default: {DEFAULT_MAX_PRICE_AGE};" in " ".join(res.stdout.split())


def test_default_period_on_the_sample_is_refused_before_anything_is_written(book):
    before = snapshot(book)
    res = monthly(book)  # the current month: nine years after the sample's last price
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and res.stdout == ""
    assert lines[0].startswith(f"capalloc: config error: sample: BOND='{SAMPLE_END}': account ")
    assert "--allow-stale" in lines[0] and "(limit 5)" in lines[0]
    assert snapshot(book) == before
    assert sorted(p.name for p in (book / "work").iterdir()) == []


def test_limit_is_configurable_and_allow_stale_reports_it(book):
    # 2017-05: rebalance 2017-05-01, 21 business days after the last price (2017-03-31)
    res = monthly(book, "--period", "2017-05", "--dry-run")
    assert res.returncode == 3 and "21 business days" in res.stderr
    res = monthly(book, "--period", "2017-05", "--dry-run", "--max-price-age", "21")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["warnings"] == []
    res = monthly(book, "--period", "2017-05", "--dry-run", "--allow-stale")
    assert res.returncode == 0, res.stderr
    (warning,) = json.loads(res.stdout)["warnings"]
    assert warning.startswith(f"stale prices: the last price of BOND (sample) is {SAMPLE_END}")
    assert "allowed by --allow-stale for 3 account(s)" in warning


def test_done_accounts_are_not_checked_again_new_ones_are(book):
    # 2017-05 is 21 business days after the sample's end: allowed once with the limit raised
    res = monthly(book, "--period", "2017-05", "--max-price-age", "21", "--workers", "2")
    assert res.returncode == 0, res.stderr
    # the rerun trades nothing, so it is not refused for its (unchanged) prices
    again = monthly(book, "--period", "2017-05", "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"]["n_skipped"] == 3
    # an account added since is checked (in the worker processes) and refuses the run
    shutil.copytree(book / "accounts" / "balanced-garcia", book / "accounts" / "newcomer")
    toml = book / "accounts" / "newcomer" / "account.toml"
    toml.write_text(toml.read_text().replace('id = "balanced-garcia"', 'id = "newcomer"'))
    res = monthly(book, "--period", "2017-05", "--workers", "2")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 3 and len(lines) == 1, res.stderr
    assert "account newcomer: last price 21 business days" in lines[0]


def test_allowed_stale_run_records_the_warning_in_the_ledger(book):
    import sqlite3

    res = monthly(book, "--period", "2017-06", "--allow-stale")
    assert res.returncode == 0, res.stderr
    with sqlite3.connect(book / "work" / "ledger.db") as db:
        (message,) = db.execute("select message from runs").fetchone()
    assert "stale prices" in message and SAMPLE_END in message


def test_dry_run_leaves_the_folder_byte_identical(book):
    work = book / "work"
    assert monthly(book, "--period", "2017-04").returncode == 0  # a fresh month: recorded
    before = snapshot(book)
    assert any(name.startswith("work/orders/2017-04/") for name in before)
    for period in ("2017-04", "2017-05"):  # a done period (all skipped), a new one
        res = monthly(book, "--period", period, "--dry-run", "--allow-stale")
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        assert doc["run_id"] is None and doc["status"] == "dry-run"
        expected = "n_skipped" if period == "2017-04" else "n_traded"
        assert doc["metrics"][expected] == 3
        assert snapshot(book) == before
    assert sorted(p.name for p in work.iterdir()) == ["ledger.db", "orders"]


def test_propose_warns_in_table_json_and_report(tmp_path):
    config = ROOT / "examples" / "proposal" / "account.toml"
    res = run_cli("propose", "--config", str(config), "--out", str(tmp_path / "p"))
    assert res.returncode == 0, res.stderr
    assert "warning: stale prices: the last price of BOND (sample) is 2017-03-31" in res.stdout
    doc = json.loads((tmp_path / "p" / "proposal.json").read_text())
    assert any(w.startswith("stale prices:") and "before today" in w for w in doc["warnings"])
    html = (tmp_path / "p" / "report.html").read_text()
    assert "stale prices: the last price of BOND (sample) is 2017-03-31" in html


def test_propose_as_of_the_sample_end_has_no_stale_warning(tmp_path):
    shutil.copytree(ROOT / "examples" / "proposal", tmp_path / "p")
    config = tmp_path / "p" / "account.toml"
    holdings = 'holdings = "holdings.csv"\n'
    text = config.read_text().replace(holdings, holdings + "as_of = 2017-04-03\n")
    config.write_text(text)
    res = run_cli("propose", "--config", str(config), "--format", "json")
    assert res.returncode == 0, res.stderr
    assert not [w for w in json.loads(res.stdout)["warnings"] if "stale" in w]


def test_whatif_warns_in_table_json_and_page(tmp_path):
    config = ROOT / "examples" / "whatif" / "account.toml"
    res = run_cli("whatif", "--config", str(config), "--html", str(tmp_path / "w.html"))
    assert res.returncode == 0, res.stderr
    assert "stale prices: the last price of" in res.stdout
    assert "stale prices: the last price of" in (tmp_path / "w.html").read_text()
    res = run_cli("whatif", "--config", str(config), "--format", "json", "--max-price-age",
                  "100000")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert not [w for w in json.loads(res.stdout)["warnings"] if "stale" in w]
