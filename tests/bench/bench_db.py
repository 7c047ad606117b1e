"""The benchmark's database: created fresh, tenants provisioned and migrated through
the project's own machinery, one tenant filled with customers and contacts."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from app.audit.service import SYSTEM
from app.auth.keys import KeyRing
from app.auth.tokens import issue_access_token
from app.db import create_engine, tenant_transaction
from app.demo import CITIES, CORES, GIVEN, SOURCES, SUFFIXES, SURNAMES, TAGS, TITLES, TRADES
from app.settings import Settings
from app.users import service as users
from tenants import provisioning
from tenants.migrations import list_tenant_schemas, migrate_tenants, tenant_head, upgrade_catalog

BENCH_DB = "kehu_bench"
ADMIN_EMAIL = "admin@bench.example.com"


def plain_url(url: str) -> str:
    """A libpq-style URL (asyncpg), whatever driver prefix DATABASE_URL carries."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def with_database(url: str, name: str) -> str:
    return urlsplit(plain_url(url))._replace(path=f"/{name}").geturl()


async def recreate_database(server_url: str) -> str:
    """Drop and create kehu_bench (like `kehu prepare` would); its URL."""
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(
            f"CREATE DATABASE \"{BENCH_DB}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
        )
    finally:
        await conn.close()
    return with_database(server_url, BENCH_DB)


async def drop_database(server_url: str) -> None:
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    finally:
        await conn.close()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


async def prepare_catalog(settings: Settings) -> float:
    started = time.perf_counter()
    engine = create_engine(settings, owner=True, pool_size=1)
    try:
        await upgrade_catalog(engine, app_role=settings.app_role)
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def tenant_slug(i: int) -> str:
    return f"bench-{i:04d}"


async def provision(settings: Settings, count: int, progress=None) -> tuple[float, list[float]]:
    """Create `count` tenants one after the other (as an operator or signup flow does);
    wall time and the seconds of each create_tenant call."""
    engine = create_engine(settings, owner=True, pool_size=2)
    durations: list[float] = []
    started = time.perf_counter()
    try:
        for i in range(count):
            t = time.perf_counter()
            await provisioning.create_tenant(
                engine,
                slug=tenant_slug(i),
                name=f"基准测试租户 {i:04d}",
                app_role=settings.app_role,
            )
            durations.append(time.perf_counter() - t)
            if progress and (i + 1) % 50 == 0:
                progress(i + 1, time.perf_counter() - started)
    finally:
        await engine.dispose()
    return time.perf_counter() - started, durations


@dataclass
class MigrateResult:
    seconds: float
    tenants: int
    changed: int
    failed: int
    head: str | None
    tenant_seconds: list[float]


def migrate_all(settings: Settings) -> MigrateResult:
    """What `kehu migrate` does (app/cli.py cmd_migrate): the catalog, then every
    tenant over `migrate_concurrency` worker processes."""
    started = time.perf_counter()

    async def catalog() -> list[tuple[str, str]]:
        engine = create_engine(settings, owner=True, pool_size=2)
        try:
            await upgrade_catalog(engine, app_role=settings.app_role)
            return await list_tenant_schemas(engine)
        finally:
            await engine.dispose()

    schemas = asyncio.run(catalog())
    reports = list(
        migrate_tenants(
            settings.async_database_url, settings.app_role, schemas, settings.migrate_concurrency
        )
    )
    elapsed = time.perf_counter() - started
    failed = [r for r in reports if r.error]
    if failed:
        raise RuntimeError(f"{len(failed)} tenant(s) failed to migrate: {failed[0].error}")
    return MigrateResult(
        seconds=elapsed,
        tenants=len(reports),
        changed=sum(1 for r in reports if r.before != r.after),
        failed=len(failed),
        head=tenant_head(),
        tenant_seconds=[r.seconds for r in reports],
    )


# -- data -----------------------------------------------------------------------------

