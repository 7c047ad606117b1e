"""Alembic environment for the catalog schema; run through tenants.migrations only."""

from alembic import context

from app.db import CATALOG

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table_schema=CATALOG,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
