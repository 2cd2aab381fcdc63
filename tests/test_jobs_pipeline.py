"""``run-monthly`` with the product's own pipeline on the shipped example accounts."""

from __future__ import annotations

import json
import shutil

from optimizer.jobs.accounts import discover_accounts
from optimizer.jobs.calendar import parse_period
from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import query, read_order_file

EXAMPLES = ROOT / "examples" / "monthly"


def test_examples_through_the_default_pipeline(tmp_path):
    accounts = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, accounts)
    cmd = ["run-monthly", "--accounts", str(accounts), "--db", str(tmp_path / "l.db"),
           "--orders-dir", str(tmp_path / "orders"), "--period", "2026-01",
           "--format", "json"]  # fmt: skip
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["provenance"]["processor"] == "optimizer.workflows:process_account"
    assert doc["metrics"]["n_failed"] == 0
    assert doc["metrics"]["n_accounts"] == len(list(EXAMPLES.iterdir())) >= 3

    # the files carry exactly what the pipeline returns for each account, computed here
    from optimizer.workflows import prepare_worker, process_account

    ctx, period = prepare_worker(), parse_period("2026-01")
    for spec in discover_accounts(accounts):
        outcome = process_account(ctx, spec, period)
        path = tmp_path / "orders" / "2026-01" / f"{spec.account_id}.csv"
        if not outcome.orders:
            assert not path.exists()
            continue
        rows = read_order_file(path)
        assert [(r["ticker"], r["side"], float(r["shares"])) for r in rows] == [
            (o.ticker, o.side.value, o.shares) for o in outcome.orders
        ]
        allocation = query(tmp_path / "l.db", "select allocation_json from account_runs "
                           "where account = ?", spec.account_id)[0][0]  # fmt: skip
        weights = json.loads(allocation)
        assert weights.keys() == dict(outcome.allocation).keys()
        assert all(abs(weights[t] - w) < 1e-9 for t, w in outcome.allocation.items())

    again = run_cli(*cmd, timeout=180)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"]["n_skipped"] == doc["metrics"]["n_accounts"]
