"""Customer and contact queries: `customer`, `customers`, `contact`, `contacts`."""

from __future__ import annotations

import enum
from functools import partial

import strawberry
from sqlalchemy import ColumnElement

from app.api.context import Info
from app.api.filters import (
    DateFilter,
    DateTimeFilter,
    EnumFilter,
    IdFilter,
    TagsFilter,
    all_of,
    any_of,
    date_condition,
    datetime_condition,
    enum_condition,
    id_condition,
    tags_condition,
)
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.custom_fields import service as custom
from app.custom_fields.sorting import ordered, sorts_by_custom_field
from app.custom_fields.types import (
    ORDER_CUSTOM_FIELD,
    ORDER_FIELD,
    CustomFieldFilter,
    orders_of,
)
from app.customers import queries
from app.customers.tables import contacts, customers
from app.customers.types import (
    Contact,
    Customer,
    CustomerCategory,
    CustomerTier,
    build_contacts,
    build_customers,
)

MAX_FILTER_DEPTH = 4


@strawberry.input
class CustomerFilter:
    category: EnumFilter[CustomerCategory] | None = None
    tier: EnumFilter[CustomerTier] | None = None
    owner_id: IdFilter | None = strawberry.field(
        default=None, description="isNull: true lists the public pool."
    )
    partner_id: IdFilter | None = strawberry.field(
        default=None, description="isNull: true lists customers assigned to no partner."
    )
    is_distributor: bool | None = strawberry.field(
        default=None, description="true: only distributors (经销商); false: all but them."
    )
    tags: TagsFilter | None = None
    created_at: DateTimeFilter | None = None
    created_on: DateFilter | None = strawberry.field(
        default=None, description="Creation day in the tenant's time zone."
    )
    search: str | None = strawberry.field(
        default=None, description="Substring of name, email or phone; any language."
    )
    deleted: bool = strawberry.field(
        default=False, description="true lists soft-deleted customers (to restore them)."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None, description="Conditions on custom fields by key, all of which must hold."
    )
    and_: list[CustomerFilter] | None = strawberry.field(default=None, name="and")
    or_: list[CustomerFilter] | None = strawberry.field(default=None, name="or")


@strawberry.enum
class CustomerOrderField(enum.Enum):
    NAME = "name"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input
class CustomerOrder:
    field: CustomerOrderField | None = strawberry.field(default=None, description=ORDER_FIELD)
    custom_field: str | None = strawberry.field(default=None, description=ORDER_CUSTOM_FIELD)
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class ContactFilter:
    customer_id: IdFilter | None = None
    search: str | None = None
    created_at: DateTimeFilter | None = None
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None, description="Conditions on custom fields by key, all of which must hold."
    )


@strawberry.enum
class ContactOrderField(enum.Enum):
    NAME = "name"
    CREATED_AT = "created_at"


@strawberry.input
class ContactOrder:
    field: ContactOrderField | None = strawberry.field(default=None, description=ORDER_FIELD)
    custom_field: str | None = strawberry.field(default=None, description=ORDER_CUSTOM_FIELD)
    direction: SortDirection = SortDirection.ASC


def customer_condition(
    f: CustomerFilter,
    time_zone: str,
    depth: int = 0,
    fields: dict[str, custom.Definition] | None = None,
) -> ColumnElement[bool]:
    """`fields`: the customer's live custom fields, needed when the filter uses them."""
    c = customers.c
    nested = depth + 1 < MAX_FILTER_DEPTH
    return all_of(
        [
            enum_condition(c.category, f.category),
            enum_condition(c.tier, f.tier),
            id_condition(c.owner_id, f.owner_id, "ownerId"),
            id_condition(c.partner_id, f.partner_id, "partnerId"),
            None if f.is_distributor is None else c.is_distributor.is_(f.is_distributor),
            tags_condition(c.tags, f.tags),
            datetime_condition(c.created_at, f.created_at),
            date_condition(c.created_at, f.created_on, time_zone),
            queries.customer_search(f.search) if f.search else None,
            custom.fields_condition(c.id, f.custom_fields, fields or {}),
            all_of(customer_condition(g, time_zone, depth + 1, fields) for g in f.and_)
            if f.and_ and nested
            else None,
            any_of([customer_condition(g, time_zone, depth + 1, fields) for g in f.or_])
            if f.or_ and nested
            else None,
        ]
    )


def _column(table):
    return lambda field: table.c[field.value]


@strawberry.type
class CustomerQueries:
    @strawberry.field(extensions=requires("customers:read"))
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await visible_node(info, id, queries.get_customer, build_customers)

    @strawberry.field(extensions=requires("customers:read"))
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: list[CustomerOrder] | None = None,
    ) -> Connection[Customer]:
        f = filter or CustomerFilter()
        principal = info.context.principal
        order = orders_of(
            order_by or [CustomerOrder(field=CustomerOrderField.CREATED_AT)], _column(customers)
        )
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            fields = None
            if custom.uses_fields(f, max_depth=MAX_FILTER_DEPTH) or sorts_by_custom_field(order):
                fields = await custom.definitions(conn, "customer")
            query, keys = ordered(
                queries.customers_query(
                    queries.live(customers, deleted=f.deleted),
                    queries.visible_customers(principal),
                    customer_condition(f, principal.tenant.time_zone, fields=fields),
                ),
                customers.c.id, order, fields,
            )  # fmt: skip
            return await page_of(
                conn, query, keys, selected, partial(build_customers, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(extensions=requires("contacts:read"))
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        return await visible_node(info, id, queries.get_contact, build_contacts)

    @strawberry.field(extensions=requires("contacts:read"))
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ContactFilter | None = None,
        order_by: ContactOrder | None = None,
    ) -> Connection[Contact]:
        f = filter or ContactFilter()
        principal = info.context.principal
        order = orders_of(
            [order_by or ContactOrder(field=ContactOrderField.NAME)], _column(contacts)
        )
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            fields = None
            if f.custom_fields or sorts_by_custom_field(order):
                fields = await custom.definitions(conn, "contact")
            query, keys = ordered(
                queries.contacts_query(
                    all_of(
                        [
                            queries.live(contacts),
                            queries.visible_contacts(principal),
                            id_condition(contacts.c.customer_id, f.customer_id, "customerId"),
                            queries.contact_search(f.search),
                            datetime_condition(contacts.c.created_at, f.created_at),
                            custom.fields_condition(contacts.c.id, f.custom_fields, fields or {}),
                        ]
                    )
                ),
                contacts.c.id, order, fields,
            )  # fmt: skip
            return await page_of(
                conn, query, keys, selected, partial(build_contacts, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip
