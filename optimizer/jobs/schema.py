"""The ledger's tables (SQLAlchemy Core), portable to SQLite and PostgreSQL.

* ``runs`` — one row per run: period, times, status, counts, host and pid.
* ``run_locks`` — at most one row per period: the run allowed to trade it, with a heartbeat.
* ``claims`` — at most one row per (account, period): the final outcome. Its primary key is
  what makes a second set of orders for the same account and month impossible, whatever
  the runs do.
* ``account_runs`` — every attempt: outcome or failure, inputs hash, provenance,
  allocation, warnings, timings, and a taxable account's tax figures (realised short- and
  long-term gains, tax due, gain budget used, harvested losses).
* ``orders`` — the orders of each final ``traded`` outcome, unique per (account, period, seq).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 3  # ledger_meta's "schema"; the Alembic revision is HEAD_REVISION
HEAD_REVISION = "0003"  # the newest file in optimizer/jobs/migrations/versions
metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period", String(7), nullable=False, index=True),
    Column("rebalance_date", String(10), nullable=False),
    Column("started", DateTime, nullable=False),
    Column("finished", DateTime),
    Column("status", String(16), nullable=False),  # RunStatus values
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("processor", String(255), nullable=False),
    Column("orders_dir", Text, nullable=False),
    Column("n_accounts", Integer, nullable=False, default=0),
    Column("n_traded", Integer, nullable=False, default=0),
    Column("n_no_trade", Integer, nullable=False, default=0),
    Column("n_fallback", Integer, nullable=False, default=0),
    Column("n_failed", Integer, nullable=False, default=0),
    Column("n_skipped", Integer, nullable=False, default=0),
    Column("n_changed", Integer, nullable=False, default=0),
    Column("message", Text),
    Column("version", String(32)),  # the capalloc version that ran (revision 0002)
)

run_locks = Table(
    "run_locks",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("proc_start", String(32), nullable=False, default=""),  # guards against pid reuse
    Column("acquired", DateTime, nullable=False),
    Column("heartbeat", DateTime, nullable=False),
)

claims = Table(
    "claims",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # OutcomeStatus values
    Column("n_orders", Integer, nullable=False),
    Column("orders_path", Text),  # absolute path of the order file, when there are orders
    Column("recorded", DateTime, nullable=False),
)

account_runs = Table(
    "account_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("account", String(128), nullable=False),
    Column("period", String(7), nullable=False),
    Column("inputs_hash", String(64)),
    Column("status", String(24), nullable=False),  # AttemptStatus values
    Column("error_kind", String(64)),
    Column("error", Text),
    Column("fallback", Text),  # why the fallback applied
    Column("provenance_json", Text),
    Column("allocation_json", Text),
    Column("warnings_json", Text),
    Column("seconds", Float),
    Column("recorded", DateTime, nullable=False),
    # a taxable account's figures (revision 0003; NULL otherwise), money:
    Column("tax_st_gain", Float),  # net short-term gains realised by the orders
    Column("tax_lt_gain", Float),  # net long-term gains
    Column("tax_due", Float),  # at the account's rates (< 0: losses offsetting other gains)
    Column("tax_gain_budget_used", Float),  # net gains counted against the gain budget
    Column("tax_harvested_loss", Float),  # losses realised by tax-loss harvesting
    Index("ix_account_runs_account_period", "account", "period"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("account", String(128), nullable=False),
    Column("period", String(7), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("ticker", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("shares", Float, nullable=False),
    Column("est_price", Float),
    Column("notional", Float),
    Column("est_cost", Float),
    Column("reason", Text),
    Column("extra_json", Text),
    UniqueConstraint("account", "period", "seq", name="uq_orders_account_period_seq"),
)

meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
