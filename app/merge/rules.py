"""The rules of duplicates and merging, without database access.

Scores: each kind of evidence has a weight; a pair's score is the sum of its
evidence, at most 100. NAME 60 + PHONE 40 (or + EMAIL 40) reaches 100; PHONE + EMAIL
is 80; a phone or an email alone is 40, a name alone 60.

Filling the survivor (客户合并, never overwriting): every field of the survivor that
is empty (NULL or blank) takes the merged customer's value, if that one has a value;
a field the survivor has keeps the survivor's value, even when they differ (the merged
customer's value stays on the merged row and in the audit record). That covers tier,
industry, region, source, phone, email, address, notes, externalRef, owner, partner,
and creditLimit only for callers who may set credit limits (customers:write_credit).
Tags are a set: the survivor's, then the merged customer's others, at most 30. Name
and category are never empty, so the survivor's always stay.
"""

from __future__ import annotations

from typing import Any

from app.customers.rules import MAX_TAGS

REASONS = ("NAME", "PHONE", "EMAIL")
WEIGHTS = {"NAME": 60, "PHONE": 40, "EMAIL": 40}
MAX_SCORE = 100

FILLED = (
    "tier", "industry", "region", "source", "phone", "email", "address", "notes",
    "external_ref", "owner_id", "partner_id",
)  # fmt: skip
CREDIT = "credit_limit"


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return False


def filled_values(survivor: Any, merged: Any, *, with_credit: bool) -> dict[str, Any]:
    """The survivor's changed values after taking what it lacks from `merged`."""
    values: dict[str, Any] = {}
    for field in FILLED + ((CREDIT,) if with_credit else ()):
        mine, theirs = getattr(survivor, field), getattr(merged, field)
        if is_empty(mine) and not is_empty(theirs):
            values[field] = theirs
    tags = list(survivor.tags)
    for tag in merged.tags:
        if tag not in tags and len(tags) < MAX_TAGS:
            tags.append(tag)
    if tags != list(survivor.tags):
        values["tags"] = tags
    return values
