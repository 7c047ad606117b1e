"""Users and `me` over GraphQL."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import strawberry
from sqlalchemy import Row, select

from app.api.batch import batched
from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.ids import optional_uuid, require_uuid
from app.api.pagination import Connection, SortKey, connection_from, paginate
from app.api.permissions import requires
from app.users import queries, service
from app.users.tables import users


@strawberry.enum(description="Whether a user can sign in to this tenant yet.")
class SignInStatus(enum.Enum):
    ACTIVE = strawberry.enum_value(
        queries.ACTIVE, description="Their account can sign in here (password or single sign-on)."
    )
    INVITED = strawberry.enum_value(
        queries.INVITED,
        description="Waiting for the person: to set a first password (the reset mail), or to"
        " accept the invitation mailed to them.",
    )
    NO_ACCOUNT = strawberry.enum_value(
        queries.NO_ACCOUNT, description="No account signs in as this user (the person declined)."
    )


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    name: str
    role: str = strawberry.field(description="A built-in role's name or a custom role's.")
    active: bool
    team_id: strawberry.ID | None
    distributor_id: strawberry.ID | None = strawberry.field(
        description="The distributor (a customer) this partner user works for."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int

    @strawberry.field(
        description="Whether the user can sign in yet. Refused (FORBIDDEN) without "
        "users:manage (admins).",
        extensions=requires("users:manage"),
    )
    async def sign_in_status(self, info: Info) -> SignInStatus | None:
        principal = info.context.principal

        async def load(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
            async with info.context.db.read() as conn:
                return await queries.sign_in_states(conn, principal.tenant.id, user_ids)

        return SignInStatus(await batched(info, uuid.UUID(str(self.id)), {}, load))

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            name=row.name,
            role=row.role,
            active=row.active,
            team_id=strawberry.ID(str(row.team_id)) if row.team_id else None,
            distributor_id=strawberry.ID(str(row.distributor_id)) if row.distributor_id else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )


@strawberry.type
class Tenant:
    id: strawberry.ID
    slug: str
    name: str
    time_zone: str


@strawberry.type
class Me:
    user: User
    tenant: Tenant
    permissions: list[str]
    data_scope: str = strawberry.field(description="assigned, own, team or all.")


DISTRIBUTOR_ID = (
    "The distributor (a customer with isDistributor) the user works for; only for a "
    "role with the assigned data scope (such as partner)."
)


@strawberry.input
class CreateUserInput:
    email: str
    role: str
    name: str = ""
    team_id: strawberry.ID | None = None
    distributor_id: strawberry.ID | None = strawberry.field(
        default=None, description=DISTRIBUTOR_ID
    )


@strawberry.type
class CreateUserPayload:
    user: User | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateUserInput:
    id: strawberry.ID
    role: str | None = None
    active: bool | None = None
    name: str | None = None
    team_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="null takes the user out of any team."
    )
    distributor_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=DISTRIBUTOR_ID + " null unlinks."
    )


@strawberry.type
class UpdateUserPayload:
    user: User | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user and their tenant.")
    async def me(self, info: Info) -> Me:
        principal = info.context.principal
        async with info.context.db.read() as conn:
            row = (await conn.execute(select(users).where(users.c.id == principal.user_id))).one()
        tenant = principal.tenant
        return Me(
            user=User.from_row(row),
            tenant=Tenant(
                id=strawberry.ID(str(tenant.id)),
                slug=tenant.slug,
                name=tenant.name,
                time_zone=tenant.time_zone,
            ),
            permissions=sorted(principal.permissions),
            data_scope=principal.data_scope,
        )

    @strawberry.field(extensions=requires("users:read"), description="Users, by email.")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[User]:
        async with info.context.db.read() as conn:
            page = await paginate(
                conn, select(users), [SortKey(users.c.email), SortKey(users.c.id)],
                first=first, after=after, last=last, before=before, with_total=True,
            )  # fmt: skip
        return connection_from(page, [User.from_row(r) for r in page.rows])


@strawberry.type
class UserMutations:
    @strawberry.mutation(extensions=requires("users:manage"))
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        async def change(conn) -> dict:
            row = await service.create_user(
                conn, actor=info.context.actor, tenant_id=info.context.principal.tenant.id,
                email=input.email, role=input.role,
                name=input.name, team_id=optional_uuid(input.team_id, "teamId", "team"),
                distributor_id=optional_uuid(input.distributor_id, "distributorId", "customer"),
            )  # fmt: skip
            return {"user": User.from_row(row)}

        return await run_mutation(info, CreateUserPayload, change)

    @strawberry.mutation(extensions=requires("users:manage"))
    async def update_user(self, info: Info, input: UpdateUserInput) -> UpdateUserPayload:

        async def change(conn) -> dict:
            team_given = input.team_id is not strawberry.UNSET
            linked = input.distributor_id is not strawberry.UNSET
            changes = service.UserChanges(
                role=input.role, active=input.active, name=input.name,
                team_id=optional_uuid(input.team_id, "teamId", "team") if team_given else None,
                clear_team=team_given and input.team_id is None,
                distributor_id=optional_uuid(input.distributor_id, "distributorId", "customer")
                if linked else None,
                clear_distributor=linked and input.distributor_id is None,
            )  # fmt: skip
            row = await service.update_user(
                conn, actor=info.context.actor, user_id=require_uuid(input.id, "id", "user"),
                changes=changes,
            )  # fmt: skip
            return {"user": User.from_row(row)}

        return await run_mutation(info, UpdateUserPayload, change)
