"""Validation and normalisation of activity, task and appointment fields, and the
task status transitions (no database access). Field names in errors are the API's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.activities.tables import (
    ACTIVITY_KINDS,
    MAX_APPOINTMENT_DAYS,
    TASK_PRIORITIES,
    TASK_STATUSES,
)
from app.errors import UserError, fail
from app.validation import check_choice, check_length, check_required, clean

API_NAMES = {
    "customer_id": "customerId", "contact_id": "contactId", "owner_id": "ownerId",
    "assignee_id": "assigneeId", "occurred_at": "occurredAt", "next_step": "nextStep",
    "duration_minutes": "durationMinutes", "due_at": "dueAt", "starts_at": "startsAt",
    "ends_at": "endsAt", "lead_id": "leadId", "opportunity_id": "opportunityId",
}  # fmt: skip
TEXT_LIMITS = {"body": 20000, "description": 5000, "outcome": 2000, "next_step": 2000}
MAX_DURATION_MINUTES = 7 * 24 * 60

# The one place task status changes are decided: reopen from done or cancelled, and
# finish or cancel an open task.
TASK_TRANSITIONS = {
    "open": {"done", "cancelled"},
    "done": {"open"},
    "cancelled": {"open"},
}


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def _clean_text(
    fields: dict[str, Any], keys: tuple[str, ...], required: tuple[str, ...]
) -> list[UserError]:
    errors: list[UserError] = []
    for key in keys:
        if key not in fields:
            continue
        fields[key] = clean(fields[key])
        limit = TEXT_LIMITS.get(key, 200)
        check = check_required if key in required else check_length
        kwargs = {"max_length": limit}
        if (error := check(api_name(key), fields[key], **kwargs)) is not None:
            errors.append(error)
    return errors


def _not_null(fields: dict[str, Any], keys: tuple[str, ...]) -> list[UserError]:
    """Fields a client may leave out (defaults apply) but never set to null."""
    return [
        UserError(api_name(k), "REQUIRED", f"{api_name(k)} cannot be null")
        for k in keys
        if k in fields and fields[k] is None
    ]


def _aware(fields: dict[str, Any], keys: tuple[str, ...]) -> list[UserError]:
    errors = []
    for key in keys:
        value = fields.get(key)
        if value is not None and value.tzinfo is None:
            errors.append(
                UserError(api_name(key), "INVALID", f"{api_name(key)} needs a UTC offset")
            )
    return errors


def normalise_activity(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    if creating:
        fields.setdefault("subject", None)
    errors = _clean_text(fields, ("subject", "body", "outcome", "next_step"), ("subject",))
    if "kind" in fields and (error := check_choice("kind", fields["kind"], ACTIVITY_KINDS)):
        errors.append(error)
    # customer_id may be null on a lead (app/activities/checks.py decides the links).
    errors += _not_null(fields, ("kind", "occurred_at", "owner_id"))
    errors += _aware(fields, ("occurred_at",))
    minutes = fields.get("duration_minutes")
    if minutes is not None and not 0 <= minutes <= MAX_DURATION_MINUTES:
        errors.append(
            UserError(
                "durationMinutes", "INVALID", f"durationMinutes must be 0 to {MAX_DURATION_MINUTES}"
            )
        )
    return errors


def normalise_task(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    if creating:
        fields.setdefault("title", None)
        fields.setdefault("due_at", None)
    errors = _clean_text(fields, ("title", "description"), ("title",))
    if "due_at" in fields and fields["due_at"] is None:
        errors.append(UserError("dueAt", "REQUIRED", "dueAt is required"))
    errors += _not_null(fields, ("priority", "assignee_id", "status"))
    errors += _aware(fields, ("due_at",))
    for key, choices in (("priority", TASK_PRIORITIES), ("status", TASK_STATUSES)):
        if key in fields and (error := check_choice(key, fields[key], choices)):
            errors.append(error)
    return errors


def task_transition(current: str, target: str, now: dt.datetime) -> dict[str, Any]:
    """The columns a status change writes; the same status is no change at all."""
    if target == current:
        return {}
    if target not in TASK_TRANSITIONS[current]:
        raise fail("status", "INVALID_TRANSITION", f"a {current} task cannot become {target}")
    return {"status": target, "completed_at": now if target == "done" else None}


def normalise_appointment(
    fields: dict[str, Any], *, creating: bool, current: Any = None
) -> list[UserError]:
    """`current` is the row being changed: start and end are checked together."""
    if creating:
        fields.setdefault("title", None)
        fields.setdefault("starts_at", None)
        fields.setdefault("ends_at", None)
    errors = _clean_text(fields, ("title", "location"), ("title",))
    errors += _not_null(fields, ("owner_id",))
    for key in ("starts_at", "ends_at"):
        if key in fields and fields[key] is None:
            errors.append(UserError(api_name(key), "REQUIRED", f"{api_name(key)} is required"))
    errors += _aware(fields, ("starts_at", "ends_at"))
    if errors:
        return errors
    starts = fields.get("starts_at", getattr(current, "starts_at", None))
    ends = fields.get("ends_at", getattr(current, "ends_at", None))
    if starts is not None and ends is not None:
        if ends <= starts:
            errors.append(UserError("endsAt", "INVALID", "endsAt must be after startsAt"))
        elif ends - starts > dt.timedelta(days=MAX_APPOINTMENT_DAYS):
            errors.append(
                UserError(
                    "endsAt", "INVALID", f"an appointment lasts at most {MAX_APPOINTMENT_DAYS} days"
                )
            )
    return errors
