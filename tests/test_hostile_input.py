"""Hostile input and environment faults, each through a real subprocess.

The simple one-file cases (NaN money, absurd shares, bad periods, deep TOML, ...) live in
the parametrised corpus of ``tests/test_bad_input_corpus.py``; this file holds the cases
that need a set-up of their own: FIFOs, read-only filesystems, a full disk, a ledger with a
history, what the written CSVs contain.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.csvout import csv_text, safe_cell
from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import make_accounts, query

BAD = ROOT / "tests" / "bad_input" / "rebalance"
PROPOSAL = ROOT / "examples" / "proposal" / "account.toml"
PIPELINE = "tests.jobs_support.pipeline:process_account"


def one_line(res: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def monthly(tmp: Path, *extra: str, orders: str = "orders") -> subprocess.CompletedProcess:
    return run_cli(
        "run-monthly", "--accounts", str(tmp / "accounts"), "--db", str(tmp / "ledger.db"),
        "--orders-dir", str(tmp / orders), "--period", "2026-01", "--processor", PIPELINE,
        "--format", "json", *extra, timeout=120,
    )  # fmt: skip


def rebalance(*extra: str, holdings: Path = BAD / "holdings.csv") -> list[str]:
    return ["rebalance", "--holdings", str(holdings), "--targets", str(BAD / "targets.csv"),
            "--prices", str(BAD / "prices.csv"), "--as-of", "2026-11-20", *extra]  # fmt: skip


# -- 1. money ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-5", "1e12000"])
def test_nan_infinite_or_absurd_deposit_is_a_bad_option_value(value, tmp_path):
    out = tmp_path / "orders.csv"
    res = run_cli(*rebalance("--deposit", value, "--out", str(out)))
    one_line(res, 2, "--deposit", repr(value))
    assert res.stdout == "" and not out.exists()


def test_largest_documented_deposit_still_plans_finite_whole_shares():
    res = run_cli(*rebalance("--account", "B2", "--deposit", "1e12", "--format", "json"))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    prices = {"SPY": 680.0, "IWM": 240.0, "BND": 73.5, "TLT": 88.0}
    held = 5 * 680.0 + 30 * 88.0 + 150.0  # B2's lots and cash in holdings.csv
    spent = sum(t["shares"] * prices[t["ticker"]] for t in doc["trades"] if t["side"] == "buy")
    # targets keep 2 % in cash: about 98 % of the new value is bought, never more than it all
    assert 0.97 * (1e12 + held) < spent <= 1e12 + held
    assert all(float(t["shares"]).is_integer() for t in doc["trades"])


# -- 4. FIFO -------------------------------------------------------------------------------
def test_fifo_named_like_an_input_is_refused_at_once(tmp_path):
    fifo = tmp_path / "holdings.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    res = run_cli(*rebalance(holdings=fifo), timeout=60)
    one_line(res, 3, str(fifo), "not a regular file")
    assert time.monotonic() - started < 30


def test_fifo_holdings_in_the_monthly_job_fails_that_account_and_releases_the_lock(tmp_path):
    make_accounts(tmp_path / "accounts", 3)
    fifo = tmp_path / "accounts" / "a001" / "holdings.csv"
    fifo.unlink()
    os.mkfifo(fifo)
    res = monthly(tmp_path)
    assert res.returncode == 10, res.stderr
    doc = json.loads(res.stdout)
    line = {a["account"]: a for a in doc["accounts"]}["a001"]
    assert line["status"] == "failed" and "not a regular file" in line["error"]
    db = tmp_path / "ledger.db"
    assert query(db, "select count(*) from run_locks") == [(0,)]
    assert sorted(a for (a,) in query(db, "select account from claims")) == ["a000", "a002"]


# -- 5. formula-safe CSVs ------------------------------------------------------------------
def test_safe_cell_quotes_formulas_and_keeps_numbers():
    assert [safe_cell(c) for c in ("=1+1", "+A1", "-2+3", "@SUM(A1)", "\tx", "\rx")] == [
        "'=1+1", "'+A1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx",
    ]  # fmt: skip
    assert [safe_cell(c) for c in (-10.5, "-10.5", "-1e-05", "+3", 7, "SPY", "")] == [
        -10.5, "-10.5", "-1e-05", "+3", 7, "SPY", "",
    ]  # fmt: skip
    rows = list(csv.reader(csv_text(["a", "b"], [[-10.5, "=cmd"]]).splitlines()))
    assert rows == [["a", "b"], ["-10.5", "'=cmd"]]


def test_rebalance_orders_csv_quotes_formula_cells(tmp_path):
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(
        "account,ticker,shares,cost_per_share,acquired,lot_id\n"
        'A1,SPY,400,420.5,2023-03-15,"=HYPERLINK(""http://x"",""y"")"\n'
        "A1,CASH,100,,,\n"
    )
    targets, prices = tmp_path / "targets.csv", tmp_path / "prices.csv"
    targets.write_text("ticker,weight\nSPY,0.5\n@SUM(1),0.5\n")
    prices.write_text("ticker,price\nSPY,680\n@SUM(1),10\n")
    out = tmp_path / "orders.csv"
    res = run_cli("rebalance", "--holdings", str(holdings), "--targets", str(targets),
                  "--prices", str(prices), "--as-of", "2026-11-20", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert {r["ticker"] for r in rows} == {"SPY", "'@SUM(1)"}
    sold = next(r for r in rows if r["ticker"] == "SPY")
    assert sold["lots"].startswith("'=HYPERLINK")
    for row in rows:  # numbers stay numbers
        assert float(row["shares"]) > 0 and float(row["est_price"]) > 0
    cells = [c for r in csv.reader(out.read_text().splitlines()[1:]) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]


def test_monthly_order_files_quote_formula_cells(tmp_path):
    make_accounts(tmp_path / "accounts", 1)
    config = tmp_path / "accounts" / "a000" / "account.toml"
    config.write_text('[targets]\nSPY = 0.5\n"=1+1" = 0.5\n')
    res = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "orders" / "2026-01" / "a000.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert "'=1+1" in {r["ticker"] for r in rows}
    assert all(_number(r["shares"]) for r in rows)


def test_every_csv_the_product_writes_goes_through_the_one_writer():
    """No module but optimizer/csvout.py builds CSV text (the data cache and the sample
    builder write only dates and numbers, with pandas)."""
    allowed = {"csvout.py", "cache.py", "build_sample.py"}
    pattern = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\w\.to_csv\(")
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "optimizer").rglob("*.py")
        if p.name not in allowed and pattern.search(p.read_text())
    ]
    assert offenders == []


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- 6 and 9. propose writes a set; environment faults --------------------------------------
def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_propose_failure_while_writing_leaves_the_previous_proposal_intact(tmp_path):
    out = tmp_path / "out"
    res = run_cli("propose", "--config", str(PROPOSAL), "--out", str(out))
    assert res.returncode == 0, res.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"proposal.json", "report.html", "orders.csv"}
    # a "full disk" for files above 20 kB: proposal.json (about 16 kB) can be written,
    # report.html (about 32 kB) cannot
    assert len(before["proposal.json"]) < 20_000 < len(before["report.html"])
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "propose", "--config", str(PROPOSAL),
         "--out", str(out), "--deposit", "5000"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        preexec_fn=_limit_file_size(20_000),
    )  # fmt: skip
    one_line(res, 3, str(out), "previous files are unchanged")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no staging left


def test_propose_out_under_a_file_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli("propose", "--config", str(PROPOSAL), "--out", str(blocker / "out"))
    one_line(res, 3, "cannot write the output folder")


def _unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _unshare_available(), reason="needs unshare -rm to mount a read-only filesystem"
)


def _in_read_only(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run capalloc with ``folder`` re-mounted read-only in a private mount namespace."""
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
    )
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "optimizer", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@needs_mounts
def test_propose_out_on_a_read_only_filesystem_is_a_config_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    res = _in_read_only(folder, "propose", "--config", str(PROPOSAL), "--out", str(folder))
    one_line(res, 3, str(folder), "Read-only file system")
    assert list(folder.iterdir()) == []


