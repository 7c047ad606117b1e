"""Field checks shared by every capability; each returns a UserError naming the field."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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


# Plain http is only for a machine talking to itself (development, tests).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
HTTPS_RULE = "must be an https:// URL (http:// only for 127.0.0.1, [::1] or localhost)"
MAX_URL_LENGTH = 2000


def web_url_problem(value: str) -> str | None:
    """Why `value` is no acceptable absolute https URL (redirect URIs, web origins,
    identity provider issuers), or None. No fragment, wildcard or credentials."""
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 for c in value):
        return "must not contain spaces or control characters"
    if "*" in value:
        return "must not contain wildcards"
    if "#" in value:
        return "must not have a fragment"
    try:
        parts = urlsplit(value)
        port = parts.port  # a port out of range raises ValueError
    except ValueError:
        return "is not a valid URL"
    if port == 0:
        return "is not a valid URL"
    if not parts.hostname:
        return HTTPS_RULE
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return None
    return HTTPS_RULE
