"""Reminders and the inbox.

`produce_reminders` runs every minute for each tenant (workers/scheduled.py): one
INSERT ... SELECT ... ON CONFLICT DO NOTHING per kind. The unique key (user, kind, subject, due
instant) makes it idempotent across repeated and concurrent runs, and it catches up
from the database state after the worker was down: every open task due within the
next 15 minutes or overdue (up to a week back) that has no reminder gets one, once.
A rescheduled task or appointment gets a new reminder for its new time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.tables import appointments, notifications, tasks
from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.errors import fail

REMIND_AHEAD = dt.timedelta(minutes=15)
# Overdue tasks older than this that never got a reminder (the worker was down for
# longer, or the task was entered long overdue) are not worth an alert any more.
CATCH_UP = dt.timedelta(days=7)
MAX_IDS = 100

COLUMNS = ("user_id", "kind", "title", "body", "subject_type", "subject_id", "due_at")


def _reminder_insert(source: Select) -> Any:
    return (
        insert(notifications)
        .from_select(list(COLUMNS), source)
        .on_conflict_do_nothing(constraint="uq_notifications_reminder")
    )


def task_reminders() -> Any:
    t = tasks.c
    now = func.now()
    source = select(
        t.assignee_id,
        literal("task_due"),
        literal("Task due: ") + t.title,
        t.description,
        literal("task"),
        t.id,
        t.due_at,
    ).where(
        t.status == "open",
        t.deleted_at.is_(None),
        t.due_at <= now + REMIND_AHEAD,
        t.due_at > now - CATCH_UP,
    )
    return _reminder_insert(source)


def appointment_reminders() -> Any:
    a = appointments.c
    now = func.now()
    source = select(
        a.owner_id,
        literal("appointment_soon"),
        literal("Appointment soon: ") + a.title,
        a.location,
        literal("appointment"),
        a.id,
        a.starts_at,
    ).where(
        a.deleted_at.is_(None),
        a.cancelled_at.is_(None),
        a.starts_at >= now,
        a.starts_at <= now + REMIND_AHEAD,
    )
    return _reminder_insert(source)


async def produce_reminders(conn: AsyncConnection) -> dict[str, int]:
    """One tenant's due reminders; how many each kind produced this time."""
    made = {}
    for kind, statement in (
        ("task_due", task_reminders()),
        ("appointment_soon", appointment_reminders()),
    ):
        made[kind] = (await conn.execute(statement)).rowcount
    return made


async def remind_tenant(conn: AsyncConnection) -> int:
    """The scheduled rule for one tenant (workers/scheduled.py): how many reminders."""
    return sum((await produce_reminders(conn)).values())


def inbox(who: Scoped, *, unread_only: bool = False) -> list[ColumnElement[bool]]:
    """A user's own notifications, whatever their data scope."""
    conditions = [notifications.c.user_id == who.user_id]
    if unread_only:
        conditions.append(notifications.c.read_at.is_(None))
    return conditions


def notifications_query(who: Scoped, *, unread_only: bool = False) -> Select:
    return select(notifications).where(*inbox(who, unread_only=unread_only))


async def unread_count(conn: AsyncConnection, who: Scoped) -> int:
    return await conn.scalar(
        select(func.count()).select_from(notifications).where(*inbox(who, unread_only=True))
    )


async def mark_read(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, ids: list[uuid.UUID]
) -> list[Any]:
    """Mark some of the user's own notifications read (already read ones stay as they
    were). An id that is not one of theirs is NOT_FOUND, and nothing is marked."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_IDS:
        raise fail("ids", "TOO_MANY", f"at most {MAX_IDS} ids at once")
    n = notifications.c
    mine = and_(n.id.in_(wanted), *inbox(who))
    rows = (await conn.execute(select(notifications).where(mine).with_for_update())).all()
    if len(rows) != len(wanted):
        raise fail("ids", "NOT_FOUND", "no such notification")
    changed = (
        await conn.execute(
            update(notifications)
            .where(mine, n.read_at.is_(None))
            .values(read_at=func.now())
            .returning(n.id)
        )
    ).all()
    if changed:
        await record(
            conn, actor=actor, action="notification.read", entity_type="notification",
            entity_id=None, changes={"read": [str(r.id) for r in changed]},
        )  # fmt: skip
    refreshed = await conn.execute(select(notifications).where(mine))
    by_id = {r.id: r for r in refreshed}
    return [by_id[i] for i in wanted]
