"""The runner in-process: progress reporting, worker death, failing worker preparation."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from optimizer.errors import ConfigError, LedgerError
from optimizer.jobs.accounts import discover_accounts
from optimizer.jobs.calendar import parse_period
from optimizer.jobs.ledger import Ledger
from optimizer.jobs.model import Period
from optimizer.jobs.runner import RunOptions, _Run, run_monthly
from tests.conftest import ROOT
from tests.jobs_support.accounts import make_accounts, query

PERIOD = parse_period("2026-01")


def options(tmp: Path, processor: str, **kw) -> RunOptions:
    return RunOptions(
        accounts_dir=tmp / "accounts",
        db=str(tmp / "ledger.db"),
        period=PERIOD,
        orders_dir=tmp / "orders",
        processor=f"tests.jobs_support.{processor}",
        **kw,
    )


def test_progress_reports_every_account_once(tmp_path):
    make_accounts(tmp_path / "accounts", 11, infeasible=(4,))
    starts, steps = [], []
    summary = run_monthly(
        options(tmp_path, "pipeline:process_account", chunk_size=3),
        on_start=starts.append,
        progress=steps.append,
    )
    assert starts == [11] and steps == [3, 3, 3, 2]
    assert summary.counts["n_traded"] == 10 and summary.counts["n_failed"] == 1
    again = run_monthly(options(tmp_path, "pipeline:process_account"), on_start=starts.append)
    assert starts[-1] == 1  # only the failed account is left to do
    assert again.counts["n_skipped"] == 10


def test_a_dying_worker_fails_its_accounts_not_the_run(tmp_path):
    make_accounts(tmp_path / "accounts", 8)
    summary = run_monthly(options(tmp_path, "pipeline:dies_on_a003", workers=2, chunk_size=2))
    lines = {line.account: line for line in summary.accounts}
    assert lines["a003"].status == "failed" and lines["a003"].error_kind == "WorkerDied"
    assert summary.counts["n_failed"] + summary.counts["n_traded"] == 8
    assert summary.status.value == "partial"
    recorded = query(tmp_path / "ledger.db", "select account, status from account_runs")
    assert len(recorded) == 8  # every account has a record, whichever way it went
    assert query(tmp_path / "ledger.db", "select count(*) from run_locks") == [(0,)]
    # the next run retries exactly the failed ones
    retry = run_monthly(options(tmp_path, "pipeline:process_account", workers=2))
    assert retry.counts["n_traded"] == summary.counts["n_failed"]
    assert retry.counts["n_skipped"] == summary.counts["n_traded"]


@pytest.mark.parametrize("workers", [1, 2])
def test_failing_worker_preparation_is_recorded_per_account(tmp_path, workers):
    make_accounts(tmp_path / "accounts", 3)
    summary = run_monthly(options(tmp_path, "broken_prepare:process_account", workers=workers))
    assert summary.counts["n_failed"] == 3
    errors = {line.error for line in summary.accounts}
    assert errors == {"worker preparation failed: OSError: compiled problem cache is unreadable"}


def test_bad_pipeline_name_fails_before_touching_the_ledger(tmp_path):
    make_accounts(tmp_path / "accounts", 1)
    with pytest.raises(ConfigError, match="no such function"):
        run_monthly(options(tmp_path, "pipeline:no_such_function"))
    assert not (tmp_path / "ledger.db").exists()


def test_default_chunks_move_the_progress_in_small_steps(tmp_path):
    make_accounts(tmp_path / "accounts", 64)
    starts, steps = [], []
    run_monthly(options(tmp_path, "pipeline:process_account", workers=2),
                on_start=starts.append, progress=steps.append)  # fmt: skip
    # 64 accounts over 2 workers: 32 chunks of 2 (16 per worker), each a step of the bar
    assert starts == [64] and sum(steps) == 64 and len(steps) == 32


def test_unreadable_inputs_fail_in_the_worker_with_their_reason(tmp_path):
    make_accounts(tmp_path / "accounts", 4)
    (tmp_path / "accounts" / "a002" / "holdings.csv").unlink()
    (tmp_path / "accounts" / "a002" / "holdings.csv").mkdir()  # not a regular file
    summary = run_monthly(options(tmp_path, "pipeline:process_account", workers=2))
    line = {a.account: a for a in summary.accounts}["a002"]
    assert line.status == "failed" and line.error_kind == "ConfigError"
    assert "holdings.csv" in line.error
    rows = query(tmp_path / "ledger.db", "select account, inputs_hash from account_runs "
                 "order by account")  # fmt: skip
    assert [a for a, h in rows if h is None] == ["a002"]
    assert all(len(h) == 64 for a, h in rows if a != "a002")


def test_a_recorded_period_keeps_the_rebalance_date_of_its_first_run(tmp_path):
    """The retry of a failed account trades on the date the period was first recorded
    with, whatever the calendar says now (a later calendar release may add a holiday);
    a caller's different date is refused before anything is written."""
    make_accounts(tmp_path / "accounts", 3, infeasible=(1,))
    first = run_monthly(options(tmp_path, "pipeline:process_account"))
    assert first.period.rebalance_date == dt.date(2026, 1, 2)
    assert first.counts["n_failed"] == 1
    with sqlite3.connect(tmp_path / "ledger.db") as conn:  # as if recorded by another calendar
        conn.execute("update runs set rebalance_date = '2026-01-05'")
    lazy = parse_period("2026-01", look_up=False)
    again = run_monthly(replace(options(tmp_path, "pipeline:process_account"), period=lazy))
    assert again.period.rebalance_date == dt.date(2026, 1, 5)
    assert again.counts["n_skipped"] == 2 and again.counts["n_failed"] == 1
    assert "rebalance_date" not in vars(lazy)  # the calendar was not consulted
    dates = query(tmp_path / "ledger.db", "select rebalance_date from runs order by id")
    assert dates == [("2026-01-05",), ("2026-01-05",)]
    given = Period(2026, 1, known_date=dt.date(2026, 1, 2))
    with pytest.raises(ConfigError, match="recorded with rebalance date 2026-01-05"):
        run_monthly(replace(options(tmp_path, "pipeline:process_account"), period=given))
    assert query(tmp_path / "ledger.db", "select count(*) from runs") == [(2,)]
    # dated before the ledger said otherwise (it was busy, or another run recorded the
    # period meanwhile): refused before the run is recorded
    ledger = Ledger.open(str(tmp_path / "ledger.db"))
    try:
        run = _Run(replace(options(tmp_path, "pipeline:process_account"), period=given), ledger,
                   discover_accounts(tmp_path / "accounts"))  # fmt: skip
        with pytest.raises(ConfigError, match="this run dated it otherwise"):
            run.execute(lambda n: None, lambda n: None)
    finally:
        ledger.close()
    assert query(tmp_path / "ledger.db", "select count(*) from runs") == [(2,)]
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("update runs set rebalance_date = 'Jan 5'")
    with pytest.raises(LedgerError, match=r"rebalance_date='Jan 5': run of period 2026-01"):
        run_monthly(options(tmp_path, "pipeline:process_account"))
    assert query(tmp_path / "ledger.db", "select count(*) from runs") == [(2,)]


def test_a_rerun_of_a_done_period_loads_no_calendar_and_no_numerics(tmp_path):
    """Every account done: the rerun hashes inputs and reads the ledger only (pandas,
    numpy and the exchange calendar are what made it slow to start)."""
    make_accounts(tmp_path / "accounts", 4)
    run_monthly(options(tmp_path, "pipeline:process_account"))
    code = (
        "import sys\n"
        "from optimizer.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "heavy = ('pandas', 'numpy', 'exchange_calendars', 'scipy', 'cvxpy')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    argv = ["run-monthly", "--accounts", str(tmp_path / "accounts"), "--db",
            str(tmp_path / "ledger.db"), "--orders-dir", str(tmp_path / "orders"),
            "--period", "2026-01", "--format", "json"]  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert '"n_skipped": 4' in res.stdout
    assert res.stderr.strip().splitlines()[-1] == "[]"
