"""The first ledger schema (capalloc 0.1): runs, run_locks, claims, account_runs, orders,
ledger_meta. A ledger made before migrations existed is stamped with this revision.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False, index=True),
        sa.Column("rebalance_date", sa.String(10), nullable=False),
        sa.Column("started", sa.DateTime, nullable=False),
        sa.Column("finished", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("processor", sa.String(255), nullable=False),
        sa.Column("orders_dir", sa.Text, nullable=False),
        *(sa.Column(f"n_{c}", sa.Integer, nullable=False)
          for c in ("accounts", "traded", "no_trade", "fallback", "failed", "skipped", "changed")),
        sa.Column("message", sa.Text),
    )  # fmt: skip
    op.create_table(
        "run_locks",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("proc_start", sa.String(32), nullable=False),
        sa.Column("acquired", sa.DateTime, nullable=False),
        sa.Column("heartbeat", sa.DateTime, nullable=False),
    )
    op.create_table(
        "claims",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_orders", sa.Integer, nullable=False),
        sa.Column("orders_path", sa.Text),
        sa.Column("recorded", sa.DateTime, nullable=False),
    )
    op.create_table(
        "account_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("inputs_hash", sa.String(64)),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("error_kind", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("fallback", sa.Text),
        sa.Column("provenance_json", sa.Text),
        sa.Column("allocation_json", sa.Text),
        sa.Column("warnings_json", sa.Text),
        sa.Column("seconds", sa.Float),
        sa.Column("recorded", sa.DateTime, nullable=False),
        sa.Index("ix_account_runs_account_period", "account", "period"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("ticker", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("shares", sa.Float, nullable=False),
        sa.Column("est_price", sa.Float),
        sa.Column("notional", sa.Float),
        sa.Column("est_cost", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("extra_json", sa.Text),
        sa.UniqueConstraint("account", "period", "seq", name="uq_orders_account_period_seq"),
    )
    op.create_table(
        "ledger_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("ledger_meta", "orders", "account_runs", "claims", "run_locks", "runs"):
        op.drop_table(table)
