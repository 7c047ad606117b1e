"""The OAuth client registry over GraphQL (rules in app/oauth/registry.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.pagination import Connection, connection_from, page_of, paginate
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.oauth.registry import (
    MANAGE,
    NEWEST_FIRST,
    create_api_client,
    get_client,
    register_spa_client,
    remove_spa_client,
    revoke_api_client,
    rotate_api_client_secret,
    tenant_clients,
    update_api_client,
    update_spa_client,
)
from app.users.graphql import User
from app.users.queries import users_by_id

# --- GraphQL types ------------------------------------------------------------------


@strawberry.type(
    description="A server-side integration: it authenticates with its id and secret "
    "(client_credentials) and acts as its run-as user, limited to its scopes."
)
class ApiClient:
    id: strawberry.ID = strawberry.field(description="The OAuth client_id.")
    name: str
    scopes: list[str] = strawberry.field(
        description="Permissions its tokens may use (those the run-as user's role also has)."
    )
    run_as_user_id: strawberry.ID
    created_at: dt.datetime
    secret_rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool = strawberry.field(description="False once revoked (revocation is final).")
    run_as: User | None = strawberry.field(
        default=None, description="The user its tokens act as (their data scope applies)."
    )

    @classmethod
    def from_row(cls, row: Row) -> ApiClient:
        return cls(
            id=strawberry.ID(row.client_id),
            name=row.name,
            scopes=list(row.scopes),
            run_as_user_id=strawberry.ID(str(row.run_as_user_id)),
            created_at=row.created_at,
            secret_rotated_at=row.secret_rotated_at,
            revoked_at=row.revoked_at,
            active=row.revoked_at is None,
        )


async def build_api_clients(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[ApiClient]:
    """Clients with their run-as users if selected below `prefix`: one statement a page."""
    nodes = [ApiClient.from_row(r) for r in rows]
    if f"{prefix}runAs" in selected and rows:
        people = await users_by_id(conn, [r.run_as_user_id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            person = people.get(row.run_as_user_id)
            node.run_as = User.from_row(person) if person else None
    return nodes


@strawberry.type(
    description="A single-page front end: a public client (authorization code with PKCE) "
    "whose web origins may call the API from a browser."
)
class SpaClient:
    id: strawberry.ID = strawberry.field(description="The OAuth client_id.")
    name: str
    redirect_uris: list[str]
    web_origins: list[str] = strawberry.field(
        description="Origins (scheme://host[:port]) allowed by CORS on /graphql and /oauth."
    )
    created_at: dt.datetime
    removed_at: dt.datetime | None = strawberry.field(
        description="Set only in removeSpaClient's answer; removed clients are not listed."
    )

    @classmethod
    def from_row(cls, row: Row) -> SpaClient:
        return cls(
            id=strawberry.ID(row.client_id),
            name=row.name,
            redirect_uris=list(row.redirect_uris),
            web_origins=list(row.web_origins),
            created_at=row.created_at,
            removed_at=row.revoked_at,
        )


@strawberry.input
class CreateApiClientInput:
    name: str
    scopes: list[str] = strawberry.field(description='Permission names, e.g. "customers:read".')
    run_as_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="An active user; by default, you."
    )


@strawberry.input
class UpdateApiClientInput:
    id: strawberry.ID
    name: str | None = None
    scopes: list[str] | None = strawberry.field(default=None, description="Replaces them all.")


@strawberry.input
class RotateApiClientSecretInput:
    id: strawberry.ID


@strawberry.input
class RevokeApiClientInput:
    id: strawberry.ID


@strawberry.input
class RegisterSpaClientInput:
    name: str
    redirect_uris: list[str] = strawberry.field(
        description="1 to 20 exact https:// URLs (http:// only for loopback hosts), no fragment."
    )
    web_origins: list[str] = strawberry.field(
        description="Up to 20 origins exactly as browsers send them: scheme://host[:port]."
    )


@strawberry.input
class UpdateSpaClientInput:
    id: strawberry.ID
    name: str | None = None
    redirect_uris: list[str] | None = strawberry.field(default=None, description="Replaces them.")
    web_origins: list[str] | None = strawberry.field(default=None, description="Replaces them.")


@strawberry.input
class RemoveSpaClientInput:
    id: strawberry.ID


@strawberry.type
class ApiClientPayload:
    api_client: ApiClient | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class ApiClientSecretPayload(ApiClientPayload):
    client_secret: str | None = strawberry.field(
        default=None, description="Shown this once: only its hash is kept."
    )


@strawberry.type
class CreateApiClientPayload(ApiClientSecretPayload):
    pass


@strawberry.type
class RotateApiClientSecretPayload(ApiClientSecretPayload):
    pass


@strawberry.type
class UpdateApiClientPayload(ApiClientPayload):
    pass


@strawberry.type
class RevokeApiClientPayload(ApiClientPayload):
    pass


@strawberry.type
class SpaClientPayload:
    spa_client: SpaClient | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class RegisterSpaClientPayload(SpaClientPayload):
    pass


@strawberry.type
class UpdateSpaClientPayload(SpaClientPayload):
    pass


@strawberry.type
class RemoveSpaClientPayload(SpaClientPayload):
    pass


# --- resolvers ----------------------------------------------------------------------


async def _api_client_fields(info: Info, conn: AsyncConnection, row: Row, **extra) -> dict:
    selected = selected_paths(info)
    (node,) = await build_api_clients(conn, [row], selected, "apiClient.")
    return {"api_client": node, **extra}


@strawberry.type
class ClientQueries:
    @strawberry.field(extensions=requires(MANAGE), description="API clients, newest first.")
    async def api_clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiClient]:
        selected = selected_paths(info)
        query = tenant_clients(info.context.principal.tenant.id, "api")
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, NEWEST_FIRST, selected, partial(build_api_clients, conn),
                first=first, after=after,
            )  # fmt: skip

    @strawberry.field(extensions=requires(MANAGE), description="Null if there is no such client.")
    async def api_client(self, info: Info, id: strawberry.ID) -> ApiClient | None:
        async with info.context.db.read() as conn:
            row = await get_client(conn, info.context.principal.tenant.id, "api", str(id))
            if row is None:
                return None
            (node,) = await build_api_clients(conn, [row], selected_paths(info))
        return node

    @strawberry.field(
        extensions=requires(MANAGE),
        description="Registered (not removed) SPA clients, newest first.",
    )
    async def spa_clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SpaClient]:
        query = tenant_clients(info.context.principal.tenant.id, "spa")
        async with info.context.db.read() as conn:
            page = await paginate(
                conn, query, NEWEST_FIRST, first=first, after=after,
                with_total="totalCount" in selected_paths(info),
            )  # fmt: skip
        return connection_from(page, [SpaClient.from_row(r) for r in page.rows])

    @strawberry.field(extensions=requires(MANAGE), description="Null if there is no such client.")
    async def spa_client(self, info: Info, id: strawberry.ID) -> SpaClient | None:
        async with info.context.db.read() as conn:
            row = await get_client(conn, info.context.principal.tenant.id, "spa", str(id))
        return SpaClient.from_row(row) if row else None


@strawberry.type
class ClientMutations:
    @strawberry.mutation(
        extensions=requires(MANAGE), description="The secret is in this answer only."
    )
    async def create_api_client(
        self, info: Info, input: CreateApiClientInput
    ) -> CreateApiClientPayload:
        async def change(conn) -> dict:
            row, secret = await create_api_client(
                conn, info.context.principal, name=input.name, scopes=input.scopes,
                run_as=input.run_as_user_id,
            )  # fmt: skip
            return await _api_client_fields(info, conn, row, client_secret=secret)

        return await run_mutation(info, CreateApiClientPayload, change)

    @strawberry.mutation(extensions=requires(MANAGE), description="Revoked clients cannot change.")
    async def update_api_client(
        self, info: Info, input: UpdateApiClientInput
    ) -> UpdateApiClientPayload:
        async def change(conn) -> dict:
            row = await update_api_client(
                conn, info.context.principal, str(input.id), name=input.name, scopes=input.scopes
            )
            return await _api_client_fields(info, conn, row)

        return await run_mutation(info, UpdateApiClientPayload, change)

    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="A new secret, in this answer only; the old one stops working at once.",
    )
    async def rotate_api_client_secret(
        self, info: Info, input: RotateApiClientSecretInput
    ) -> RotateApiClientSecretPayload:
        async def change(conn) -> dict:
            row, secret = await rotate_api_client_secret(
                conn, info.context.principal, str(input.id)
            )
            return await _api_client_fields(info, conn, row, client_secret=secret)

        return await run_mutation(info, RotateApiClientSecretPayload, change)

    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Final: no new tokens. Repeating it returns the client unchanged.",
    )
    async def revoke_api_client(
        self, info: Info, input: RevokeApiClientInput
    ) -> RevokeApiClientPayload:
        async def change(conn) -> dict:
            row = await revoke_api_client(conn, info.context.principal, str(input.id))
            return await _api_client_fields(info, conn, row)

        return await run_mutation(info, RevokeApiClientPayload, change)

    @strawberry.mutation(extensions=requires(MANAGE))
    async def register_spa_client(
        self, info: Info, input: RegisterSpaClientInput
    ) -> RegisterSpaClientPayload:
        async def change(conn) -> dict:
            row = await register_spa_client(
                conn, info.context.principal, name=input.name, redirect_uris=input.redirect_uris,
                web_origins=input.web_origins,
            )  # fmt: skip
            return {"spa_client": SpaClient.from_row(row)}

        return await run_mutation(info, RegisterSpaClientPayload, change)

    @strawberry.mutation(extensions=requires(MANAGE))
    async def update_spa_client(
        self, info: Info, input: UpdateSpaClientInput
    ) -> UpdateSpaClientPayload:
        async def change(conn) -> dict:
            row = await update_spa_client(
                conn, info.context.principal, str(input.id), name=input.name,
                redirect_uris=input.redirect_uris, web_origins=input.web_origins,
            )  # fmt: skip
            return {"spa_client": SpaClient.from_row(row)}

        return await run_mutation(info, UpdateSpaClientPayload, change)

    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Its sign-ins and CORS stop (CORS within a few seconds); it is listed no more.",
    )
    async def remove_spa_client(
        self, info: Info, input: RemoveSpaClientInput
    ) -> RemoveSpaClientPayload:
        async def change(conn) -> dict:
            row = await remove_spa_client(conn, info.context.principal, str(input.id))
            return {"spa_client": SpaClient.from_row(row)}

        return await run_mutation(info, RemoveSpaClientPayload, change)
