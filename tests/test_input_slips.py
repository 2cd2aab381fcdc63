"""Slips a user makes in an account file or on the command line, through the real CLI:
tickers in lower case, a scenario listed twice, a percentage typed as a whole number,
outputs of which one cannot be written."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from optimizer.atomic import write_files_atomic
from optimizer.errors import ConfigError
from tests.conftest import ROOT, run_cli

PROPOSAL = ROOT / "examples" / "proposal"


def _account(tmp_path, edit):
    folder = tmp_path / "acct"
    shutil.copytree(PROPOSAL, folder)
    path = folder / "account.toml"
    path.write_text(edit(path.read_text()))
    return path


def test_lower_case_tickers_in_the_universe_are_the_same_tickers(tmp_path):
    def lower_case(text):
        return re.sub(r"universe\.assets\.([A-Z]+)\]", lambda m: f"{m[0].lower()}", text)

    upper = _account(tmp_path / "u", lambda t: t)
    lower = _account(tmp_path / "l", lower_case)
    assert "[universe.assets.large]" in lower.read_text()
    docs = []
    for path in (upper, lower):
        res = run_cli("propose", "--config", str(path), "--format", "json")
        assert res.returncode == 0, res.stderr
        docs.append(json.loads(res.stdout))
    assert docs[0]["weights"] == docs[1]["weights"]  # the same proposal, to the last digit


def test_the_same_ticker_twice_in_two_cases_is_one_clear_error(tmp_path):
    path = _account(tmp_path, lambda t: t + "\n[universe.assets.large]\nmax = 0.5\n")
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1
    assert "ticker LARGE is listed twice" in res.stderr and str(path) in res.stderr


def test_a_scenario_listed_twice_is_refused(tmp_path):
    path = _account(
        tmp_path,
        lambda t: t.replace('{ id = "tariff-shock"', '{ id = "fed-easing"', 1),
    )
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3, res.stderr
    assert "scenario 'fed-easing' is listed twice" in res.stderr and "scenarios.use" in res.stderr


@pytest.mark.parametrize(
    ("section", "line", "key"),
    [
        ("objective", "target_volatility = 12", "objective.target_volatility=12"),
        ("objective", "target_return = 8", "objective.target_return=8"),
        ("rebalance", "band_rel = 20", "rebalance.band_rel=20"),
    ],
)
def test_a_percentage_typed_as_a_whole_number_is_refused(tmp_path, section, line, key):
    def edit(text):
        text = re.sub(rf"^{line.split()[0]}\s*=.*\n", "", text, flags=re.M)  # the example's
        if f"[{section}]" not in text:
            return text + f"\n[{section}]\n{line}\n"
        return text.replace(f"[{section}]", f"[{section}]\n{line}", 1)

    res = run_cli("propose", "--config", str(_account(tmp_path, edit)))
    assert res.returncode == 3, res.stderr
    assert key in res.stderr and "less than or equal to" in res.stderr


def test_whatif_writes_all_its_outputs_or_none(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where a folder should be")
    csv_out = tmp_path / "whatif.csv"
    res = run_cli("whatif", "--config", str(ROOT / "examples" / "whatif" / "account.toml"),
                  "--csv", str(csv_out), "--html", str(blocker / "whatif.html"))  # fmt: skip
    assert res.returncode == 3, res.stderr
    assert "is a file, not a folder" in res.stderr and "whatif.html" in res.stderr
    assert not csv_out.exists()  # the CSV that could be written was not written
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_write_files_atomic_leaves_earlier_files_unchanged_on_failure(tmp_path):
    kept = tmp_path / "a.txt"
    kept.write_text("old")
    (tmp_path / "b").mkdir()  # a folder where the second file should go
    with pytest.raises(ConfigError, match="a folder has the file's name"):
        write_files_atomic({kept: "new", tmp_path / "b": "x"})
    assert kept.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b"]
    written = write_files_atomic({kept: "new", tmp_path / "c" / "d.txt": b"bytes"})
    assert kept.read_text() == "new" and written[1].read_bytes() == b"bytes"


def _scenario(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    head = 'id = "my-test"\ntitle = "Test"\nnarrative = "a test"\n'
    head += 'horizon = { value = 3, unit = "months" }\nprobability = 0.2\n'
    (folder / "my-test.toml").write_text(head + body)
    return folder


def test_shocks_beyond_a_total_loss_are_refused_not_reported(tmp_path):
    weights = tmp_path / "w.csv"
    weights.write_text("ticker,weight\nLARGE,0.6\nBOND,0.4\n")
    body = '[[shocks]]\nfactor = "long_rate"\nchange_bp = {bp}\n'
    args = ["stress", "--weights", str(weights), "--source", "sample", "--scenario", "my-test"]
    far = _scenario(tmp_path / "far", body.format(bp=2000))
    res = run_cli(*args, "--scenario-dir", str(far))
    assert res.returncode == 5 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "BOND's expected return to -1" in res.stderr and "beyond a total loss" in res.stderr
    assert "my-test" in res.stderr and res.stdout == ""
    near = _scenario(tmp_path / "near", body.format(bp=200))  # the same model, a sane shock
    ok = run_cli(*args, "--scenario-dir", str(near), "--format", "json")
    assert ok.returncode == 0, ok.stderr
    bond = json.loads(ok.stdout)["scenarios"]["my-test"]["per_asset"]["BOND"]["return"]
    assert -1.0 < bond < 0.0


def test_a_pinned_history_that_ends_before_it_starts_is_invalid(tmp_path):
    body = "history = { start = 2010-01-01, end = 2005-01-01 }\n"
    body += '[[shocks]]\nfactor = "equity"\nreturn_pct = -10\n'
    folder = _scenario(tmp_path / "rev", body)
    res = run_cli("scenarios", "validate", str(folder / "my-test.toml"))
    assert res.returncode == 5, res.stderr
    assert "the window ends (2005-01-01) before it starts (2010-01-01)" in res.stderr


def test_a_source_name_in_capitals_is_the_same_source(tmp_path):
    path = _account(tmp_path, lambda t: t.replace('source = "sample"', 'source = "Sample"', 1))
    assert 'source = "Sample"' in path.read_text()
    res = run_cli("propose", "--config", str(path), "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["provenance"]["source"] == "sample"


def test_a_target_without_a_price_names_the_prices_file(tmp_path):
    (tmp_path / "t.csv").write_text("ticker,weight\nLARGE,0.7\nBOND,0.28\nCASH,0.02\n")
    (tmp_path / "p.csv").write_text("ticker,price\nLARGE,100\n")
    (tmp_path / "h.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired\n"
        "acct-1,LARGE,100,90,2016-01-04\nacct-1,CASH,5000,,\n"
    )
    res = run_cli("rebalance", "--holdings", str(tmp_path / "h.csv"), "--targets",
                  str(tmp_path / "t.csv"), "--prices", str(tmp_path / "p.csv"))  # fmt: skip
    assert res.returncode == 8, res.stderr
    line = res.stderr.strip()
    assert line.startswith(f"capalloc: plan error: {tmp_path / 'p.csv'}: ticker BOND")
    assert "has no price" in line and "t.csv" in line


def test_two_tickers_for_the_cash_balance_are_refused(tmp_path):
    # both would be shown holding the whole cash balance (weights after trades summed to 101 %)
    path = _account(tmp_path, lambda t: t + '\n[universe.assets.MKT]\ntags = ["cash"]\n')
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "CASH and MKT both stand for the account's cash" in res.stderr


def test_a_universe_of_cash_alone_is_a_config_error(tmp_path):
    # not a data error (nothing to fetch): the account file is what needs fixing
    from optimizer.config import validate
    from optimizer.errors import ConfigError
    from optimizer.optimize.policy import UniverseConfig

    with pytest.raises(ConfigError, match="CASH is the only asset"):
        validate(UniverseConfig, {"assets": {"CASH": {"tags": ["cash"]}}}, prefix="universe")
    ok = validate(UniverseConfig, {"assets": {"CASH": {}, "SPY": {}}}, prefix="universe")
    assert list(ok.assets) == ["CASH", "SPY"]


def test_shares_of_the_cash_ticker_are_one_clear_error(tmp_path):
    def mkt_is_the_cash(text):
        return text.replace("[universe.assets.CASH]", "[universe.assets.MKT]", 1)

    path = _account(tmp_path, mkt_is_the_cash)
    holdings = path.parent / "holdings.csv"
    holdings.write_text(holdings.read_text().replace(",CASH,40000,,,", ",MKT,400,100,2016-01-04,"))
    assert ",MKT,400" in holdings.read_text()
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 8 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "stands for the account's cash balance" in res.stderr and "MKT" in res.stderr


@pytest.mark.parametrize(
    ("group", "reach"),
    [("cash >= 2", "the constant 2 is beyond what the weights' side can reach"),
     ("equity <= 60", "the constant 60 is beyond what the weights' side can reach")],
)  # fmt: skip
def test_a_group_with_a_percentage_typed_as_a_whole_number_is_named(tmp_path, group, reach):
    # "cash >= 2" was reported as infeasible against turnover; "equity <= 60" did nothing
    def edit(text):
        return re.sub(r"^groups = \[", f'groups = [\n  "{group}",', text, count=1, flags=re.M)

    path = _account(tmp_path, edit)
    assert f'"{group}",' in path.read_text()
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert f"constraints.groups[0]='{group}'" in res.stderr and reach in res.stderr


@pytest.mark.parametrize(
    "name",
    ["Smith\\u0000 trust", "Smith\\ntrust", "Smith\\u001b[31mtrust", "Smith\\u0085trust",
     "Smith\\u2028trust", "\\u202etsurt htimS"],
)  # fmt: skip
def test_a_control_character_in_a_name_is_refused(tmp_path, name):
    # a NUL or an escape sequence went straight to the terminal and into the report
    def named(text):
        return re.sub(r'^name = ".*"$', lambda _: f'name = "{name}"', text, count=1, flags=re.M)

    path = _account(tmp_path, named)
    assert f'name = "{name}"' in path.read_text()
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "account.name=" in res.stderr and "a control character" in res.stderr


def test_a_failed_rename_puts_every_earlier_file_back(tmp_path, monkeypatch):
    # the third rename fails (the OS refuses it): the two files renamed before it get back
    # what they held, the new one goes, nothing temporary stays, the error names the file
    import os

    a, b, c = tmp_path / "a.csv", tmp_path / "b.html", tmp_path / "new" / "c.txt"
    a.write_text("old a")
    b.write_text("old b")
    real, calls = os.replace, []

    def refuses_the_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise PermissionError(1, "Operation not permitted", src)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", refuses_the_third)
    with pytest.raises(ConfigError) as info:
        write_files_atomic({a: "new a", b: "new b", c: "new c"})
    assert info.value.render().startswith(f"{c}: cannot write the output file")
    assert (a.read_text(), b.read_text(), c.exists()) == ("old a", "old b", False)
    # and the folder made for the new one is gone too
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.csv", "b.html"]


def test_a_lower_case_ticker_in_a_group_is_the_ticker(tmp_path):
    def edit(text):
        text = text.replace("[universe.assets.SMALL]", "[universe.assets.small]", 1)
        return re.sub(r"^groups = \[", 'groups = [\n  "small <= 0.05",', text, count=1, flags=re.M)

    res = run_cli("propose", "--config", str(_account(tmp_path, edit)), "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["weights"]["SMALL"] <= 0.05 + 1e-9


def test_a_level_target_beyond_the_largest_stated_move_is_refused(tmp_path):
    # a return_pct may be at most +1000 %; a level 1,470 times the spot was reported as
    # a +87,676 % portfolio return
    weights = tmp_path / "w.csv"
    weights.write_text("ticker,weight\nLARGE,0.6\nBOND,0.4\n")
    ref = 'reference = { level = 6800, date = 2025-12-12, source = "a test" }'
    body = '[[shocks]]\nindex = "SP500"\nlevel = LEVEL\n' + ref + "\n"
    args = ["stress", "--weights", str(weights), "--source", "sample", "--scenario", "my-test"]
    far = _scenario(tmp_path / "far", body.replace("LEVEL", "9999999"))
    res = run_cli(*args, "--scenario-dir", str(far))
    assert res.returncode == 5 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "shocks[0].level=9999999" in res.stderr and "above the +1,000 %" in res.stderr
    near = _scenario(tmp_path / "near", body.replace("LEVEL", "7500"))  # +10 %: a stress
    assert run_cli(*args, "--scenario-dir", str(near)).returncode == 0


def test_order_files_carry_every_digit_of_large_share_counts(tmp_path):
    # ":g" kept six digits: 1,087,435 shares were written 1087440 (and 3,187,858 as
    # 3.18786e+06), a cost basis of 12.345678 as 12.3457
    (tmp_path / "h.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired\n"
        "acct-1,LARGE,3187858,12.345678,2015-01-05\nacct-1,CASH,318785812.34,,\n"
    )
    (tmp_path / "t.csv").write_text("ticker,weight\nBOND,0.99\nCASH,0.01\n")
    (tmp_path / "p.csv").write_text("ticker,price\nLARGE,100\nBOND,97.31\n")
    out = tmp_path / "o.csv"
    res = run_cli("rebalance", "--holdings", str(tmp_path / "h.csv"), "--targets",
                  str(tmp_path / "t.csv"), "--prices", str(tmp_path / "p.csv"), "--as-of",
                  "2017-03-31", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    import csv

    rows = {r["ticker"]: r for r in csv.DictReader(out.open())}
    sell, buy = rows["LARGE"], rows["BOND"]
    assert sell["side"] == "sell" and sell["shares"] == "3187858"  # all of it, every digit
    assert sell["lots"] == "2015-01-05:3187858@12.345678"
    assert float(sell["lt_gain"]) == pytest.approx(3187858 * (100 - 12.345678), abs=0.01)
    shares = int(buy["shares"])  # a whole number, not 1.3e+06
    assert shares > 1_000_000
    assert float(buy["notional"]) == pytest.approx(shares * 97.31, abs=0.005)


@pytest.mark.parametrize(
    ("old", "new", "key", "shown"),
    [  # a true was 1, "0.35" was 0.35: a number field takes a number only
        ("probability = 0.35", 'probability = "0.35"', "scenarios.use.0.probability", "text"),
        ("max = 0.6", "max = true", "universe.assets.LARGE.max", "true/false"),
        ("seed = 7", 'seed = "7"', "scenarios.seed", "text"),
    ],
)
def test_a_number_typed_as_text_or_true_is_refused(tmp_path, old, new, key, shown):
    path = _account(tmp_path, lambda t: t.replace(old, new, 1))
    assert new in path.read_text()
    res = run_cli("propose", "--config", str(path))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert key in res.stderr and f"a number, not {shown}" in res.stderr
    assert str(path) in res.stderr and "Value error" not in res.stderr


def test_a_scenario_file_with_a_shock_typed_as_true_is_refused(tmp_path):
    folder = tmp_path / "scen"
    folder.mkdir()
    text = (ROOT / "scenarios" / "fed-easing.toml").read_text()
    changed = re.sub(r"change_bp\s*=\s*-?\d+", "change_bp = true", text, count=1)
    assert changed != text
    (folder / "fed-easing.toml").write_text(changed)
    res = run_cli("scenarios", "validate", str(folder))
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "change_bp" in res.stderr and "a number, not true/false" in res.stderr


def test_a_new_account_is_funded_by_its_deposit(tmp_path):
    # holdings of CASH 0 and --deposit: "the account has no value to allocate" (exit 8);
    # without holdings the deposit was dropped and nothing traded, exit 0
    # (without the example's turnover cap: all of a new account's money is turnover)
    path = _account(tmp_path, lambda t: re.sub(r"^turnover = .*\n", "", t, flags=re.M))
    (path.parent / "holdings.csv").write_text(
        "account,ticker,shares,cost_per_share,acquired\nsmith-family,CASH,0,,\n"
    )
    res = run_cli("propose", "--config", str(path), "--deposit", "100000", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    bought = sum(t["notional"] for t in doc["trades"] if t["side"] == "buy")
    assert doc["account"]["value"] == pytest.approx(100_000) and 50_000 < bought <= 100_000
    no_holdings = _account(tmp_path / "n", lambda t: re.sub(r"^holdings = .*\n", "", t, flags=re.M))
    res = run_cli("propose", "--config", str(no_holdings), "--deposit", "100000")
    assert res.returncode == 3 and "account.holdings" in res.stderr, res.stderr
    assert "a deposit needs the account's holdings" in res.stderr
