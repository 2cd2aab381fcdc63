"""``run-monthly`` with the product's own pipeline on the shipped example accounts."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from optimizer.jobs.accounts import discover_accounts
from optimizer.jobs.calendar import parse_period
from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import query, read_order_file

EXAMPLES = ROOT / "examples" / "monthly"


def monthly_args(accounts, tmp_path, period: str, *extra: str) -> list[str]:
    """``run-monthly`` over ``accounts`` with its ledger and orders in ``tmp_path``."""
    return ["run-monthly", "--accounts", str(accounts), "--db", str(tmp_path / "l.db"),
            "--orders-dir", str(tmp_path / "orders"), "--period", period, "--allow-stale",
            *extra, "--format", "json"]  # fmt: skip


def test_examples_through_the_default_pipeline(tmp_path):
    accounts = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, accounts)
    cmd = monthly_args(accounts, tmp_path, "2026-01")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["provenance"]["processor"] == "optimizer.workflows:process_account"
    assert doc["metrics"]["n_failed"] == 0
    assert doc["metrics"]["n_accounts"] == len(list(EXAMPLES.iterdir())) >= 3

    # the files carry exactly what the pipeline returns for each account, computed here
    from optimizer.workflows import prepare_worker, process_account

    ctx, period = prepare_worker(), parse_period("2026-01")
    sold_lots = []
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
        # what propose's orders carry: short- and long-term gains and the lots sold
        assert [(r["st_gain"], r["lt_gain"], r["lots"]) for r in rows] == [
            (o.extra["st_gain"], o.extra["lt_gain"], o.extra["lots"]) for o in outcome.orders
        ]
        sold_lots += [r["lots"] for r in rows if r["side"] == "sell"]
        for r in rows:  # written as propose writes its orders.csv: prices 4 decimals, cents
            assert re.fullmatch(r"\d+\.\d{4}", r["est_price"]), r
            assert all(re.fullmatch(r"\d+\.\d{2}", r[c]) for c in ("notional", "est_cost")), r
        allocation = query(tmp_path / "l.db", "select allocation_json from account_runs "
                           "where account = ?", spec.account_id)[0][0]  # fmt: skip
        weights = json.loads(allocation)
        assert weights.keys() == dict(outcome.allocation).keys()
        assert all(abs(weights[t] - w) < 1e-9 for t, w in outcome.allocation.items())

    assert sold_lots and all(sold_lots), "no sale with its lots in the examples"

    again = run_cli(*cmd, timeout=180)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["metrics"]["n_skipped"] == doc["metrics"]["n_accounts"]


def test_workers_forked_from_a_warm_runner_give_the_orders_computed_in_process(tmp_path):
    """With two workers (forked from the runner after it warmed the pipeline on the first
    account), every order file is what ``process_account`` returns for that account here."""
    from optimizer.workflows import prepare_worker, process_account

    _book(tmp_path / "accounts", 8)
    args = monthly_args(tmp_path / "accounts", tmp_path, "2026-01", "--workers", "2",
                        "--chunk-size", "2")  # fmt: skip
    res = run_cli(*args, timeout=180)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["metrics"]["n_traded"] == 8
    ctx, period = prepare_worker(), parse_period("2026-01")
    for spec in discover_accounts(tmp_path / "accounts"):
        rows = read_order_file(tmp_path / "orders" / "2026-01" / f"{spec.account_id}.csv")
        outcome = process_account(ctx, spec, period)
        assert [(r["ticker"], r["side"], float(r["shares"])) for r in rows] == [
            (o.ticker, o.side.value, o.shares) for o in outcome.orders
        ]


def _book(folder, n: int) -> None:
    """``n`` accounts on the balanced example policy, each with its own id and share counts."""
    template = EXAMPLES / "balanced-garcia"
    lines = (template / "holdings.csv").read_text().splitlines()
    for i in range(n):
        account = f"acct{i:04d}"
        d = folder / account
        d.mkdir(parents=True)
        policy = (template / "account.toml").read_text()  # its [account] id is the folder's
        (d / "account.toml").write_text(policy.replace('"balanced-garcia"', f'"{account}"', 1))
        rows = [lines[0]]
        for line in lines[1:]:
            cells = line.split(",")
            cells[0] = account
            if cells[1] != "CASH":
                cells[2] = str(int(cells[2]) + 7 * i)
            rows.append(",".join(cells))
        (d / "holdings.csv").write_text("\n".join(rows) + "\n")


def test_sigkill_mid_batch_with_the_product_pipeline_then_rerun_finishes(tmp_path):
    """The real pipeline in real worker processes, killed mid-batch: every visible order
    file is recorded in the ledger, and the next run plans only the remaining accounts."""
    import os
    import signal
    import subprocess
    import sys
    import time

    n = 300
    _book(tmp_path / "accounts", n)
    db = tmp_path / "l.db"
    cmd = monthly_args(tmp_path / "accounts", tmp_path, "2026-01", "--workers", "2",
                       "--chunk-size", "2")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", *cmd], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    claims = 0
    while claims < 10 and time.monotonic() < deadline and proc.poll() is None:
        try:
            claims = query(db, "select count(*) from claims")[0][0]
        except Exception:  # the schema may not exist yet
            claims = 0
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {a for (a,) in query(db, "select account from claims")}
    assert 10 <= len(done) < n, "the kill must land in the middle of the batch"
    folder = tmp_path / "orders" / "2026-01"
    visible = {p.stem for p in folder.glob("*.csv")}
    recorded = {a for (a,) in query(db, "select distinct account from orders")}
    assert visible <= recorded  # nothing visible that the ledger does not hold

    res = run_cli(*cmd, timeout=300)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["metrics"]["n_skipped"] == len(done)
    assert doc["metrics"]["n_traded"] + doc["metrics"]["n_no_trade"] == n - len(done)
    second = {a for (a,) in query(db, "select account from account_runs where run_id = 2")}
    assert second == {f"acct{i:04d}" for i in range(n)} - done
    files = {p.stem for p in folder.glob("*.csv")}
    assert files == {a for (a,) in query(db, "select distinct account from orders")}
    assert not [p for p in folder.iterdir() if p.suffix != ".csv"]


def test_a_past_period_uses_no_data_from_after_its_rebalance_date(tmp_path):
    # 2016-06 (rebalance date 2016-06-01) on the sample that runs to 2017-03: the orders are
    # priced at the 2016-05-31 closes, read here from the bundled file itself, not at the
    # data's last closes (every price 100 on 2017-03-31)
    import csv

    accounts = tmp_path / "accounts"
    accounts.mkdir()
    shutil.copytree(EXAMPLES / "conservative-jones", accounts / "conservative-jones")
    cmd = monthly_args(accounts, tmp_path, "2016-06")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 0, res.stderr
    with open(ROOT / "optimizer" / "data" / "sample" / "prices.csv", newline="") as fh:
        closes = {r["date"]: r for r in csv.DictReader(fh)}["2016-05-31"]
    orders = list(
        csv.DictReader((tmp_path / "orders" / "2016-06" / "conservative-jones.csv").open())
    )
    assert orders
    for o in orders:
        assert float(o["est_price"]) == round(float(closes[o["ticker"]]), 4), o
    prov = json.loads(query(tmp_path / "l.db", "select provenance_json from account_runs")[0][0])
    assert prov["as_of"] == "2016-05-31"


def test_a_shared_policy_needs_no_account_id(tmp_path):
    # accounts.csv names the accounts; their shared policy has an [account] table (a name)
    # but no id, which failed every account ("account.id: required key is missing")
    import re

    template = EXAMPLES / "balanced-garcia"
    policy = (template / "account.toml").read_text()
    policy = re.sub(r"^(id|holdings)\s*=.*\n", "", policy, flags=re.M)
    assert "[account]" in policy and not re.search(r"^id\s*=", policy, flags=re.M)
    folder = tmp_path / "accounts"
    folder.mkdir()
    (folder / "policy.toml").write_text(policy)
    rows = ["account,config,holdings"]
    holdings = (template / "holdings.csv").read_text()
    for name in ("acct-1", "acct-2"):
        (folder / f"{name}.csv").write_text(holdings.replace("balanced-garcia", name))
        rows.append(f"{name},policy.toml,{name}.csv")
    (folder / "accounts.csv").write_text("\n".join(rows) + "\n")
    cmd = monthly_args(folder, tmp_path, "2017-04")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["metrics"]["n_failed"] == 0 and doc["metrics"]["n_accounts"] == 2


def test_only_a_past_period_is_cut_at_its_rebalance_date():
    import datetime as dt

    from optimizer.jobs.model import Period
    from optimizer.workflows import dated_until

    period = Period(2026, 2, known_date=dt.date(2026, 2, 2))
    # run late in its own month: the orders go out now, at the prices known now
    assert dated_until(period, dt.date(2026, 2, 23)) is None
    assert dated_until(period, dt.date(2026, 1, 30)) is None  # run ahead of its month
    # run in a later month (a backfill, a retry): as it would have been on its date
    assert dated_until(period, dt.date(2026, 3, 1)) == dt.date(2026, 2, 2)
    assert dated_until(period, dt.date(2027, 1, 5)) == dt.date(2026, 2, 2)


def test_keep_holdings_never_papers_over_a_malformed_holdings_file(tmp_path):
    # a negative lot and a ticker outside the universe are errors in the account's own
    # file: they fail (someone must fix the file), while keep-holdings still lets an
    # account whose file is fine go through
    accounts = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, accounts)
    garcia = accounts / "balanced-garcia" / "holdings.csv"
    garcia.write_text(garcia.read_text().replace("LARGE,600,", "LARGE,-600,"))
    jones = accounts / "conservative-jones" / "holdings.csv"
    jones.write_text(jones.read_text() + "conservative-jones,XYZ,10,5.0,2015-01-02\n")
    cmd = monthly_args(accounts, tmp_path, "2017-04", "--fallback", "keep-holdings")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 10, res.stderr
    lines = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}
    for account, words in (("balanced-garcia", "-600"), ("conservative-jones", "XYZ")):
        line = lines[account]
        assert line["status"] == "failed", line
        assert f"{account}/holdings.csv" in line["error"] and words in line["error"], line
    assert lines["growth-okafor"]["status"] == "traded"
    assert sorted(p.stem for p in (tmp_path / "orders" / "2017-04").iterdir()) == ["growth-okafor"]


def test_keep_holdings_never_papers_over_a_price_file_the_account_names(tmp_path):
    # a price of 0 in the account's own price file is the account's to fix: failed (and
    # retried by the next run), not a final fallback; once fixed, the rerun trades it
    accounts = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, accounts)
    okafor = accounts / "growth-okafor"
    config = okafor / "account.toml"
    config.write_text(
        config.read_text().replace("[account]\n", '[account]\nprices = "prices.csv"\n', 1)
    )
    prices = okafor / "prices.csv"
    prices.write_text("ticker,price\nLARGE,0\nMID,80\nSMALL,90\nBOND,100\n")
    cmd = monthly_args(accounts, tmp_path, "2017-04", "--fallback", "keep-holdings")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 10, res.stderr
    line = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}["growth-okafor"]
    assert line["status"] == "failed", line
    assert "growth-okafor/prices.csv" in line["error"] and "LARGE" in line["error"], line
    prices.write_text("ticker,price\nLARGE,70\nMID,80\nSMALL,90\nBOND,100\n")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 0, res.stderr
    line = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}["growth-okafor"]
    assert line["status"] == "traded", line


def test_another_accounts_rows_in_an_account_folders_holdings_fail_that_account(tmp_path):
    # one folder per account: its holdings.csv is its own, so a row under another id (a
    # mistyped id) would leave those lots out of the plan; even keep-holdings fails it
    accounts = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, accounts)
    garcia = accounts / "balanced-garcia" / "holdings.csv"
    lines = garcia.read_text().splitlines()
    lines[1] = lines[1].replace("balanced-garcia", "balanced-garcai", 1)
    garcia.write_text("\n".join(lines) + "\n")
    cmd = monthly_args(accounts, tmp_path, "2017-04", "--fallback", "keep-holdings")
    res = run_cli(*cmd, timeout=180)
    assert res.returncode == 10, res.stderr
    by_id = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}
    line = by_id["balanced-garcia"]
    assert line["status"] == "failed", line
    assert "balanced-garcai" in line["error"] and "own holdings file" in line["error"], line
    assert by_id["growth-okafor"]["status"] == "traded"


def test_accounts_copying_one_policy_share_its_estimate_but_not_each_others_files(tmp_path):
    # one folder per account, each with its own account.toml: the same policy under other
    # ids shares one estimate and one compiled problem; a scenario folder named relative to
    # each account's folder is that folder's own, even when the words are the same
    import datetime as dt
    import re

    from optimizer.jobs.model import Period
    from optimizer.workflows import Pipeline, process_account

    template = EXAMPLES / "balanced-garcia"
    text = (template / "account.toml").read_text()
    holdings = (template / "holdings.csv").read_text()
    house = (ROOT / "scenarios" / "tariff-shock.toml").read_text()

    def account(name: str, sell_off: int | None) -> None:
        folder = tmp_path / name
        folder.mkdir()
        toml = re.sub(r"^id = .*$", f'id = "{name}"', text, count=1, flags=re.M)
        if sell_off is not None:  # tariff-shock in the account's own scenario folder
            toml = toml.replace("[scenarios]\n", '[scenarios]\ndir = "house"\n')
            (folder / "house").mkdir()
            own = house.replace("return_pct = -12", f"return_pct = {sell_off}")
            (folder / "house" / "tariff-shock.toml").write_text(own)
        (folder / "account.toml").write_text(toml)
        (folder / "holdings.csv").write_text(holdings.replace("balanced-garcia", name))

    account("a1", None)
    account("a2", None)
    account("h1", -12)
    account("h2", -15)
    specs = {s.account_id: s for s in discover_accounts(tmp_path)}
    period = Period(2017, 4, known_date=dt.date(2017, 4, 3))
    ctx = Pipeline()
    weights = {}
    for name in ("a1", "a2", "h1", "h2"):
        weights[name] = dict(process_account(ctx, specs[name], period).allocation)
    assert len(ctx.estimates) == 3  # the built-in scenarios once, each folder's once
    assert ctx.compilations == 1  # one policy, one compiled problem
    assert weights["a1"] == weights["a2"]
    assert weights["h1"] == pytest.approx(weights["a1"], abs=1e-6)  # the same shock
    # h2's estimate took h2's own file: a 15 % sell-off, not h1's 12 %
    moves = {
        e.scenarios[[s.id for s in e.scenarios].index("tariff-shock")].factor_moves["equity"]
        for e in ctx.estimates.values()
    }
    assert sorted(round(m, 4) for m in moves) == [-0.15, -0.12]


def test_the_same_words_in_two_folders_name_each_folders_files_whatever_the_directory(
    tmp_path, monkeypatch
):
    # two account files of the same text, [data] source = "csv:prices" in each folder, read
    # by one Pipeline from inside each folder in turn (a notebook that changes directory):
    # each account gets its own folder's prices
    from optimizer.workflows import Pipeline

    text = '[data]\nsource = "csv:prices"\n\n[universe.assets.SPY]\n'
    for name, close in (("a", 100.0), ("b", 200.0)):
        (tmp_path / name / "prices").mkdir(parents=True)
        (tmp_path / name / "account.toml").write_text(text)
        rows = [f"2024-01-{d:02d},{close + d}" for d in (2, 3, 4, 5)]
        (tmp_path / name / "prices" / "SPY.csv").write_text("Date,Close\n" + "\n".join(rows))
    pipeline = Pipeline()
    got = {}
    for name in ("a", "b"):
        monkeypatch.chdir(tmp_path / name)
        cfg = pipeline.account("account.toml")
        got[name] = pipeline.last_prices(cfg, ("SPY",))["SPY"]
    assert got == {"a": 105.0, "b": 205.0}
