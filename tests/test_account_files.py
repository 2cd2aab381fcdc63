"""Account files as advisors' tools write them, through the real CLI: a header with a
column twice or a trailing comma, blank lines, a position stated twice, sales after the
trade date, a custodian's export of several accounts, an accounts index with a column the
job does not know or a path with an unquoted comma, a holdings key the monthly job ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ROOT, run_cli

BAD = Path(__file__).parent / "bad_input" / "rebalance"
MONTHLY = ROOT / "examples" / "monthly"


def _rebalance(tmp_path, holdings_text, *extra):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(holdings_text)
    args = ["rebalance", "--holdings", str(holdings), "--targets", str(BAD / "targets.csv"),
            "--prices", str(BAD / "prices.csv"), "--as-of", "2026-11-20", "--format", "json",
            *extra]  # fmt: skip
    return run_cli(*args), holdings


def _one_line(res, code, *words):
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert res.stdout == ""


def test_a_column_named_twice_is_refused_not_read_last_wins(tmp_path):
    # "shares" twice: the last (1) was read, an account of 50,000 valued at 500
    text = "account,ticker,shares,cost_per_share,acquired,shares\nA1,SPY,100,400,2020-01-02,1\n"
    res, holdings = _rebalance(tmp_path, text)
    _one_line(res, 3, str(holdings), "column shares named twice",
              "account,ticker,shares,cost_per_share,acquired,shares")  # fmt: skip


def test_a_trailing_comma_in_the_header_is_an_empty_column(tmp_path):
    good = BAD.joinpath("holdings.csv").read_text().splitlines()
    text = good[0] + ",\n" + "".join(f"{row},\n" for row in good[1:])
    res, _ = _rebalance(tmp_path, text)
    (tmp_path / "plain").mkdir()
    want, _ = _rebalance(tmp_path / "plain", "\n".join(good) + "\n")
    assert res.returncode == want.returncode == 0, res.stderr
    assert json.loads(res.stdout)["trades"] == json.loads(want.stdout)["trades"]
    # a spreadsheet's rows of commas at the end are no rows (they were "line 6: account and
    # ticker are required"), in a file with or without the trailing comma
    for tail in (",,,,,\n,,,,,,\n", ",,,,,,,\n"):
        res, _ = _rebalance(tmp_path, "\n".join(good) + "\n" + tail)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["trades"] == json.loads(want.stdout)["trades"]
    text = good[0] + ",\n" + good[1] + ",oops\n"  # a value under it is not dropped silently
    res, holdings = _rebalance(tmp_path, text)
    _one_line(res, 3, str(holdings), "line 2", "a value under a column with no name")


def test_errors_name_the_files_own_line_after_blank_lines(tmp_path):
    good = BAD.joinpath("holdings.csv").read_text().splitlines()
    text = good[0] + "\n\n\n" + good[1].replace(",40,", ",x,") + "\n"
    res, holdings = _rebalance(tmp_path, text)
    _one_line(res, 3, str(holdings), "line 4:", "'x'")  # the physical line, not "line 2"


def test_a_missing_column_shows_the_header_read(tmp_path):
    good = BAD.joinpath("holdings.csv").read_text()
    res, holdings = _rebalance(tmp_path, good.replace("account,ticker", "Acct,Symbol", 1))
    _one_line(res, 3, str(holdings), "missing column(s) account, ticker",
              "Acct,Symbol,shares")  # fmt: skip


def test_a_position_stated_twice_is_refused(tmp_path):
    # the second SPY row was checked and the first ignored: 50 then 999 passed
    positions = tmp_path / "positions.csv"
    positions.write_text(BAD.joinpath("positions.csv").read_text() + "A1,SPY,999\n")
    res, _ = _rebalance(tmp_path, BAD.joinpath("holdings.csv").read_text(),
                        "--positions", str(positions))  # fmt: skip
    _one_line(res, 8, str(positions), "position stated twice", "A1", "SPY", "999")


def test_a_sale_after_the_trade_date_is_refused(tmp_path):
    sales = tmp_path / "sales.csv"
    sales.write_text("account,ticker,sold,gain\nA1,TLT,2026-12-20,-500\n")
    res, _ = _rebalance(tmp_path, BAD.joinpath("holdings.csv").read_text(),
                        "--recent-sales", str(sales))  # fmt: skip
    _one_line(res, 3, str(sales), "sale dated after the as-of date 2026-11-20", "TLT",
              "2026-12-20")  # fmt: skip


def test_stress_refuses_a_file_of_several_accounts(tmp_path):
    # a custodian's export of two accounts was valued as their sum
    text = "".join(
        p.read_text() if i == 0 else "".join(p.read_text().splitlines(keepends=True)[1:])
        for i, p in enumerate(sorted(MONTHLY.glob("*/holdings.csv"))[:2])
    )
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(text)
    res = run_cli("stress", "--holdings", str(holdings), "--source", "sample",
                  "--scenario", "baseline", "--format", "json")  # fmt: skip
    _one_line(res, 3, str(holdings), "holdings of 2 accounts", "balanced-garcia",
              "conservative-jones", "stress one account at a time")  # fmt: skip


def _monthly(tmp_path, accounts):
    args = ["run-monthly", "--accounts", str(accounts), "--db", str(tmp_path / "l.db"),
            "--orders-dir", str(tmp_path / "orders"), "--period", "2017-04", "--allow-stale",
            "--format", "json"]  # fmt: skip
    return run_cli(*args, timeout=180)


def _index(tmp_path, text):
    accounts = tmp_path / "accounts"
    shutil.copytree(MONTHLY, accounts)
    (accounts / "accounts.csv").write_text(text)
    return accounts


def test_an_accounts_index_with_an_unknown_column_is_refused(tmp_path):
    # "Fallback" (capital F) was ignored: keep-holdings silently not applied
    row = "g,balanced-garcia/account.toml,balanced-garcia/holdings.csv,keep-holdings"
    accounts = _index(tmp_path, f"account,config,holdings,Fallback\n{row}\n")
    res = _monthly(tmp_path, accounts)
    _one_line(res, 3, str(accounts / "accounts.csv"), "unknown column 'Fallback'")
    assert not (tmp_path / "orders").exists()


def test_an_unquoted_comma_in_a_path_is_refused(tmp_path):
    row = "g,balanced-garcia/account.toml,balanced-garcia/lots, 2017.csv"
    accounts = _index(tmp_path, f"account,config,holdings\n{row}\n")
    res = _monthly(tmp_path, accounts)
    _one_line(res, 3, f"{accounts / 'accounts.csv'}:2", "more cells than the header's 3",
              "quote a path")  # fmt: skip


def test_a_spreadsheets_trailing_comma_and_spaces_in_the_header_are_no_columns(tmp_path):
    # "account, config, holdings," as a spreadsheet saves it: it was refused for an
    # unknown column '' (and ' config'); a value under the unnamed column still is
    row = "balanced-garcia,balanced-garcia/account.toml,balanced-garcia/holdings.csv,"
    accounts = _index(tmp_path, f"account, config, holdings,\n{row}\n")
    res = _monthly(tmp_path, accounts)
    assert res.returncode == 0, res.stderr
    assert [a["status"] for a in json.loads(res.stdout)["accounts"]] == ["traded"]
    accounts = _index(tmp_path / "again", f"account,config,holdings,\n{row}yes\n")
    res = _monthly(tmp_path / "again", accounts)
    _one_line(res, 3, f"{accounts / 'accounts.csv'}:2", "a value under an unnamed column",
              "columns='yes'")  # fmt: skip
    # two unnamed columns: a value under the first was lost (the second's cell won)
    accounts = _index(tmp_path / "two", f"account,config,holdings,,\n{row}keep-holdings,\n")
    res = _monthly(tmp_path / "two", accounts)
    _one_line(res, 3, f"{accounts / 'accounts.csv'}:2", "columns='keep-holdings'")


def test_the_monthly_job_refuses_an_account_file_naming_other_holdings(tmp_path):
    # [account] holdings = "lots-2017-03.csv" was ignored: the job traded holdings.csv
    accounts = tmp_path / "accounts"
    shutil.copytree(MONTHLY, accounts)
    folder = accounts / "balanced-garcia"
    shutil.copy(folder / "holdings.csv", folder / "lots-2017-03.csv")
    config = folder / "account.toml"
    text = config.read_text()
    assert "[account]" in text and "holdings =" not in text
    config.write_text(text.replace("[account]", '[account]\nholdings = "lots-2017-03.csv"', 1))
    res = _monthly(tmp_path, accounts)
    assert res.returncode == 10, res.stderr
    line = next(a for a in json.loads(res.stdout)["accounts"] if a["account"] == folder.name)
    assert line["status"] == "failed" and line["error_kind"] == "ConfigError"
    assert "account.holdings" in line["error"] and "lots-2017-03.csv" in line["error"]


def test_rebalance_of_a_holdings_file_without_rows_is_an_error(tmp_path):
    res, holdings = _rebalance(tmp_path, "account,ticker,shares,cost_per_share,acquired\n")
    _one_line(res, 3, str(holdings), "no rows under the header")


def test_a_lot_after_the_trade_date_names_its_line(tmp_path):
    rows = BAD.joinpath("holdings.csv").read_text().splitlines()
    late = rows[2].split(",")
    late[4] = "2026-12-01"
    res, holdings = _rebalance(tmp_path, "\n".join([*rows[:2], ",".join(late), *rows[3:]]) + "\n")
    _one_line(res, 8, str(holdings), "line 3:", f"account {late[0]}",
              "lot acquired after the as-of date 2026-11-20", "2026-12-01")  # fmt: skip
