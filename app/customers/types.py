"""GraphQL types of customers and contacts, built as plain objects for a whole page:
children are fetched per page by looking ahead at the selection, never per row."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.pagination import Connection
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.custom_fields.types import (
    VALUES_DESCRIPTION,
    CustomFieldValue,
    attach_values,
)
from app.customers.queries import contacts_by_customer, customers_by_id
from app.users.graphql import User
from app.users.queries import users_by_id

if TYPE_CHECKING:
    from app.activities.timeline_graphql import TimelineItem
    from app.pipeline.graphql import OpportunityFilter, OpportunityOrder
    from app.pipeline.types import Opportunity


@strawberry.enum
class CustomerCategory(enum.Enum):
    PROSPECT = "prospect"
    TARGET = "target"
    ACTIVE = "active"
    PARTNER = "partner"
    BLACKLISTED = "blacklisted"
    COMPETITOR = "competitor"


@strawberry.enum
class CustomerTier(enum.Enum):
    A = "A"
    B = "B"
    C = "C"


@strawberry.type
class Contact:
    id: strawberry.ID
    customer_id: strawberry.ID
    name: str
    title: str | None
    phone: str | None
    email: str | None
    birthday: dt.date | None
    is_primary: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    customer: Customer | None = strawberry.field(
        default=None, description="The customer this contact belongs to."
    )
    custom_fields: list[CustomFieldValue] = strawberry.field(
        default_factory=list, description=VALUES_DESCRIPTION
    )

    @classmethod
    def from_row(cls, row: Row) -> Contact:
        return cls(
            id=strawberry.ID(str(row.id)),
            customer_id=strawberry.ID(str(row.customer_id)),
            name=row.name,
            title=row.title,
            phone=row.phone,
            email=row.email,
            birthday=row.birthday,
            is_primary=row.is_primary,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )


@strawberry.type
class Customer:
    id: strawberry.ID
    name: str
    category: CustomerCategory
    tier: CustomerTier | None
    industry: str | None
    region: str | None
    source: str | None
    phone: str | None
    email: str | None
    address: str | None
    owner_id: strawberry.ID | None = strawberry.field(
        description="The responsible user; null means the customer is in the public pool."
    )
    partner_id: strawberry.ID | None = strawberry.field(
        description="The partner (distributor) user the customer is assigned to; partner "
        "users see exactly the customers assigned to them."
    )
    is_distributor: bool = strawberry.field(
        default=False,
        description="A distributor (经销商): its partner users (User.distributorId) see it, "
        "its orders and quotes, and the stock of its consignment warehouses.",
    )
    tags: list[str]
    notes: str | None
    external_ref: str | None = strawberry.field(
        description="The customer's id in the tenant's previous system."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    deleted_at: dt.datetime | None
    credit_limit: Decimal | None = strawberry.field(
        default=None,
        extensions=requires("customers:read_credit"),
        description="In the tenant's base currency. Refused (FORBIDDEN) without "
        "customers:read_credit.",
    )
    owner: User | None = None
    partner: User | None = None
    contacts: list[Contact] = strawberry.field(
        default_factory=list, description="Live contacts, the primary one first."
    )
    custom_fields: list[CustomFieldValue] = strawberry.field(
        default_factory=list,
        description="Values of the tenant's live custom fields, in display order; fields "
        "without a value are left out.",
    )

    # Nested lists of other capabilities, which depend on this one: their types are
    # lazy and their resolvers live with them (imported when first resolved). In a
    # list of customers each costs one statement for the whole page (app/api/batch.py).
    @strawberry.field(
        extensions=requires("opportunities:read"),
        description="The customer's opportunities you can see: the `opportunities` list "
        "with customerId set to this customer. FORBIDDEN without opportunities:read.",
    )
    async def opportunities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[OpportunityFilter, strawberry.lazy("app.pipeline.graphql")] | None = None,
        order_by: list[Annotated[OpportunityOrder, strawberry.lazy("app.pipeline.graphql")]]
        | None = None,
    ) -> Connection[Annotated[Opportunity, strawberry.lazy("app.pipeline.types")]] | None:
        from app.pipeline.graphql import customer_opportunities

        return await customer_opportunities(
            info, self.id, first=first, after=after, filter=filter, order_by=order_by
        )

    @strawberry.field(
        extensions=requires("activities:read"),
        description="The customer's history, newest first, as `customerTimeline`. "
        "FORBIDDEN without activities:read.",
    )
    async def timeline(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> (
        Connection[Annotated[TimelineItem, strawberry.lazy("app.activities.timeline_graphql")]]
        | None
    ):
        from app.activities.timeline_graphql import customer_timeline_field

        return await customer_timeline_field(info, self.id, first=first, after=after)

    @classmethod
    def from_row(cls, row: Row) -> Customer:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            category=CustomerCategory(row.category),
            tier=CustomerTier(row.tier) if row.tier else None,
            industry=row.industry,
            region=row.region,
            source=row.source,
            phone=row.phone,
            email=row.email,
            address=row.address,
            owner_id=strawberry.ID(str(row.owner_id)) if row.owner_id else None,
            partner_id=strawberry.ID(str(row.partner_id)) if row.partner_id else None,
            tags=list(row.tags),
            notes=row.notes,
            external_ref=row.external_ref,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            deleted_at=row.deleted_at,
            credit_limit=row.credit_limit,
            is_distributor=row.is_distributor,
        )


async def build_customers(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Customer]:
    """Customers with the children the query selected below `prefix`, one statement
    per kind of child for the whole page."""
    nodes = [Customer.from_row(r) for r in rows]
    if f"{prefix}contacts" in selected and rows:
        grouped = await contacts_by_customer(conn, [r.id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            node.contacts = [Contact.from_row(c) for c in grouped.get(row.id, [])]
        if f"{prefix}contacts.customFields" in selected:
            children = [c for row in rows for c in grouped.get(row.id, [])]
            await attach_values(
                conn, "contact", [c for n in nodes for c in n.contacts], [c.id for c in children]
            )
    if f"{prefix}customFields" in selected:
        await attach_values(conn, "customer", nodes, [r.id for r in rows])
    await _attach_people(conn, nodes, rows, selected, prefix)
    return nodes


async def attach_customers(
    conn: AsyncConnection, who: Scoped, nodes: Sequence, rows: Sequence[Row], selected: set[str],
    prefix: str, *, field: str = "customer", attribute: str = "customer",
    column: str = "customer_id",
) -> None:  # fmt: skip
    """Set `attribute` on each node to the customer its row's `column` names, when
    `field` is selected below `prefix`: one statement for the whole page; null where
    the column is null or the customer is outside the data scope."""
    if not rows or f"{prefix}{field}" not in selected:
        return
    ids = [getattr(r, column) for r in rows if getattr(r, column) is not None]
    found = await customers_by_id(conn, who, ids)
    built = await build_customers(conn, who, list(found.values()), selected, f"{prefix}{field}.")
    by_id = dict(zip(found, built, strict=True))
    for node, row in zip(nodes, rows, strict=True):
        setattr(node, attribute, by_id.get(getattr(row, column)))


PEOPLE = {"owner": "owner_id", "partner": "partner_id"}  # field -> the column naming them


async def _attach_people(
    conn: AsyncConnection, nodes: list[Customer], rows: Sequence[Row], selected: set[str],
    prefix: str,
) -> None:  # fmt: skip
    """Owners and partners are both users: one statement for whichever were selected."""
    wanted = {name: column for name, column in PEOPLE.items() if f"{prefix}{name}" in selected}
    if not wanted or not rows:
        return
    people = await users_by_id(conn, [getattr(r, c) for r in rows for c in wanted.values()])
    for node, row in zip(nodes, rows, strict=True):
        for field, column in wanted.items():
            person = people.get(getattr(row, column))
            setattr(node, field, User.from_row(person) if person else None)


async def build_contacts(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Contact]:
    nodes = [Contact.from_row(r) for r in rows]
    if f"{prefix}customFields" in selected:
        await attach_values(conn, "contact", nodes, [r.id for r in rows])
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    return nodes
