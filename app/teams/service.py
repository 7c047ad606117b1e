"""The department tree. A team's `path` lists its ancestors' ids and its own; moving a
team rewrites the paths of its whole subtree in one statement."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.errors import UserError, fail
from app.records import apply_change, insert_once
from app.teams.tables import teams
from app.users.tables import users
from app.validation import check_required

UNIQUE = {
    "uq_teams_parent_id_name": UserError(
        "name", "TAKEN", "a team of this name already exists under this parent"
    )
}


async def _parent_path(conn: AsyncConnection, parent_id: uuid.UUID | None) -> str:
    if parent_id is None:
        return "/"
    path = await conn.scalar(select(teams.c.path).where(teams.c.id == parent_id))
    if path is None:
        raise fail("parentId", "NOT_FOUND", "no such team")
    return path


def _name(name: str | None) -> str:
    if error := check_required("name", name, max_length=100):
        raise fail(error.field, error.code, error.message)
    return (name or "").strip()


async def create_team(
    conn: AsyncConnection,
    *,
    actor: Actor,
    team_id: uuid.UUID | None,
    name: str,
    parent_id: uuid.UUID | None,
) -> Row:
    team_id = team_id or uuid.uuid4()
    path = f"{await _parent_path(conn, parent_id)}{team_id.hex}/"
    row, _ = await insert_once(
        conn, teams, actor=actor, entity="team", row_id=team_id,
        values={"name": _name(name), "parent_id": parent_id, "path": path}, unique=UNIQUE,
    )  # fmt: skip
    return row


async def update_team(
    conn: AsyncConnection,
    *,
    actor: Actor,
    team_id: uuid.UUID,
    version: int,
    changes: dict[str, Any],
) -> Row:
    current = (
        await conn.execute(select(teams).where(teams.c.id == team_id).with_for_update())
    ).first()
    if current is None:
        raise fail("id", "NOT_FOUND", "no such team")
    if current.version != version:
        raise fail("version", "CONFLICT", "this team was changed by someone else; reload it")
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _name(changes["name"])
    if "parent_id" in changes and changes["parent_id"] != current.parent_id:
        new_path = f"{await _parent_path(conn, changes['parent_id'])}{team_id.hex}/"
        if new_path.startswith(current.path):
            raise fail("parentId", "CYCLE", "a team cannot move below itself")
        # The subtree keeps its shape: every path under the old prefix moves along.
        await conn.execute(
            update(teams)
            .where(teams.c.path.startswith(current.path, autoescape=True), teams.c.id != team_id)
            .values(path=literal(new_path) + func.substr(teams.c.path, len(current.path) + 1))
        )
        values.update(parent_id=changes["parent_id"], path=new_path)
    return await apply_change(
        conn, teams, current, actor=actor, entity="team", action="update", values=values,
        unique=UNIQUE,
    )  # fmt: skip


async def delete_team(conn: AsyncConnection, *, actor: Actor, team_id: uuid.UUID) -> None:
    """Only an empty team goes: no sub-teams, no members."""
    if not await conn.scalar(select(teams.c.id).where(teams.c.id == team_id).with_for_update()):
        raise fail("id", "NOT_FOUND", "no such team")
    if await conn.scalar(select(func.count()).where(teams.c.parent_id == team_id)):
        raise fail("id", "NOT_EMPTY", "move or delete its sub-teams first")
    if await conn.scalar(select(func.count()).where(users.c.team_id == team_id)):
        raise fail("id", "NOT_EMPTY", "move its members to another team first")
    await conn.execute(teams.delete().where(teams.c.id == team_id))
    await record(conn, actor=actor, action="team.delete", entity_type="team", entity_id=team_id)
