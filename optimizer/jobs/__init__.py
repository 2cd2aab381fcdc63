"""The unattended monthly rebalance job (``capalloc run-monthly``; docs/monthly-job.md).

Modules, in the order a run uses them:

* ``model``      — AccountSpec, Period, AccountOutcome, AccountResult, Order (frozen data)
* ``calendar``   — ``parse_period``: the month, checked against the accepted range
* ``sessions``   — its first NYSE session (``exchange_calendars``), looked up when needed
* ``accounts``   — ``discover_accounts`` (folder or accounts.csv), ``inputs_hash``
* ``processor``  — the per-account pipeline (``MODULE:FUNC``) and the worker-side loop
* ``pool``       — the local worker processes (``--workers``), started before the price check
* ``cluster``    — the pipeline on a Dask cluster (``--dask``): workers compute, we record
* ``ledger``     — SQLAlchemy ledger: runs, period lock, claims, attempts, orders
  (``schema``, ``records``, ``liveness`` hold its tables, rows and lock liveness)
* ``orders``     — order files: temporary write, publish after commit, reconciliation
* ``runner``     — ``run_monthly(RunOptions) -> RunSummary``: the whole job
"""
