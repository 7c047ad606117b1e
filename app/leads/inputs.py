"""Inputs and payloads of the lead mutations (the API contract)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.custom_fields.types import CustomFieldInput
from app.customers.types import Contact, Customer
from app.leads.types import Lead, LeadAssignmentRule, LeadAssignmentRuleKind, LeadSource, LeadStatus
from app.pipeline.types import Opportunity

UNSET: Any = strawberry.UNSET
CLIENT_ID = "Optional client-generated id; repeating a create is a no-op."
VERSION = "The version you loaded; stale ones conflict."
OWNER = (
    "An active user you may see whose role writes leads; null (or left out) on create "
    "lets the assignment rules choose."
)
STATUS = "NEW or WORKING; qualifying and disqualifying have their own mutations."
CUSTOM_FIELDS = (
    "Values of custom fields by key (customFieldDefinitions(entity: LEAD)); fields not "
    "listed keep their value, null clears one. Errors name the field as customFields.<key>."
)


@strawberry.input
class CreateLeadInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    name: str = strawberry.field(description="The person.")
    company: str | None = UNSET
    title: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    region: str | None = UNSET
    source: LeadSource | None = strawberry.field(default=UNSET, description="Default OTHER.")
    status: LeadStatus | None = strawberry.field(default=UNSET, description=STATUS)
    score: int | None = strawberry.field(default=UNSET, description="0 to 100; default 0.")
    owner_id: strawberry.ID | None = strawberry.field(default=UNSET, description=OWNER)
    notes: str | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class UpdateLeadInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    name: str | None = UNSET
    company: str | None = UNSET
    title: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    region: str | None = UNSET
    source: LeadSource | None = UNSET
    status: LeadStatus | None = strawberry.field(default=UNSET, description=STATUS)
    score: int | None = UNSET
    owner_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="An active user you may see whose role writes leads; "
        "null unassigns.",
    )  # fmt: skip
    notes: str | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class QualifyLeadInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)


@strawberry.input
class DisqualifyLeadInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    reason: str = strawberry.field(description="Why; required.")


@strawberry.input
class DeleteLeadInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.input
class RestoreLeadInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type
class LeadPayloadFields:
    lead: Lead | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class UpdateLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class QualifyLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class DisqualifyLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class DeleteLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class RestoreLeadPayload(LeadPayloadFields):
    pass


@strawberry.type
class AssignLeadsPayload:
    leads: list[Lead] = strawberry.field(default_factory=list, description="In the order asked.")
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class ConvertLeadInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Link to this existing customer instead. Without it, a live customer "
        "you may see with the same company name (case, width and spaces ignored) is "
        "linked, else one is created from the lead's company, region and source.",
    )
    create_opportunity: bool = strawberry.field(
        default=True, description="Also open an opportunity in the default pipeline's first stage."
    )
    opportunity_name: str | None = strawberry.field(
        default=None, description="Default: the company (or the person) of the lead."
    )
    amount: Decimal | None = strawberry.field(
        default=UNSET, description="A decimal string, at most 2 decimal places; default 0."
    )
    currency: str | None = strawberry.field(default=UNSET, description="ISO 4217; default CNY.")
    expected_close_date: dt.date | None = UNSET


@strawberry.type
class ConvertLeadPayload:
    lead: Lead | None = None
    customer: Customer | None = None
    customer_created: bool | None = strawberry.field(
        default=None, description="false when an existing customer was linked."
    )
    contact: Contact | None = None
    opportunity: Opportunity | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class LeadAssignmentRuleInput:
    kind: LeadAssignmentRuleKind
    team_id: strawberry.ID
    region: str | None = strawberry.field(default=None, description="REGION rules only.")
    position: int = strawberry.field(description="Order of trial (unique); renumbered 0, 1, 2...")


@strawberry.input
class SetLeadAssignmentRulesInput:
    rules: list[LeadAssignmentRuleInput] = strawberry.field(
        description="The whole rule set: rules left out are removed. A rule that stays "
        "(same kind, team and region) keeps its round-robin turn."
    )


@strawberry.type
class SetLeadAssignmentRulesPayload:
    rules: list[LeadAssignmentRule] = strawberry.field(default_factory=list)
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
