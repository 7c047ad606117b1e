"""Reads of activities, tasks and appointments as composable selects, and who may see
them (resolvers, the timeline and jobs share these).

Data scope:
- an activity is visible exactly when its customer is: the customers' own condition
  (`visible_customers`), applied through EXISTS on the customer row; one on a lead
  that is not converted (no customer) when its lead is (`visible_leads`: by owner);
  one on an opportunity goes with its customer too (it always has the opportunity's);
- a task is visible to whoever may see its assignee's records, an appointment to
  whoever may see its owner's (`people_visible`: the user themself for own and
  assigned scopes, the department subtree for team, everyone for all).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Row, Select, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import True_

from app.activities.tables import MAX_APPOINTMENT_DAYS, activities, appointments, tasks
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.customers.queries import contacts_query, live, visible_contacts, visible_customers
from app.customers.tables import contacts, customers
from app.leads.queries import visible_leads
from app.leads.tables import leads

MAX_OVERLAPS_REPORTED = 20


def visible_activities(who: Scoped) -> ColumnElement[bool]:
    customer_visible = visible_customers(who)
    if isinstance(customer_visible, True_):
        return true()
    a = activities.c
    on_customer = exists().where(customers.c.id == a.customer_id, customer_visible)
    on_lead = exists().where(leads.c.id == a.lead_id, visible_leads(who))
    return or_(on_customer, and_(a.customer_id.is_(None), on_lead))


def visible_tasks(who: Scoped) -> ColumnElement[bool]:
    return people_visible(who, tasks.c.assignee_id)


def visible_appointments(who: Scoped) -> ColumnElement[bool]:
    return people_visible(who, appointments.c.owner_id)


def activities_query(*conditions: ColumnElement[bool] | None) -> Select:
    return select(activities).where(*(c for c in conditions if c is not None))


def tasks_query(*conditions: ColumnElement[bool] | None) -> Select:
    return select(tasks).where(*(c for c in conditions if c is not None))


def appointments_query(*conditions: ColumnElement[bool] | None) -> Select:
    return select(appointments).where(*(c for c in conditions if c is not None))


def appointments_between(
    start: dt.datetime | None, end: dt.datetime | None
) -> list[ColumnElement[bool]]:
    """Appointments overlapping [start, end). Appointments are bounded in length, so
    a lower bound on starts_at keeps the index range short."""
    a = appointments.c
    conditions = []
    if start is not None:
        conditions += [
            a.ends_at > start,
            a.starts_at > start - dt.timedelta(days=MAX_APPOINTMENT_DAYS),
        ]
    if end is not None:
        conditions.append(a.starts_at < end)
    return conditions


async def overlapping_appointments(
    conn: AsyncConnection,
    *,
    owner_id: uuid.UUID,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude: uuid.UUID,
) -> list[uuid.UUID]:
    """The owner's other live, not cancelled appointments overlapping [starts, ends)."""
    a = appointments.c
    rows = await conn.execute(
        select(a.id)
        .where(
            a.owner_id == owner_id,
            live(appointments),
            a.cancelled_at.is_(None),
            a.id != exclude,
            *appointments_between(starts_at, ends_at),
        )
        .order_by(a.starts_at, a.id)
        .limit(MAX_OVERLAPS_REPORTED)
    )
    return [r.id for r in rows]


async def _by_id(conn: AsyncConnection, query: Select, table, row_id: uuid.UUID) -> Row | None:
    return (await conn.execute(query.where(table.c.id == row_id))).first()


async def get_activity(conn: AsyncConnection, who: Scoped, activity_id: uuid.UUID) -> Row | None:
    query = activities_query(live(activities), visible_activities(who))
    return await _by_id(conn, query, activities, activity_id)


async def get_task(conn: AsyncConnection, who: Scoped, task_id: uuid.UUID) -> Row | None:
    return await _by_id(conn, tasks_query(live(tasks), visible_tasks(who)), tasks, task_id)


async def get_appointment(conn: AsyncConnection, who: Scoped, row_id: uuid.UUID) -> Row | None:
    query = appointments_query(live(appointments), visible_appointments(who))
    return await _by_id(conn, query, appointments, row_id)


async def rows_by_id(
    conn: AsyncConnection, query: Select, table, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """Many rows of one kind in one statement (`query` carries the scope)."""
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    rows = await conn.execute(query.where(table.c.id.in_(wanted)))
    return {row.id: row for row in rows}


async def contacts_by_id(
    conn: AsyncConnection, who: Scoped, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    query = contacts_query(live(contacts), visible_contacts(who))
    return await rows_by_id(conn, query, contacts, ids)
