"""Pipeline and opportunity queries: `pipelines`, `opportunity`, `opportunities`, and
the resolver of `Customer.opportunities` (the same list, one customer's)."""

from __future__ import annotations

import enum
import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import partial

import strawberry
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.batch import batched
from app.api.context import Info
from app.api.filters import (
    DateFilter,
    EnumFilter,
    IdFilter,
    all_of,
    any_of,
    enum_condition,
    id_condition,
)
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of, pages_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.auth.principal import Principal
from app.custom_fields import service as custom
from app.custom_fields.sorting import CustomFieldSort, ordered, sorts_by_custom_field
from app.custom_fields.types import (
    ORDER_CUSTOM_FIELD,
    ORDER_FIELD,
    CustomFieldFilter,
    orders_of,
)
from app.errors import BadUserInput
from app.pipeline import queries
from app.pipeline.tables import AMOUNT_CENTS, opportunities
from app.pipeline.types import (
    Opportunity,
    OpportunityStatus,
    Pipeline,
    build_opportunities,
    build_pipelines,
)

MAX_FILTER_DEPTH = 4
MAX_CENTS = 10**18  # beyond any amount numeric(18, 2) holds, within a bigint


@strawberry.input(description="An amount range in the opportunity's own currency; inclusive.")
class AmountFilter:
    gte: Decimal | None = None
    lte: Decimal | None = None


@strawberry.input
class OpportunityFilter:
    customer_id: IdFilter | None = None
    owner_id: IdFilter | None = None
    pipeline_id: IdFilter | None = None
    stage_id: IdFilter | None = None
    status: EnumFilter[OpportunityStatus] | None = None
    currency: str | None = strawberry.field(default=None, description="An ISO 4217 code.")
    expected_close_date: DateFilter | None = None
    amount: AmountFilter | None = strawberry.field(
        default=None, description="Amounts are compared as numbers: filter by currency too."
    )
    search: str | None = strawberry.field(default=None, description="Any part of the name.")
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None, description="Conditions on custom fields by key, all of which must hold."
    )
    and_: list[OpportunityFilter] | None = strawberry.field(default=None, name="and")
    or_: list[OpportunityFilter] | None = strawberry.field(default=None, name="or")


@strawberry.enum
class OpportunityOrderField(enum.Enum):
    AMOUNT = "amount"
    EXPECTED_CLOSE_DATE = "expected_close_date"
    CREATED_AT = "created_at"
    NAME = "name"


@strawberry.input
class OpportunityOrder:
    field: OpportunityOrderField | None = strawberry.field(
        default=None,
        description="Opportunities without an expected close date sort after those with "
        f"one. {ORDER_FIELD}",
    )
    custom_field: str | None = strawberry.field(default=None, description=ORDER_CUSTOM_FIELD)
    direction: SortDirection = SortDirection.ASC


SORT_COLUMNS = {
    OpportunityOrderField.AMOUNT: queries.AMOUNT_SORT,
    OpportunityOrderField.EXPECTED_CLOSE_DATE: queries.CLOSE_DATE_SORT,
    OpportunityOrderField.CREATED_AT: opportunities.c.created_at,
    OpportunityOrderField.NAME: opportunities.c.name,
}


def _cents(value: Decimal, rounding: str, field: str) -> int:
    if not value.is_finite():
        raise BadUserInput(f"{field} must be a number")
    cents = int((value * 100).to_integral_value(rounding=rounding))
    return max(-MAX_CENTS, min(MAX_CENTS, cents))


def amount_condition(f: AmountFilter | None) -> ColumnElement[bool] | None:
    """Whole cents, so the condition is on the indexed expression the sort uses."""
    if f is None:
        return None
    parts = []
    if f.gte is not None:
        parts.append(AMOUNT_CENTS >= _cents(f.gte, ROUND_CEILING, "amount.gte"))
    if f.lte is not None:
        parts.append(AMOUNT_CENTS <= _cents(f.lte, ROUND_FLOOR, "amount.lte"))
    return all_of(parts)


