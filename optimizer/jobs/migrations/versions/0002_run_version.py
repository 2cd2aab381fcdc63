"""Each run records the capalloc version that made it (``runs.version``), so an audit can
tell which release produced a month's orders.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite rebuilds the table; others ALTER
        batch.add_column(sa.Column("version", sa.String(32)))
    op.execute("update ledger_meta set value = '2' where key = 'schema'")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("version")
    op.execute("update ledger_meta set value = '1' where key = 'schema'")
