"""Each attempt of a taxable account records its tax figures (``account_runs``: realised
short- and long-term gains, tax due, gain budget used, harvested losses), NULL otherwise.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

COLUMNS = (
    "tax_st_gain",
    "tax_lt_gain",
    "tax_due",
    "tax_gain_budget_used",
    "tax_harvested_loss",
)


def upgrade() -> None:
    with op.batch_alter_table("account_runs") as batch:  # SQLite rebuilds; others ALTER
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Float))
    op.execute("update ledger_meta set value = '3' where key = 'schema'")


def downgrade() -> None:
    with op.batch_alter_table("account_runs") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
    op.execute("update ledger_meta set value = '2' where key = 'schema'")
