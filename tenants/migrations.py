"""Running the two alembic histories: the catalog's, and the tenant one applied to
every tenant schema (version table inside the schema, one transaction and one
advisory lock per tenant).

alembic's `op` and `context` are module-level proxies, so two migrations must never
interleave in one process: `migrate_all` fans tenants out over worker processes.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

import migrations
from app.auth.keys import ensure_signing_key
from app.db import CATALOG
from tenants import grants
from tenants.catalog import tenants

MIGRATIONS_DIR = Path(migrations.__file__).parent


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _config(tree: str, connection: Connection, **attributes: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / tree))
    config.attributes["connection"] = connection
    config.attributes.update(attributes)
    return config


def tenant_head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / "tenant"))
    return ScriptDirectory.from_config(config).get_current_head()


def _upgrade_catalog(connection: Connection, app_role: str) -> None:
    connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}")
    command.upgrade(_config("catalog", connection), "head")
    grants.ensure_app_role(connection, app_role)
    grants.grant_catalog(connection, app_role)


def _current_revision(connection: Connection, schema: str) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return context.get_current_revision()


def _upgrade_tenant(
    connection: Connection, schema: str, app_role: str
) -> tuple[str | None, str | None]:
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('kehu.migrate.' || :schema))"),
        {"schema": schema},
    )
    connection.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}")
    before = _current_revision(connection, schema)
    command.upgrade(_config("tenant", connection, schema=schema), "head")
    grants.grant_tenant(connection, schema, app_role)
    return before, _current_revision(connection, schema)


async def upgrade_catalog(engine: AsyncEngine, *, app_role: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_catalog, app_role)
        await ensure_signing_key(conn)


async def upgrade_tenant(
    conn: AsyncConnection, schema: str, *, app_role: str
) -> tuple[str | None, str | None]:
    """Migrate one tenant schema inside the caller's transaction, and grant the
    application role what it may do there."""
    return await conn.run_sync(_upgrade_tenant, schema, app_role)


@dataclass
class TenantReport:
    slug: str
    schema: str
    before: str | None = None
    after: str | None = None
    seconds: float = 0.0
    error: str | None = None


def _migrate_one_in_process(url: str, app_role: str, slug: str, schema: str) -> TenantReport:
    async def run() -> TenantReport:
        engine = create_async_engine(url, poolclass=NullPool)
        report = TenantReport(slug=slug, schema=schema)
        started = time.perf_counter()
        try:
            async with engine.begin() as conn:
                report.before, report.after = await upgrade_tenant(conn, schema, app_role=app_role)
        except Exception as error:  # reported per tenant; the others still migrate
            report.error = f"{type(error).__name__}: {error}".splitlines()[0]
        finally:
            await engine.dispose()
        report.seconds = time.perf_counter() - started
        return report

    return asyncio.run(run())


async def list_tenant_schemas(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(tenants.c.slug, tenants.c.schema_name).order_by(tenants.c.created_at)
        )
        return [(r.slug, r.schema_name) for r in rows]


def migrate_tenants(url: str, app_role: str, schemas: list[tuple[str, str]], concurrency: int):
    """Yield a report per tenant as each finishes; bounded by `concurrency` processes."""
    if not schemas:
        return
    workers = max(1, min(concurrency, len(schemas)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_migrate_one_in_process, url, app_role, slug, schema)
            for slug, schema in schemas
        ]
        for future in as_completed(futures):
            yield future.result()
