"""Test fixtures: a fresh database per test run (dropped after), a queue name of its
own, the real ASGI app over HTTP, and tenants with real signed tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from helpers import TenantHandle, make_tenant
from peers.smtp import SmtpServer
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.context import Services
from app.db import create_engine
from app.main import create_app
from app.preflight import ensure_database
from app.services import close_services, create_services
from app.settings import Settings
from tenants.migrations import upgrade_catalog
from workers.settings import build_worker

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    """The run's mail server (aiosmtpd, in memory). Every worker mails through it, so
    a mail some test left queued (an invitation, a reset) is delivered at once by
    whichever worker runs next, instead of holding that worker in minutes of retries
    against a port nothing listens on."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def settings(smtp: SmtpServer) -> Settings:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kehu")
    return Settings(
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        database_url=f"{base.rsplit('/', 1)[0]}/kehu_test_{RUN_ID}",
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        queue_name=f"kehu:test:{RUN_ID}",
        principal_cache_seconds=1.0,
        # The OIDC test peers listen on 127.0.0.1 (on ports they pick): only that host.
        federation_allow_private_hosts="127.0.0.1",
    )


def _admin_dsn(settings: Settings) -> str:
    url = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return url.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[None]:
    await ensure_database(settings)
    engine = create_engine(settings, owner=True, pool_size=1)
    await upgrade_catalog(engine, app_role=settings.app_role)
    await engine.dispose()
    yield
    conn = await asyncpg.connect(_admin_dsn(settings))
    try:
        name = settings.database_url.rsplit("/", 1)[1]
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def owner(settings: Settings, database: None) -> AsyncIterator[AsyncEngine]:
    """The owner's engine, for what operators do: provisioning, migrations, catalog DDL.
    The app itself (`services.engine`) connects as the unprivileged application role."""
    engine = create_engine(settings, owner=True, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def services(settings: Settings, database: None) -> AsyncIterator[Services]:
    services = create_services(settings)
    yield services
    pool = await services.queue.pool()
    keys = await pool.keys(f"{settings.queue_name}*")
    if keys:
        await pool.delete(*keys)
    await close_services(services)


@pytest.fixture(scope="session")
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services.settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
        yield client


@pytest.fixture(scope="session")
async def tenant_a(owner: AsyncEngine, services: Services) -> TenantHandle:
    return await make_tenant(owner, services, "acme")


@pytest.fixture(scope="session")
async def tenant_b(owner: AsyncEngine, services: Services) -> TenantHandle:
    return await make_tenant(owner, services, "globex")


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, query: str, variables: dict | None = None, *, token: str | None,
                   **kwargs: Any) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers,
            **kwargs,
        )  # fmt: skip

    async def gql(self, query: str, variables: dict | None = None, *, token: str) -> dict:
        """Run an operation that must succeed without top-level errors; return data."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def errors(self, query: str, variables: dict | None = None, *, token: str) -> list:
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("errors"), body
        return body["errors"]


@pytest.fixture(scope="session")
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.parameters: list[Any] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if context is not None and context.execution_options.get("kehu_lookup"):
            # Who-is-asking lookups (app/auth/principal.py): at most one per kind per
            # request, cached for principal_cache_seconds (1 s here), so whether one
            # lands inside a measured request depends on timing, not on the query.
            return
        self.statements.append(statement)
        self.parameters.append(parameters)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def sql_counter(services: Services):
    counter = StatementCounter()
    target = services.engine.sync_engine
    event.listen(target, "before_cursor_execute", counter)
    yield counter
    event.remove(target, "before_cursor_execute", counter)


@pytest.fixture
def run_worker(settings: Settings):
    """Run the real arq worker (burst mode) on this test run's queue until it is empty.
    Its cron schedule is off: a tick falling inside a test would run the scheduled rules
    for every tenant in the database, in the middle of that test."""

    async def run(**overrides: Any) -> None:
        worker = build_worker(settings, burst=True, ticks=False, **overrides)
        try:
            await worker.main()
        finally:
            await worker.close()

    return run
