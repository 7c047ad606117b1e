"""Field checks shared by every capability; each returns a UserError naming the field."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
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


def check_decimal(
    field: str,
    value: Decimal | None,
    *,
    places: Decimal,
    below: Decimal,
    positive: bool = False,
    signed: bool = False,
) -> UserError | None:
    """A finite number below `below` in size, with at most as many decimal places as
    `places` has: more than 0 if `positive`, any but 0 if `signed`, else 0 or more.
    None is REQUIRED (see `parse_decimal` for untyped input)."""
    if value is None:
        return UserError(field, "REQUIRED", f"{field} is required")
    bound = f"10^{below.adjusted()}"
    if signed:
        rule = f"other than 0, above -{bound} and below {bound}"
    else:
        rule = f"{'more than 0' if positive else '0 or more'}, below {bound}"
    # Finite first (NaN does not compare), range before places (quantizing a huge
    # number overflows the decimal context).
    if (
        not value.is_finite()
        or abs(value) >= below
        or (value == 0 and (positive or signed))
        or (value < 0 and not signed)
    ):
        return UserError(field, "INVALID", f"{field} must be {rule}")
    if value != value.quantize(places):
        return UserError(
            field, "INVALID", f"{field} has at most {-places.as_tuple().exponent} decimal places"
        )
    return None


def parse_decimal(
    field: str,
    value: Any,
    *,
    places: Decimal,
    below: Decimal,
    positive: bool = False,
    signed: bool = False,
) -> tuple[Decimal | None, UserError | None]:
    """`check_decimal` for input not typed by the API (service callers): a Decimal, an
    int or a decimal string, returned with exactly `places` decimals. A float or a bool
    (binary fractions, True as 1), anything else and None are INVALID, not REQUIRED."""
    if isinstance(value, float):
        return None, UserError(field, "INVALID", f"{field} must be a decimal string, not a float")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        return None, UserError(field, "INVALID", f"{field} must be a decimal number")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None, UserError(field, "INVALID", f"{field} must be a decimal number")
    problem = check_decimal(
        field, number, places=places, below=below, positive=positive, signed=signed
    )
    return (None, problem) if problem else (number.quantize(places), None)
