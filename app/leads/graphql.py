"""Lead queries: `lead`, `leads`, `leadAssignmentRules`."""

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
    all_of,
    any_of,
    date_condition,
    datetime_condition,
    enum_condition,
    id_condition,
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
from app.leads import assignment, queries
from app.leads.tables import leads
from app.leads.types import (
    Lead,
    LeadAssignmentRule,
    LeadSource,
    LeadStatus,
    build_leads,
    build_rules,
)

MAX_FILTER_DEPTH = 4


@strawberry.input(description="Match a region exactly: equal to, one of, or (un)set.")
class LeadRegionFilter:
    eq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    is_null: bool | None = None


@strawberry.input(description="A score range, 0 to 100; both ends inclusive.")
class LeadScoreFilter:
    gte: int | None = None
    lte: int | None = None


@strawberry.input
class LeadFilter:
    status: EnumFilter[LeadStatus] | None = None
    source: EnumFilter[LeadSource] | None = None
    owner_id: IdFilter | None = strawberry.field(
        default=None, description="isNull: true lists the unassigned leads."
    )
    region: LeadRegionFilter | None = None
    score: LeadScoreFilter | None = None
    created_at: DateTimeFilter | None = None
    created_on: DateFilter | None = strawberry.field(
        default=None, description="Creation day in the tenant's time zone."
    )
    search: str | None = strawberry.field(
        default=None, description="Substring of name, company, email or phone; any language."
    )
    deleted: bool = strawberry.field(
        default=False, description="true lists soft-deleted leads (to restore them)."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None, description="Conditions on custom fields by key, all of which must hold."
    )
    and_: list[LeadFilter] | None = strawberry.field(default=None, name="and")
    or_: list[LeadFilter] | None = strawberry.field(default=None, name="or")


@strawberry.enum
class LeadOrderField(enum.Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    SCORE = "score"


@strawberry.input
class LeadOrder:
    field: LeadOrderField | None = strawberry.field(default=None, description=ORDER_FIELD)
    custom_field: str | None = strawberry.field(default=None, description=ORDER_CUSTOM_FIELD)
    direction: SortDirection = SortDirection.ASC


def _region_condition(f: LeadRegionFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    column = leads.c.region
    return all_of(
        [
            column == f.eq if f.eq is not None else None,
            column.in_(f.in_) if f.in_ is not None else None,
            (column.is_(None) if f.is_null else column.is_not(None))
            if f.is_null is not None
            else None,
        ]
    )


def _score_condition(f: LeadScoreFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    return all_of(
        [
            leads.c.score >= f.gte if f.gte is not None else None,
            leads.c.score <= f.lte if f.lte is not None else None,
        ]
    )


def lead_condition(
    f: LeadFilter,
    time_zone: str,
    depth: int = 0,
    fields: dict[str, custom.Definition] | None = None,
) -> ColumnElement[bool]:
    """`fields`: the lead's live custom fields, needed when the filter uses them."""
    c = leads.c
    nested = depth + 1 < MAX_FILTER_DEPTH
    return all_of(
        [
            enum_condition(c.status, f.status),
            enum_condition(c.source, f.source),
            id_condition(c.owner_id, f.owner_id, "ownerId"),
            _region_condition(f.region),
            _score_condition(f.score),
            datetime_condition(c.created_at, f.created_at),
            date_condition(c.created_at, f.created_on, time_zone),
            queries.lead_search(f.search) if f.search else None,
            custom.fields_condition(c.id, f.custom_fields, fields or {}),
            all_of(lead_condition(g, time_zone, depth + 1, fields) for g in f.and_)
            if f.and_ and nested
            else None,
            any_of([lead_condition(g, time_zone, depth + 1, fields) for g in f.or_])
            if f.or_ and nested
            else None,
        ]
    )


@strawberry.type
class LeadQueries:
    @strawberry.field(extensions=requires("leads:read"))
    async def lead(self, info: Info, id: strawberry.ID) -> Lead | None:
        return await visible_node(info, id, queries.get_lead, build_leads)

    @strawberry.field(extensions=requires("leads:read"))
    async def leads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: LeadFilter | None = None,
        order_by: list[LeadOrder] | None = None,
    ) -> Connection[Lead]:
        f = filter or LeadFilter()
        principal = info.context.principal
        order = orders_of(
            order_by or [LeadOrder(field=LeadOrderField.CREATED_AT)],
            lambda field: leads.c[field.value],
        )
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            fields = None
            if custom.uses_fields(f, max_depth=MAX_FILTER_DEPTH) or sorts_by_custom_field(order):
                fields = await custom.definitions(conn, "lead")
            query, keys = ordered(
                queries.leads_query(
                    queries.live(deleted=f.deleted),
                    queries.visible_leads(principal),
                    lead_condition(f, principal.tenant.time_zone, fields=fields),
                ),
                leads.c.id, order, fields,
            )  # fmt: skip
            return await page_of(
                conn, query, keys, selected, partial(build_leads, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(
        extensions=requires("leads:manage"), description="The assignment rules, in order."
    )
    async def lead_assignment_rules(self, info: Info) -> list[LeadAssignmentRule]:
        async with info.context.db.read() as conn:
            rows = await assignment.list_rules(conn)
            return await build_rules(conn, rows, selected_paths(info))
