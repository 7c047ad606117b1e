"""Validation and normalisation of lead fields, and the lead status machine (no
database access). Field names in errors are the API's (camelCase): what a client sent.
"""

from __future__ import annotations

from typing import Any

from app.errors import UserError
from app.leads.tables import SOURCES, STATUSES
from app.validation import check_email, check_length, check_phone, check_required, clean

API_NAMES = {"owner_id": "ownerId", "disqualified_reason": "reason"}
TEXT_LIMITS = {"notes": 5000}
LEAD_TEXT = ("name", "company", "title", "phone", "email", "region", "notes")
MAX_REASON = 1000

# Status changes, in one place. Qualified and disqualified are reached through
# qualifyLead / disqualifyLead (a reason is required for the latter) and conversion;
# a converted lead changes no more (ALREADY_CONVERTED, checked by the service).
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"working", "qualified", "disqualified"}),
    "working": frozenset({"new", "qualified", "disqualified"}),
    "qualified": frozenset({"working", "disqualified"}),
    "disqualified": frozenset({"new", "working", "qualified"}),
}
# What createLead and updateLead may set directly.
EDITABLE_STATUSES = ("new", "working")


def api_name(field: str) -> str:
    return API_NAMES.get(field, field)


def check_transition(current: str, new: str) -> UserError | None:
    if new == current or new in TRANSITIONS[current]:
        return None
    return UserError("status", "INVALID_TRANSITION", f"a {current} lead cannot become {new}")


def _score(value: Any) -> UserError | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        return UserError("score", "INVALID", "score must be a whole number from 0 to 100")
    return None


def normalise_lead(fields: dict[str, Any], *, creating: bool) -> list[UserError]:
    """Clean `fields` in place (only the keys present) and return what is wrong."""
    errors: list[UserError] = []
    if creating:
        fields.setdefault("name", None)
        fields.setdefault("source", "other")
        fields.setdefault("status", "new")
        fields.setdefault("score", 0)
    for key in LEAD_TEXT:
        if key not in fields:
            continue
        fields[key] = clean(fields[key])
        limit = TEXT_LIMITS.get(key, 200)
        error = (
            check_required(key, fields[key], max_length=limit)
            if key == "name"
            else check_length(key, fields[key], max_length=limit)
        )
        if error:
            errors.append(error)
    for key, check in (("email", check_email), ("phone", check_phone)):
        if key in fields and (error := check(key, fields[key])):
            errors.append(error)
    if "source" in fields:
        if fields["source"] is None:
            fields["source"] = "other"
        if fields["source"] not in SOURCES:
            errors.append(
                UserError("source", "INVALID", f"source must be one of {', '.join(SOURCES)}")
            )
    if "score" in fields:
        if fields["score"] is None:
            fields["score"] = 0
        if error := _score(fields["score"]):
            errors.append(error)
    if "status" in fields:
        if fields["status"] is None:
            fields["status"] = "new"
        if fields["status"] not in STATUSES:
            errors.append(
                UserError("status", "INVALID", f"status must be one of {', '.join(STATUSES)}")
            )
        elif fields["status"] not in EDITABLE_STATUSES:
            errors.append(
                UserError(
                    "status",
                    "INVALID",
                    "set NEW or WORKING here; qualify, disqualify or convert a lead with "
                    "qualifyLead, disqualifyLead or convertLead",
                )
            )
    return errors


def check_reason(reason: str | None) -> tuple[str | None, UserError | None]:
    reason = clean(reason)
    return reason, check_required("reason", reason, max_length=MAX_REASON)