@needs_mounts
def test_monthly_job_on_a_read_only_orders_filesystem_records_nothing(tmp_path):
    make_accounts(tmp_path / "accounts", 2)
    orders = tmp_path / "orders"
    orders.mkdir()
    res = _in_read_only(
        orders, "run-monthly", "--accounts", str(tmp_path / "accounts"),
        "--db", str(tmp_path / "ledger.db"), "--orders-dir", str(orders),
        "--period", "2026-01", "--processor", PIPELINE,
    )  # fmt: skip
    one_line(res, 3, "--orders-dir", "cannot create the order folder", "read-only")
    assert not (tmp_path / "ledger.db").exists()  # refused before the ledger is made


@needs_mounts
def test_monthly_job_on_a_read_only_ledger_writes_nothing(tmp_path):
    # the ledger of an earlier period on a filesystem now read-only: refused before the
    # order folder is made
    make_accounts(tmp_path / "accounts", 2)
    (tmp_path / "db").mkdir()
    db = tmp_path / "db" / "ledger.db"
    assert monthly(tmp_path, "--db", str(db), "--period", "2025-12").returncode == 0
    res = _in_read_only(
        tmp_path / "db", "run-monthly", "--accounts", str(tmp_path / "accounts"),
        "--db", str(db), "--orders-dir", str(tmp_path / "orders"),
        "--period", "2026-01", "--processor", PIPELINE,
    )  # fmt: skip
    one_line(res, 9, "--db", "read-only")
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["2025-12"]


