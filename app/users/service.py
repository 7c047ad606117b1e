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
from app.auth.permissions import RoleDefinition
from app.auth.roles import resolve_role
from app.customers.tables import customers
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
    distributor_id: uuid.UUID | None = None
    clear_distributor: bool = False


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


NOT_A_DISTRIBUTOR = UserError(
    "distributorId", "INVALID", "this customer is not a distributor (isDistributor)"
)
NOT_ASSIGNED_SCOPE = UserError(
    "distributorId",
    "INVALID",
    "only users whose role has the assigned data scope (such as partner) can work for a "
    "distributor",
)


async def _check_distributor(
    conn: AsyncConnection, distributor_id: uuid.UUID | None, role: RoleDefinition | None
) -> list[UserError]:
    """The distributor a user works for: a live customer of this tenant marked
    distributor, held FOR KEY SHARE so it cannot be unmarked (or merged) until this
    transaction ends; and only for a role that sees by assignment, since for anyone
    else a distributor link would mean nothing."""
    if distributor_id is None:
        return []
    c = customers.c
    found = (
        await conn.execute(
            select(c.is_distributor)
            .where(c.id == distributor_id, c.deleted_at.is_(None))
            .with_for_update(read=True, key_share=True)
        )
    ).first()
    if found is None:
        return [UserError("distributorId", "NOT_FOUND", "no such customer")]
    errors = [] if found.is_distributor else [NOT_A_DISTRIBUTOR]
    if role is not None and role.data_scope != "assigned":
        errors.append(NOT_ASSIGNED_SCOPE)
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
    distributor_id: uuid.UUID | None = None,
):
    email = clean(email) or ""
    values = {"email": email, "name": name.strip(), "role": role, "team_id": team_id}
    if distributor_id is not None:
        values["distributor_id"] = distributor_id
    checks = (
        check_required("email", email),
        check_email("email", email),
        check_length("name", name, max_length=200),
    )
    errors = [e for e in checks if e] + await _check_role_and_team(conn, values)
    if distributor_id is not None:
        errors += await _check_distributor(conn, distributor_id, await resolve_role(conn, role))
    if errors:
        raise UserErrors(errors)
    if await find_by_email(conn, email):
        raise fail("email", "TAKEN", f"a user with email {email} already exists")
    row, _ = await insert_once(conn, users, actor=actor, entity="user", row_id=None, values=values)
    await link_member(conn, tenant_id=tenant_id, user_id=row.id, email=email)
    return row


async def _check_linked_role(conn: AsyncConnection, current, values: dict) -> list[UserError]:
    """The user's distributor link and role, as they will be, still agree."""
    distributor_id = values.get("distributor_id", current.distributor_id)
    if distributor_id is None or ("role" not in values and "distributor_id" not in values):
        return []
    role = await resolve_role(conn, values.get("role") or current.role)
    if role is None:
        return []  # the role's own error says it
    if "distributor_id" in values:
        return await _check_distributor(conn, distributor_id, role)
    if role.data_scope != "assigned":
        return [UserError("role", "INVALID", "this user works for a distributor: only a role "
                          "with the assigned data scope fits; clear distributorId first")]  # fmt: skip
    return []


async def update_user(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, changes: UserChanges
):
    current = (
        await conn.execute(select(users).where(users.c.id == user_id).with_for_update())
    ).first()
    if current is None:
        raise fail("id", "NOT_FOUND", "no such user")
    values: dict[str, Any] = {
        k: v
        for k, v in vars(changes).items()
        if v is not None and k not in ("clear_team", "clear_distributor")
    }
    if changes.clear_team:
        values["team_id"] = None
    if changes.clear_distributor:
        values["distributor_id"] = None
    errors = await _check_role_and_team(conn, values)
    errors += await _check_linked_role(conn, current, values)
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