def date_range(column, f: DateFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    return all_of(
        [
            column >= f.gte if f.gte is not None else None,
            column <= f.lte if f.lte is not None else None,
        ]
    )


def opportunity_condition(
    f: OpportunityFilter, depth: int = 0, fields: dict[str, custom.Definition] | None = None
) -> ColumnElement[bool]:
    """`fields`: the opportunity's live custom fields, needed when the filter uses them."""
    c = opportunities.c
    nested = depth + 1 < MAX_FILTER_DEPTH
    return all_of(
        [
            id_condition(c.customer_id, f.customer_id, "customerId"),
            id_condition(c.owner_id, f.owner_id, "ownerId"),
            id_condition(c.pipeline_id, f.pipeline_id, "pipelineId"),
            id_condition(c.stage_id, f.stage_id, "stageId"),
            enum_condition(c.status, f.status),
            c.currency == f.currency.strip().upper() if f.currency is not None else None,
            date_range(c.expected_close_date, f.expected_close_date),
            amount_condition(f.amount),
            queries.opportunity_search(f.search) if f.search else None,
            custom.fields_condition(c.id, f.custom_fields, fields or {}),
            all_of(opportunity_condition(g, depth + 1, fields) for g in f.and_)
            if f.and_ and nested
            else None,
            any_of([opportunity_condition(g, depth + 1, fields) for g in f.or_])
            if f.or_ and nested
            else None,
        ]
    )


@strawberry.type
class PipelineQueries:
    @strawberry.field(
        extensions=requires("opportunities:read"), description="Pipelines, the default first."
    )
    async def pipelines(self, info: Info) -> list[Pipeline]:
        async with info.context.db.read() as conn:
            rows = await queries.list_pipelines(conn)
            return await build_pipelines(conn, rows, selected_paths(info))

    @strawberry.field(extensions=requires("opportunities:read"))
    async def opportunity(self, info: Info, id: strawberry.ID) -> Opportunity | None:
        return await visible_node(info, id, queries.get_opportunity, build_opportunities)

    @strawberry.field(extensions=requires("opportunities:read"))
    async def opportunities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: OpportunityFilter | None = None,
        order_by: list[OpportunityOrder] | None = None,
    ) -> Connection[Opportunity]:
        principal = info.context.principal
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            query, keys = await opportunity_listing(conn, principal, filter, order_by)
            return await page_of(
                conn, query, keys, selected, partial(build_opportunities, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip


async def opportunity_listing(
    conn: AsyncConnection,
    principal: Principal,
    filter: OpportunityFilter | None,
    order_by: list[OpportunityOrder] | None,
) -> tuple[Select | CustomFieldSort, list[SortKey]]:
    """The `opportunities` list: the opportunities the principal may see that match the
    filter, and the sort keys of the order (ending in the id); sorted by a custom
    field, the query is a CustomFieldSort. `opportunities` and `Customer.opportunities`
    share it."""
    f = filter or OpportunityFilter()
    order = orders_of(
        order_by or [OpportunityOrder(field=OpportunityOrderField.CREATED_AT)],
        SORT_COLUMNS.__getitem__,
    )
    fields = None
    if custom.uses_fields(f, max_depth=MAX_FILTER_DEPTH) or sorts_by_custom_field(order):
        fields = await custom.definitions(conn, "opportunity")
    query = queries.visible_opportunities_query(principal, opportunity_condition(f, fields=fields))
    return ordered(query, opportunities.c.id, order, fields)


async def customer_opportunities(
    info: Info,
    customer_id: strawberry.ID,
    *,
    first: int | None,
    after: str | None,
    filter: OpportunityFilter | None,
    order_by: list[OpportunityOrder] | None,
) -> Connection[Opportunity]:
    """`Customer.opportunities`: the `opportunities` list of one customer, the pages of
    every customer of a page of customers in one statement (app/api/batch.py)."""
    principal = info.context.principal
    selected = selected_paths(info)
    arguments = {"first": first, "after": after, "filter": filter, "order_by": order_by}

    async def load(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, Connection[Opportunity]]:
        async with info.context.db.read() as conn:
            query, keys = await opportunity_listing(conn, principal, filter, order_by)
            if isinstance(query, CustomFieldSort):
                raise BadUserInput("orderBy: sorting by a customField is for opportunities")
            return await pages_of(
                conn, query, keys, opportunities.c.customer_id, customer_ids, selected,
                partial(build_opportunities, conn, principal), first=first, after=after,
            )  # fmt: skip

    return await batched(info, uuid.UUID(str(customer_id)), arguments, load)