def test_orders_period_path_taken_by_a_file_records_nothing(tmp_path):
    make_accounts(tmp_path / "accounts", 2)
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "2026-01").write_text("not a folder")
    one_line(monthly(tmp_path), 3, "--orders-dir", "taken by a file")
    assert not (tmp_path / "ledger.db").exists()  # refused before the ledger is made


# -- 2. the orders folder of a done period --------------------------------------------------
def test_rerun_with_another_orders_dir_is_refused_and_nothing_moves(tmp_path):
    make_accounts(tmp_path / "accounts", 3)
    assert monthly(tmp_path).returncode == 0
    first = tmp_path / "orders" / "2026-01"
    files = {p.name: p.read_bytes() for p in first.iterdir()}
    assert len(files) == 3
    shutil.copytree(tmp_path / "orders", tmp_path / "moved")  # an operator moved them
    line = one_line(monthly(tmp_path, orders="moved"), 3, "--orders-dir", str(tmp_path / "orders"))
    assert "rerun with --orders-dir" in line
    assert {p.name: p.read_bytes() for p in first.iterdir()} == files
    assert {p.name: p.read_bytes() for p in (tmp_path / "moved" / "2026-01").iterdir()} == files
    db = tmp_path / "ledger.db"
    assert query(db, "select count(*) from runs") == [(1,)]
    # the recorded folder still works: everything skipped
    res = monthly(tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout)["metrics"]["n_skipped"] == 3


# -- 10. the ledger ------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"])
def test_in_memory_ledger_is_refused_in_one_line(tmp_path, url):
    make_accounts(tmp_path / "accounts", 1)
    res = run_cli("run-monthly", "--accounts", str(tmp_path / "accounts"), "--db", url,
                  "--orders-dir", str(tmp_path / "orders"), "--period", "2026-01")  # fmt: skip
    one_line(res, 9, "--db", "in-memory")
    assert not (tmp_path / "orders").exists()


def test_foreign_sqlite_file_is_refused_untouched(tmp_path):
    make_accounts(tmp_path / "accounts", 1)
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table customers (id integer primary key, name text)")
        conn.execute("insert into customers (name) values ('Ada')")
    before = db.read_bytes()
    res = monthly(tmp_path, "--db", str(db))
    one_line(res, 9, "not a capalloc ledger", "customers")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts", "crm.db"]


