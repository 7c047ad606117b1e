"""Who is asking: the verified token resolved to an active tenant and an active user.

Tenant status and user flags are cached per process for `principal_cache_seconds`
(5 s by default), so suspending a tenant or deactivating a user takes effect on every
API process within that time without a catalog query on every request.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.permissions import RoleDefinition
from app.auth.roles import resolve_role
from app.auth.tokens import TokenClaims
from app.db import bind_tenant, lookup_connection
from app.errors import Forbidden, Unauthenticated
from app.oauth.clients import API, Client, load_client
from app.oauth.tables import refresh_tokens
from app.teams.tables import teams
from app.users.tables import users
from tenants.catalog import tenants


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    slug: str
    name: str
    status: str
    schema_name: str
    time_zone: str


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    permissions: frozenset[str]
    data_scope: str
    team_id: uuid.UUID | None = None
    team_path: str | None = None
    # The API client acting (as its run-as user), when the token came from one.
    client_id: str | None = None
    # The distributor (customer) a partner user works for; data scope "assigned" only.
    distributor_id: uuid.UUID | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class Scoped(Protocol):
    """What data scope needs to know of whoever is asking (a request's principal, or
    the user a background job acts for)."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def data_scope(self) -> str: ...
    @property
    def team_path(self) -> str | None: ...
    @property
    def distributor_id(self) -> uuid.UUID | None: ...


@dataclass(frozen=True)
class UserAccess:
    """A user as authorization sees them: active or not, their role resolved."""

    id: uuid.UUID
    email: str
    name: str
    active: bool
    role: RoleDefinition
    team_id: uuid.UUID | None
    team_path: str | None
    distributor_id: uuid.UUID | None = None

    @property
    def user_id(self) -> uuid.UUID:
        return self.id

    @property
    def data_scope(self) -> str:
        return self.role.data_scope


NO_ROLE = RoleDefinition("none", frozenset(), "assigned", False)


async def load_user_access(conn: AsyncConnection, user_id: uuid.UUID) -> UserAccess | None:
    """Works on any tenant-bound connection: the API's cache and the worker's jobs
    (which act with the rights their starter has now) use the same rules."""
    row = (
        await conn.execute(
            select(
                users.c.id,
                users.c.email,
                users.c.name,
                users.c.role,
                users.c.active,
                users.c.team_id,
                teams.c.path,
                users.c.distributor_id,
            )  # fmt: skip
            .outerjoin(teams, teams.c.id == users.c.team_id)
            .where(users.c.id == user_id)
        )
    ).first()
    if row is None:
        return None
    role = await resolve_role(conn, row.role) or NO_ROLE  # a deleted custom role: no rights
    return UserAccess(
        row.id, row.email, row.name, row.active, role, row.team_id, row.path, row.distributor_id
    )


def principal_for(tenant: Tenant, access: UserAccess) -> Principal:
    return Principal(
        tenant=tenant,
        user_id=access.id,
        email=access.email,
        name=access.name,
        role=access.role.name,
        permissions=access.role.permissions,
        data_scope=access.role.data_scope,
        team_id=access.team_id,
        team_path=access.team_path,
        distributor_id=access.distributor_id,
    )


class TtlCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)


async def load_tenant(engine: AsyncEngine, tenant_id: uuid.UUID) -> Tenant | None:
    async with lookup_connection(engine) as conn:
        row = (await conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
    if row is None:
        return None
    return Tenant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        status=row.status,
        schema_name=row.schema_name,
        time_zone=row.time_zone,
    )


async def session_ended(conn: AsyncConnection, session_id: uuid.UUID) -> bool:
    """A sign-in session is its refresh-token family; revoking any of it ends it."""
    return bool(
        await conn.scalar(
            select(
                exists().where(
                    refresh_tokens.c.family_id == session_id,
                    refresh_tokens.c.revoked_at.is_not(None),
                )
            )
        )
    )


MISSING = object()  # cached "no such row", distinct from "not cached"


class PrincipalResolver:
    """Caches, per process and for `ttl_seconds`, what a token resolves to: so a
    suspended tenant, deactivated user, revoked client or ended session is refused
    within that bound, without a catalog query on every request."""

    def __init__(self, engine: AsyncEngine, ttl_seconds: float) -> None:
        self.engine = engine
        self._tenants = TtlCache(ttl_seconds)
        self._users = TtlCache(ttl_seconds)
        self._clients = TtlCache(ttl_seconds)
        self._sessions = TtlCache(ttl_seconds)

    async def _cached(self, cache: TtlCache, key: Any, load) -> Any:
        value = cache.get(key)
        if value is None:
            async with lookup_connection(self.engine) as conn:
                value = await load(conn)
            cache.put(key, MISSING if value is None else value)
        return None if value is MISSING else value

    async def client(self, client_id: str) -> Client | None:
        return await self._cached(
            self._clients, client_id, lambda conn: load_client(conn, client_id)
        )

    async def _session_ended(self, session_id: uuid.UUID) -> bool:
        return await self._cached(
            self._sessions, session_id, lambda conn: session_ended(conn, session_id)
        )

    async def _tenant(self, tenant_id: uuid.UUID) -> Tenant | None:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = await load_tenant(self.engine, tenant_id)
            self._tenants.put(tenant_id, tenant)
        return tenant

    async def _user(self, tenant: Tenant, user_id: uuid.UUID) -> UserAccess | None:
        key = (tenant.id, user_id)
        user = self._users.get(key)
        if user is None:
            async with lookup_connection(self.engine) as raw:
                user = await load_user_access(await bind_tenant(raw, tenant.schema_name), user_id)
            self._users.put(key, user)
        return user

    async def resolve(self, claims: TokenClaims) -> Principal:
        tenant = await self._tenant(claims.tenant_id)
        if tenant is None:
            raise Unauthenticated("unknown tenant")
        if tenant.status != "active":
            raise Forbidden("this tenant is suspended")
        user = await self._user(tenant, claims.user_id)
        if user is None:
            raise Unauthenticated("unknown user")
        if not user.active:
            raise Forbidden("this user is deactivated")
        principal = principal_for(tenant, user)
        if claims.session_id is not None and await self._session_ended(claims.session_id):
            raise Unauthenticated("this session has ended")
        if claims.client_id is None:
            return principal
        client = await self.client(claims.client_id)
        if client is None or client.tenant_id not in (None, tenant.id):
            raise Unauthenticated("this client is revoked")
        if client.kind != API:
            return principal
        if client.run_as_user_id != user.id:
            raise Unauthenticated("this client no longer acts as this user")
        # Bounded by the client's scopes as they are now, and as granted in the token.
        return dataclasses.replace(
            principal,
            permissions=principal.permissions & client.scopes & claims.scope,
            client_id=client.client_id,
        )
