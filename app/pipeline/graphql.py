"""Pipeline and opportunity queries: `pipelines`, `opportunity`, `opportunities`."""

from __future__ import annotations

import enum
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import partial

import strawberry
from sqlalchemy import ColumnElement

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
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
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
    field: OpportunityOrderField = strawberry.field(
        description="Opportunities without an expected close date sort after those with one."
    )
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


def opportunity_condition(f: OpportunityFilter, depth: int = 0) -> ColumnElement[bool]:
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
            all_of(opportunity_condition(g, depth + 1) for g in f.and_)
            if f.and_ and nested
            else None,
            any_of([opportunity_condition(g, depth + 1) for g in f.or_])
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
        query = queries.visible_opportunities_query(
            principal, opportunity_condition(filter or OpportunityFilter())
        )
        order = order_by or [OpportunityOrder(field=OpportunityOrderField.CREATED_AT)]
        keys = [SortKey(SORT_COLUMNS[o.field], o.direction is SortDirection.DESC) for o in order]
        keys.append(SortKey(opportunities.c.id, keys[-1].descending))
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_opportunities, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip
