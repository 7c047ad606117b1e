"""Teams (departments) over GraphQL."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import Row, select

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.ids import optional_uuid, require_uuid
from app.api.permissions import requires
from app.teams import service
from app.teams.tables import teams


@strawberry.type
class Team:
    id: strawberry.ID
    name: str
    parent_id: strawberry.ID | None
    depth: int = strawberry.field(description="0 for a top-level team.")
    version: int
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Row) -> Team:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            parent_id=strawberry.ID(str(row.parent_id)) if row.parent_id else None,
            depth=row.path.count("/") - 2,
            version=row.version,
            created_at=row.created_at,
        )


@strawberry.input
class CreateTeamInput:
    id: strawberry.ID | None = None
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.input
class UpdateTeamInput:
    id: strawberry.ID
    version: int
    name: str | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="null moves the team to the top level."
    )


@strawberry.input
class DeleteTeamInput:
    id: strawberry.ID


@strawberry.type
class TeamPayload:
    team: Team | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateTeamPayload(TeamPayload):
    pass


@strawberry.type
class UpdateTeamPayload(TeamPayload):
    pass


@strawberry.type
class DeleteTeamPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class TeamQueries:
    @strawberry.field(extensions=requires("users:read"), description="The tree, parents first.")
    async def teams(self, info: Info) -> list[Team]:
        async with info.context.db.read() as conn:
            rows = (await conn.execute(select(teams).order_by(teams.c.path))).all()
        return [Team.from_row(r) for r in rows]


@strawberry.type
class TeamMutations:
    @strawberry.mutation(extensions=requires("teams:manage"))
    async def create_team(self, info: Info, input: CreateTeamInput) -> CreateTeamPayload:
        async def change(conn) -> dict:
            row = await service.create_team(
                conn, actor=info.context.actor, team_id=optional_uuid(input.id, "id", "team"),
                name=input.name, parent_id=optional_uuid(input.parent_id, "parentId", "team"),
            )  # fmt: skip
            return {"team": Team.from_row(row)}

        return await run_mutation(info, CreateTeamPayload, change)

    @strawberry.mutation(extensions=requires("teams:manage"))
    async def update_team(self, info: Info, input: UpdateTeamInput) -> UpdateTeamPayload:
        async def change(conn) -> dict:
            changes: dict = {}
            if input.name is not strawberry.UNSET:
                changes["name"] = input.name
            if input.parent_id is not strawberry.UNSET:
                changes["parent_id"] = optional_uuid(input.parent_id, "parentId", "team")
            row = await service.update_team(
                conn, actor=info.context.actor, team_id=require_uuid(input.id, "id", "team"),
                version=input.version, changes=changes,
            )  # fmt: skip
            return {"team": Team.from_row(row)}

        return await run_mutation(info, UpdateTeamPayload, change)

    @strawberry.mutation(extensions=requires("teams:manage"))
    async def delete_team(self, info: Info, input: DeleteTeamInput) -> DeleteTeamPayload:
        async def change(conn) -> dict:
            team_id = require_uuid(input.id, "id", "team")
            await service.delete_team(conn, actor=info.context.actor, team_id=team_id)
            return {"deleted_id": input.id}

        return await run_mutation(info, DeleteTeamPayload, change)
