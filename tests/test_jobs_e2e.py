"""``capalloc run-monthly`` end to end, in real subprocesses, on a real SQLite ledger and,
when a server is given (tests/jobs_support/backends.py), a real PostgreSQL one.

The pipeline is the deterministic test pipeline in ``tests/jobs_support`` (selected with
``--processor``), so these tests exercise the runner, the ledger and the order files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import expected_orders, make_accounts, query, read_order_file
from tests.jobs_support.backends import BACKENDS, ledger_url, use_backend

PIPELINE = "tests.jobs_support.pipeline:process_account"


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request, tmp_path):
    """Every test here runs on SQLite and on PostgreSQL."""
    yield from use_backend(request.param, tmp_path)


def args(tmp: Path, *extra: str, processor: str = PIPELINE) -> list[str]:
    return ["run-monthly", "--accounts", str(tmp / "accounts"), "--db", ledger_url(tmp),
            "--orders-dir", str(tmp / "orders"), "--period", "2026-01", "--processor", processor,
            "--format", "json", *extra]  # fmt: skip


def monthly(tmp: Path, *extra: str, env: dict | None = None, processor: str = PIPELINE):
    res = run_cli(*args(tmp, *extra, processor=processor), env=env, timeout=120)
    doc = json.loads(res.stdout) if res.stdout.strip() else None
    return res, doc


def order_files(tmp: Path) -> dict[str, bytes]:
    folder = tmp / "orders" / "2026-01"
    return {p.stem: p.read_bytes() for p in folder.glob("*.csv")} if folder.is_dir() else {}


def check_files_match_inputs_and_ledger(tmp: Path) -> None:
    """Every visible order file is complete, recorded, and equal to the expected orders."""
    db = tmp / "ledger.db"
    claimed = dict(query(db, "select account, n_orders from claims where period = '2026-01'"))
    for account in order_files(tmp):
        assert account in claimed, f"order file {account}.csv has no ledger claim"
        rows = read_order_file(tmp / "orders" / "2026-01" / f"{account}.csv")
        expected = expected_orders(tmp / "accounts", account)
        assert [(r["ticker"], r["side"], float(r["shares"])) for r in rows] == [
            (o["ticker"], o["side"], float(o["shares"])) for o in expected
        ]
        recorded = query(db, "select ticker, side, shares from orders where account = ? "
                         "and period = '2026-01' order by seq", account)  # fmt: skip
        assert recorded == [(r["ticker"], r["side"], float(r["shares"])) for r in rows]
    for account, n_orders in claimed.items():
        assert query(db, "select count(*) from orders where account = ?", account) == [(n_orders,)]
    assert query(db, "select count(*) from orders o left join claims c on o.account = c.account "
                 "and o.period = c.period where c.account is null") == [(0,)]  # fmt: skip


def counts(db: Path) -> tuple:
    return tuple(query(db, f"select count(*) from {t}")[0][0]
                 for t in ("claims", "orders", "account_runs"))  # fmt: skip


def test_run_then_rerun_creates_nothing_new(tmp_path):
    ids = make_accounts(tmp_path / "accounts", 6, no_trade=(2,))
    res, doc = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_traded"] == 5 and doc["metrics"]["n_no_trade"] == 1
    assert doc["rebalance_date"] == "2026-01-02"
    assert sorted(order_files(tmp_path)) == [i for i in ids if i != "a002"]
    check_files_match_inputs_and_ledger(tmp_path)
    db = tmp_path / "ledger.db"
    before, files = counts(db), order_files(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "orders" / "2026-01").iterdir()}

    res, doc = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_skipped"] == 6 and doc["metrics"]["n_traded"] == 0
    assert counts(db) == before
    assert order_files(tmp_path) == files
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "orders" / "2026-01").iterdir()} == mtimes
    assert query(db, "select status from runs order by id") == [("succeeded",), ("succeeded",)]

    table = run_cli(*[a for a in args(tmp_path) if a not in ("--format", "json")])
    assert table.returncode == 0 and "skipped: already done" in table.stdout


def test_failing_accounts_are_recorded_and_the_others_go_through(tmp_path):
    make_accounts(tmp_path / "accounts", 5, infeasible=(1,), bad_holdings=(3,))
    res, doc = monthly(tmp_path)
    assert res.returncode == 10
    lines = res.stderr.strip().splitlines()
    warned = [f"capalloc: warning: {w}" for w in doc["warnings"]]
    assert lines[:-1] == warned  # the document's warnings, then the one error line
    assert lines[-1].startswith("capalloc: partial failure: 2 of 5")
    assert doc["metrics"]["n_failed"] == 2 and doc["metrics"]["n_traded"] == 3
    db = tmp_path / "ledger.db"
    failures = query(db, "select account, error_kind, error from account_runs "
                     "where status = 'failed' order by account")  # fmt: skip
    assert [f[:2] for f in failures] == [("a001", "InfeasibleError"), ("a003", "ConfigError")]
    assert "a003/holdings.csv:3: shares='x'" in failures[1][2]
    assert sorted(order_files(tmp_path)) == ["a000", "a002", "a004"]
    check_files_match_inputs_and_ledger(tmp_path)
    assert query(db, "select status, n_failed from runs") == [("partial", 2)]

    holdings = tmp_path / "accounts" / "a003" / "holdings.csv"
    holdings.write_text(holdings.read_text().replace("IWM,x", "IWM,5"))
    res, doc = monthly(tmp_path)
    assert res.returncode == 10  # a001 is still infeasible
    assert doc["metrics"] == {**doc["metrics"], "n_traded": 1, "n_failed": 1, "n_skipped": 3}
    assert sorted(order_files(tmp_path)) == ["a000", "a002", "a003", "a004"]
    check_files_match_inputs_and_ledger(tmp_path)


def test_configured_fallback_keeps_holdings_and_is_recorded(tmp_path):
    make_accounts(tmp_path / "accounts", 3, infeasible=(0,))
    res, doc = monthly(tmp_path, "--fallback", "keep-holdings")
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_fallback"] == 1 and doc["metrics"]["n_failed"] == 0
    db = tmp_path / "ledger.db"
    row = query(db, "select status, fallback from account_runs where account = 'a000'")
    assert row[0][0] == "fallback" and row[0][1].startswith("InfeasibleError:")
    assert query(db, "select status, n_orders from claims where account = 'a000'") == [
        ("fallback", 0)
    ]
    assert query(db, "select n_fallback, status from runs") == [(1, "succeeded")]
    assert sorted(order_files(tmp_path)) == ["a001", "a002"]
    # the summary says why it kept its holdings, as the ledger does (it was blank)
    line = next(a for a in doc["accounts"] if a["account"] == "a000")
    assert line["status"] == "fallback" and line["error_kind"] == "InfeasibleError"
    assert line["error"] and row[0][1] == f"InfeasibleError: {line['error']}"


def test_changed_inputs_after_done_are_reported_not_retraded(tmp_path):
    make_accounts(tmp_path / "accounts", 3)
    assert monthly(tmp_path)[0].returncode == 0
    db, files = tmp_path / "ledger.db", order_files(tmp_path)
    before = query(db, "select count(*) from orders")
    holdings = tmp_path / "accounts" / "a001" / "holdings.csv"
    holdings.write_text(holdings.read_text().replace("SPY,11", "SPY,40"))
    res, doc = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_changed"] == 1 and doc["metrics"]["n_skipped"] == 2
    line = next(a for a in doc["accounts"] if a["account"] == "a001")
    assert line["status"] == "changed-after-done" and "not re-traded" in line["error"]
    assert query(db, "select count(*) from orders") == before
    assert order_files(tmp_path) == files
    (tmp_path / "accounts" / "a002" / "holdings.csv").unlink()  # done, then inputs gone
    res, doc = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    line = next(a for a in doc["accounts"] if a["account"] == "a002")
    assert line["status"] == "changed-after-done" and "file not found" in line["error"]
    assert order_files(tmp_path) == files


def test_dry_run_writes_nothing_not_even_the_ledger_file(tmp_path):
    make_accounts(tmp_path / "accounts", 4, infeasible=(2,))
    res, doc = monthly(tmp_path, "--dry-run")
    assert res.returncode == 10  # the failure is still reported
    assert "dry run: nothing recorded" in res.stderr and "ledger" not in res.stderr
    assert doc["dry_run"] is True and doc["metrics"]["n_traded"] == 3
    assert doc["run_id"] is None
    db = tmp_path / "ledger.db"
    assert not db.exists() and not (tmp_path / "orders").exists()
    res, doc = monthly(tmp_path)
    assert doc["metrics"]["n_traded"] == 3 and len(order_files(tmp_path)) == 3


def test_workers_prepare_once_each_and_reuse_it(tmp_path):
    make_accounts(tmp_path / "accounts", 40)
    res, doc = monthly(tmp_path, "--workers", "2", "--chunk-size", "4")
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_traded"] == 40
    rows = query(tmp_path / "ledger.db", "select provenance_json from account_runs")
    tokens = [json.loads(p)["worker"] for (p,) in rows]
    assert len(tokens) == 40 and 1 <= len(set(tokens)) <= 2
    check_files_match_inputs_and_ledger(tmp_path)


def test_pipeline_bug_in_one_account_does_not_stop_the_run(tmp_path):
    make_accounts(tmp_path / "accounts", 2)
    res, doc = monthly(tmp_path, processor="tests.jobs_support.pipeline:broken")
    assert res.returncode == 10
    assert [a["error_kind"] for a in doc["accounts"]] == ["InternalError", "InternalError"]
    assert "RuntimeError: boom" in doc["accounts"][0]["error"]


@pytest.mark.parametrize(
    ("extra", "code", "needle"),
    [
        (("--period", "2026-13"), 2, "'2026-13' is not a month as YYYY-MM"),
        (("--period", "2017/04"), 2, "'2017/04' is not a month as YYYY-MM"),
        (("--period", "1700-01"), 3, "--period='1700-01': period before 1990-01"),
        (("--period", "2999-01"), 3, "period after the current month"),
        (("--processor", "no_such_module:f"), 3, "--processor='no_such_module:f'"),
        (("--processor", "tests.jobs_support.pipeline"), 3, "expected MODULE:FUNCTION"),
        (("--db", "/nonexistent-folder/ledger.db"), 9, "database folder does not exist"),
        (("--db", "JUNK"), 9, "ledger database failed"),
    ],
)
def test_bad_input_is_one_line_and_a_documented_exit_code(tmp_path, extra, code, needle):
    make_accounts(tmp_path / "accounts", 2)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 50)
    extra = tuple(str(tmp_path / "junk.db") if e == "JUNK" else e for e in extra)
    res = run_cli(*args(tmp_path), *extra)
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert order_files(tmp_path) == {}


def _popen(tmp: Path, *extra: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "optimizer", *args(tmp, *extra)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )


def _wait_for_claims(proc: subprocess.Popen, db: Path, n: int) -> None:
    """Until the run has committed ``n`` claims (or ended, or a minute has passed)."""
    deadline = time.monotonic() + 60
    while _claims(db) < n and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)


def _claims(db: Path) -> int:
    try:
        return query(db, "select count(*) from claims")[0][0]
    except Exception:  # the schema may not exist yet
        return 0


def test_sigkill_mid_batch_leaves_no_partial_file_and_the_next_run_finishes(tmp_path):
    n = 30
    make_accounts(tmp_path / "accounts", n)
    db = tmp_path / "ledger.db"
    proc = _popen(tmp_path, "--workers", "2", "--chunk-size", "3",
                  env={"CAPALLOC_TEST_SLEEP": "0.2"})  # fmt: skip
    _wait_for_claims(proc, db, 6)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {a for (a,) in query(db, "select account from claims")}
    assert 6 <= len(done_before) < n, "the kill must land in the middle of the batch"
    # no partial file: every visible order file is complete and recorded
    check_files_match_inputs_and_ledger(tmp_path)
    assert query(db, "select status from runs") == [("running",)]
    assert query(db, "select count(*) from run_locks") == [(1,)]  # held by the dead run

    res, doc = monthly(tmp_path, "--workers", "2", "--chunk-size", "3")
    assert res.returncode == 0, res.stderr
    assert doc["taken_over"] == 1
    assert doc["metrics"]["n_skipped"] == len(done_before)
    assert doc["metrics"]["n_traded"] == n - len(done_before)
    second = {a for (a,) in query(db, "select account from account_runs where run_id = 2")}
    assert second == {f"a{i:03d}" for i in range(n)} - done_before  # the remaining ones only
    assert query(db, "select id, status from runs") == [(1, "crashed"), (2, "succeeded")]
    assert len(order_files(tmp_path)) == n
    assert not [p for p in (tmp_path / "orders" / "2026-01").iterdir() if p.suffix != ".csv"]
    check_files_match_inputs_and_ledger(tmp_path)
    assert query(db, "select count(*) from run_locks") == [(0,)]


def test_two_concurrent_runs_produce_exactly_one_set_of_orders(tmp_path):
    n = 12
    make_accounts(tmp_path / "accounts", n)
    env = {"CAPALLOC_TEST_SLEEP": "0.05"}
    procs = [_popen(tmp_path, "--chunk-size", "3", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 9]), outs
    if codes == [0, 9]:
        loser = outs[[p.returncode for p in procs].index(9)][1]
        assert "is being run by run" in loser and len(loser.strip().splitlines()) == 1
    db = tmp_path / "ledger.db"
    assert query(db, "select count(*), count(distinct account) from claims") == [(n, n)]
    assert query(db, "select count(*) from account_runs where status = 'traded'") == [(n,)]
    assert query(db, "select count(*) from (select account, seq from orders "
                 "group by account, seq having count(*) > 1) as dup") == [(0,)]  # fmt: skip
    assert len(order_files(tmp_path)) == n
    check_files_match_inputs_and_ledger(tmp_path)


def test_progress_bar_on_a_terminal_only(tmp_path):
    import pty

    make_accounts(tmp_path / "accounts", 6)
    table_args = [a for a in args(tmp_path, "--chunk-size", "2") if a not in ("--format", "json")]
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", *table_args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, text=True,
                            env={**os.environ, "CAPALLOC_TEST_SLEEP": "0.05"})  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # read the terminal while the run writes to it
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                return
            if not data:
                return
            chunks.append(data)

    import threading

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = proc.communicate(timeout=120)
    reader.join(timeout=30)
    os.close(master)
    stderr = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, stderr
    assert "accounts" in stderr and "/6" in stderr  # rich's "n/6" counter, drawn on stderr
    assert "/6" not in stdout  # the summary table alone on stdout
    # not a terminal (the other tests): nothing but errors on stderr
    res, _ = monthly(tmp_path)
    assert res.stderr == ""


def test_sigterm_stops_cleanly_and_releases_the_lock(tmp_path):
    n = 20
    make_accounts(tmp_path / "accounts", n)
    db = tmp_path / "ledger.db"
    proc = _popen(tmp_path, "--chunk-size", "2", env={"CAPALLOC_TEST_SLEEP": "0.1"})
    _wait_for_claims(proc, db, 4)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["capalloc: aborted"]
    assert query(db, "select status, message from runs") == [("failed", "stopped: SIGTERM")]
    assert query(db, "select count(*) from run_locks") == [(0,)]
    check_files_match_inputs_and_ledger(tmp_path)
    done = _claims(db)
    assert 4 <= done < n

    res, doc = monthly(tmp_path)
    assert res.returncode == 0, res.stderr
    assert doc["taken_over"] is None  # nothing stale to take over
    assert doc["metrics"]["n_skipped"] == done and doc["metrics"]["n_traded"] == n - done
    check_files_match_inputs_and_ledger(tmp_path)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_ctrl_c_that_reaches_a_worker_alone_changes_nothing(tmp_path):
    """The workers leave Ctrl-C and SIGTERM to the runner (a worker stopped mid-chunk broke
    the pool: worker tracebacks, an internal error, once a pool that never shut down):
    a worker that gets one goes on, and the run finishes every account."""
    n = 24
    make_accounts(tmp_path / "accounts", n)
    db = tmp_path / "ledger.db"
    proc = _popen(tmp_path, "--chunk-size", "2", "--workers", "2",
                  env={"CAPALLOC_TEST_SLEEP": "0.1"})  # fmt: skip
    _wait_for_claims(proc, db, 2)
    workers = _children(proc.pid)
    assert workers, "no worker processes seen"
    for pid in workers:
        for sig in (signal.SIGINT, signal.SIGTERM):
            os.kill(pid, sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert all(line.startswith("capalloc: warning: ") for line in stderr.splitlines()), stderr
    assert json.loads(stdout)["metrics"]["n_traded"] == n
    check_files_match_inputs_and_ledger(tmp_path)


def test_accounts_table_lists_every_account_with_its_outcome(tmp_path):
    ids = make_accounts(tmp_path / "accounts", 5, infeasible=(1,), no_trade=(2,))
    cmd = [a for a in args(tmp_path, "--accounts-table") if a not in ("--format", "json")]
    res = run_cli(*cmd, env={"COLUMNS": "160"}, timeout=120)
    assert res.returncode == 10, res.stderr
    lines = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("│ ").split("│")] for line in res.stdout.splitlines()
        if line.startswith("│ a0") and line.count("│") == 6)}  # fmt: skip
    assert sorted(lines) == ids
    for account in ids:
        status = {"a001": "failed", "a002": "no-trade"}.get(account, "traded")
        n = 0 if status != "traded" else len(expected_orders(tmp_path / "accounts", account))
        assert lines[account][1:3] == [status, str(n)], lines[account]
    assert lines["a001"][3] == "InfeasibleError"
    plain = run_cli(*[a for a in cmd if a != "--accounts-table"], env={"COLUMNS": "160"})
    assert "│ a000" not in plain.stdout  # only on request
