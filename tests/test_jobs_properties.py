"""Properties of a run over generated batches: every account accounted for exactly once,
files equal to the ledger, and a rerun that changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.jobs.calendar import parse_period
from optimizer.jobs.runner import RunOptions, run_monthly
from tests.jobs_support.accounts import expected_orders, make_accounts, query, read_order_file

PERIOD = parse_period("2026-01")
PIPELINE = "tests.jobs_support.pipeline:process_account"
KINDS = st.sampled_from(["trade", "no_trade", "infeasible", "bad_holdings"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(KINDS, min_size=1, max_size=9), chunk=st.integers(1, 4))
def test_every_account_once_files_equal_ledger_rerun_idempotent(kinds, chunk):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pick = {k: tuple(i for i, x in enumerate(kinds) if x == k) for k in set(kinds)}
        ids = make_accounts(root / "accounts", len(kinds), infeasible=pick.get("infeasible", ()),
                            bad_holdings=pick.get("bad_holdings", ()),
                            no_trade=pick.get("no_trade", ()))  # fmt: skip
        opts = RunOptions(root / "accounts", str(root / "l.db"), PERIOD, root / "orders",
                          chunk_size=chunk, processor=PIPELINE)  # fmt: skip
        summary = run_monthly(opts)
        c = summary.counts
        assert c["n_traded"] + c["n_no_trade"] + c["n_failed"] == len(kinds) == c["n_accounts"]
        failed = {ids[i] for k in ("infeasible", "bad_holdings") for i in pick.get(k, ())}
        assert {line.account for line in summary.accounts if line.status == "failed"} == failed
        db = root / "l.db"
        claimed = {a for (a,) in query(db, "select account from claims")}
        assert claimed == set(ids) - failed
        files = {p.stem for p in (root / "orders" / "2026-01").glob("*.csv")}
        traded = {a for a in claimed if expected_orders(root / "accounts", a)}
        assert files == traded
        for account in files:
            rows = read_order_file(root / "orders" / "2026-01" / f"{account}.csv")
            in_ledger = query(db, "select ticker, side, shares from orders "
                              "where account = ? order by seq", account)  # fmt: skip
            assert [(r["ticker"], r["side"], float(r["shares"])) for r in rows] == in_ledger
        before = query(db, "select count(*) from orders")
        again = run_monthly(opts)
        assert again.counts["n_skipped"] == len(claimed)
        assert again.counts["n_failed"] == len(failed)  # failures are retried (and fail again)
        assert query(db, "select count(*) from orders") == before
