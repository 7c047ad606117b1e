"""GraphQL types of custom fields that other capabilities embed: the value on a
record, the value in a create/update input, the filter, and the orderBy entry's
customField (with `orders_of`, which turns a list's orderBy into sort orders)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.scalars import JSON

from app.custom_fields.service import Value, values_by_entity
from app.custom_fields.sorting import Order


@strawberry.enum(description="What a custom field holds.")
class CustomFieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"
    SELECT = "select"
    MULTISELECT = "multiselect"


@strawberry.type(description="A custom field's value on a record (only fields that have one).")
class CustomFieldValue:
    key: str
    label: str
    type: CustomFieldType
    value: JSON = strawberry.field(
        description="The value as JSON: a string (text, select, decimal as a string, date "
        "as YYYY-MM-DD), a number, a boolean, or a list of strings (multiselect)."
    )
    text_value: str | None = strawberry.field(description="text and select fields.")
    number_value: float | None = strawberry.field(
        description="number fields: whole numbers within ±(2^53-1), so exact as a Float "
        "(GraphQL's Int is only 32 bits)."
    )
    decimal_value: Decimal | None = strawberry.field(description="decimal fields.")
    date_value: dt.date | None = strawberry.field(description="date fields.")
    bool_value: bool | None = strawberry.field(description="boolean fields.")
    option_values: list[str] | None = strawberry.field(description="multiselect fields.")

    @classmethod
    def from_value(cls, item: Value) -> CustomFieldValue:
        d, v = item.definition, item.value
        kind = d.type
        return cls(
            key=d.key,
            label=d.label,
            type=CustomFieldType(kind),
            value=as_json(kind, v),
            text_value=v if kind in ("text", "select") else None,
            number_value=v if kind == "number" else None,
            decimal_value=v if kind == "decimal" else None,
            date_value=v if kind == "date" else None,
            bool_value=v if kind == "boolean" else None,
            option_values=list(v) if kind == "multiselect" else None,
        )


def as_json(kind: str, value: Any) -> Any:
    if kind == "decimal":
        return str(value)
    if kind == "date":
        return value.isoformat()
    return value


def from_values(items: Sequence[Value]) -> list[CustomFieldValue]:
    return [CustomFieldValue.from_value(i) for i in items]


VALUES_DESCRIPTION = (
    "Values of the tenant's live custom fields, in display order; fields without a "
    "value are left out."
)


async def attach_values(
    conn: AsyncConnection, entity: str, nodes: Sequence[Any], ids: Sequence[uuid.UUID]
) -> None:
    """Set `custom_fields` on the nodes (records `ids` of `entity`, in the same order)
    with one statement for all of them."""
    if not nodes:
        return
    values = await values_by_entity(conn, entity, ids)
    for node, record_id in zip(nodes, ids, strict=True):
        node.custom_fields = from_values(values.get(record_id, []))


@strawberry.input(description="A custom field's value to set, by the field's key; null clears it.")
class CustomFieldInput:
    key: str
    value: JSON | None = strawberry.field(
        description="A string (text, select, date YYYY-MM-DD), a whole number (number), a "
        "decimal string or number (decimal), true/false (boolean), a list of strings "
        "(multiselect); null clears the value."
    )


@strawberry.input(
    description="A condition on one custom field, by key; its operators are ANDed. "
    "text and select: eq, in, isNull; number, decimal and date: eq, in, gte, lte, isNull; "
    "boolean: eq, isNull; multiselect: contains (has all of), in (has any of), isNull."
)
class CustomFieldFilter:
    key: str
    eq: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    gte: JSON | None = None
    lte: JSON | None = None
    is_null: bool | None = None
    contains: list[str] | None = None


ORDER_FIELD = "A column to sort by; give this or customField."
ORDER_CUSTOM_FIELD = (
    "A custom field's key to sort by (not multiselect), instead of field; only as the "
    "first entry, later entries break ties. Records without a value come last in both "
    "directions. Uses the custom field values index."
)


def orders_of(entries: Sequence[Any], column: Callable[[Any], Any]) -> list[Order]:
    """orderBy entries (each with field, customField and direction) as sort orders;
    `column` maps a `field` enum value to the column it sorts by."""
    return [
        Order(
            column=column(e.field) if e.field is not None else None,
            custom_field=e.custom_field,
            descending=e.direction.value == "desc",
        )
        for e in entries
    ]


def input_items(value: Any) -> list[tuple[str, Any]] | None:
    """A mutation input's customFields as (key, value) pairs; None when not sent."""
    if value is None or value is strawberry.UNSET:
        return None
    return [(item.key, item.value) for item in value]
