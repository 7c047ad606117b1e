"""Database access: the engine, the tenant placeholder schema and per-request connections.

Tenant tables are declared against the placeholder schema ``tenant``; a connection is
bound to one tenant by ``schema_translate_map``, so every statement it runs is
schema-qualified and no session state (``search_path``) is ever relied on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import Column, DateTime, Integer, MetaData, Uuid, func
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.settings import Settings

TENANT = "tenant"
CATALOG = "catalog"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

tenant_metadata = MetaData(schema=TENANT, naming_convention=NAMING_CONVENTION)
catalog_metadata = MetaData(schema=CATALOG, naming_convention=NAMING_CONVENTION)


def create_engine(
    settings: Settings, *, owner: bool = False, pool_size: int | None = None
) -> AsyncEngine:
    """The application role's engine; `owner=True` for migrations and administration."""
    size = pool_size or settings.pool_size
    return create_async_engine(
        settings.async_database_url if owner else settings.app_database_url,
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=False,
        # Connections are recycled so per-connection catalog caches (which grow with
        # schemas x tables) stay bounded.
        pool_recycle=1800,
        connect_args={
            # Statement text is schema-qualified, so each tenant has its own entries.
            "prepared_statement_cache_size": 512,
            # Unqualified names must fail loudly instead of reading the wrong place.
            "server_settings": {"search_path": "pg_catalog", "application_name": "kehu"},
        },
    )


async def bind_tenant(conn: AsyncConnection, schema: str) -> AsyncConnection:
    return await conn.execution_options(schema_translate_map={TENANT: schema})


@asynccontextmanager
async def tenant_transaction(engine: AsyncEngine, schema: str) -> AsyncIterator[AsyncConnection]:
    """One transaction in one tenant's schema (jobs, CLI commands)."""
    async with engine.begin() as conn:
        bound = await bind_tenant(conn, schema)
        try:
            yield bound
        finally:
            take_outbox_pending(bound)  # callers here relay explicitly


AfterCommit = Callable[[], Awaitable[None]]
OUTBOX_PENDING = "kehu.outbox_pending"


# Set on connections that answer "who is asking" (tenant, user, client, signing keys):
# bounded per request and cached, so statement counters (tests, and any tracing) skip
# them and measure a request's own statements however the caches happen to be timed.
LOOKUP_OPTION = "kehu_lookup"


@asynccontextmanager
async def lookup_connection(
    engine: AsyncEngine, kind: str = "principal"
) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        yield await conn.execution_options(**{LOOKUP_OPTION: kind})


def mark_outbox_pending(conn: AsyncConnection) -> None:
    """Tell whoever commits this transaction that it wrote outbox rows to relay."""
    conn.info[OUTBOX_PENDING] = True


def take_outbox_pending(conn: AsyncConnection) -> bool:
    return bool(conn.info.pop(OUTBOX_PENDING, False))


class RequestDb:
    """The one tenant-bound connection of a request.

    graphql-core resolves sibling fields concurrently, so use of the connection is
    serialised by a lock. Reads share an implicit transaction; each mutation gets its
    own transaction through :meth:`write`, which commits before the mutation returns
    and then relays the outbox rows the transaction wrote (`after_outbox`).
    """

    def __init__(
        self, engine: AsyncEngine, schema: str, *, after_outbox: AfterCommit | None = None
    ) -> None:
        self._engine = engine
        self._schema = schema
        self._after_outbox = after_outbox
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            raw = await self._engine.connect()
            self._conn = await bind_tenant(raw, self._schema)
        return self._conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            yield await self._connection()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block exits cleanly, else rolls back."""
        async with self._lock:
            conn = await self._connection()
            if conn.in_transaction():
                await conn.rollback()  # only reads happened; start the write afresh
            try:
                async with conn.begin():
                    yield conn
            finally:
                wrote_outbox = take_outbox_pending(conn)
        # Reached only after a commit (a rollback re-raises), with the lock released.
        if wrote_outbox and self._after_outbox is not None:
            await self._after_outbox()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that a text column holds one of `values` (status enums)."""
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def record_columns() -> list[Column]:
    """Columns every business row carries (ARCHITECTURE.md, data conventions)."""
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("created_by", Uuid),
        Column("version", Integer, nullable=False, server_default="1"),
    ]
