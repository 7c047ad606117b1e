"""GraphQL types of activities, tasks, appointments and notifications, built as plain
objects for a whole page: linked people, customers and contacts are fetched per page
by looking ahead at the selection, one statement per kind, never per row."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.queries import contacts_by_id
from app.api.ids import graphql_id
from app.auth.principal import Scoped
from app.customers.types import Contact, Customer, attach_customers, build_contacts
from app.users.graphql import User
from app.users.queries import users_by_id


@strawberry.enum
class ActivityKind(enum.Enum):
    CALL = "call"
    VISIT = "visit"
    EMAIL = "email"
    NOTE = "note"
    MEETING = "meeting"


@strawberry.enum
class TaskPriority(enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@strawberry.enum
class TaskStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


@strawberry.enum
class NotificationKind(enum.Enum):
    TASK_DUE = "task_due"
    APPOINTMENT_SOON = "appointment_soon"
    LOW_STOCK = "low_stock"


@strawberry.type
class Activity:
    id: strawberry.ID
    kind: ActivityKind
    subject: str
    body: str | None
    occurred_at: dt.datetime
    duration_minutes: int | None
    outcome: str | None
    next_step: str | None
    customer_id: strawberry.ID | None = strawberry.field(
        description="Null only for an activity on a lead that is not converted yet."
    )
    contact_id: strawberry.ID | None
    lead_id: strawberry.ID | None = strawberry.field(
        description="The lead it is on; once converted, it is on the lead's customer too."
    )
    opportunity_id: strawberry.ID | None = strawberry.field(
        description="The opportunity it is on (it is on the opportunity's customer too)."
    )
    owner_id: strawberry.ID = strawberry.field(description="Who logged it (or did it).")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    owner: User | None = None
    customer: Customer | None = None
    contact: Contact | None = None

    @classmethod
    def from_row(cls, row: Row) -> Activity:
        return cls(
            id=graphql_id(row.id), kind=ActivityKind(row.kind), subject=row.subject, body=row.body,
            occurred_at=row.occurred_at, duration_minutes=row.duration_minutes,
            outcome=row.outcome, next_step=row.next_step, customer_id=graphql_id(row.customer_id),
            contact_id=graphql_id(row.contact_id), lead_id=graphql_id(row.lead_id),
            opportunity_id=graphql_id(row.opportunity_id), owner_id=graphql_id(row.owner_id),
            created_at=row.created_at, updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


@strawberry.type
class Task:
    id: strawberry.ID
    title: str
    description: str | None
    customer_id: strawberry.ID | None
    contact_id: strawberry.ID | None
    lead_id: strawberry.ID | None = strawberry.field(
        description="The lead it is about; once converted, the lead's customer too."
    )
    opportunity_id: strawberry.ID | None = strawberry.field(
        description="The opportunity it is about (the opportunity's customer too)."
    )
    assignee_id: strawberry.ID
    due_at: dt.datetime
    priority: TaskPriority
    status: TaskStatus
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    assignee: User | None = None
    customer: Customer | None = None
    contact: Contact | None = None

    @classmethod
    def from_row(cls, row: Row) -> Task:
        return cls(
            id=graphql_id(row.id), title=row.title, description=row.description,
            customer_id=graphql_id(row.customer_id), contact_id=graphql_id(row.contact_id),
            lead_id=graphql_id(row.lead_id), opportunity_id=graphql_id(row.opportunity_id),
            assignee_id=graphql_id(row.assignee_id), due_at=row.due_at,
            priority=TaskPriority(row.priority), status=TaskStatus(row.status),
            completed_at=row.completed_at, created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


@strawberry.type
class Appointment:
    id: strawberry.ID
    title: str
    customer_id: strawberry.ID | None
    contact_id: strawberry.ID | None
    owner_id: strawberry.ID
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str | None
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    owner: User | None = None
    customer: Customer | None = None
    contact: Contact | None = None

    @classmethod
    def from_row(cls, row: Row) -> Appointment:
        return cls(
            id=graphql_id(row.id), title=row.title, customer_id=graphql_id(row.customer_id),
            contact_id=graphql_id(row.contact_id), owner_id=graphql_id(row.owner_id),
            starts_at=row.starts_at, ends_at=row.ends_at, location=row.location,
            cancelled_at=row.cancelled_at, created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


@strawberry.type
class Notification:
    id: strawberry.ID
    kind: NotificationKind
    title: str
    body: str | None
    subject_type: str = strawberry.field(description="task or appointment.")
    subject_id: strawberry.ID
    due_at: dt.datetime = strawberry.field(
        description="When the task is due or the appointment starts."
    )
    created_at: dt.datetime
    read_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Notification:
        return cls(
            id=graphql_id(row.id), kind=NotificationKind(row.kind), title=row.title, body=row.body,
            subject_type=row.subject_type, subject_id=graphql_id(row.subject_id), due_at=row.due_at,
            created_at=row.created_at, read_at=row.read_at,
        )  # fmt: skip


async def _attach(
    conn: AsyncConnection,
    who: Scoped,
    nodes: Sequence[Any],
    rows: Sequence[Row],
    selected: set[str],
    prefix: str,
    person: str,
) -> None:
    """Fill the person (owner/assignee), customer and contact fields the query selected."""
    if not rows:
        return
    if f"{prefix}{person}" in selected:
        people = await users_by_id(conn, [getattr(r, f"{person}_id") for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            found = people.get(getattr(row, f"{person}_id"))
            setattr(node, person, User.from_row(found) if found else None)
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    if f"{prefix}contact" in selected:
        found = await contacts_by_id(conn, who, [r.contact_id for r in rows])
        built = await build_contacts(conn, who, list(found.values()), selected, f"{prefix}contact.")
        contacts = dict(zip(found, built, strict=True))  # with their custom fields, if asked
        for node, row in zip(nodes, rows, strict=True):
            node.contact = contacts.get(row.contact_id)


def _builder(kind: Callable[[Row], Any], person: str):
    async def build(
        conn: AsyncConnection,
        who: Scoped,
        rows: Sequence[Row],
        selected: set[str],
        prefix: str = "",
    ) -> list[Any]:
        nodes = [kind(r) for r in rows]
        await _attach(conn, who, nodes, rows, selected, prefix, person)
        return nodes

    return build


build_activities = _builder(Activity.from_row, "owner")
build_tasks = _builder(Task.from_row, "assignee")
build_appointments = _builder(Appointment.from_row, "owner")
