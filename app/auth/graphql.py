"""Roles and the permission list over GraphQL."""

from __future__ import annotations

import enum

import strawberry

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.permissions import requires
from app.auth import roles as role_service
from app.auth.permissions import BUILTIN_ROLES, PERMISSIONS, RoleDefinition


@strawberry.enum
class DataScope(enum.Enum):
    ASSIGNED = "assigned"
    OWN = "own"
    TEAM = "team"
    ALL = "all"


@strawberry.type
class Permission:
    name: str
    description: str


@strawberry.type
class Role:
    name: str
    builtin: bool
    description: str
    permissions: list[str]
    data_scope: DataScope
    version: int | None = strawberry.field(
        default=None, description="Custom roles only: pass it back on update."
    )

    @classmethod
    def from_definition(cls, role: RoleDefinition, version: int | None = None) -> Role:
        return cls(
            name=role.name, builtin=role.builtin, description=role.description,
            permissions=sorted(role.permissions), data_scope=DataScope(role.data_scope),
            version=version,
        )  # fmt: skip


@strawberry.input
class CreateRoleInput:
    name: str
    description: str = ""
    permissions: list[str]
    data_scope: DataScope


@strawberry.input
class UpdateRoleInput:
    name: str
    version: int
    description: str | None = None
    permissions: list[str] | None = None
    data_scope: DataScope | None = None


@strawberry.input
class DeleteRoleInput:
    name: str


@strawberry.type
class RolePayload:
    role: Role | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateRolePayload(RolePayload):
    pass


@strawberry.type
class UpdateRolePayload(RolePayload):
    pass


@strawberry.type
class DeleteRolePayload:
    deleted_name: str | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


def _from_row(row) -> Role:
    return Role.from_definition(role_service.from_row(row), version=row.version)


@strawberry.type
class RoleQueries:
    @strawberry.field(extensions=requires("users:read"), description="Built-in roles first.")
    async def roles(self, info: Info) -> list[Role]:
        async with info.context.db.read() as conn:
            custom = await role_service.custom_roles(conn)
        return [Role.from_definition(r) for r in BUILTIN_ROLES.values()] + [
            _from_row(r) for r in custom
        ]

    @strawberry.field(description="Every permission a role can grant.")
    def permissions(self) -> list[Permission]:
        return [Permission(name=k, description=v) for k, v in PERMISSIONS.items()]


@strawberry.type
class RoleMutations:
    @strawberry.mutation(extensions=requires("roles:manage"))
    async def create_role(self, info: Info, input: CreateRoleInput) -> CreateRolePayload:
        async def change(conn) -> dict:
            row = await role_service.create_role(
                conn, actor=info.context.actor, name=input.name.strip(),
                description=input.description, permissions=input.permissions,
                data_scope=input.data_scope.value,
            )  # fmt: skip
            return {"role": _from_row(row)}

        return await run_mutation(info, CreateRolePayload, change)

    @strawberry.mutation(extensions=requires("roles:manage"))
    async def update_role(self, info: Info, input: UpdateRoleInput) -> UpdateRolePayload:
        async def change(conn) -> dict:
            changes = {
                k: v
                for k, v in (
                    ("description", input.description),
                    ("permissions", input.permissions),
                    ("data_scope", input.data_scope.value if input.data_scope else None),
                )
                if v is not None
            }
            row = await role_service.update_role(
                conn, actor=info.context.actor, name=input.name, version=input.version,
                changes=changes,
            )  # fmt: skip
            return {"role": _from_row(row)}

        return await run_mutation(info, UpdateRolePayload, change)

    @strawberry.mutation(extensions=requires("roles:manage"))
    async def delete_role(self, info: Info, input: DeleteRoleInput) -> DeleteRolePayload:
        async def change(conn) -> dict:
            await role_service.delete_role(conn, actor=info.context.actor, name=input.name)
            return {"deleted_name": input.name}

        return await run_mutation(info, DeleteRolePayload, change)
