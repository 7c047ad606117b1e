"""The API and workers run as an unprivileged role: the database, not only the code,
refuses what they must never do."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


async def _refused(engine, statement: str) -> str:
    with pytest.raises(DBAPIError) as raised:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    return str(raised.value.orig)


async def test_app_role_is_not_privileged(services):
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                     "WHERE rolname = current_user")
            )
        ).one()  # fmt: skip
        user = await conn.scalar(text("SELECT current_user"))
    assert user == services.settings.app_role
    assert tuple(row) == (False, False, False, False)


async def test_audit_log_is_append_only_for_the_app(services, tenant_a, api):
    await api.gql(
        'mutation { createCustomer(input: {name: "Audit me"}) { customer { id } } }',
        token=tenant_a.tokens["sales"],
    )
    log = f'"{tenant_a.schema}".audit_log'
    assert "permission denied" in await _refused(services.engine, f"UPDATE {log} SET action = 'x'")
    assert "permission denied" in await _refused(services.engine, f"DELETE FROM {log}")
    assert "permission denied" in await _refused(services.engine, f"TRUNCATE {log}")


async def test_audit_log_is_append_only_for_the_owner_too(owner, tenant_a):
    log = f'"{tenant_a.schema}".audit_log'
    assert "append-only" in await _refused(owner, f"UPDATE {log} SET action = 'x'")
    assert "append-only" in await _refused(owner, f"DELETE FROM {log}")


async def test_app_role_cannot_change_structure_or_versions(services, tenant_a):
    schema = f'"{tenant_a.schema}"'
    assert "permission denied" in await _refused(
        services.engine, f"CREATE TABLE {schema}.sneaky (id int)"
    )
    assert "must be owner" in await _refused(
        services.engine, f"ALTER TABLE {schema}.customers ADD COLUMN sneaky int"
    )
    assert "permission denied" in await _refused(
        services.engine, f"SELECT * FROM {schema}.alembic_version"
    )
    assert "permission denied" in await _refused(
        services.engine, "UPDATE catalog.tenants SET status = 'active'"
    )
