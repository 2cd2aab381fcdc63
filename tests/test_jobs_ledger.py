"""The ledger on a real SQLite file and a real PostgreSQL database (when a server is given,
tests/jobs_support/backends.py): schema, claims, the period lock, errors."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from optimizer.errors import LedgerError
from optimizer.jobs import schema as s
from optimizer.jobs.calendar import parse_period
from optimizer.jobs.ledger import Ledger
from optimizer.jobs.liveness import LockHolder, is_stale, process_start_token, utcnow
from optimizer.jobs.model import AccountOutcome, AccountResult, OutcomeStatus
from optimizer.jobs.records import Attempt, AttemptStatus
from tests.jobs_support.accounts import query
from tests.jobs_support.backends import BACKENDS, ledger_url, use_backend

PERIOD = parse_period("2026-01")


def traded(account: str, n: int = 2) -> Attempt:
    orders = [
        {"ticker": f"T{i}", "side": "buy", "shares": i + 1, "est_price": 10.5} for i in range(n)
    ]
    outcome = AccountOutcome(OutcomeStatus.TRADED, orders=orders, allocation={"T0": 1.0})
    return Attempt(account, "h" * 64, AttemptStatus.TRADED, AccountResult(account, outcome))


def failed(account: str) -> Attempt:
    result = AccountResult(account, None, "InfeasibleError", "no portfolio")
    return Attempt(account, "h" * 64, AttemptStatus.FAILED, result)


def new_run(ledger: Ledger, tmp_path) -> int:
    return ledger.start_run(
        PERIOD, dry_run=False, processor="t:t", orders_dir=tmp_path, n_accounts=3
    )


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    """The test's ledger.db, or (second run) its PostgreSQL database (``url(db)``)."""
    for _ in use_backend(request.param, tmp_path):
        yield tmp_path / "ledger.db"


def url(db) -> str:
    return ledger_url(db.parent)


def test_chunk_is_recorded_in_one_transaction(db, tmp_path):
    ledger = Ledger.open(url(db))
    run = new_run(ledger, tmp_path)
    ledger.acquire_lock(PERIOD, run)
    ledger.record(run, PERIOD, [traded("a"), failed("b"), traded("c", 3)])
    assert query(db, "select account, status, n_orders from claims order by account") == [
        ("a", "traded", 2),
        ("c", "traded", 3),
    ]
    assert query(db, "select count(*) from orders") == [(5,)]
    assert query(db, "select account, status, error_kind from account_runs order by account") == [
        ("a", "traded", None),
        ("b", "failed", "InfeasibleError"),
        ("c", "traded", None),
    ]
    assert [o.shares for o in ledger.orders_of(PERIOD, "c")] == [1.0, 2.0, 3.0]
    assert set(ledger.claims(PERIOD)) == {"a", "c"}
    # the bulk path stores timestamps exactly as SQLAlchemy's own DateTime reads them back
    from sqlalchemy import select

    with ledger.engine.connect() as conn:
        stamps = conn.execute(select(s.account_runs.c.recorded)).scalars().all()
        started = conn.execute(select(s.runs.c.started)).scalar_one()
    assert len(set(stamps)) == 1 and isinstance(stamps[0], dt.datetime)
    assert dt.timedelta(0) <= stamps[0] - started < dt.timedelta(minutes=5)


def test_a_second_final_outcome_for_an_account_is_refused_and_rolls_back(db, tmp_path):
    first, second = Ledger.open(url(db)), Ledger.open(url(db))  # two connections
    run1 = new_run(first, tmp_path)
    first.acquire_lock(PERIOD, run1)
    first.record(run1, PERIOD, [traded("a")])
    # even if the lock were wrongly taken over, the claim's key stops a second set of orders
    with first.engine.begin() as conn:
        conn.execute(s.run_locks.delete())
    run2 = new_run(second, tmp_path)
    second.acquire_lock(PERIOD, run2)
    with pytest.raises(LedgerError, match="already recorded"):
        second.record(run2, PERIOD, [traded("z"), traded("a")])
    assert query(db, "select account, run_id from claims") == [("a", run1)]
    assert query(db, "select count(*) from orders") == [(2,)]
    assert query(db, "select count(*) from account_runs where run_id = ?", run2) == [(0,)]


