"""`customerTimeline(customerId, first, after)` and `Customer.timeline(first, after)`:
a customer's history, newest first.

Each item is a `TimelineItem`; the records behind a page are loaded once per kind, so
a page costs the same number of statements whatever its length, and `Customer.timeline`
in a list of customers the same whatever the number of customers (the customers
capability declares the field lazily and calls `customer_timeline_field`).

Sales orders are items only for a reader holding orders:read; without it the feed
is the rest, its cursors and counts as if the customer had no orders.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from decimal import Decimal

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
from app.api.batch import batched
from app.api.context import Info, tenant_today
from app.api.ids import parse_uuid
from app.api.pagination import Connection, Edge, PageInfo, decode_cursor, encode_cursor, page_size
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Principal, Scoped
from app.customers.queries import get_customer, live
from app.errors import BadUserInput
from app.orders.graphql import ORDERS_READ
from app.orders.tables import sales_orders
from app.orders.types import SalesOrder, SalesOrderStatus, build_orders
from app.users.graphql import User
from app.users.queries import users_by_id


@strawberry.enum
class TimelineItemKind(enum.Enum):
    ACTIVITY = timeline.ACTIVITY
    TASK_CREATED = timeline.TASK_CREATED
    TASK_COMPLETED = timeline.TASK_COMPLETED
    APPOINTMENT = timeline.APPOINTMENT
    OWNER_CHANGED = timeline.OWNER_CHANGED
    ORDER_CREATED = strawberry.enum_value(
        timeline.ORDER_CREATED,
        description="A sales order, once, when it was created (orders:read).",
    )


@strawberry.interface(description="One entry of a customer's history.")
class TimelineItem:
    at: dt.datetime = strawberry.field(
        description="When: an activity's occurredAt, a task's createdAt or completedAt, "
        "an appointment's startsAt, an owner change's time, a sales order's createdAt."
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


@strawberry.type(
    description="A sales order of the customer, at its creation, as it is now: its status "
    "says whether it was confirmed, closed or cancelled since (the times are on `order`). "
    "Only for readers holding orders:read."
)
class OrderTimelineItem(TimelineItem):
    number: str = strawberry.field(description="SO-2026-000123.")
    status: SalesOrderStatus = strawberry.field(description="Now, not when it was created.")
    order_date: dt.date
    gross_total: Decimal = strawberry.field(description="The order's total, tax included.")
    currency: str
    order: SalesOrder | None = None


# The schema registers these: they are reachable only through the interface.
TIMELINE_ITEM_TYPES = (
    ActivityTimelineItem, TaskTimelineItem, AppointmentTimelineItem, OwnerChangeTimelineItem,
    OrderTimelineItem,
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


async def _orders(
    conn: AsyncConnection,
    info: Info,
    rows: Sequence[timeline.TimelineRow],
    selected: set[str],
) -> dict[uuid.UUID, OrderTimelineItem]:
    """The orders behind a page's order items: one statement for them, and one per kind
    of child selected below `order` (app/orders/types.build_orders). The feed already
    applied the scope (the customer's) and the permission."""
    ids = list(dict.fromkeys(row.ref for row in rows if row.kind == timeline.ORDER_CREATED))
    if not ids:
        return {}
    found = await queries.rows_by_id(conn, select(sales_orders), sales_orders, ids)
    orders = list(found.values())
    built: list[SalesOrder | None] = [None] * len(orders)
    if "edges.node.order" in selected:
        built = await build_orders(
            conn, info.context.principal, orders, selected, "edges.node.order.",
            today=tenant_today(info),
        )  # fmt: skip
    return {
        row.id: OrderTimelineItem(
            at=row.created_at,
            kind=TimelineItemKind.ORDER_CREATED,
            id=strawberry.ID(str(row.id)),
            number=row.number,
            status=SalesOrderStatus(row.status),
            order_date=row.order_date,
            gross_total=row.gross_total,
            currency=row.currency,
            order=node,
        )  # fmt: skip
        for row, node in zip(orders, built, strict=True)
    }


def _selected(selected: set[str], field: str) -> bool:
    camel = "".join(p if i == 0 else p.title() for i, p in enumerate(field.split("_")))
    return f"edges.node.{camel}" in selected


def _cursor(after: str | None) -> tuple | None:
    if after is None:
        return None
    cursor = timeline.parse_after(decode_cursor(after, 3, "after"))
    if cursor is None:
        raise BadUserInput("after is not a valid cursor for this timeline")
    return cursor


def _rows(result) -> list[timeline.TimelineRow]:
    return [
        timeline.TimelineRow(
            at=r.at, kind=r.kind, key=r.key, changes=r.changes, actor_id=r.actor_id
        )
        for r in result
    ]


def _connection(
    rows: Sequence[timeline.TimelineRow],
    size: int,
    after: str | None,
    records: dict[tuple[str, object], object],
    changes: dict[int, OwnerChangeTimelineItem],
    orders: dict[uuid.UUID, OrderTimelineItem],
    selected: set[str],
    total: int | None,
) -> Connection[TimelineItem]:
    """One customer's page from its feed rows (at most size + 1 of them)."""
    more, rows = len(rows) > size, rows[:size]
    edges = []
    for row in rows:
        if row.kind == timeline.OWNER_CHANGED:
            node: TimelineItem = changes[row.ref]
        elif row.kind == timeline.ORDER_CREATED:
            order = orders.get(row.ref)
            if order is None:
                continue  # deleted since the feed was read
            node = order
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


@strawberry.type
class TimelineQueries:
    @strawberry.field(
        extensions=requires("activities:read"),
        description="A customer's history, newest first: activities, tasks created and "
        "completed, appointments, owner changes, and sales orders (with orders:read). Null "
        "for a customer you cannot see.",
    )
    async def customer_timeline(
        self,
        info: Info,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TimelineItem] | None:
        size, _ = page_size(first, None)
        cursor = _cursor(after)
        parsed = parse_uuid(customer_id)
        if parsed is None:
            return None
        who = info.context.principal
        orders = who.can(ORDERS_READ)
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            if await get_customer(conn, who, parsed) is None:
                return None
            statement = timeline.timeline_statement(
                who, parsed, limit=size + 1, after=cursor, orders=orders
            )
            rows = _rows(await conn.execute(statement))
            shown = rows[:size]
            records = await _records(conn, who, shown, selected)
            changes = await _owner_changes(conn, who, shown, selected)
            order_items = await _orders(conn, info, shown, selected)
            total = None
            if "totalCount" in selected:
                total = await conn.scalar(
                    timeline.timeline_count_statement(who, parsed, orders=orders)
                )
        return _connection(rows, size, after, records, changes, order_items, selected, total)


async def customer_timeline_field(
    info: Info, customer_id: strawberry.ID, *, first: int | None, after: str | None
) -> Connection[TimelineItem]:
    """`Customer.timeline`: `customerTimeline` of a customer the caller already sees
    (it was loaded in their scope). In a list of customers, the feeds of the whole page
    are one statement, their records one statement per kind (app/api/batch.py)."""
    size, _ = page_size(first, None)
    cursor = _cursor(after)
    who = info.context.principal
    orders = who.can(ORDERS_READ)
    selected = selected_paths(info)

    async def load(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, Connection[TimelineItem]]:
        async with info.context.db.read() as conn:
            statement = timeline.timelines_statement(
                who, customer_ids, limit=size + 1, after=cursor, orders=orders
            )
            result = list(await conn.execute(statement))
            feeds: dict[uuid.UUID, list[timeline.TimelineRow]] = {i: [] for i in customer_ids}
            for key, row in zip((r.group_key for r in result), _rows(result), strict=True):
                feeds[key].append(row)
            shown = [row for rows in feeds.values() for row in rows[:size]]
            records = await _records(conn, who, shown, selected)
            changes = await _owner_changes(conn, who, shown, selected)
            order_items = await _orders(conn, info, shown, selected)
            totals: dict[uuid.UUID, int] = {}
            if "totalCount" in selected:
                counted = await conn.execute(
                    timeline.timelines_count_statement(who, customer_ids, orders=orders)
                )
                totals = {r.group_key: r.count for r in counted}
        return {
            key: _connection(
                rows, size, after, records, changes, order_items, selected, totals.get(key)
            )
            for key, rows in feeds.items()
        }

    arguments = {"first": first, "after": after}
    return await batched(info, uuid.UUID(str(customer_id)), arguments, load)
