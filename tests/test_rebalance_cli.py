"""``capalloc rebalance`` through a real subprocess: good runs and the bad-input corpus.

Every bad input must give exactly one stderr line naming the account / ticker / value, a
documented exit code, no traceback, and no orders file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.realdata_support import cut_copy

BAD = Path(__file__).parent / "bad_input" / "rebalance"


def _args(holdings="holdings.csv", targets="targets.csv", prices="prices.csv", *extra):
    return [
        "rebalance",
        "--holdings",
        str(BAD / holdings),
        "--targets",
        str(BAD / targets),
        "--prices",
        str(BAD / prices),
        "--as-of",
        "2026-11-20",
        *extra,
    ]


def test_good_run_json_and_orders_file(tmp_path):
    out = tmp_path / "orders.csv"
    res = run_cli(
        *_args(), "--positions", str(BAD / "positions.csv"), "--format", "json", "--out", str(out)
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {"trades", "holdings", "metrics", "provenance", "weights"} <= set(doc)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(doc["trades"]) > 0
    assert set(rows[0]) >= {
        "account",
        "ticker",
        "side",
        "shares",
        "est_price",
        "notional",
        "est_cost",
        "lots",
        "reason",
    }
    # the orders file agrees with the JSON document, order for order
    for row, trade in zip(rows, doc["trades"], strict=True):
        assert (row["account"], row["ticker"], row["side"]) == (
            trade["account"],
            trade["ticker"],
            trade["side"],
        )
        assert float(row["shares"]) == trade["shares"]
    # post-trade cash in the document is pre-trade cash minus money spent and costs
    for acct, m in doc["metrics"]["by_account"].items():
        spent = sum(
            (t["notional"] if t["side"] == "buy" else -t["notional"]) + t["est_cost"]
            for t in doc["trades"]
            if t["account"] == acct
        )
        assert m["residual_cash"] == pytest.approx(m["cash_before"] - spent, abs=1e-6)


def test_replanning_the_executed_orders_trades_nothing(tmp_path):
    """Apply the orders file to the lots by hand, re-run: no trades (a real round trip)."""
    out = tmp_path / "orders.csv"
    assert run_cli(*_args(), "--out", str(out)).returncode == 0
    prices = {r["ticker"]: float(r["price"]) for r in csv.DictReader((BAD / "prices.csv").open())}
    lots = list(csv.DictReader((BAD / "holdings.csv").open()))
    cash = {r["account"]: float(r["shares"]) for r in lots if r["ticker"] == "CASH"}
    lots = [r for r in lots if r["ticker"] != "CASH"]
    for order in csv.DictReader(out.open()):
        q, acct = float(order["shares"]), order["account"]
        cash[acct] -= (q if order["side"] == "buy" else -q) * prices[order["ticker"]]
        cash[acct] -= float(order["est_cost"])
        if order["side"] == "buy":
            lots.append(
                {
                    "account": acct,
                    "ticker": order["ticker"],
                    "shares": str(int(q)),
                    "cost_per_share": str(prices[order["ticker"]]),
                    "acquired": "2026-11-20",
                    "lot_id": f"new-{acct}-{order['ticker']}",
                }
            )
            continue
        for used in order["lots"].split(";"):
            lot_id, rest = used.split(":")
            lot = next(r for r in lots if r["lot_id"] == lot_id)
            lot["shares"] = str(int(float(lot["shares"]) - float(rest.split("@")[0])))
    lots = [r for r in lots if float(r["shares"]) > 0]
    new = tmp_path / "after.csv"
    with new.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(lots[0]))
        w.writeheader()
        w.writerows(lots)
        for acct, c in cash.items():
            w.writerow({"account": acct, "ticker": "CASH", "shares": repr(c)})
    res = run_cli(
        "rebalance",
        "--holdings",
        str(new),
        "--targets",
        str(BAD / "targets.csv"),
        "--prices",
        str(BAD / "prices.csv"),
        "--as-of",
        "2026-11-20",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["trades"] == []


CASES = {
    # name: (argument overrides, extra args, exit code, words the one line must contain)
    "ticker_without_price": (
        {"holdings": "holdings_no_price.csv"},
        [],
        8,
        ["A1", "QQQ", "no price"],
    ),
    "negative_shares": ({"holdings": "holdings_negative.csv"}, [], 8, ["B2", "TLT", "-30"]),
    "fractional_shares": (
        {"holdings": "holdings_fractional.csv"},
        [],
        8,
        ["A1", "BND", "200.5", "fractional"],
    ),
    "lots_disagree_with_position": (
        {},
        ["--positions", str(BAD / "positions_disagree.csv")],
        8,
        ["A1", "IWM", "61"],
    ),
    "duplicated_lot": ({"holdings": "holdings_duplicated.csv"}, [], 8, ["A1", "BND", "A1-4"]),
    "zero_price": ({"prices": "prices_zero.csv"}, [], 8, ["IWM", "price", "0"]),
    # read and never used: cash is worth 1 a unit
    "cash_priced": ({"prices": "prices_cash.csv"}, [], 3, ["line 6", "CASH", "price=2"]),
    "weights_do_not_sum_to_one": ({"targets": "targets_sum.csv"}, [], 8, ["sum", "1.05"]),
    "ticker_outside_universe": (
        {"targets": "targets_outside.csv"},
        [],
        8,
        ["GLD", "0.05", "no price", "prices"],
    ),
    "withdrawal_larger_than_account": (
        {},
        ["--account", "B2", "--withdraw", "1000000"],
        8,
        ["B2", "withdraw", "1000000"],
    ),
    # B2 is worth 5 x 680 + 30 x 88 + 150: the whole of it was "no trade needed, account is
    # empty", exit 0, with cash after -6,040 and the shares still held
    "withdrawal_equal_to_account": (
        {},
        ["--account", "B2", "--withdraw", "6190"],
        8,
        ["B2", "withdraw", "6190", "all the account is worth"],
    ),
    "missing_column": ({"holdings": "holdings_bad_header.csv"}, [], 3, ["cost_per_share"]),
    "bad_date": ({"holdings": "holdings_bad_date.csv"}, [], 3, ["A1", "IWM", "03/06/2024"]),
    "bad_rule_value": (
        {},
        ["--config", str(BAD / "config_bad_value.toml")],
        3,
        ["rebalance.band_abs", "wide"],
    ),
    "unknown_rule": (
        {},
        ["--config", str(BAD / "config_unknown_key.toml")],
        3,
        ["rebalance.band_width"],
    ),
    "unknown_account": ({}, ["--account", "ZZ9"], 8, ["ZZ9"]),
    "deposit_and_withdraw": ({}, ["--deposit", "1", "--withdraw", "1"], 2, ["--deposit"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_one_line_and_nothing_written(name, tmp_path):
    overrides, extra, code, words = CASES[name]
    out = tmp_path / "orders.csv"
    kw = {"holdings": "holdings.csv", "targets": "targets.csv", "prices": "prices.csv"}
    res = run_cli(*_args(**(kw | overrides)), *extra, "--out", str(out))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == code, res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_prices_from_the_data_layer_are_the_last_closes(shared_data, tmp_path):
    """--source csv:<yahoo folder>: each order is priced at its file's last close (the
    holdings' lots dated a year earlier, so that none postdates the trade date)."""
    holdings = tmp_path / "holdings.csv"
    holdings.write_text((BAD / "holdings.csv").read_text().replace(",2026-", ",2025-"))
    res = run_cli(
        "rebalance", "--holdings", str(holdings), "--targets",
        str(BAD / "targets.csv"), "--source", f"csv:{shared_data / 'yahoo'}", "--as-of",
        "2026-02-23", "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    trades = json.loads(res.stdout)["trades"]
    assert trades
    for trade in trades:
        rows = list(csv.DictReader((shared_data / "yahoo" / f"{trade['ticker']}.csv").open()))
        assert trade["est_price"] == pytest.approx(float(rows[-1]["Close"]), rel=1e-12)


def test_prices_from_the_data_layer_are_those_of_the_trade_date(shared_data, tmp_path):
    """--as-of 2024-01-02 was priced at the files' last closes (2026-02-23, SPY 682 against
    464), and a trade date months after the data's end said nothing: the closes are the
    last on or before the trade date, and prices older than it are a warning."""
    holdings = tmp_path / "holdings.csv"
    holdings.write_text((BAD / "holdings.csv").read_text().replace(",2026-", ",2020-")
                        .replace(",2025-", ",2020-").replace(",2024-", ",2020-")
                        .replace(",2023-", ",2020-").replace(",2022-", ",2020-"))  # fmt: skip
    base = ["rebalance", "--holdings", str(holdings), "--targets", str(BAD / "targets.csv"),
            "--source", f"csv:{shared_data / 'yahoo'}", "--format", "json"]  # fmt: skip
    res = run_cli(*base, "--as-of", "2024-01-02")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for trade in doc["trades"]:
        rows = list(csv.DictReader((shared_data / "yahoo" / f"{trade['ticker']}.csv").open()))
        close = next(float(r["Close"]) for r in rows if r["Date"] == "2024-01-02")
        assert trade["est_price"] == pytest.approx(close, rel=1e-12)
    assert doc["trades"] and doc["provenance"]["prices_date"] == "2024-01-02"
    (inside,) = doc["warnings"]  # adjusted closes are not what traded two years back
    assert "well inside the data" in inside and "adjusted" in inside
    late = json.loads(run_cli(*base, "--as-of", "2026-06-01").stdout)
    (stale,) = late["warnings"]
    assert stale.startswith("stale prices") and "2026-02-23" in stale and "2026-06-01" in stale
    # one file ending early: each other ticker keeps its own last close, and the stale one
    # is named (the joint frame was cut to the common window: the first by name was blamed)
    tickers = ("SPY", "IWM", "BND", "TLT")
    folder = cut_copy(shared_data, tmp_path / "cut", tickers, {"TLT": "2026-02-02"})
    base[base.index("--source") + 1] = f"csv:{folder}"
    doc = json.loads(run_cli(*base, "--as-of", "2026-02-23").stdout)
    (stale,) = doc["warnings"]
    assert stale.startswith("stale prices: the last price of TLT") and "2026-02-02" in stale
    for ticker in ("SPY", "IWM", "BND"):  # valued at their own 2026-02-23 closes
        close = pd.read_csv(shared_data / "yahoo" / f"{ticker}.csv")["Close"].iloc[-1]
        held = [h for acct in doc["holdings"].values() for h in acct if h["ticker"] == ticker]
        assert held and all(h["value"] == pytest.approx(h["shares"] * close) for h in held)


def test_config_with_targets_and_rules(tmp_path):
    """[targets] and [rebalance] from one TOML: the do-not-sell rule shows as a block."""
    config = tmp_path / "plan.toml"
    config.write_text(
        "[targets]\nSPY = 0.55\nIWM = 0.15\nBND = 0.20\nTLT = 0.08\nCASH = 0.02\n\n"
        '[rebalance]\ndo_not_sell = ["IWM"]\nmin_trade = 100.0\n'
    )
    res = run_cli("rebalance", "--holdings", str(BAD / "holdings.csv"), "--config", str(config),
                  "--prices", str(BAD / "prices.csv"), "--as-of", "2026-11-20", "--account",
                  "A1", "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert all(t["ticker"] != "IWM" or t["side"] == "buy" for t in doc["trades"])
    assert any(b["ticker"] == "IWM" and b["rule"] == "do_not_sell" for b in doc["blocked"])
    assert all(t["notional"] >= 100.0 for t in doc["trades"])


def test_lot_bought_after_the_trade_date_is_one_line(tmp_path):
    out = tmp_path / "orders.csv"
    res = run_cli(*_args("holdings.csv", "targets.csv", "prices.csv"), "--out", str(out))
    assert res.returncode == 0, res.stderr  # 2026-11-20: every lot is older
    res = run_cli("rebalance", "--holdings", str(BAD / "holdings.csv"), "--targets",
                  str(BAD / "targets.csv"), "--prices", str(BAD / "prices.csv"),
                  "--as-of", "2026-01-02", "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert res.returncode == 8
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "holdings.csv" in lines[0] and "lot A1-2 acquired='2026-10-30'" in lines[0]
    assert not (tmp_path / "x.csv").exists()


def test_a_malformed_trade_date_is_a_usage_error():
    # it exited 3 (a configuration error); docs/cli.md lists bad option values under 2
    res = run_cli(*_args("holdings.csv", "targets.csv", "prices.csv", "--as-of", "2026/02/24"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "--as-of" in res.stderr and "'2026/02/24'" in res.stderr


def test_a_deposit_is_for_one_account_of_a_file_of_several(tmp_path):
    # --withdraw 5000 took 5,000 out of each of the file's accounts, without a word
    text = (BAD / "holdings.csv").read_text()
    text += "C3,SPY,10,400,2020-01-02,C3-1\nC3,CASH,1000,,,\n"
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(text)
    args = ["rebalance", "--holdings", str(holdings), "--targets", str(BAD / "targets.csv"),
            "--prices", str(BAD / "prices.csv"), "--as-of", "2026-11-20"]  # fmt: skip
    res = run_cli(*args, "--withdraw", "5000")
    assert res.returncode == 2 and "--withdraw is money for one account" in res.stderr
    assert "--account" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli(*args, "--withdraw", "5000", "--account", "A1", "--format", "json")
    assert res.returncode == 0, res.stderr


def test_an_account_of_cash_only_needs_no_price(shared_data, tmp_path):
    # "no tickers requested" (exit 4) for an account with nothing to price
    (tmp_path / "h.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired\nA,CASH,10000,,\n"
    )
    (tmp_path / "t.csv").write_text("ticker,weight\nCASH,1\n")
    res = run_cli("rebalance", "--holdings", str(tmp_path / "h.csv"), "--targets",
                  str(tmp_path / "t.csv"), "--source", f"csv:{shared_data / 'yahoo'}",
                  "--as-of", "2026-02-23", "--format", "json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["trades"] == []


def test_a_withdrawal_of_nearly_all_the_account_sells_everything_to_fund_it():
    # B2 is worth 6,190: 6,100 out leaves 90, so every share is sold; the reasons read
    # "drift +3777.78% outside band" (weights of an account worth 90), now what they are for
    res = run_cli(*_args("holdings.csv", "targets.csv", "prices.csv", "--as-of", "2026-11-20",
                         "--account", "B2", "--withdraw", "6100", "--format", "json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    sold = {t["ticker"]: (t["side"], t["shares"], t["reason"]) for t in doc["trades"]}
    reason = "raise cash for the withdrawal"
    assert sold == {"SPY": ("sell", 5, reason), "TLT": ("sell", 30, reason)}
    b2 = doc["metrics"]["by_account"]["B2"]
    assert b2["residual_cash"] == pytest.approx(150 + 5 * 680 + 30 * 88 - 6100 - b2["total_cost"])