def test_live_lock_blocks_a_second_run(db, tmp_path):
    ledger = Ledger.open(url(db))
    run1, run2 = new_run(ledger, tmp_path), new_run(ledger, tmp_path)
    assert ledger.acquire_lock(PERIOD, run1) is None
    with pytest.raises(LedgerError, match=f"being run by run {run1}") as info:
        ledger.acquire_lock(PERIOD, run2)
    assert "\n" not in str(info.value)
    with pytest.raises(LedgerError, match="no longer holds"):
        ledger.record(run2, PERIOD, [traded("a")])
    assert query(db, "select count(*) from claims") == [(0,)]


def test_lock_of_a_dead_process_is_taken_over(db, tmp_path):
    ledger = Ledger.open(url(db))
    run1, run2 = new_run(ledger, tmp_path), new_run(ledger, tmp_path)
    ledger.acquire_lock(PERIOD, run1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(s.run_locks.update().values(pid=int(dead.stdout), proc_start=""))
    assert ledger.acquire_lock(PERIOD, run2) == run1
    assert query(db, "select run_id from run_locks") == [(run2,)]
    assert query(db, "select status from runs where id = ?", run1) == [("crashed",)]
    ledger.record(run2, PERIOD, [traded("a")])


def test_other_host_lock_expires_by_heartbeat(db, tmp_path):
    ledger = Ledger.open(url(db))
    run1, run2 = new_run(ledger, tmp_path), new_run(ledger, tmp_path)
    ledger.acquire_lock(PERIOD, run1)
    with ledger.engine.begin() as conn:
        conn.execute(s.run_locks.update().values(host="elsewhere", heartbeat=utcnow()))
    with pytest.raises(LedgerError, match="being run"):
        ledger.acquire_lock(PERIOD, run2, stale_after=dt.timedelta(minutes=5))
    old = utcnow() - dt.timedelta(minutes=6)
    with ledger.engine.begin() as conn:
        conn.execute(s.run_locks.update().values(heartbeat=old))
    assert ledger.acquire_lock(PERIOD, run2, stale_after=dt.timedelta(minutes=5)) == run1


def test_pid_reuse_does_not_keep_a_lock_alive():
    import os
    import socket

    me = LockHolder(1, socket.gethostname(), os.getpid(), "not-my-start-time", utcnow())
    assert is_stale(me, dt.timedelta(hours=1))
    alive = LockHolder(
        1, socket.gethostname(), os.getpid(), process_start_token(os.getpid()), utcnow()
    )
    assert not is_stale(alive, dt.timedelta(seconds=0))


def test_finish_releases_the_lock_and_records_counts(db, tmp_path):
    from optimizer.jobs.ledger import RunStatus

    ledger = Ledger.open(url(db))
    run = new_run(ledger, tmp_path)
    ledger.acquire_lock(PERIOD, run)
    ledger.finish_run(run, PERIOD, RunStatus.PARTIAL, {"n_failed": 1, "n_traded": 2}, "")
    assert query(db, "select count(*) from run_locks") == [(0,)]
    assert query(db, "select status, n_failed, n_traded from runs") == [("partial", 1, 2)]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: str(p / "missing-folder" / "x.db"),
        lambda p: (p / "junk.db").write_bytes(b"this is not sqlite" * 100) and str(p / "junk.db"),
        lambda p: "nosuchdialect://host/db",
        lambda p: "sqlite:///" + str(p),  # a folder
    ],
)
def test_unusable_database_is_one_ledger_error(tmp_path, make):
    with pytest.raises(LedgerError) as info:
        Ledger.open(make(tmp_path))
    assert "--db" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+nosuchdriver://admin:hunter2@db.example/ledger",
        "weird://admin:hunter2@",
        "postgresql://admin@127.0.0.1:1/ledger?password=hunter2&connect_timeout=1",
        "postgresql://admin@127.0.0.1:1/ledger?sslmode=require&sslpassword=hunter2",
        "weird://admin@host/x?password=hunter2",
    ],
)
def test_database_password_is_never_echoed(url):
    with pytest.raises(LedgerError) as info:
        Ledger.open(url)
    assert "hunter2" not in str(info.value)
    assert "--db" in str(info.value)


def test_schema_version_mismatch_is_refused(tmp_path):
    db = tmp_path / "ledger.db"
    Ledger.open(str(db))
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("update ledger_meta set value = '99' where key = 'schema'")
    with pytest.raises(LedgerError, match="schema version 99"):
        Ledger.open(str(db))
