"""`kehu tenant ...`, `kehu user ...`, `kehu token` and `kehu migrate`, run as an
operator runs them: the real console script against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from tenants import provisioning
from tenants.migrations import tenant_head
from tenants.provisioning import TenantError

KEHU = os.path.join(os.path.dirname(sys.executable), "kehu")


def kehu(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    # `kehu migrate` walks every tenant the session database has gathered (hundreds by
    # the end of the suite): a ceiling for a hung command, not a speed target.
    return subprocess.run([KEHU, *args], env=env, capture_output=True, text=True, timeout=600)


def slug() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    "bad", ["ab", "UPPER", "has_underscore", "-leading", "trailing-", "double--hyphen",
            "x" * 41, "admin", "graphql", "空白"],
)  # fmt: skip
def test_bad_slugs_are_refused(bad):
    with pytest.raises(TenantError):
        provisioning.validate_slug(bad)


@pytest.mark.parametrize("good", ["abc", "acme-cn", "a1-b2-c3", "x" * 40])
def test_good_slugs_pass(good):
    provisioning.validate_slug(good)


async def test_bad_slug_is_one_line_and_exit_2(settings, database):
    result = kehu(settings, "tenant", "create", "--name", "Bad", "--", "Bad_Slug")
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "kehu: invalid slug 'Bad_Slug': use 3-40 lowercase letters, digits and single hyphens, "
        "starting and ending with a letter or digit\n"
    )


async def test_taken_slug_exit_2(settings, services):
    name = slug()
    assert kehu(settings, "tenant", "create", name, "--name", "One").returncode == 0
    again = kehu(settings, "tenant", "create", name, "--name", "Two")
    assert again.returncode == 2
    assert again.stderr == f"kehu: slug {name!r} is taken\n"


async def test_tenant_lifecycle_users_and_token(settings, services, api):
    name = slug()
    assert kehu(settings, "tenant", "create", name, "--name", "Life Co").returncode == 0
    listed = kehu(settings, "tenant", "list")
    assert any(line.startswith(name) and "active" in line for line in listed.stdout.splitlines())
    added = kehu(settings, "user", "add", name, "boss@life.example.com", "--role", "admin")
    assert added.returncode == 0, added.stderr
    bad_role = kehu(settings, "user", "add", name, "x@life.example.com", "--role", "god")
    assert bad_role.returncode == 2
    token = kehu(settings, "token", name, "boss@life.example.com", "--ttl", "600")
    assert token.returncode == 0, token.stderr
    jwt = token.stdout.strip().splitlines()[-1]
    me = await api.gql("{ me { user { email role } tenant { slug } } }", token=jwt)
    assert me["me"] == {"user": {"email": "boss@life.example.com", "role": "admin"},
                        "tenant": {"slug": name}}  # fmt: skip
    assert kehu(settings, "tenant", "suspend", name).returncode == 0
    assert "suspended" in kehu(settings, "tenant", "list").stdout
    assert kehu(settings, "tenant", "resume", name).returncode == 0
    assert kehu(settings, "user", "deactivate", name, "boss@life.example.com").returncode == 0
    refused = kehu(settings, "token", name, "boss@life.example.com")
    assert refused.returncode == 2 and "deactivated" in refused.stderr
    assert kehu(settings, "tenant", "suspend", "no-such-tenant").returncode == 2


async def _schemas(conn) -> set[str]:
    rows = await conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'"))
    return {r[0] for r in rows}


async def test_failed_provisioning_leaves_nothing(owner, settings):
    """A failure after the schema is created and migrated (the catalog insert is
    refused by a trigger) rolls back everything."""
    doomed = "doomed-" + uuid.uuid4().hex[:6]
    async with owner.begin() as conn:
        before = await _schemas(conn)
        await conn.execute(text(f"""
            CREATE FUNCTION catalog.refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.slug = '{doomed}' THEN RAISE EXCEPTION 'refused for the test'; END IF;
                RETURN NEW;
            END $$
        """))  # fmt: skip
        await conn.execute(text(
            "CREATE TRIGGER refuse_doomed BEFORE INSERT ON catalog.tenants "
            "FOR EACH ROW EXECUTE FUNCTION catalog.refuse_doomed()"
        ))  # fmt: skip
    try:
        with pytest.raises(Exception, match="refused for the test"):
            await provisioning.create_tenant(
                owner, slug=doomed, name="Doomed", app_role=settings.app_role
            )
    finally:
        async with owner.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_doomed ON catalog.tenants"))
            await conn.execute(text("DROP FUNCTION catalog.refuse_doomed()"))
    async with owner.connect() as conn:
        assert await _schemas(conn) == before
        count = await conn.scalar(
            text("SELECT count(*) FROM catalog.tenants WHERE slug = :s"), {"s": doomed}
        )
        assert count == 0
    with pytest.raises(TenantError):
        await provisioning.get_tenant_by_slug(owner, doomed)


async def test_migrate_reports_each_tenant_and_resumes(settings, owner):
    """One broken tenant is reported while the others migrate; re-running after the
    fix continues where it stopped."""
    broken = await provisioning.create_tenant(
        owner, slug=slug(), name="Broken", app_role=settings.app_role
    )
    behind_id = uuid.uuid4()
    behind_slug = slug()
    behind_schema = provisioning.schema_for(behind_id)
    broken_schema = provisioning.schema_for(broken)
    async with owner.begin() as conn:
        # A tenant whose schema exists but was never migrated (as if a run stopped).
        await conn.execute(text(f'CREATE SCHEMA "{behind_schema}"'))
        await conn.execute(
            text("INSERT INTO catalog.tenants (id, slug, name, schema_name) "
                 "VALUES (:id, :slug, 'Behind', :schema)"),
            {"id": behind_id, "slug": behind_slug, "schema": behind_schema},
        )  # fmt: skip
        # A tenant whose version record is gone: migrating it again must fail.
        await conn.execute(text(f'DELETE FROM "{broken_schema}".alembic_version'))
    first = kehu(settings, "migrate")
    assert first.returncode == 2, first.stdout + first.stderr
    assert "FAILED" in first.stdout and "1 tenant(s) failed" in first.stderr
    assert f"{behind_slug}: empty -> {tenant_head()}" in first.stdout
    async with owner.begin() as conn:
        await conn.execute(
            text(f'INSERT INTO "{broken_schema}".alembic_version VALUES (:head)'),
            {"head": tenant_head()},
        )
        users = await conn.scalar(text(f'SELECT count(*) FROM "{behind_schema}".users'))
        assert users == 0
    second = kehu(settings, "migrate")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "FAILED" not in second.stdout
