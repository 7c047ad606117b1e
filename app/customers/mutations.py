"""Customer and contact mutations: each one transaction, audited, with userErrors."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from app.api.context import Info, tenant_today
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, parse_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.custom_fields.types import input_items
from app.customers import service
from app.customers.inputs import (
    CreateContactInput,
    CreateContactPayload,
    CreateCustomerInput,
    CreateCustomerPayload,
    DeleteContactInput,
    DeleteContactPayload,
    DeleteCustomerInput,
    DeleteCustomerPayload,
    RestoreCustomerInput,
    RestoreCustomerPayload,
    UpdateContactInput,
    UpdateContactPayload,
    UpdateCustomerInput,
    UpdateCustomerPayload,
)
from app.customers.types import (
    build_contacts,
    build_customers,
)
from app.errors import UserErrors, fail

UNSET: Any = strawberry.UNSET

CUSTOMER_INPUT_FIELDS = (
    "name", "category", "tier", "industry", "region", "source", "phone", "email",
    "address", "owner_id", "partner_id", "tags", "notes", "external_ref", "credit_limit",
    "is_distributor",
)  # fmt: skip
CONTACT_INPUT_FIELDS = ("name", "title", "phone", "email", "birthday", "is_primary")


def _customer_fields(info: Info, input: object) -> dict[str, Any]:
    fields = _provided(input, CUSTOMER_INPUT_FIELDS)
    if "credit_limit" in fields and not info.context.principal.can("customers:write_credit"):
        raise fail(
            "creditLimit", "FORBIDDEN", "setting a credit limit needs customers:write_credit"
        )
    return fields


def _provided(input: object, names) -> dict[str, Any]:
    """As `provided`, with the partner checked as partners are (INVALID, not NOT_FOUND)."""
    out = provided(input, names)
    if "partner_id" in out:
        out["partner_id"] = _partner_id(out["partner_id"])
    return out


def _partner_id(value: object) -> uuid.UUID | None:
    """A malformed id names no user: the same error as an unknown one."""
    if value is None:
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise UserErrors([service.NOT_A_USER])
    return parsed


async def _customer_mutation(info: Info, payload: type, change) -> Any:
    """Run `change(conn, actor)`; answer with the customer as the client selected it."""

    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build_customers(
            conn, info.context.principal, [row], selected_paths(info), "customer."
        )
        return {"customer": node}

    return await run_mutation(info, payload, write)


async def _contact_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build_contacts(
            conn, info.context.principal, [row], selected_paths(info), "contact."
        )
        return {"contact": node}

    return await run_mutation(info, payload, write)


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(extensions=requires("customers:write"))
    async def create_customer(
        self, info: Info, input: CreateCustomerInput
    ) -> CreateCustomerPayload:
        async def change(conn, actor):
            return await service.create_customer(
                conn, actor=actor, who=info.context.principal, customer_id=optional_uuid(input.id, "id", "customer"),
                fields=_customer_fields(info, input),
                custom_fields=input_items(input.custom_fields) or [],
            )  # fmt: skip

        return await _customer_mutation(info, CreateCustomerPayload, change)

    @strawberry.mutation(extensions=requires("customers:write"))
    async def update_customer(
        self, info: Info, input: UpdateCustomerInput
    ) -> UpdateCustomerPayload:
        async def change(conn, actor):
            return await service.update_customer(
                conn, actor=actor, who=info.context.principal, customer_id=require_uuid(input.id, "id", "customer"),
                version=input.version, fields=_customer_fields(info, input),
                custom_fields=input_items(input.custom_fields),
            )  # fmt: skip

        return await _customer_mutation(info, UpdateCustomerPayload, change)

    @strawberry.mutation(extensions=requires("customers:write"))
    async def delete_customer(
        self, info: Info, input: DeleteCustomerInput
    ) -> DeleteCustomerPayload:
        async def change(conn, actor):
            return await service.delete_customer(
                conn, actor=actor, who=info.context.principal, customer_id=require_uuid(input.id, "id", "customer"),
                version=input.version, today=tenant_today(info),
            )  # fmt: skip

        return await _customer_mutation(info, DeleteCustomerPayload, change)

    @strawberry.mutation(extensions=requires("customers:write"))
    async def restore_customer(
        self, info: Info, input: RestoreCustomerInput
    ) -> RestoreCustomerPayload:
        async def change(conn, actor):
            return await service.restore_customer(
                conn, actor=actor, who=info.context.principal, customer_id=require_uuid(input.id, "id", "customer"),
                version=input.version,
            )  # fmt: skip

        return await _customer_mutation(info, RestoreCustomerPayload, change)

    @strawberry.mutation(extensions=requires("contacts:write"))
    async def create_contact(self, info: Info, input: CreateContactInput) -> CreateContactPayload:
        async def change(conn, actor):
            return await service.create_contact(
                conn, actor=actor, who=info.context.principal, contact_id=optional_uuid(input.id, "id", "contact"),
                customer_id=require_uuid(input.customer_id, "customerId", "customer"),
                fields=_provided(input, CONTACT_INPUT_FIELDS),
                custom_fields=input_items(input.custom_fields) or [],
            )  # fmt: skip

        return await _contact_mutation(info, CreateContactPayload, change)

    @strawberry.mutation(extensions=requires("contacts:write"))
    async def update_contact(self, info: Info, input: UpdateContactInput) -> UpdateContactPayload:
        async def change(conn, actor):
            return await service.update_contact(
                conn, actor=actor, who=info.context.principal, contact_id=require_uuid(input.id, "id", "contact"),
                version=input.version, fields=_provided(input, CONTACT_INPUT_FIELDS),
                custom_fields=input_items(input.custom_fields),
            )  # fmt: skip

        return await _contact_mutation(info, UpdateContactPayload, change)

    @strawberry.mutation(extensions=requires("contacts:write"))
    async def delete_contact(self, info: Info, input: DeleteContactInput) -> DeleteContactPayload:
        async def change(conn, actor):
            return await service.delete_contact(
                conn, actor=actor, who=info.context.principal, contact_id=require_uuid(input.id, "id", "contact"),
                version=input.version,
            )  # fmt: skip

        return await _contact_mutation(info, DeleteContactPayload, change)
