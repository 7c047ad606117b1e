"""Writes to activities and tasks. Every function runs inside the caller's
transaction, audits what it changes, and raises UserErrors for anything the user
can fix (so nothing is written)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Row, func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.checks import check_links, check_person, ensure_may_change
from app.activities.queries import visible_activities, visible_tasks
from app.activities.rules import normalise_activity, normalise_task, task_transition
from app.activities.tables import activities, tasks
from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.errors import UserErrors
from app.records import apply_change, insert_once, lock_for_change


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _raise(errors: list) -> None:
    if errors:
        raise UserErrors(errors)


async def log_activity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    activity_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> Row:
    """Log a call, visit, email, note or meeting on a customer, lead or opportunity
    the user can see; it is the caller's unless they name an owner within their scope."""
    values = dict(fields)
    values.setdefault("owner_id", who.user_id)
    errors = normalise_activity(values, creating=True)
    errors += await check_person(conn, who, values, "owner_id")
    _raise(errors + await check_links(conn, who, values, customer_or_lead=True))
    row, _ = await insert_once(
        conn, activities, actor=actor, entity="activity", row_id=activity_id, values=values
    )
    return row


async def _lock_activity(
    conn: AsyncConnection, who: Scoped, activity_id: uuid.UUID, version: int | None
) -> Row:
    current = await lock_for_change(
        conn, activities, activity_id, entity="activity", version=version,
        visible=visible_activities(who),
    )  # fmt: skip
    await ensure_may_change(conn, who, current.owner_id, "activity")
    return current


async def update_activity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    activity_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Row:
    current = await _lock_activity(conn, who, activity_id, version)
    values = dict(fields)
    errors = normalise_activity(values, creating=False)
    errors += await check_person(conn, who, values, "owner_id")
    _raise(errors + await check_links(conn, who, values, current, customer_or_lead=True))
    return await apply_change(
        conn, activities, current, actor=actor, entity="activity", action="update", values=values
    )


async def delete_activity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    activity_id: uuid.UUID,
    version: int | None,
) -> Row:
    current = await _lock_activity(conn, who, activity_id, version)
    return await apply_change(
        conn, activities, current, actor=actor, entity="activity", action="delete",
        values={"deleted_at": _now()},
    )  # fmt: skip


async def create_task(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    task_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> Row:
    """A new open task, the caller's unless they assign someone within their scope."""
    values = dict(fields)
    values.setdefault("assignee_id", who.user_id)
    errors = normalise_task(values, creating=True)
    errors += await check_person(conn, who, values, "assignee_id")
    _raise(errors + await check_links(conn, who, values))
    row, _ = await insert_once(
        conn, tasks, actor=actor, entity="task", row_id=task_id, values=values
    )
    return row


async def _lock_task(
    conn: AsyncConnection, who: Scoped, task_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, tasks, task_id, entity="task", version=version, visible=visible_tasks(who)
    )


async def update_task(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    task_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Row:
    current = await _lock_task(conn, who, task_id, version)
    values = dict(fields)
    errors = normalise_task(values, creating=False)
    if "status" in values and not errors:
        values.update(task_transition(current.status, values.pop("status"), _now()))
    errors += await check_person(conn, who, values, "assignee_id")
    _raise(errors + await check_links(conn, who, values, current))
    return await apply_change(
        conn, tasks, current, actor=actor, entity="task", action="update", values=values
    )


async def complete_task(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    task_id: uuid.UUID,
    version: int | None,
) -> Row:
    """Mark a task done; completing a done task again changes nothing (safe to retry)."""
    current = await _lock_task(conn, who, task_id, version)
    values = task_transition(current.status, "done", _now())
    return await apply_change(
        conn, tasks, current, actor=actor, entity="task", action="complete", values=values
    )


async def link_converted_lead(
    conn: AsyncConnection,
    *,
    actor: Actor,
    lead_id: uuid.UUID,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    opportunity_id: uuid.UUID | None,
) -> dict[str, int]:
    """Converting a lead (app/leads/convert.py, in its transaction, the lead locked):
    the lead's activities and tasks, deleted ones included, take the customer it
    became, its person as their contact and, those on no opportunity, the opportunity
    it became (if one was created), as if they had been logged on them. Each row
    gets a new version; one audit record on the lead counts them."""
    moved: dict[str, int] = {}
    for name, table in (("activities", activities), ("tasks", tasks)):
        values: dict[str, Any] = {
            "customer_id": customer_id,
            "contact_id": func.coalesce(table.c.contact_id, contact_id),
            "version": table.c.version + 1,
            "updated_at": func.now(),
        }
        if opportunity_id is not None:
            values["opportunity_id"] = func.coalesce(table.c.opportunity_id, opportunity_id)
        result = await conn.execute(update(table).where(table.c.lead_id == lead_id).values(values))
        moved[name] = result.rowcount
    if any(moved.values()):
        await record(
            conn, actor=actor, action="lead.link_records", entity_type="lead", entity_id=lead_id,
            changes={
                "customer_id": {"from": None, "to": str(customer_id)},
                "moved": {"from": None, "to": moved},
            },
        )  # fmt: skip
    return moved
