"""Writing business rows the same way everywhere: client-supplied ids with idempotent
creates, optimistic versions, soft delete, and the audit record in the same transaction.
Capabilities call these from their services; they flush, never commit."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, func, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.errors import UserError, UserErrors, fail


def fingerprint(payload: Any) -> str:
    """A stable digest of a request, stored with what it created: a retry with the same
    client-supplied id must carry the same request (else CONFLICT)."""
    raw = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def unique_violation(error: IntegrityError, constraints: dict[str, UserError]) -> UserErrors:
    """Turn a unique violation on a known constraint into the user error it means."""
    message = str(error.orig)
    for name, user_error in constraints.items():
        if name in message:
            return UserErrors([user_error])
    raise error


async def insert_once(
    conn: AsyncConnection,
    table: Table,
    *,
    actor: Actor,
    entity: str,
    row_id: uuid.UUID | None,
    values: dict[str, Any],
    unique: dict[str, UserError] | None = None,
) -> tuple[Row, bool]:
    """Insert a row; a repeated create with the same id and content returns the
    existing row (created=False); the same id with other content is a CONFLICT."""
    row_id = row_id or new_id()
    statement = (
        insert(table)
        .values(id=row_id, created_by=actor.id, **values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table)
    )
    try:
        row = (await conn.execute(statement)).first()
    except IntegrityError as error:
        raise unique_violation(error, unique or {}) from error
    if row is None:
        existing = (await conn.execute(select(table).where(table.c.id == row_id))).one()
        if any(getattr(existing, k) != v for k, v in values.items()):
            raise fail("id", "CONFLICT", f"another {entity} already has this id")
        return existing, False
    await record(
        conn,
        actor=actor,
        action=f"{entity}.create",
        entity_type=entity,
        entity_id=row.id,
        changes=diff(None, values),
    )
    return row, True


async def lock_for_change(
    conn: AsyncConnection,
    table: Table,
    row_id: uuid.UUID,
    *,
    entity: str,
    version: int | None,
    deleted: bool = False,
    visible: ColumnElement[bool] | None = None,
) -> Row:
    """The row to change, locked; missing or outside `visible` is NOT_FOUND, a stale
    `version` is CONFLICT. Tables without soft delete (no `deleted_at`) have only
    live rows."""
    if "deleted_at" not in table.c:
        condition = true()
    else:
        condition = table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)
    if visible is not None:
        condition = condition & visible
    row = (
        await conn.execute(select(table).where(table.c.id == row_id, condition).with_for_update())
    ).first()
    if row is None:
        raise fail("id", "NOT_FOUND", f"no such {entity}")
    if version is not None and version != row.version:
        raise fail(
            "version",
            "CONFLICT",
            f"this {entity} was changed by someone else (it is now at version {row.version}); "
            "reload it and try again",
        )
    return row


async def apply_change(
    conn: AsyncConnection,
    table: Table,
    current: Row,
    *,
    actor: Actor,
    entity: str,
    action: str,
    values: dict[str, Any],
    unique: dict[str, UserError] | None = None,
) -> Row:
    """Write the values that differ from `current`, bump the version, audit it.
    Nothing changed means nothing written."""
    changes = diff({k: getattr(current, k) for k in values}, values)
    if not changes:
        return current
    statement = (
        update(table)
        .where(table.c.id == current.id)
        .values(**values, version=table.c.version + 1, updated_at=func.now())
        .returning(table)
    )
    try:
        row = (await conn.execute(statement)).one()
    except IntegrityError as error:
        raise unique_violation(error, unique or {}) from error
    await record(
        conn, actor=actor, action=f"{entity}.{action}", entity_type=entity, entity_id=row.id,
        changes=changes,
    )  # fmt: skip
    return row
