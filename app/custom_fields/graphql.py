"""Custom fields over GraphQL: `customFieldDefinitions(entity)` and the mutations
`defineCustomField`, `updateCustomField`, `removeCustomField` (fields:manage)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import Row

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.ids import optional_uuid, require_uuid
from app.api.permissions import requires
from app.custom_fields import service
from app.custom_fields.entities import ENTITIES
from app.custom_fields.types import CustomFieldType
from app.errors import Forbidden

MANAGE = "fields:manage"
UNSET: Any = strawberry.UNSET


@strawberry.enum(description="The kinds of records that carry custom fields.")
class CustomFieldEntity(enum.Enum):
    CUSTOMER = "customer"
    CONTACT = "contact"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"


@strawberry.type
class CustomFieldValidation:
    max_length: int | None = strawberry.field(description="text: at most this many characters.")
    min: Decimal | None = strawberry.field(description="number and decimal: at least this.")
    max: Decimal | None = strawberry.field(description="number and decimal: at most this.")


@strawberry.type(description="A field a tenant added to a kind of record (自定义字段).")
class CustomFieldDefinition:
    id: strawberry.ID
    entity: CustomFieldEntity
    key: str = strawberry.field(description="The machine name used in inputs and filters.")
    label: str
    type: CustomFieldType
    required: bool
    options: list[str] = strawberry.field(description="The choices of select fields.")
    validation: CustomFieldValidation
    position: int = strawberry.field(description="Display order, lowest first.")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    deleted_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> CustomFieldDefinition:
        return cls(
            id=strawberry.ID(str(row.id)),
            entity=CustomFieldEntity(row.entity),
            key=row.key,
            label=row.label,
            type=CustomFieldType(row.type),
            required=row.required,
            options=list(row.options),
            validation=CustomFieldValidation(
                max_length=row.max_length, min=row.min_value, max=row.max_value
            ),
            position=row.position,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            deleted_at=row.deleted_at,
        )


@strawberry.input
class CustomFieldValidationInput:
    max_length: int | None = None
    min: Decimal | None = None
    max: Decimal | None = None


@strawberry.input
class DefineCustomFieldInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Optional client-generated id; repeating a define is a no-op."
    )
    entity: CustomFieldEntity
    key: str = strawberry.field(
        description="A lowercase letter, then up to 39 lowercase letters, digits or _; "
        "unique among the entity's fields."
    )
    label: str
    type: CustomFieldType
    required: bool = False
    options: list[str] | None = strawberry.field(
        default=None, description="select and multiselect: the choices (required for them)."
    )
    validation: CustomFieldValidationInput | None = None
    position: int | None = strawberry.field(default=None, description="Default: last.")


@strawberry.input
class UpdateCustomFieldInput:
    id: strawberry.ID
    version: int
    type: CustomFieldType | None = strawberry.field(
        default=UNSET, description="Only the current type is accepted: types never change."
    )
    label: str | None = UNSET
    required: bool | None = strawberry.field(
        default=UNSET,
        description="Applies to later creates and updates; existing records are not checked.",
    )
    options: list[str] | None = strawberry.field(
        default=UNSET, description="Options in use by a record cannot be removed."
    )
    validation: CustomFieldValidationInput | None = strawberry.field(
        default=UNSET,
        description="Replaces the whole validation; existing values are not re-checked.",
    )
    position: int | None = UNSET


@strawberry.input
class RemoveCustomFieldInput:
    id: strawberry.ID


@strawberry.type
class CustomFieldPayloadFields:
    custom_field: CustomFieldDefinition | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class DefineCustomFieldPayload(CustomFieldPayloadFields):
    pass


@strawberry.type
class UpdateCustomFieldPayload(CustomFieldPayloadFields):
    pass


@strawberry.type
class RemoveCustomFieldPayload(CustomFieldPayloadFields):
    pass


def _validation(values: dict[str, Any], validation: CustomFieldValidationInput | None) -> None:
    values["max_length"] = validation.max_length if validation else None
    values["min_value"] = validation.min if validation else None
    values["max_value"] = validation.max if validation else None


@strawberry.type
class CustomFieldQueries:
    @strawberry.field(description="The entity's live custom fields, in display order.")
    async def custom_field_definitions(
        self, info: Info, entity: CustomFieldEntity
    ) -> list[CustomFieldDefinition]:
        needed = ENTITIES[entity.value].read_permission
        if not info.context.principal.can(needed):
            raise Forbidden(f"this operation requires the {needed} permission")
        async with info.context.db.read() as conn:
            rows = await service.list_definitions(conn, entity.value)
        return [CustomFieldDefinition.from_row(r) for r in rows]


async def _field_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        return {"custom_field": CustomFieldDefinition.from_row(row)}

    return await run_mutation(info, payload, write)


@strawberry.type
class CustomFieldMutations:
    @strawberry.mutation(extensions=requires(MANAGE))
    async def define_custom_field(
        self, info: Info, input: DefineCustomFieldInput
    ) -> DefineCustomFieldPayload:
        values: dict[str, Any] = {
            "entity": input.entity.value, "key": input.key, "label": input.label,
            "type": input.type.value, "required": input.required,
            "options": input.options or [], "position": input.position,
        }  # fmt: skip
        _validation(values, input.validation)

        async def change(conn, actor):
            return await service.define_field(
                conn, actor=actor, field_id=optional_uuid(input.id, "id", "custom field"),
                values=values,
            )  # fmt: skip

        return await _field_mutation(info, DefineCustomFieldPayload, change)

    @strawberry.mutation(extensions=requires(MANAGE))
    async def update_custom_field(
        self, info: Info, input: UpdateCustomFieldInput
    ) -> UpdateCustomFieldPayload:
        values: dict[str, Any] = {}
        for name in ("label", "required", "options", "position"):
            value = getattr(input, name)
            if value is not UNSET and value is not None:
                values[name] = value
        if input.type is not UNSET and input.type is not None:
            values["type"] = input.type.value
        if input.validation is not UNSET:
            _validation(values, input.validation)

        async def change(conn, actor):
            return await service.update_field(
                conn, actor=actor, field_id=require_uuid(input.id, "id", "custom field"),
                version=input.version, values=values,
            )  # fmt: skip

        return await _field_mutation(info, UpdateCustomFieldPayload, change)

    @strawberry.mutation(extensions=requires(MANAGE))
    async def remove_custom_field(
        self, info: Info, input: RemoveCustomFieldInput
    ) -> RemoveCustomFieldPayload:
        async def change(conn, actor):
            return await service.remove_field(
                conn, actor=actor, field_id=require_uuid(input.id, "id", "custom field")
            )

        return await _field_mutation(info, RemoveCustomFieldPayload, change)
