"""Writes to appointments. A double booking is allowed (people do attend two things
at once, or reschedule later) but never silent: every write that leaves the owner
with overlapping appointments answers with an OVERLAP warning naming them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.checks import check_links, check_person
from app.activities.queries import overlapping_appointments, visible_appointments
from app.activities.rules import normalise_appointment
from app.activities.tables import appointments
from app.audit.service import Actor
from app.auth.principal import Scoped
from app.errors import UserErrors, fail
from app.records import apply_change, insert_once, lock_for_change


@dataclass(frozen=True)
class ScheduleWarning:
    code: str
    message: str
    appointment_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Scheduled:
    row: Row
    warnings: list[ScheduleWarning]


async def _warnings(conn: AsyncConnection, row: Row) -> list[ScheduleWarning]:
    if row.cancelled_at is not None or row.deleted_at is not None:
        return []
    ids = await overlapping_appointments(
        conn, owner_id=row.owner_id, starts_at=row.starts_at, ends_at=row.ends_at, exclude=row.id
    )
    if not ids:
        return []
    count = f"{len(ids)} other appointment{'s' if len(ids) > 1 else ''}"
    return [ScheduleWarning("OVERLAP", f"this overlaps {count} of the same person", ids)]


async def _validated(
    conn: AsyncConnection, who: Scoped, fields: dict[str, Any], current: Row | None = None
) -> dict[str, Any]:
    values = dict(fields)
    errors = normalise_appointment(values, creating=current is None, current=current)
    errors += await check_person(conn, who, values, "owner_id")
    errors += await check_links(conn, who, values, current)
    if errors:
        raise UserErrors(errors)
    return values


async def schedule_appointment(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    appointment_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> Scheduled:
    values = dict(fields)
    values.setdefault("owner_id", who.user_id)
    values = await _validated(conn, who, values)
    row, _ = await insert_once(
        conn, appointments, actor=actor, entity="appointment", row_id=appointment_id,
        values=values,
    )  # fmt: skip
    return Scheduled(row, await _warnings(conn, row))


async def _lock(
    conn: AsyncConnection, who: Scoped, appointment_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, appointments, appointment_id, entity="appointment", version=version,
        visible=visible_appointments(who),
    )  # fmt: skip


async def update_appointment(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    appointment_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Scheduled:
    current = await _lock(conn, who, appointment_id, version)
    if current.cancelled_at is not None:
        raise fail("id", "CANCELLED", "a cancelled appointment cannot be changed")
    values = await _validated(conn, who, fields, current)
    row = await apply_change(
        conn, appointments, current, actor=actor, entity="appointment", action="update",
        values=values,
    )  # fmt: skip
    return Scheduled(row, await _warnings(conn, row))


async def cancel_appointment(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    appointment_id: uuid.UUID,
    version: int | None,
) -> Scheduled:
    """Cancel; cancelling a cancelled appointment changes nothing (safe to retry)."""
    current = await _lock(conn, who, appointment_id, version)
    if current.cancelled_at is not None:
        return Scheduled(current, [])
    row = await apply_change(
        conn, appointments, current, actor=actor, entity="appointment", action="cancel",
        values={"cancelled_at": dt.datetime.now(dt.UTC)},
    )  # fmt: skip
    return Scheduled(row, [])
