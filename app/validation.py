"""Field checks shared by every capability; each returns a UserError naming the field."""

from __future__ import annotations

import re

from app.errors import UserError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9()\-\s.]{3,30}$")


def clean(value: str | None) -> str | None:
    """Trim; an empty string means "no value"."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_required(field: str, value: str | None, *, max_length: int = 200) -> UserError | None:
    if value is None or not value.strip():
        return UserError(field, "REQUIRED", f"{field} is required")
    return check_length(field, value, max_length=max_length)


def check_length(field: str, value: str | None, *, max_length: int) -> UserError | None:
    if value is not None and len(value) > max_length:
        return UserError(field, "TOO_LONG", f"{field} must be at most {max_length} characters")
    return None


def check_email(field: str, value: str | None) -> UserError | None:
    if value is not None and (len(value) > 254 or not EMAIL.match(value)):
        return UserError(field, "INVALID", f"{field} is not a valid email address")
    return None


def check_phone(field: str, value: str | None) -> UserError | None:
    if value is not None and not PHONE.match(value):
        return UserError(field, "INVALID", f"{field} is not a valid phone number")
    return None


def check_choice(field: str, value: str | None, choices: tuple[str, ...]) -> UserError | None:
    if value is not None and value not in choices:
        return UserError(field, "INVALID", f"{field} must be one of {', '.join(choices)}")
    return None
