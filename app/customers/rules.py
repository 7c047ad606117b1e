"""Validation and normalisation of customer and contact fields (no database access).

Field names in errors are the API's (camelCase), because that is what a client sent.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from app.customers.tables import CATEGORIES, TIERS
from app.errors import UserError
from app.validation import (
    check_choice,
    check_decimal,
    check_email,
    check_length,
    check_phone,
    check_required,
    clean,
)

MAX_CREDIT_LIMIT = Decimal("1e15")

API_NAMES = {
    "owner_id": "ownerId", "external_ref": "externalRef", "is_primary": "isPrimary",
    "credit_limit": "creditLimit",
}  # fmt: skip
MAX_TAGS = 30
TEXT_LIMITS = {"notes": 5000, "address": 500}


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def normalise_name(name: str) -> str:
    """What duplicate matching compares: NFKC, lower case, no white space (the
    database computes the same as the generated column `name_key`)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).lower()


def _tags(value: Any) -> tuple[list[str] | None, UserError | None]:
    if value is None:
        return [], None
    tags: list[str] = []
    for tag in value:
        tag = (tag or "").strip()
        if not tag:
            continue
        if len(tag) > 50:
            return None, UserError("tags", "TOO_LONG", "each tag must be at most 50 characters")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        return None, UserError("tags", "TOO_MANY", f"at most {MAX_TAGS} tags")
    return tags, None


def _clean_text(fields: dict[str, Any], keys: tuple[str, ...], errors: list[UserError]) -> None:
    for key in keys:
        if key not in fields:
            continue
        fields[key] = clean(fields[key])
        limit = TEXT_LIMITS.get(key, 200)
        error = (
            check_required(api_name(key), fields[key], max_length=limit)
            if key == "name"
            else check_length(api_name(key), fields[key], max_length=limit)
        )
        if error:
            errors.append(error)


CUSTOMER_TEXT = (
    "name", "category", "tier", "industry", "region", "source", "phone", "email",
    "address", "notes", "external_ref",
)  # fmt: skip
CONTACT_TEXT = ("name", "title", "phone", "email")


def normalise_customer(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
    _clean_text(fields, CUSTOMER_TEXT, errors)
    if "category" in fields and fields["category"] is None:
        fields["category"] = "prospect"
    if "is_distributor" in fields and fields["is_distributor"] is None:
        fields["is_distributor"] = False
    for key, error in (
        ("category", check_choice("category", fields.get("category"), CATEGORIES)),
        ("tier", check_choice("tier", fields.get("tier"), TIERS)),
        ("email", check_email("email", fields.get("email"))),
        ("phone", check_phone("phone", fields.get("phone"))),
    ):
        if key in fields and error:
            errors.append(error)
    if "tags" in fields:
        fields["tags"], error = _tags(fields["tags"])
        if error:
            errors.append(error)
    if (error := _credit_limit(fields.get("credit_limit"))) is not None:
        errors.append(error)
    return errors


def _credit_limit(value: Decimal | None) -> UserError | None:
    """None means no limit."""
    if value is None:
        return None
    return check_decimal("creditLimit", value, places=Decimal("0.01"), below=MAX_CREDIT_LIMIT)


def normalise_contact(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
        fields.setdefault("is_primary", False)
    _clean_text(fields, CONTACT_TEXT, errors)
    for key, error in (
        ("email", check_email("email", fields.get("email"))),
        ("phone", check_phone("phone", fields.get("phone"))),
    ):
        if key in fields and error:
            errors.append(error)
    birthday = fields.get("birthday")
    if birthday is not None and not (dt.date(1900, 1, 1) <= birthday <= dt.date.today()):
        errors.append(UserError("birthday", "INVALID", "birthday must be a past date after 1900"))
    if "is_primary" in fields and fields["is_primary"] is None:
        fields["is_primary"] = False
    return errors
