"""Users of one tenant: adding, changing role, team and status. Services flush, never
commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.membership import link_member
from app.audit.service import Actor
from app.auth.roles import resolve_role
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once
from app.teams.tables import teams
from app.users.tables import users
from app.validation import check_email, check_length, check_required, clean


@dataclass
class UserChanges:
    role: str | None = None
    active: bool | None = None
    name: str | None = None
    team_id: uuid.UUID | None = None
    clear_team: bool = False


async def find_by_email(conn: AsyncConnection, email: str):
    return (
        await conn.execute(select(users).where(func.lower(users.c.email) == email.strip().lower()))
    ).first()


async def _check_role_and_team(conn: AsyncConnection, values: dict[str, Any]) -> list[UserError]:
    errors = []
    if "role" in values and await resolve_role(conn, values["role"] or "") is None:
        errors.append(UserError("role", "NOT_FOUND", f"no role named {values['role']!r}"))
    team_id = values.get("team_id")
    if team_id is not None and not await conn.scalar(
        select(teams.c.id).where(teams.c.id == team_id)
    ):
        errors.append(UserError("teamId", "NOT_FOUND", "no such team"))
    return errors


async def create_user(
    conn: AsyncConnection,
    *,
    actor: Actor,
    tenant_id: uuid.UUID,
    email: str,
    role: str,
    name: str = "",
    team_id: uuid.UUID | None = None,
):
    email = clean(email) or ""
    values = {"email": email, "name": name.strip(), "role": role, "team_id": team_id}
    checks = (
        check_required("email", email),
        check_email("email", email),
        check_length("name", name, max_length=200),
    )
    errors = [e for e in checks if e] + await _check_role_and_team(conn, values)
    if errors:
        raise UserErrors(errors)
    if await find_by_email(conn, email):
        raise fail("email", "TAKEN", f"a user with email {email} already exists")
    row, _ = await insert_once(conn, users, actor=actor, entity="user", row_id=None, values=values)
    await link_member(conn, tenant_id=tenant_id, user_id=row.id, email=email)
    return row


async def update_user(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, changes: UserChanges
):
    current = (
        await conn.execute(select(users).where(users.c.id == user_id).with_for_update())
    ).first()
    if current is None:
        raise fail("id", "NOT_FOUND", "no such user")
    values: dict[str, Any] = {
        k: v for k, v in vars(changes).items() if v is not None and k != "clear_team"
    }
    if changes.clear_team:
        values["team_id"] = None
    errors = await _check_role_and_team(conn, values)
    if "name" in values and (e := check_length("name", values["name"], max_length=200)):
        errors.append(e)
    if errors:
        raise UserErrors(errors)
    if actor.id == user_id and (
        values.get("active") is False or values.get("role", "admin") != "admin"
    ):
        raise fail("id", "FORBIDDEN", "admins cannot demote or deactivate themselves")
    return await apply_change(
        conn, users, current, actor=actor, entity="user", action="update", values=values
    )
