"""What the application role may do. The API and workers connect as a role that is
not a superuser and owns nothing, so the database itself enforces what the code
promises: no DDL, no reading of alembic's bookkeeping, and an append-only audit log
(superusers and owners would bypass such rules)."""

from __future__ import annotations

import re

from sqlalchemy import Connection

# Catalog tables the service writes: the outbox and everything sign-in keeps.
IDENTITY_TABLES = ", ".join(
    f"catalog.{name}"
    for name in (
        "outbox",
        "accounts",
        "memberships",
        "external_identities",
        "password_resets",
        "identity_providers",
        "oauth_clients",
        "authorization_codes",
        "refresh_tokens",
    )
)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not ROLE_NAME.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def ensure_app_role(connection: Connection, role: str) -> None:
    """Create the role if it is missing (roles are cluster-wide: another database of
    the cluster may have created it already)."""
    quoted = _ident(role)
    exists = connection.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").scalar()
    if not exists:
        connection.exec_driver_sql(
            f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
        )


def grant_catalog(connection: Connection, role: str) -> None:
    quoted = _ident(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA catalog TO {quoted}",
        f"GRANT SELECT ON catalog.tenants, catalog.signing_keys TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {IDENTITY_TABLES} TO {quoted}",
        # Append-only, like the audit log: an account's history cannot be rewritten.
        f"GRANT SELECT, INSERT ON catalog.account_events TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA catalog TO {quoted}",
        f"REVOKE ALL ON catalog.alembic_version FROM {quoted}",
    ):
        connection.exec_driver_sql(statement)


def grant_tenant(connection: Connection, schema: str, role: str) -> None:
    """Rows in every tenant table, except changing the audit log or the version table.
    Re-run after every migration, so new tables are covered."""
    quoted, schema_q = _ident(role), '"' + schema.replace('"', '""') + '"'
    for statement in (
        f"GRANT USAGE ON SCHEMA {schema_q} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_q} TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_q} TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema_q}.audit_log FROM {quoted}",
        f"REVOKE ALL ON {schema_q}.alembic_version FROM {quoted}",
    ):
        connection.exec_driver_sql(statement)
