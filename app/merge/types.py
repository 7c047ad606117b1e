"""GraphQL types of duplicates and merges (the API contract)."""

from __future__ import annotations

import enum

import strawberry

from app.api.errors import UserErrorType
from app.customers.types import Customer


@strawberry.enum(description="Why two customers may be the same.")
class DuplicateReason(enum.Enum):
    NAME = strawberry.enum_value(
        "NAME",
        description="The same name once legal forms (有限公司, Co., Ltd., ...), a leading "
        "province or city (广东省, 佛山市, ...), spaces, punctuation and case are set aside, "
        "and no leading places in different provinces.",
    )
    PHONE = strawberry.enum_value(
        "PHONE", description="The same phone number, digits only, without +86."
    )
    EMAIL = strawberry.enum_value("EMAIL", description="The same email, ignoring case.")


@strawberry.type(description="Two customers that may be the same, both visible to you.")
class DuplicatePair:
    customer: Customer = strawberry.field(
        description="The one created first: the usual survivor of a merge."
    )
    duplicate: Customer = strawberry.field(description="The one created later.")
    score: int = strawberry.field(
        description="0-100: NAME counts 60, PHONE 40, EMAIL 40, summed, at most 100."
    )
    reasons: list[DuplicateReason]


@strawberry.input
class MergeCustomersInput:
    survivor_id: strawberry.ID = strawberry.field(description="The customer that stays.")
    merged_id: strawberry.ID = strawberry.field(
        description="The customer merged into the survivor: soft-deleted, with "
        "customerMergedInto leading to the survivor."
    )
    survivor_version: int = strawberry.field(
        description="The survivor's version you loaded; stale ones conflict."
    )
    merged_version: int = strawberry.field(
        description="The merged customer's version you loaded; stale ones conflict."
    )


@strawberry.type(description="Rows moved from the merged customer to the survivor, per kind.")
class MergeCounts:
    contacts: int
    activities: int
    tasks: int
    appointments: int
    opportunities: int
    ownership_changes: int
    leads: int = strawberry.field(description="Leads converted to the merged customer.")
    sales_orders: int
    quotes: int = strawberry.field(description="Quotes, every revision.")
    shipments: int = 0
    sales_returns: int = 0
    invoices: int = 0
    credit_notes: int = 0
    payments: int = 0


@strawberry.type
class MergeCustomersPayload:
    customer: Customer | None = strawberry.field(default=None, description="The survivor.")
    moved: MergeCounts | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
