"""Alembic's entry point for the ledger: migrations run on the connection the ledger hands
over (``config.attributes["connection"]``), inside one transaction; on PostgreSQL under a
transaction-scoped advisory lock, so two runs that open a new ledger at once migrate it once.
"""

from alembic import context

from optimizer.jobs import schema

ADVISORY_LOCK = 7_305_115_001  # any constant shared by every capalloc process

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"select pg_advisory_xact_lock({ADVISORY_LOCK})")
    context.run_migrations()
