"""The monthly job records each taxable account's tax figures in the ledger (revision 0003),
on SQLite and PostgreSQL, checked against the order file and the account's own lots."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from optimizer.jobs.records import TAX_COLUMNS
from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import query, read_order_file
from tests.jobs_support.backends import BACKENDS, ledger_url, use_backend

ST_RATE, LT_RATE = 0.408, 0.238  # examples/taxaware [tax]


@pytest.fixture(params=BACKENDS)
def folder(request, tmp_path):
    for _ in use_backend(request.param, tmp_path):
        yield tmp_path


def test_taxable_accounts_get_their_tax_figures_and_others_none(folder):
    accounts = folder / "accounts"
    shutil.copytree(ROOT / "examples" / "taxaware", accounts / "lee-taxable")
    shutil.copytree(ROOT / "examples" / "monthly" / "balanced-garcia", accounts / "balanced-garcia")
    orders = folder / "orders"
    res = run_cli("run-monthly", "--accounts", str(accounts), "--db", ledger_url(folder),
                  "--orders-dir", str(orders), "--period", "2017-04", "--allow-stale",
                  "--format", "json", timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["metrics"]["n_failed"] == 0
    db, cols = folder / "ledger.db", ", ".join(TAX_COLUMNS)
    (row,) = query(db, f"select {cols} from account_runs where account = ?", "lee-taxable")
    got = dict(zip(TAX_COLUMNS, row, strict=True))
    # independently: the gains the order file states, the harvested lot from the holdings
    rows = read_order_file(orders / "2017-04" / "lee-taxable.csv")
    st = sum(float(r["st_gain"]) for r in rows)
    lt = sum(float(r["lt_gain"]) for r in rows)
    sale = next(r for r in rows if r["ticker"] == "SMALL" and r["side"] == "sell")
    assert "tax-loss harvest" in sale["reason"]
    with open(ROOT / "examples" / "taxaware" / "holdings.csv", newline="") as fh:
        lot = next(r for r in csv.DictReader(fh) if r["lot_id"] == "S2")
    loss = float(lot["shares"]) * (float(lot["cost_per_share"]) - float(sale["est_price"]))
    assert loss > 0
    assert got["tax_st_gain"] == pytest.approx(st, abs=0.01)
    assert got["tax_lt_gain"] == pytest.approx(lt, abs=0.01)
    assert got["tax_due"] == pytest.approx(ST_RATE * st + LT_RATE * lt, abs=0.01)
    assert got["tax_gain_budget_used"] == pytest.approx(max(st + lt, 0.0), abs=0.01)
    assert got["tax_harvested_loss"] == pytest.approx(loss, abs=1e-6)
    # a non-taxable account records none
    (other,) = query(db, f"select {cols} from account_runs where account = ?", "balanced-garcia")
    assert other == (None,) * len(TAX_COLUMNS)
