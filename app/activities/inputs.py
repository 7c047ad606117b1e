"""Inputs and payloads of the activity, task, appointment and inbox mutations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from app.activities.types import (
    Activity,
    ActivityKind,
    Appointment,
    Notification,
    Task,
    TaskPriority,
    TaskStatus,
)
from app.api.errors import UserErrorType

UNSET: Any = strawberry.UNSET
CLIENT_ID = "Optional client-generated id; repeating a create is a no-op."
LEAD = (
    "A lead you can see. Not converted yet: no customer, contact or opportunity; "
    "converted: the customer (and, by default, the opportunity) it became."
)
OPPORTUNITY = "An opportunity you can see; the customer is the opportunity's."


@strawberry.input(
    description="An activity is on a customer, or a lead, or both (a converted lead's "
    "customer); give customerId, contactId, leadId or opportunityId."
)
class LogActivityInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    customer_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Implied by contactId, opportunityId or a converted lead."
    )
    contact_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="A contact of that customer."
    )
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description=LEAD)
    opportunity_id: strawberry.ID | None = strawberry.field(default=UNSET, description=OPPORTUNITY)
    kind: ActivityKind
    subject: str
    body: str | None = UNSET
    occurred_at: dt.datetime | None = strawberry.field(default=UNSET, description="Default: now.")
    duration_minutes: int | None = UNSET
    outcome: str | None = UNSET
    next_step: str | None = UNSET
    owner_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Default: you. Someone else must be within your scope."
    )


@strawberry.input
class UpdateActivityInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you loaded; stale ones conflict.")
    customer_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = UNSET
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description=LEAD)
    opportunity_id: strawberry.ID | None = strawberry.field(default=UNSET, description=OPPORTUNITY)
    kind: ActivityKind | None = UNSET
    subject: str | None = UNSET
    body: str | None = UNSET
    occurred_at: dt.datetime | None = UNSET
    duration_minutes: int | None = UNSET
    outcome: str | None = UNSET
    next_step: str | None = UNSET
    owner_id: strawberry.ID | None = UNSET


@strawberry.input
class DeleteActivityInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type
class ActivityPayloadFields:
    activity: Activity | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class LogActivityPayload(ActivityPayloadFields):
    pass


@strawberry.type
class UpdateActivityPayload(ActivityPayloadFields):
    pass


@strawberry.type
class DeleteActivityPayload(ActivityPayloadFields):
    pass


@strawberry.input
class CreateTaskInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    title: str
    description: str | None = UNSET
    due_at: dt.datetime
    priority: TaskPriority | None = strawberry.field(default=UNSET, description="Default: NORMAL.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Default: you. Someone else must be within your scope."
    )
    customer_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Without customerId, links the contact's customer too."
    )
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description=LEAD)
    opportunity_id: strawberry.ID | None = strawberry.field(default=UNSET, description=OPPORTUNITY)


@strawberry.input
class UpdateTaskInput:
    id: strawberry.ID
    version: int
    title: str | None = UNSET
    description: str | None = UNSET
    due_at: dt.datetime | None = UNSET
    priority: TaskPriority | None = UNSET
    status: TaskStatus | None = strawberry.field(
        default=UNSET,
        description="OPEN -> DONE or CANCELLED; DONE or CANCELLED -> OPEN (reopen).",
    )
    assignee_id: strawberry.ID | None = UNSET
    customer_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = UNSET
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description=LEAD)
    opportunity_id: strawberry.ID | None = strawberry.field(default=UNSET, description=OPPORTUNITY)


@strawberry.input
class CompleteTaskInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type
class TaskPayloadFields:
    task: Task | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateTaskPayload(TaskPayloadFields):
    pass


@strawberry.type
class UpdateTaskPayload(TaskPayloadFields):
    pass


@strawberry.type
class CompleteTaskPayload(TaskPayloadFields):
    pass


@strawberry.input
class ScheduleAppointmentInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime = strawberry.field(description="After startsAt, at most 14 days later.")
    location: str | None = UNSET
    owner_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Default: you. Someone else must be within your scope."
    )
    customer_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = UNSET


@strawberry.input
class UpdateAppointmentInput:
    id: strawberry.ID
    version: int
    title: str | None = UNSET
    starts_at: dt.datetime | None = UNSET
    ends_at: dt.datetime | None = UNSET
    location: str | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    customer_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = UNSET


@strawberry.input
class CancelAppointmentInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type(
    name="Warning", description="Something worth knowing that did not stop the change."
)
class WarningType:
    code: str = strawberry.field(description="OVERLAP: the person has other appointments then.")
    message: str
    appointment_ids: list[strawberry.ID]


@strawberry.type
class AppointmentPayloadFields:
    appointment: Appointment | None = None
    warnings: list[WarningType] = strawberry.field(default_factory=list)
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class ScheduleAppointmentPayload(AppointmentPayloadFields):
    pass


@strawberry.type
class UpdateAppointmentPayload(AppointmentPayloadFields):
    pass


@strawberry.type
class CancelAppointmentPayload(AppointmentPayloadFields):
    pass


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(default_factory=list)
    unread_count: int | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
