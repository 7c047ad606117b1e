"""Queries: `activity`, `activities`, `task`, `tasks`, `appointment`, `appointments`,
`notifications` and `unreadCount` (the customer timeline is in timeline_graphql.py),
and the resolver of `Lead.activities` and `Opportunity.activities`."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Awaitable, Callable
from functools import partial

import strawberry
from sqlalchemy import Select

from app.activities import queries, reminders
from app.activities.tables import activities, appointments, notifications, tasks
from app.activities.types import (
    Activity,
    ActivityKind,
    Appointment,
    Notification,
    Task,
    TaskStatus,
    build_activities,
    build_appointments,
    build_tasks,
)
from app.api.batch import batched
from app.api.context import Info
from app.api.filters import (
    DateTimeFilter,
    EnumFilter,
    IdFilter,
    all_of,
    datetime_condition,
    enum_condition,
    id_condition,
)
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of, pages_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Scoped
from app.customers.queries import live

READ = requires("activities:read")


@strawberry.input
class ActivityFilter:
    customer_id: IdFilter | None = None
    contact_id: IdFilter | None = None
    lead_id: IdFilter | None = None
    opportunity_id: IdFilter | None = None
    kind: EnumFilter[ActivityKind] | None = None
    owner_id: IdFilter | None = None
    occurred_at: DateTimeFilter | None = None


@strawberry.enum
class ActivityOrderField(enum.Enum):
    OCCURRED_AT = "occurred_at"
    CREATED_AT = "created_at"


@strawberry.input
class ActivityOrder:
    field: ActivityOrderField
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class TaskFilter:
    assignee_id: IdFilter | None = None
    status: EnumFilter[TaskStatus] | None = None
    due_at: DateTimeFilter | None = None
    customer_id: IdFilter | None = None
    lead_id: IdFilter | None = None
    opportunity_id: IdFilter | None = None


@strawberry.enum
class TaskOrderField(enum.Enum):
    DUE_AT = "due_at"
    PRIORITY = "priority_rank"
    CREATED_AT = "created_at"


@strawberry.input
class TaskOrder:
    field: TaskOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class AppointmentFilter:
    owner_id: IdFilter | None = None
    customer_id: IdFilter | None = None
    from_: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Appointments still going on at or after this."
    )
    to: dt.datetime | None = strawberry.field(
        default=None, description="Appointments starting before this."
    )
    include_cancelled: bool = False


def _keys(table, orders: list, default_descending: bool) -> list[SortKey]:
    """The sort the client asked for, ending in the id so cursors are stable."""
    keys = [SortKey(table.c[o.field.value], o.direction is SortDirection.DESC) for o in orders]
    last = keys[-1].descending if keys else default_descending
    return [*keys, SortKey(table.c.id, last)]


Builder = Callable[..., Awaitable[list]]


def activity_listing(
    principal: Scoped, filter: ActivityFilter | None, order_by: list[ActivityOrder] | None
) -> tuple[Select, list[SortKey]]:
    """The `activities` list: the activities the principal may see that match the
    filter, and the sort keys (ending in the id). `activities`, `Lead.activities` and
    `Opportunity.activities` share it."""
    f = filter or ActivityFilter()
    a = activities.c
    query = queries.activities_query(
        live(activities),
        queries.visible_activities(principal),
        id_condition(a.customer_id, f.customer_id, "customerId"),
        id_condition(a.contact_id, f.contact_id, "contactId"),
        id_condition(a.lead_id, f.lead_id, "leadId"),
        id_condition(a.opportunity_id, f.opportunity_id, "opportunityId"),
        enum_condition(a.kind, f.kind),
        id_condition(a.owner_id, f.owner_id, "ownerId"),
        datetime_condition(a.occurred_at, f.occurred_at),
    )
    order = order_by or [ActivityOrder(field=ActivityOrderField.OCCURRED_AT)]
    return query, _keys(activities, order, default_descending=True)


async def linked_activities(
    info: Info,
    link: str,
    parent_id: strawberry.ID,
    *,
    first: int | None,
    after: str | None,
    filter: ActivityFilter | None,
    order_by: list[ActivityOrder] | None,
) -> Connection[Activity]:
    """`Lead.activities` (link "lead_id") and `Opportunity.activities`
    ("opportunity_id"): the `activities` list of one lead or opportunity, the pages
    of every parent of a page of them in one statement (app/api/batch.py)."""
    principal = info.context.principal
    selected = selected_paths(info)
    query, keys = activity_listing(principal, filter, order_by)
    arguments = {"first": first, "after": after, "filter": filter, "order_by": order_by}

    async def load(ids: list[uuid.UUID]) -> dict[uuid.UUID, Connection[Activity]]:
        async with info.context.db.read() as conn:
            return await pages_of(
                conn, query, keys, activities.c[link], ids, selected,
                partial(build_activities, conn, principal), first=first, after=after,
            )  # fmt: skip

    return await batched(info, uuid.UUID(str(parent_id)), arguments, load)


async def _page(
    info: Info,
    query: Select,
    keys: list[SortKey],
    build: Builder,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection:
    selected = selected_paths(info)
    async with info.context.db.read() as conn:
        return await page_of(
            conn, query, keys, selected, partial(build, conn, info.context.principal),
            first=first, after=after, last=last, before=before,
        )  # fmt: skip


@strawberry.type
class ActivityQueries:
    @strawberry.field(extensions=READ, description="An activity of a customer you can see.")
    async def activity(self, info: Info, id: strawberry.ID) -> Activity | None:
        return await visible_node(info, id, queries.get_activity, build_activities)

    @strawberry.field(extensions=READ, description="Newest first unless ordered otherwise.")
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ActivityFilter | None = None,
        order_by: list[ActivityOrder] | None = None,
    ) -> Connection[Activity]:
        query, keys = activity_listing(info.context.principal, filter, order_by)
        return await _page(info, query, keys, build_activities, first, after, last, before)

    @strawberry.field(extensions=READ, description="A task assigned to someone in your scope.")
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        return await visible_node(info, id, queries.get_task, build_tasks)

    @strawberry.field(extensions=READ, description="Tasks of people in your scope; by due time.")
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: TaskFilter | None = None,
        order_by: list[TaskOrder] | None = None,
    ) -> Connection[Task]:
        f = filter or TaskFilter()
        t = tasks.c
        query = queries.tasks_query(
            live(tasks),
            queries.visible_tasks(info.context.principal),
            id_condition(t.assignee_id, f.assignee_id, "assigneeId"),
            enum_condition(t.status, f.status),
            datetime_condition(t.due_at, f.due_at),
            id_condition(t.customer_id, f.customer_id, "customerId"),
            id_condition(t.lead_id, f.lead_id, "leadId"),
            id_condition(t.opportunity_id, f.opportunity_id, "opportunityId"),
        )
        order = order_by or [TaskOrder(field=TaskOrderField.DUE_AT)]
        keys = _keys(tasks, order, default_descending=False)
        return await _page(info, query, keys, build_tasks, first, after, last, before)

    @strawberry.field(extensions=READ)
    async def appointment(self, info: Info, id: strawberry.ID) -> Appointment | None:
        return await visible_node(info, id, queries.get_appointment, build_appointments)

    @strawberry.field(
        extensions=READ, description="Appointments of people in your scope, by start time."
    )
    async def appointments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AppointmentFilter | None = None,
    ) -> Connection[Appointment]:
        f = filter or AppointmentFilter()
        p = appointments.c
        query = queries.appointments_query(
            live(appointments),
            queries.visible_appointments(info.context.principal),
            id_condition(p.owner_id, f.owner_id, "ownerId"),
            id_condition(p.customer_id, f.customer_id, "customerId"),
            None if f.include_cancelled else p.cancelled_at.is_(None),
            all_of(queries.appointments_between(f.from_, f.to)),
        )
        keys = [SortKey(p.starts_at), SortKey(p.id)]
        return await _page(info, query, keys, build_appointments, first, after)

    @strawberry.field(extensions=READ, description="Your own inbox, newest first.")
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[Notification]:
        query = reminders.notifications_query(info.context.principal, unread_only=unread_only)
        n = notifications.c
        keys = [SortKey(n.created_at, True), SortKey(n.id, True)]

        async def build(conn, who, rows, selected, prefix):
            return [Notification.from_row(r) for r in rows]

        return await _page(info, query, keys, build, first, after)

    @strawberry.field(extensions=READ, description="How many of your notifications are unread.")
    async def unread_count(self, info: Info) -> int:
        async with info.context.db.read() as conn:
            return await reminders.unread_count(conn, info.context.principal)
