"""Writing audit records: who did what to which record, with before/after of changed fields."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.tables import audit_log


@dataclass(frozen=True)
class Actor:
    kind: str  # user, system, job
    id: uuid.UUID | None = None


SYSTEM = Actor("system")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose value changed, as {field: {"from": old, "to": new}}."""
    before = before or {}
    return {
        key: {"from": _jsonable(before.get(key)), "to": _jsonable(value)}
        for key, value in after.items()
        if before.get(key) != value
    }


async def record(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    changes: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(audit_log).values(
            actor_id=actor.id,
            actor_kind=actor.kind,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            changes=changes or {},
        )
    )
