"""Roles: resolving a name to its definition (built-in, or defined by the tenant), and
the tenant's own roles: create, change, delete."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.auth.permissions import BUILTIN_ROLES, DATA_SCOPES, PERMISSIONS, RoleDefinition
from app.auth.tables import roles
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once
from app.users.tables import users


def from_row(row) -> RoleDefinition:
    return RoleDefinition(
        name=row.name,
        # A permission removed from the code since the role was saved grants nothing.
        permissions=frozenset(p for p in row.permissions if p in PERMISSIONS),
        data_scope=row.data_scope,
        builtin=False,
        description=row.description,
    )


async def resolve_role(conn: AsyncConnection, name: str) -> RoleDefinition | None:
    builtin = BUILTIN_ROLES.get(name)
    if builtin is not None:
        return builtin
    row = (await conn.execute(select(roles).where(roles.c.name == name))).first()
    return from_row(row) if row else None


async def custom_roles(conn: AsyncConnection) -> list[Row]:
    return list((await conn.execute(select(roles).order_by(roles.c.name))).all())


ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,49}$")
UNIQUE = {"uq_roles_name": UserError("name", "TAKEN", "a role of this name already exists")}


def _check(values: dict[str, Any]) -> list[UserError]:
    errors = []
    name = values.get("name")
    if name is not None and (not ROLE_NAME.match(name) or name in BUILTIN_ROLES):
        errors.append(UserError("name", "INVALID",
                                "use 2-50 lowercase letters, digits, - or _, not a built-in name"))  # fmt: skip
    unknown = sorted(set(values.get("permissions") or ()) - set(PERMISSIONS))
    if unknown:
        errors.append(
            UserError("permissions", "INVALID", f"unknown permissions: {', '.join(unknown)}")
        )
    if "data_scope" in values and values["data_scope"] not in DATA_SCOPES:
        errors.append(UserError("dataScope", "INVALID", f"one of {', '.join(DATA_SCOPES)}"))
    return errors


async def create_role(
    conn: AsyncConnection, *, actor: Actor, name: str, description: str,
    permissions: list[str], data_scope: str,
) -> Row:  # fmt: skip
    values = {"name": name, "description": description.strip(),
              "permissions": sorted(set(permissions)), "data_scope": data_scope}  # fmt: skip
    if errors := _check(values):
        raise UserErrors(errors)
    row, _ = await insert_once(
        conn, roles, actor=actor, entity="role", row_id=None, values=values, unique=UNIQUE
    )
    return row


async def _locked(conn: AsyncConnection, name: str) -> Row:
    row = (await conn.execute(select(roles).where(roles.c.name == name).with_for_update())).first()
    if row is None:
        raise fail("name", "NOT_FOUND", f"no custom role named {name!r}")
    return row


async def update_role(
    conn: AsyncConnection, *, actor: Actor, name: str, version: int, changes: dict[str, Any]
) -> Row:
    current = await _locked(conn, name)
    if current.version != version:
        raise fail("version", "CONFLICT", "this role was changed by someone else; reload it")
    if "permissions" in changes:
        changes["permissions"] = sorted(set(changes["permissions"]))
    if errors := _check(changes):
        raise UserErrors(errors)
    return await apply_change(
        conn, roles, current, actor=actor, entity="role", action="update", values=changes
    )


async def delete_role(conn: AsyncConnection, *, actor: Actor, name: str) -> None:
    current = await _locked(conn, name)
    holders = await conn.scalar(select(func.count()).where(users.c.role == name))
    if holders:
        raise fail("name", "IN_USE", f"{holders} user(s) have this role; give them another first")
    await conn.execute(roles.delete().where(roles.c.id == current.id))
    await record(conn, actor=actor, action="role.delete", entity_type="role", entity_id=current.id)
