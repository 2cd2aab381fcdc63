"""Order files: deterministic CSV, publish after commit, reconciliation with the ledger."""

from __future__ import annotations

import csv
import io

from optimizer.jobs.calendar import parse_period
from optimizer.jobs.ledger import Ledger
from optimizer.jobs.model import AccountOutcome, AccountResult, Order, OutcomeStatus
from optimizer.jobs.orders import OrderFiles, render_orders
from optimizer.jobs.records import Attempt, AttemptStatus

PERIOD = parse_period("2026-03")
ORDERS = [
    {"ticker": "SPY", "side": "sell", "shares": 3, "est_price": 512.25, "notional": 1536.75,
     "est_cost": 0.1, "reason": "drift, above band", "st_gain": "-12.50", "lt_gain": 40.25,
     "lots": "L1:2@480.00(2019-01-02);L7:1@530.00(2025-11-03)"},
    {"ticker": "IWM", "side": "BUY", "shares": 7.0, "est_price": 1 / 3, "reason": 'a "quoted" one'},
]  # fmt: skip


def test_render_round_trips_through_csv():
    orders = [Order.from_mapping(o) for o in ORDERS]
    rows = list(csv.DictReader(io.StringIO(render_orders("acc", PERIOD, orders))))
    assert [r["ticker"] for r in rows] == ["SPY", "IWM"]
    assert rows[1]["side"] == "buy" and rows[1]["shares"] == "7"
    assert rows[1]["est_price"] == "0.3333"  # as propose's orders.csv: prices to 4 decimals
    assert (rows[0]["shares"], rows[0]["est_price"], rows[0]["notional"]) == (
        "3", "512.2500", "1536.75")  # fmt: skip
    assert rows[1]["notional"] == "" and rows[1]["reason"] == 'a "quoted" one'
    assert rows[0]["account"] == "acc" and rows[0]["period"] == "2026-03"
    # the tax columns of propose's orders: as the pipeline gave them, empty when it gave none
    assert (rows[0]["st_gain"], rows[0]["lt_gain"]) == ("-12.50", "40.25")
    assert rows[0]["lots"] == "L1:2@480.00(2019-01-02);L7:1@530.00(2025-11-03)"
    assert rows[1]["st_gain"] == rows[1]["lt_gain"] == rows[1]["lots"] == ""
    assert list(rows[0])[-4:] == ["st_gain", "lt_gain", "lots", "reason"]


def _commit(ledger, files, run, accounts):
    temps, attempts = {}, []
    for account in accounts:
        outcome = AccountOutcome(OutcomeStatus.TRADED, orders=ORDERS)
        temps[account] = files.write_temp(account, outcome.orders)
        attempts.append(
            Attempt(account, "h", AttemptStatus.TRADED, AccountResult(account, outcome),
                    orders_path=files.final_path(account))
        )  # fmt: skip
    ledger.record(run, PERIOD, attempts)
    return temps


def test_reconcile_rewrites_removes_and_quarantines(tmp_path):
    ledger = Ledger.open(str(tmp_path / "l.db"))
    run = ledger.start_run(PERIOD, dry_run=False, processor="t", orders_dir=tmp_path, n_accounts=3)
    ledger.acquire_lock(PERIOD, run)
    files = OrderFiles(tmp_path / "orders", PERIOD, run)
    temps = _commit(ledger, files, run, ["a", "b"])
    assert all(t.name.startswith(".") and t.name.endswith(".tmp") for t in temps.values())
    assert not list(files.folder.glob("*.csv"))  # nothing visible before publishing
    files.publish({"a": temps["a"]})  # crash here: "b" committed, its rename never happened
    published = files.final_path("a").read_bytes()
    (files.folder / "stray.csv").write_text("account\n")  # not recorded anywhere
    rec = OrderFiles(tmp_path / "orders", PERIOD, run + 1).reconcile(ledger.claims(PERIOD), ledger)
    assert rec.rewritten == ("b",)
    assert rec.orphaned == ("stray.csv",)
    assert rec.removed_temp == (temps["b"].name,)
    assert sorted(p.name for p in files.folder.iterdir()) == ["a.csv", "b.csv", "stray.csv.orphan"]
    # the rewritten file is what the run would have published, byte for byte
    assert files.final_path("b").read_bytes() == published.replace(b"a,2026-03", b"b,2026-03")
    again = OrderFiles(tmp_path / "orders", PERIOD, run + 2).reconcile(
        ledger.claims(PERIOD), ledger
    )
    assert not again.changed
