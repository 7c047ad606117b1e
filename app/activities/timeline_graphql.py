"""`customerTimeline(customerId, first, after)`: a customer's history, newest first.

A top-level query rather than a `Customer.timeline` field, so the customers
capability does not depend on this one. Each item is a `TimelineItem`; the records
behind a page are loaded once per kind, so a page costs the same number of
statements whatever its length.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.scalars import JSON

from app.activities import queries, timeline
from app.activities.tables import activities, appointments, tasks
from app.activities.types import (
    Activity,
    Appointment,
    Task,
    build_activities,
    build_appointments,
    build_tasks,
)
from app.api.context import Info
from app.api.ids import parse_uuid
from app.api.pagination import Connection, Edge, PageInfo, decode_cursor, encode_cursor, page_size
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Principal, Scoped
from app.customers.queries import get_customer, live
from app.errors import BadUserInput
from app.users.graphql import User
from app.users.queries import users_by_id


@strawberry.enum
class TimelineItemKind(enum.Enum):
    ACTIVITY = timeline.ACTIVITY
    TASK_CREATED = timeline.TASK_CREATED
    TASK_COMPLETED = timeline.TASK_COMPLETED
    APPOINTMENT = timeline.APPOINTMENT
    OWNER_CHANGED = timeline.OWNER_CHANGED


@strawberry.interface(description="One entry of a customer's history.")
class TimelineItem:
    at: dt.datetime = strawberry.field(
        description="When: an activity's occurredAt, a task's createdAt or completedAt, "
        "an appointment's startsAt, an owner change's time."
    )
    kind: TimelineItemKind
    id: strawberry.ID = strawberry.field(description="The id of the record the item is about.")


@strawberry.type
class ActivityTimelineItem(TimelineItem):
    activity: Activity


@strawberry.type
class TaskTimelineItem(TimelineItem):
    task: Task


@strawberry.type
class AppointmentTimelineItem(TimelineItem):
    appointment: Appointment


@strawberry.type(description="The customer's owner changed (from the audit log).")
class OwnerChangeTimelineItem(TimelineItem):
    from_owner_id: strawberry.ID | None
    to_owner_id: strawberry.ID | None
    actor_id: strawberry.ID | None = strawberry.field(description="Who changed it.")
    changes: JSON = strawberry.field(
        description="Every field changed with it: {field: {from, to}} (creditLimit only "
        "with customers:read_credit)."
    )
    from_owner: User | None = None
    to_owner: User | None = None
    actor: User | None = None


# The schema registers these: they are reachable only through the interface.
TIMELINE_ITEM_TYPES = (
    ActivityTimelineItem, TaskTimelineItem, AppointmentTimelineItem, OwnerChangeTimelineItem,
)  # fmt: skip

# Which field of which item type carries each kind's record, and how it is loaded.
FIELD_OF = {
    timeline.ACTIVITY: "activity",
    timeline.TASK_CREATED: "task",
    timeline.TASK_COMPLETED: "task",
    timeline.APPOINTMENT: "appointment",
}
RECORDS = {
    "activity": (activities, build_activities, ActivityTimelineItem),
    "task": (tasks, build_tasks, TaskTimelineItem),
    "appointment": (appointments, build_appointments, AppointmentTimelineItem),
}


def _uuid_or_none(value: object) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


async def _records(
    conn: AsyncConnection, who: Scoped, rows: Sequence[timeline.TimelineRow], selected: set[str]
) -> dict[tuple[str, object], object]:
    """The activities, tasks and appointments behind a page, if selected: one
    statement per kind (the feed already applied the scope)."""
    wanted: dict[str, list] = {}
    for row in rows:
        field = FIELD_OF.get(row.kind)
        if field is not None and f"edges.node.{field}" in selected:
            wanted.setdefault(field, []).append(row.ref)
    built: dict[tuple[str, object], object] = {}
    for field, ids in wanted.items():
        table, build, _ = RECORDS[field]
        found = await queries.rows_by_id(conn, select(table).where(live(table)), table, ids)
        nodes = await build(conn, who, list(found.values()), selected, f"edges.node.{field}.")
        built.update({(field, key): node for key, node in zip(found, nodes, strict=True)})
    return built


# Customer fields whose values need a permission to see (as on the Customer type):
# their history is left out of `changes` for anyone without it.
PROTECTED_FIELDS = {"credit_limit": "customers:read_credit"}


def _visible_changes(changes: dict, principal: Principal) -> dict:
    return {
        field: change
        for field, change in changes.items()
        if field not in PROTECTED_FIELDS or principal.can(PROTECTED_FIELDS[field])
    }


async def _owner_changes(
    conn: AsyncConnection,
    principal: Principal,
    rows: Sequence[timeline.TimelineRow],
    selected: set[str],
) -> dict[int, OwnerChangeTimelineItem]:
    items = {}
    for row in rows:
        if row.kind != timeline.OWNER_CHANGED:
            continue
        owner = (row.changes or {}).get("owner_id", {})
        items[row.ref] = OwnerChangeTimelineItem(
            at=row.at, kind=TimelineItemKind.OWNER_CHANGED, id=strawberry.ID(str(row.ref)),
            from_owner_id=_uuid_or_none(owner.get("from")),
            to_owner_id=_uuid_or_none(owner.get("to")),
            actor_id=_uuid_or_none(row.actor_id),
            changes=_visible_changes(row.changes or {}, principal),
        )  # fmt: skip
    people_fields = [f for f in ("from_owner", "to_owner", "actor") if _selected(selected, f)]
    if items and people_fields:
        ids = []
        for item in items.values():
            ids += [item.from_owner_id, item.to_owner_id, item.actor_id]
        people = await users_by_id(conn, [parse_uuid(i) for i in ids if i])
        for item in items.values():
            for name in people_fields:
                person = people.get(parse_uuid(getattr(item, f"{name}_id")))
                setattr(item, name, User.from_row(person) if person else None)
    return items


def _selected(selected: set[str], field: str) -> bool:
    camel = "".join(p if i == 0 else p.title() for i, p in enumerate(field.split("_")))
    return f"edges.node.{camel}" in selected


@strawberry.type
class TimelineQueries:
    @strawberry.field(
        extensions=requires("activities:read"),
        description="A customer's history, newest first: activities, tasks created and "
        "completed, appointments, and owner changes. Null for a customer you cannot see.",
    )
    async def customer_timeline(
        self,
        info: Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TimelineItem] | None:
        size, _ = page_size(first, None)
        cursor = None
        if after is not None:
            cursor = timeline.parse_after(decode_cursor(after, 3, "after"))
            if cursor is None:
                raise BadUserInput("after is not a valid cursor for this timeline")
        parsed = parse_uuid(customer_id)
        if parsed is None:
            return None
        who = info.context.principal
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            if await get_customer(conn, who, parsed) is None:
                return None
            statement = timeline.timeline_statement(who, parsed, limit=size + 1, after=cursor)
            rows = [timeline.TimelineRow(**r._mapping) for r in await conn.execute(statement)]
            more, rows = len(rows) > size, rows[:size]
            records = await _records(conn, who, rows, selected)
            changes = await _owner_changes(conn, who, rows, selected)
            total = None
            if "totalCount" in selected:
                total = await conn.scalar(timeline.timeline_count_statement(who, parsed))
        edges = []
        for row in rows:
            if row.kind == timeline.OWNER_CHANGED:
                node: TimelineItem = changes[row.ref]
            else:
                field = FIELD_OF[row.kind]
                record = records.get((field, row.ref))
                if record is None and f"edges.node.{field}" in selected:
                    continue  # deleted since the feed was read
                node = RECORDS[field][2](
                    at=row.at, kind=TimelineItemKind(row.kind), id=strawberry.ID(str(row.ref)),
                    **{field: record},
                )  # fmt: skip
            edges.append(Edge(cursor=encode_cursor([row.at, row.kind, row.key]), node=node))
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=more,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),  # fmt: skip
            total_count=total,
        )