CUSTOMER_COLUMNS = [
    "id", "name", "category", "tier", "industry", "region", "source", "phone", "email",
    "address", "owner_id", "tags", "external_ref", "created_at", "updated_at", "created_by",
]  # fmt: skip
CONTACT_COLUMNS = [
    "id", "customer_id", "name", "title", "phone", "email", "birthday", "is_primary",
    "created_at", "updated_at", "created_by",
]  # fmt: skip


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def generate(
    customers: int, contacts_each: int, owners: list[uuid.UUID | None], seed: int = 20261123
) -> tuple[list[tuple], list[tuple]]:
    """Rows for COPY: company names as app/demo.py makes them, created a minute apart
    (so the default order, created_at then id, is the insertion order)."""
    rng = random.Random(seed)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    customer_rows: list[tuple] = []
    contact_rows: list[tuple] = []
    for i in range(customers):
        city = rng.choice(CITIES)
        short, industry = rng.choice(TRADES)
        name = f"{city}{rng.choice(CORES)}{short}{rng.choice(SUFFIXES)}"
        created = base + dt.timedelta(minutes=i)
        customer_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        customer_rows.append(
            (
                customer_id,
                name if i % 7 else f"{name}（{i}号分部）",
                rng.choice(["prospect", "target", "active", "active", "partner"]),
                rng.choice(["A", "B", "B", "C", "C", None]),
                industry,
                city,
                rng.choice(SOURCES),
                _phone(rng),
                f"contact{i}@example-{i % 50}.cn",
                f"{city}市{rng.choice(['高新区', '经济开发区', '中心区'])}{rng.randint(1, 300)}号",
                rng.choice(owners),
                rng.sample(TAGS, rng.randint(0, 3)),
                f"CRM-{10000 + i}",
                created,
                created,
                None,
            )
        )
        for n in range(contacts_each):
            contact_rows.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    customer_id,
                    _person(rng),
                    rng.choice(TITLES),
                    _phone(rng),
                    f"c{i}-{n}@example-{i % 50}.cn" if rng.random() < 0.7 else None,
                    dt.date(1970 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28))
                    if rng.random() < 0.3
                    else None,
                    n == 0,
                    created,
                    created,
                    None,
                )
            )
    return customer_rows, contact_rows


async def copy_parallel(
    url: str, schema: str, table: str, columns: list[str], rows: list[tuple]
) -> None:
    parts = max(1, min(4, os.cpu_count() or 1))
    chunk = -(-len(rows) // parts)

    async def copy(part: list[tuple]) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.copy_records_to_table(
                table, schema_name=schema, columns=columns, records=part
            )
        finally:
            await conn.close()

    await asyncio.gather(*(copy(rows[i : i + chunk]) for i in range(0, len(rows), chunk)))


@dataclass
class DataTenant:
    tenant_id: uuid.UUID
    slug: str
    schema: str
    user_id: uuid.UUID
    token: str
    customers: int
    contacts: int
    seconds: float


async def fill_tenant(
    settings: Settings, slug: str, customers: int, contacts_each: int
) -> DataTenant:
    """An admin user (through the users service), customers and contacts (COPY, a
    fixture only), VACUUM ANALYZE, and an access token as `kehu token` makes it."""
    started = time.perf_counter()
    engine = create_engine(settings, owner=True, pool_size=2)
    try:
        tenant = await provisioning.get_tenant_by_slug(engine, slug)
        schema = tenant.schema_name
        async with tenant_transaction(engine, schema) as conn:
            admin = await users.create_user(
                conn,
                actor=SYSTEM,
                tenant_id=tenant.id,
                email=ADMIN_EMAIL,
                role="admin",
                name="基准管理员",
            )
            owners: list[uuid.UUID | None] = [None, admin.id]
            for n, role in enumerate(("sales", "sales", "manager")):
                row = await users.create_user(
                    conn, actor=SYSTEM, tenant_id=tenant.id, email=f"{role}{n}@bench.example.com",
                    role=role,
                    name=_person(random.Random(n)),
                )  # fmt: skip
                owners.append(row.id)
        customer_rows, contact_rows = generate(customers, contacts_each, owners)
        url = plain_url(settings.database_url)
        # The generated search_tokens columns dominate (a SQL function per row), so
        # the COPY is split over connections: customers first (contacts reference them).
        await copy_parallel(url, schema, "customers", CUSTOMER_COLUMNS, customer_rows)
        await copy_parallel(url, schema, "contacts", CONTACT_COLUMNS, contact_rows)
        raw = await asyncpg.connect(url)
        try:
            for table in ("customers", "contacts", "users"):
                await raw.execute(f'VACUUM ANALYZE "{schema}".{table}')
        finally:
            await raw.close()
        token = await issue_access_token(
            keyring=KeyRing(engine), settings=settings, tenant_id=tenant.id, user_id=admin.id,
            roles=[admin.role], ttl_seconds=3600,
        )  # fmt: skip
    finally:
        await engine.dispose()
    return DataTenant(
        tenant_id=tenant.id,
        slug=slug,
        schema=schema,
        user_id=admin.id,
        token=token,
        customers=len(customer_rows),
        contacts=len(contact_rows),
        seconds=time.perf_counter() - started,
    )
