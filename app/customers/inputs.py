"""Inputs and payloads of the customer and contact mutations (the API contract)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.custom_fields.types import CustomFieldInput
from app.customers.types import Contact, Customer, CustomerCategory, CustomerTier

UNSET: Any = strawberry.UNSET
PARTNER_ID = (
    "The partner (distributor) user to assign the customer to: an active user whose role "
    "has the assigned data scope. null unassigns."
)
IS_DISTRIBUTOR = (
    "A distributor (经销商): partner users may then work for it (updateUser distributorId). "
    "It cannot be unmarked while users work for it. null means false."
)
CUSTOM_FIELDS = (
    "Values of custom fields by key (customFieldDefinitions); fields not listed keep "
    "their value, null clears one. Errors name the field as customFields.<key>."
)


@strawberry.input
class CreateCustomerInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Optional client-generated id; repeating a create is a no-op."
    )
    name: str
    category: CustomerCategory | None = UNSET
    tier: CustomerTier | None = UNSET
    industry: str | None = UNSET
    region: str | None = UNSET
    source: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    address: str | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    partner_id: strawberry.ID | None = strawberry.field(default=UNSET, description=PARTNER_ID)
    is_distributor: bool | None = strawberry.field(default=UNSET, description=IS_DISTRIBUTOR)
    tags: list[str] | None = UNSET
    notes: str | None = UNSET
    external_ref: str | None = UNSET
    credit_limit: Decimal | None = strawberry.field(
        default=UNSET, description="Needs customers:write_credit."
    )
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class UpdateCustomerInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you loaded; stale ones conflict.")
    name: str | None = UNSET
    category: CustomerCategory | None = UNSET
    tier: CustomerTier | None = UNSET
    industry: str | None = UNSET
    region: str | None = UNSET
    source: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    address: str | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    partner_id: strawberry.ID | None = strawberry.field(default=UNSET, description=PARTNER_ID)
    is_distributor: bool | None = strawberry.field(default=UNSET, description=IS_DISTRIBUTOR)
    tags: list[str] | None = UNSET
    notes: str | None = UNSET
    external_ref: str | None = UNSET
    credit_limit: Decimal | None = strawberry.field(
        default=UNSET, description="Needs customers:write_credit."
    )
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class DeleteCustomerInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.input
class RestoreCustomerInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type
class CustomerPayloadFields:
    customer: Customer | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateCustomerPayload(CustomerPayloadFields):
    pass


@strawberry.type
class UpdateCustomerPayload(CustomerPayloadFields):
    pass


@strawberry.type
class DeleteCustomerPayload(CustomerPayloadFields):
    pass


@strawberry.type
class RestoreCustomerPayload(CustomerPayloadFields):
    pass


@strawberry.input
class CreateContactInput:
    id: strawberry.ID | None = None
    customer_id: strawberry.ID
    name: str
    title: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    birthday: dt.date | None = UNSET
    is_primary: bool | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class UpdateContactInput:
    id: strawberry.ID
    version: int
    name: str | None = UNSET
    title: str | None = UNSET
    phone: str | None = UNSET
    email: str | None = UNSET
    birthday: dt.date | None = UNSET
    is_primary: bool | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class DeleteContactInput:
    id: strawberry.ID
    version: int | None = None


@strawberry.type
class ContactPayloadFields:
    contact: Contact | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateContactPayload(ContactPayloadFields):
    pass


@strawberry.type
class UpdateContactPayload(ContactPayloadFields):
    pass


@strawberry.type
class DeleteContactPayload(ContactPayloadFields):
    pass
