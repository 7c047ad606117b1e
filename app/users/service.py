"""Users of one tenant: adding, changing role, deactivating. Services flush, never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.errors import UserError, UserErrors, fail
from app.users.tables import ROLES, users  # noqa: F401  (ROLES re-exported)
from app.validation import check_choice, check_email, check_length, check_required, clean

FIELDS = ("email", "name", "role", "active")


@dataclass
class UserChanges:
    role: str | None = None
    active: bool | None = None
    name: str | None = None


async def find_by_email(conn: AsyncConnection, email: str):
    return (
        await conn.execute(select(users).where(func.lower(users.c.email) == email.strip().lower()))
    ).first()


async def get_user(conn: AsyncConnection, user_id: uuid.UUID):
    return (await conn.execute(select(users).where(users.c.id == user_id))).first()


async def create_user(
    conn: AsyncConnection, *, actor: Actor, email: str, role: str, name: str = ""
):
    email = clean(email) or ""
    errors = [
        e
        for e in (
            check_required("email", email),
            check_email("email", email),
            check_choice("role", role, ROLES),
            check_length("name", name, max_length=200),
        )
        if e
    ]
    if errors:
        raise UserErrors(errors)
    if await find_by_email(conn, email):
        raise fail("email", "TAKEN", f"a user with email {email} already exists")
    values = {"id": uuid.uuid4(), "email": email, "name": name.strip(), "role": role}
    row = (
        await conn.execute(insert(users).values(**values, created_by=actor.id).returning(users))
    ).one()
    await record(
        conn,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=row.id,
        changes=diff(None, {k: getattr(row, k) for k in FIELDS}),
    )
    return row


async def update_user(
    conn: AsyncConnection, *, actor: Actor, user_id: uuid.UUID, changes: UserChanges
):
    current = (
        await conn.execute(select(users).where(users.c.id == user_id).with_for_update())
    ).first()
    if current is None:
        raise fail("id", "NOT_FOUND", "no such user")
    values = {k: v for k, v in vars(changes).items() if v is not None}
    if "role" in values and (e := check_choice("role", values["role"], ROLES)):
        raise UserErrors([e])
    if "name" in values and (e := check_length("name", values["name"], max_length=200)):
        raise UserErrors([e])
    if actor.id == user_id and (
        values.get("active") is False or values.get("role", "admin") != "admin"
    ):
        raise UserErrors(
            [UserError("id", "FORBIDDEN", "admins cannot demote or deactivate themselves")]
        )
    changed = diff({k: getattr(current, k) for k in values}, values)
    if not changed:
        return current
    row = (
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(**values, version=users.c.version + 1, updated_at=func.now())
            .returning(users)
        )
    ).one()
    await record(
        conn,
        actor=actor,
        action="user.update",
        entity_type="user",
        entity_id=user_id,
        changes=changed,
    )
    return row
