"""Creating and administering tenants.

A tenant's schema name derives from its immutable id, never from the renamable slug.
Creating one (schema, migrations, catalog row) is one transaction: if anything fails,
no schema and no catalog row remain.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import bind_tenant
from tenants.catalog import tenants
from tenants.migrations import quote_ident, upgrade_tenant

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "auth", "catalog", "graphql", "healthz", "internal", "kehu",
        "login", "oauth", "public", "readyz", "root", "static", "support", "system", "www",
    }
)  # fmt: skip


class TenantError(Exception):
    """A tenant command the operator can fix (bad or taken slug, unknown tenant)."""


def validate_slug(slug: str) -> None:
    if not SLUG_PATTERN.match(slug) or "--" in slug:
        raise TenantError(
            f"invalid slug {slug!r}: use 3-40 lowercase letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        )
    if slug in RESERVED_SLUGS:
        raise TenantError(f"slug {slug!r} is reserved")


def schema_for(tenant_id: uuid.UUID) -> str:
    return f"t_{tenant_id.hex}"


Seed = Callable[[AsyncConnection, uuid.UUID], Awaitable[None]]


async def create_tenant(
    engine: AsyncEngine,
    *,
    slug: str,
    name: str,
    app_role: str,
    time_zone: str = "Asia/Shanghai",
    seed: Seed | None = None,
) -> uuid.UUID:
    """`seed`, if given, writes initial data through a tenant-bound connection in the
    same transaction; it is called with that connection and the new tenant's id."""
    validate_slug(slug)
    if not name.strip():
        raise TenantError("name must not be empty")
    tenant_id = uuid.uuid4()
    schema = schema_for(tenant_id)
    try:
        async with engine.begin() as conn:
            if await conn.scalar(select(tenants.c.id).where(tenants.c.slug == slug)):
                raise TenantError(f"slug {slug!r} is taken")
            await conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(schema)}")
            await upgrade_tenant(conn, schema, app_role=app_role)
            await conn.execute(
                insert(tenants).values(
                    id=tenant_id,
                    slug=slug,
                    name=name.strip(),
                    status="active",
                    schema_name=schema,
                    time_zone=time_zone,
                )
            )
            if seed is not None:
                await seed(await bind_tenant(conn, schema), tenant_id)
    except IntegrityError as error:
        if "uq_tenants_slug" in str(error.orig):
            raise TenantError(f"slug {slug!r} is taken") from error
        raise
    return tenant_id


async def get_tenant_by_slug(engine: AsyncEngine, slug: str):
    async with engine.connect() as conn:
        row = (await conn.execute(select(tenants).where(tenants.c.slug == slug))).first()
    if row is None:
        raise TenantError(f"no tenant {slug!r}")
    return row


async def list_tenants(engine: AsyncEngine):
    async with engine.connect() as conn:
        return (await conn.execute(select(tenants).order_by(tenants.c.slug))).all()


async def set_tenant_status(engine: AsyncEngine, slug: str, status: str) -> None:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(tenants).where(tenants.c.slug == slug).values(status=status)
        )
    if result.rowcount == 0:
        raise TenantError(f"no tenant {slug!r}")