@pytest.mark.parametrize("table", ["orders", "runs"])
def test_sqlite_file_with_a_table_named_like_the_ledgers_is_refused_untouched(tmp_path, table):
    # another program's "orders" (or "runs") table: not ours without ledger_meta, so the
    # file is left byte for byte as it was (no migration, no journal-mode change)
    make_accounts(tmp_path / "accounts", 1)
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"create table {table} (id integer primary key, item text)")
        conn.execute(f"insert into {table} (item) values ('widget')")
    before = db.read_bytes()
    res = monthly(tmp_path, "--db", str(db))
    one_line(res, 9, "not a capalloc ledger", table)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts", "shop.db"]


def test_a_failed_ledger_setup_leaves_no_table_behind(tmp_path):
    # a file with the ledger's marker but a table in the way: the schema's creation fails
    # part way, and SQLite rolls all of it back (one transaction, DDL included)
    from optimizer.errors import LedgerError
    from optimizer.jobs.ledger import Ledger

    db = tmp_path / "half.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table ledger_meta (key text primary key, value text)")
        conn.execute("create table orders (id integer primary key, item text)")
    with pytest.raises(LedgerError, match="orders already exists"):
        Ledger.open(str(db))
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert tables == {"ledger_meta", "orders"}


@pytest.mark.parametrize("option", ["--accounts", "--orders-dir"])
def test_an_empty_folder_option_is_refused_not_read_as_the_current_folder(tmp_path, option):
    # an unset variable in a cron line: "--accounts $ACCOUNTS" with ACCOUNTS unset
    make_accounts(tmp_path / "accounts", 1)
    res = monthly(tmp_path, option, "")
    one_line(res, 2, option, "empty path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts"]


def test_a_folder_that_is_not_an_account_is_left_out(tmp_path):
    # lost+found (every ext4 mount point) or a notes folder: no account id, no account.toml
    make_accounts(tmp_path / "accounts", 2)
    (tmp_path / "accounts" / "lost+found").mkdir()
    (tmp_path / "accounts" / "Notes 2026").mkdir()
    res = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    assert (
        json.loads(res.stdout)["metrics"]["n_traded"]
        + json.loads(res.stdout)["metrics"]["n_no_trade"]
        == 2
    )
    # one holding an account.toml under a name that is not an id stops the run, named
    shutil.copy(
        tmp_path / "accounts" / "a000" / "account.toml", tmp_path / "accounts" / "Notes 2026"
    )
    res = monthly(tmp_path, "--period", "2026-02")
    one_line(res, 3, "Notes 2026", "invalid account id")


# -- 12. an [account] id that is not the folder's name --------------------------------------
def test_account_id_differing_from_its_folder_fails_that_account(tmp_path):
    make_accounts(tmp_path / "accounts", 2)
    config = tmp_path / "accounts" / "a001" / "account.toml"
    config.write_text('[account]\nid = "a000"\n' + config.read_text())
    res = monthly(tmp_path)
    assert res.returncode == 10, res.stderr
    line = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}["a001"]
    assert line["status"] == "failed"
    assert "account.id='a000'" in line["error"] and "folder name 'a001'" in line["error"]
    assert [a for (a,) in query(tmp_path / "ledger.db", "select account from claims")] == ["a000"]


def test_account_id_check_reads_a_file_that_starts_with_a_byte_order_mark(tmp_path):
    """The id check reads the file as the account's loading does (a byte-order mark is
    dropped), so a copied file saved with one is caught too."""
    make_accounts(tmp_path / "accounts", 2)
    config = tmp_path / "accounts" / "a001" / "account.toml"
    config.write_bytes(b"\xef\xbb\xbf" + ('[account]\nid = "a000"\n' + config.read_text()).encode())
    res = monthly(tmp_path)
    assert res.returncode == 10, res.stderr
    line = {a["account"]: a for a in json.loads(res.stdout)["accounts"]}["a001"]
    assert line["status"] == "failed"
    assert "account.id='a000'" in line["error"] and "folder name 'a001'" in line["error"]
