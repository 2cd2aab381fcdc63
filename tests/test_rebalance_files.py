"""Holdings, targets and recent-sales files as custodians and spreadsheets write them,
through the real ``capalloc rebalance``: other separators and header cases give the plan of
the plain file; a slip that would change the plan silently (a second cash row, a sale of a
mistyped account) is one error line naming the file, the line and the value."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import ROOT, run_cli

CORPUS = ROOT / "tests" / "bad_input" / "rebalance"
HOLDINGS = (CORPUS / "holdings.csv").read_text()


def _rebalance(holdings, *extra, targets=CORPUS / "targets.csv", prices=CORPUS / "prices.csv"):
    return run_cli("rebalance", "--holdings", str(holdings), "--targets", str(targets),
                   "--prices", str(prices), "--as-of", "2026-12-01", *extra)  # fmt: skip


def _trades(res) -> list[tuple[str, str, str, float]]:
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    return [(t["account"], t["ticker"], t["side"], t["shares"]) for t in doc["trades"]]


def _one_line(res, code: int) -> str:
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda t: t.replace(",", ";"),  # a comma-decimal locale's export
        lambda t: t.replace(",", "\t"),
        lambda t: t.replace("account,ticker,shares", "Account,TICKER, Shares "),
    ],
    ids=["semicolons", "tabs", "header-case"],
)
def test_other_separators_and_header_cases_give_the_plan_of_the_plain_file(tmp_path, rewrite):
    plain = _trades(_rebalance(CORPUS / "holdings.csv", "--format", "json"))
    assert plain  # the corpus trades: the comparison below is not of two empty plans
    other = tmp_path / "holdings.csv"
    other.write_text(rewrite(HOLDINGS))
    assert _trades(_rebalance(other, "--format", "json")) == plain


def test_a_second_cash_row_is_refused_not_added(tmp_path):
    holdings, out = tmp_path / "holdings.csv", tmp_path / "orders.csv"
    holdings.write_text(HOLDINGS + "A1,CASH,2500,,,\n")
    line = _one_line(_rebalance(holdings, "--out", str(out)), 8)
    assert str(holdings) in line and "line 10: account A1 ticker CASH" in line
    assert "first is on line 6" in line and "add the amounts" in line
    assert not out.exists()


def test_a_recent_sale_of_an_account_not_in_the_holdings_is_refused(tmp_path):
    sales = tmp_path / "sales.csv"
    sales.write_text("account,ticker,sold,gain\nB2,BND,2026-11-20,-300\n")
    blocked = json.loads(_rebalance(CORPUS / "holdings.csv", "--recent-sales", str(sales),
                                    "--format", "json").stdout)  # fmt: skip
    assert {(b["account"], b["ticker"], b["rule"]) for b in blocked["blocked"]} >= {
        ("B2", "BND", "wash_sale")
    }  # spelled right, the loss sale blocks B2's buy of BND
    assert not [t for t in blocked["trades"] if t["account"] == "B2" and t["ticker"] == "BND"]
    sales.write_text("account,ticker,sold,gain\nb2,BND,2026-11-20,-300\n")
    line = _one_line(_rebalance(CORPUS / "holdings.csv", "--recent-sales", str(sales)), 8)
    assert str(sales) in line and "line 2 account='b2'" in line and "A1, B2" in line


@pytest.mark.parametrize("shares", ["10000000000", "1000000"])
def test_an_account_worth_more_than_the_money_bound_is_one_error_line(tmp_path, shares):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(HOLDINGS.replace("A1,IWM,60,", f"A1,IWM,{shares},"))
    prices = tmp_path / "prices.csv"
    prices.write_text((CORPUS / "prices.csv").read_text().replace("IWM,240.00", "IWM,9999999"))
    line = _one_line(_rebalance(holdings, prices=prices), 3)
    value = float(shares) * 9999999
    assert str(holdings) in line and f"account A1 value={float(f'{value:.6g}')}" in line
    assert "outside the documented bounds [0, 1e+12]" in line and "IWM" in line


def test_a_deposit_may_take_an_account_at_the_bound_past_it():
    res = _rebalance(CORPUS / "holdings.csv", "--account", "B2", "--deposit", "1e12")
    assert res.returncode == 0, res.stderr  # the bound is on what is held, as on the deposit


def test_a_fractional_position_finer_than_the_grid_is_sold_whole_when_its_target_is_0(tmp_path):
    holdings, config = tmp_path / "holdings.csv", tmp_path / "rules.toml"
    holdings.write_text(HOLDINGS.replace("A1,IWM,60,", "A1,IWM,60.123456,"))
    config.write_text("[rebalance]\nfractional = true\nshare_decimals = 4\n")
    targets = tmp_path / "targets.csv"
    targets.write_text("ticker,weight\nSPY,0.70\nBND,0.20\nTLT,0.08\nCASH,0.02\n")
    res = _rebalance(holdings, "--config", str(config), "--format", "json", targets=targets)
    trades = _trades(res)
    assert ("A1", "IWM", "sell", 60.123456) in trades  # not 60.1234, leaving 0.000056
    iwm = next(h for h in json.loads(res.stdout)["holdings"]["A1"] if h["ticker"] == "IWM")
    assert iwm["shares"] == 0.0
    for _acct, _ticker, _side, shares in trades:  # the grid's decimals, no float noise
        assert shares == 60.123456 or shares == round(shares, 4)


def test_a_lot_id_may_hold_colons_and_at_signs_but_not_semicolons(tmp_path):
    holdings, out = tmp_path / "holdings.csv", tmp_path / "orders.csv"
    holdings.write_text(HOLDINGS.replace("A1-3", "IWM:2024@06"))
    res = _rebalance(holdings, "--out", str(out))
    assert res.returncode == 0, res.stderr
    iwm = next(r for r in csv.DictReader(out.open(newline="")) if r["ticker"] == "IWM")
    lot, _, cost = iwm["lots"].rpartition("@")  # read from the right, as the docs say
    lot_id, _, shares = lot.rpartition(":")
    assert (lot_id, float(shares), float(cost)) == ("IWM:2024@06", float(iwm["shares"]), 180.25)
    holdings.write_text(HOLDINGS.replace("A1-3", "IWM;2024"))
    line = _one_line(_rebalance(holdings), 3)
    assert "line 4: account A1 ticker IWM lot_id='IWM;2024'" in line


def test_weights_in_percent_and_a_targets_file_without_rows_say_so(tmp_path):
    targets = tmp_path / "targets.csv"
    targets.write_text("ticker,weight\nSPY,55\nIWM,15\nBND,20\nTLT,8\nCASH,2\n")
    line = _one_line(_rebalance(CORPUS / "holdings.csv", targets=targets), 8)
    assert "sum of weights=100.0" in line and "not percent: 55% is 0.55" in line
    targets.write_text("ticker,weight\n")
    line = _one_line(_rebalance(CORPUS / "holdings.csv", targets=targets), 3)
    assert str(targets) in line and "no rows under the header" in line


def test_account_ids_that_differ_only_in_case_are_a_warning(tmp_path):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(HOLDINGS.replace("B2,CASH,150", "b2,CASH,150"))
    res = _rebalance(holdings, "--format", "json")
    assert res.returncode == 0, res.stderr
    warning = "accounts B2, b2 differ only in case"
    assert any(warning in w for w in json.loads(res.stdout)["warnings"])
    assert warning in res.stderr  # JSON runs show the document's warnings on stderr too


@pytest.mark.parametrize("cell", ['"1,234.5"', "$80", '"12,5"'])
def test_a_formatted_number_is_named_with_how_to_write_it(tmp_path, cell):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(HOLDINGS.replace("A1,CASH,2500,", f"A1,CASH,{cell},"))
    line = _one_line(_rebalance(holdings), 3)
    assert "line 6: account A1 ticker CASH shares" in line and "not a number" in line
    assert "a decimal point, no thousands separator or currency sign" in line
