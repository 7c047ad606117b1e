"""Activity, task, appointment and inbox mutations: each one transaction, audited,
with userErrors (and, for appointments, warnings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities import reminders, scheduling, service
from app.activities.inputs import (
    CancelAppointmentInput,
    CancelAppointmentPayload,
    CompleteTaskInput,
    CompleteTaskPayload,
    CreateTaskInput,
    CreateTaskPayload,
    DeleteActivityInput,
    DeleteActivityPayload,
    LogActivityInput,
    LogActivityPayload,
    MarkNotificationsReadPayload,
    ScheduleAppointmentInput,
    ScheduleAppointmentPayload,
    UpdateActivityInput,
    UpdateActivityPayload,
    UpdateAppointmentInput,
    UpdateAppointmentPayload,
    UpdateTaskInput,
    UpdateTaskPayload,
    WarningType,
)
from app.activities.types import (
    Notification,
    build_activities,
    build_appointments,
    build_tasks,
)
from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.audit.service import Actor

UNSET: Any = strawberry.UNSET
WRITE = requires("activities:write")

ACTIVITY_FIELDS = (
    "customer_id", "contact_id", "lead_id", "opportunity_id", "kind", "subject", "body",
    "occurred_at", "duration_minutes", "outcome", "next_step", "owner_id",
)  # fmt: skip
TASK_FIELDS = (
    "title", "description", "due_at", "priority", "status", "assignee_id", "customer_id",
    "contact_id", "lead_id", "opportunity_id",
)  # fmt: skip
APPOINTMENT_FIELDS = (
    "title", "starts_at", "ends_at", "location", "owner_id", "customer_id", "contact_id",
)  # fmt: skip
IDS = {
    "customer_id": ("customerId", "customer"), "contact_id": ("contactId", "contact"),
    "owner_id": ("ownerId", "user"), "assignee_id": ("assigneeId", "user"),
    "lead_id": ("leadId", "lead"), "opportunity_id": ("opportunityId", "opportunity"),
}  # fmt: skip

Change = Callable[[AsyncConnection, Actor], Awaitable[Any]]


async def _mutation(info: Info, payload: type, key: str, build, change: Change) -> Any:
    """Run `change`; answer with the record as the client selected it (and, for
    appointments, the warnings the change produced)."""

    async def write(conn: AsyncConnection) -> dict:
        result = await change(conn, info.context.actor)
        row: Row = getattr(result, "row", result)
        (node,) = await build(conn, info.context.principal, [row], selected_paths(info), f"{key}.")
        fields: dict[str, Any] = {key: node}
        if isinstance(result, scheduling.Scheduled):
            fields["warnings"] = [
                WarningType(
                    code=w.code,
                    message=w.message,
                    appointment_ids=[strawberry.ID(str(i)) for i in w.appointment_ids],
                )
                for w in result.warnings
            ]
        return fields

    return await run_mutation(info, payload, write)


def _id(value: object, entity: str) -> Any:
    return require_uuid(value, "id", entity)


@strawberry.type
class ActivityMutations:
    @strawberry.mutation(extensions=WRITE)
    async def log_activity(self, info: Info, input: LogActivityInput) -> LogActivityPayload:
        async def change(conn, actor):
            return await service.log_activity(
                conn, actor=actor, who=info.context.principal,
                activity_id=optional_uuid(input.id, "id", "activity"),
                fields=provided(input, ACTIVITY_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(info, LogActivityPayload, "activity", build_activities, change)

    @strawberry.mutation(extensions=WRITE)
    async def update_activity(
        self, info: Info, input: UpdateActivityInput
    ) -> UpdateActivityPayload:
        async def change(conn, actor):
            return await service.update_activity(
                conn, actor=actor, who=info.context.principal,
                activity_id=_id(input.id, "activity"), version=input.version,
                fields=provided(input, ACTIVITY_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(info, UpdateActivityPayload, "activity", build_activities, change)

    @strawberry.mutation(extensions=WRITE, description="Soft delete.")
    async def delete_activity(
        self, info: Info, input: DeleteActivityInput
    ) -> DeleteActivityPayload:
        async def change(conn, actor):
            return await service.delete_activity(
                conn, actor=actor, who=info.context.principal,
                activity_id=_id(input.id, "activity"), version=input.version,
            )  # fmt: skip

        return await _mutation(info, DeleteActivityPayload, "activity", build_activities, change)

    @strawberry.mutation(extensions=WRITE)
    async def create_task(self, info: Info, input: CreateTaskInput) -> CreateTaskPayload:
        async def change(conn, actor):
            return await service.create_task(
                conn, actor=actor, who=info.context.principal,
                task_id=optional_uuid(input.id, "id", "task"), fields=provided(input, TASK_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(info, CreateTaskPayload, "task", build_tasks, change)

    @strawberry.mutation(extensions=WRITE)
    async def update_task(self, info: Info, input: UpdateTaskInput) -> UpdateTaskPayload:
        async def change(conn, actor):
            return await service.update_task(
                conn, actor=actor, who=info.context.principal, task_id=_id(input.id, "task"),
                version=input.version, fields=provided(input, TASK_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(info, UpdateTaskPayload, "task", build_tasks, change)

    @strawberry.mutation(extensions=WRITE, description="Done; repeating it changes nothing.")
    async def complete_task(self, info: Info, input: CompleteTaskInput) -> CompleteTaskPayload:
        async def change(conn, actor):
            return await service.complete_task(
                conn, actor=actor, who=info.context.principal, task_id=_id(input.id, "task"),
                version=input.version,
            )  # fmt: skip

        return await _mutation(info, CompleteTaskPayload, "task", build_tasks, change)

    @strawberry.mutation(
        extensions=WRITE, description="Overlaps with the owner's other appointments are warnings."
    )
    async def schedule_appointment(
        self, info: Info, input: ScheduleAppointmentInput
    ) -> ScheduleAppointmentPayload:
        async def change(conn, actor):
            return await scheduling.schedule_appointment(
                conn, actor=actor, who=info.context.principal,
                appointment_id=optional_uuid(input.id, "id", "appointment"),
                fields=provided(input, APPOINTMENT_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(
            info, ScheduleAppointmentPayload, "appointment", build_appointments, change
        )

    @strawberry.mutation(extensions=WRITE)
    async def update_appointment(
        self, info: Info, input: UpdateAppointmentInput
    ) -> UpdateAppointmentPayload:
        async def change(conn, actor):
            return await scheduling.update_appointment(
                conn, actor=actor, who=info.context.principal,
                appointment_id=_id(input.id, "appointment"), version=input.version,
                fields=provided(input, APPOINTMENT_FIELDS, IDS),
            )  # fmt: skip

        return await _mutation(
            info, UpdateAppointmentPayload, "appointment", build_appointments, change
        )

    @strawberry.mutation(extensions=WRITE, description="Cancelling again changes nothing.")
    async def cancel_appointment(
        self, info: Info, input: CancelAppointmentInput
    ) -> CancelAppointmentPayload:
        async def change(conn, actor):
            return await scheduling.cancel_appointment(
                conn, actor=actor, who=info.context.principal,
                appointment_id=_id(input.id, "appointment"), version=input.version,
            )  # fmt: skip

        return await _mutation(
            info, CancelAppointmentPayload, "appointment", build_appointments, change
        )

    @strawberry.mutation(
        extensions=requires("activities:read"),
        description="Mark some of your notifications read (at most 100 ids).",
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID]
    ) -> MarkNotificationsReadPayload:
        principal = info.context.principal

        async def write(conn: AsyncConnection) -> dict:
            rows = await reminders.mark_read(
                conn, actor=info.context.actor, who=principal,
                ids=[require_uuid(i, "ids", "notification") for i in ids],
            )  # fmt: skip
            fields: dict[str, Any] = {"notifications": [Notification.from_row(r) for r in rows]}
            if "unreadCount" in selected_paths(info):
                fields["unread_count"] = await reminders.unread_count(conn, principal)
            return fields

        return await run_mutation(info, MarkNotificationsReadPayload, write)
