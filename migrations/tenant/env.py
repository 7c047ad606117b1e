"""Alembic environment for one tenant schema; run through tenants.migrations only.

Migrations write unqualified names: the runner sets ``search_path`` with SET LOCAL
inside the tenant's transaction, and the version table lives in the tenant schema.
"""

from alembic import context

connection = context.config.attributes["connection"]
schema = context.config.attributes["schema"]
context.configure(
    connection=connection,
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
