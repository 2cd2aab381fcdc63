"""``run-monthly --dask``: the pipeline on a Dask cluster gives what the local worker pool
gives, byte for byte, with the same exactly-once ledger, on SQLite and PostgreSQL.

The runs are real ``capalloc`` subprocesses starting a real ``LocalCluster`` (worker
processes), or connecting to a scheduler this test starts on the loopback address.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.jobs_support.accounts import make_accounts, query
from tests.jobs_support.backends import BACKENDS, ledger_url, use_backend

pytest.importorskip("distributed")

PIPELINE = "tests.jobs_support.pipeline:process_account"
PERIOD = "2026-01"


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    yield from use_backend(request.param, tmp_path)


def monthly(tmp: Path, accounts: Path, *extra: str, env: dict | None = None,
            processor: str = PIPELINE):  # fmt: skip
    res = run_cli("run-monthly", "--accounts", str(accounts), "--db", ledger_url(tmp),
                  "--orders-dir", str(tmp / "orders"), "--period", PERIOD, "--processor",
                  processor, "--format", "json", *extra, env=env, timeout=240)  # fmt: skip
    return res, (json.loads(res.stdout) if res.stdout.strip() else None)


def order_files(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (tmp / "orders" / PERIOD).glob("*.csv")}


def ledger_state(tmp: Path) -> tuple[list, list, list]:
    """Claims, orders and attempts, without run ids, paths and timings."""
    db = tmp / "ledger.db"
    claims = query(db, "select account, status, inputs_hash, n_orders, orders_path from claims "
                   "order by account")  # fmt: skip
    claims = [(*c[:4], Path(c[4]).name if c[4] else None) for c in claims]
    orders = query(db, "select account, seq, ticker, side, shares, est_price, notional, est_cost,"
                   " reason, extra_json from orders order by account, seq")  # fmt: skip
    attempts = query(db, "select account, status, error_kind, allocation_json from account_runs "
                     "order by account")  # fmt: skip
    return claims, orders, attempts


def test_local_cluster_matches_the_worker_pool(tmp_path, backend):
    accounts = tmp_path / "accounts"
    ids = make_accounts(accounts, 24, infeasible=(5,), no_trade=(2, 9))
    pool, dask = tmp_path / "pool", tmp_path  # the reference on SQLite; Dask on `backend`
    pool.mkdir()
    res_pool, doc_pool = monthly(pool, accounts, "--workers", "2", "--chunk-size", "5")
    res_dask, doc_dask = monthly(dask, accounts, "--dask", "local:2", "--chunk-size", "5")
    assert res_pool.returncode == res_dask.returncode == 10, (res_pool.stderr, res_dask.stderr)
    assert doc_dask["metrics"] == doc_pool["metrics"]
    assert doc_dask["metrics"]["n_traded"] == 21 and doc_dask["metrics"]["n_failed"] == 1
    files = order_files(dask)
    assert len(files) == 21 and files == order_files(pool)
    assert ledger_state(dask) == ledger_state(pool)
    assert [a["account"] for a in doc_dask["accounts"]] == ids
    assert "Traceback" not in res_dask.stderr


def test_a_worker_killed_mid_chunk_is_retried_without_duplicates(tmp_path, backend):
    accounts = tmp_path / "accounts"
    make_accounts(accounts, 15)
    marker = tmp_path / "died"
    res, doc = monthly(tmp_path, accounts, "--dask", "local:2", "--chunk-size", "3",
                       env={"CAPALLOC_TEST_DIE_ONCE": str(marker)},
                       processor="tests.jobs_support.pipeline:dies_once_on_a003")  # fmt: skip
    assert marker.exists(), "the worker never died: the test tested nothing"
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_traded"] == 15 and doc["metrics"]["n_failed"] == 0
    db = tmp_path / "ledger.db"
    assert query(db, "select count(*), count(distinct account) from account_runs") == [(15, 15)]
    assert query(db, "select count(*) from claims") == [(15,)]
    assert len(order_files(tmp_path)) == 15
    per_account = query(db, "select account, count(*) from orders group by account")
    assert all(n == m for (_, n), (_, m) in zip(
        per_account, query(db, "select account, n_orders from claims order by account"),
        strict=True))  # fmt: skip


def test_product_pipeline_on_a_local_cluster_matches_the_worker_pool(tmp_path):
    accounts = tmp_path / "accounts"
    shutil.copytree(ROOT / "examples" / "monthly", accounts)
    pool, dask = tmp_path / "pool", tmp_path / "dask"
    pool.mkdir(), dask.mkdir()
    product = "optimizer.workflows:process_account"
    res_pool, doc_pool = monthly(pool, accounts, "--workers", "2", "--allow-stale",
                                 processor=product)  # fmt: skip
    res_dask, doc_dask = monthly(dask, accounts, "--dask", "local:2", "--allow-stale",
                                 processor=product)  # fmt: skip
    assert res_pool.returncode == res_dask.returncode == 0, (res_pool.stderr, res_dask.stderr)
    assert doc_pool["metrics"]["n_traded"] >= 1
    assert doc_dask["metrics"] == doc_pool["metrics"]
    assert order_files(dask) == order_files(pool) != {}
    assert ledger_state(dask) == ledger_state(pool)


def test_an_existing_scheduler_by_address(tmp_path):
    import os

    from distributed import Client, LocalCluster

    accounts = tmp_path / "accounts"
    make_accounts(accounts, 8)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:  # fmt: skip
        with Client(cluster) as client:
            pids = {str(pid) for pid in client.run(os.getpid).values()}
        res, doc = monthly(tmp_path, accounts, "--dask", cluster.scheduler_address)
    assert res.returncode == 0, res.stderr
    assert doc["metrics"]["n_traded"] == 8
    assert len(order_files(tmp_path)) == 8
    # computed by the cluster's one worker process, not by the coordinator
    rows = query(tmp_path / "ledger.db", "select provenance_json from account_runs")
    tokens = {json.loads(p)["worker"].split("-")[0] for (p,) in rows}
    assert tokens == pids and str(os.getpid()) not in tokens


@pytest.mark.parametrize("value", ["local:0", "local:x", "udp://host:1", "spark"])
def test_a_bad_dask_value_is_refused_before_anything_is_written(tmp_path, value):
    accounts = tmp_path / "accounts"
    make_accounts(accounts, 2)
    res, doc = monthly(tmp_path, accounts, "--dask", value)
    assert res.returncode == 3 and doc is None
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--dask" in lines[0] and value in lines[0], res.stderr
    assert not (tmp_path / "ledger.db").exists() and not (tmp_path / "orders").exists()
