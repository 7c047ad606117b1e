"""Quote and sales order queries: `quote`, `quotes`, `salesOrder`, `salesOrders`.

Lists are connections with typed filters and sorts, every one of them indexed
(migration 0016); each list costs one statement for the page (and one for
`totalCount` when selected) plus one per kind of child selected, whatever the page
size. A document is visible with its customer (app/orders/queries.py)."""

from __future__ import annotations

import datetime as dt
import enum
from functools import partial

import strawberry
from sqlalchemy import ColumnElement

from app.api.context import Info, tenant_today
from app.api.filters import (
    DateFilter,
    DocumentNumberFilter,
    EnumFilter,
    IdFilter,
    all_of,
    day_condition,
    enum_condition,
    id_condition,
    number_condition,
)
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import BadUserInput
from app.orders import queries
from app.orders.tables import quotes, sales_orders
from app.orders.types import (
    OrderProgress,
    Quote,
    QuoteStatus,
    SalesOrder,
    SalesOrderStatus,
    build_orders,
    build_quotes,
)

ORDERS_READ = "orders:read"
QUOTES_READ = "quotes:read"


@strawberry.input
class SalesOrderFilter:
    customer_id: IdFilter | None = None
    warehouse_id: IdFilter | None = None
    quote_id: IdFilter | None = None
    status: EnumFilter[SalesOrderStatus] | None = None
    fulfilment_status: EnumFilter[OrderProgress] | None = None
    invoice_status: EnumFilter[OrderProgress] | None = None
    payment_status: EnumFilter[OrderProgress] | None = None
    order_date: DateFilter | None = strawberry.field(
        default=None, description="Order dates in this range (both days included)."
    )
    number: DocumentNumberFilter | None = None


def order_condition(f: SalesOrderFilter) -> ColumnElement[bool]:
    c = sales_orders.c
    return all_of([
        id_condition(c.customer_id, f.customer_id, "customerId"),
        id_condition(c.warehouse_id, f.warehouse_id, "warehouseId"),
        id_condition(c.quote_id, f.quote_id, "quoteId"),
        enum_condition(c.status, f.status),
        enum_condition(c.fulfilment_status, f.fulfilment_status),
        enum_condition(c.invoice_status, f.invoice_status),
        enum_condition(c.payment_status, f.payment_status),
        day_condition(c.order_date, f.order_date),
        number_condition(c.number, f.number),
    ])  # fmt: skip


@strawberry.enum
class SalesOrderOrderField(enum.Enum):
    ORDER_DATE = "order_date"
    NUMBER = "number"
    GROSS_TOTAL = "gross_total"


@strawberry.input
class SalesOrderOrder:
    field: SalesOrderOrderField
    direction: SortDirection = SortDirection.ASC


def _keys(table, order: list, unique: dict) -> list[SortKey]:
    """The sort, ending in a unique key: a unique column (or columns) ends it, anything
    else gets the id after it."""
    if not order:
        raise BadUserInput("orderBy: name at least one field")
    keys = [SortKey(table.c[o.field.value], o.direction is SortDirection.DESC) for o in order]
    last = order[-1].field.value
    tail = unique.get(last, ["id"])
    keys += [SortKey(table.c[name], keys[-1].descending) for name in tail]
    return keys


@strawberry.input
class QuoteFilter:
    customer_id: IdFilter | None = None
    family_id: IdFilter | None = strawberry.field(
        default=None, description="Every revision of a quote."
    )
    status: EnumFilter[QuoteStatus] | None = strawberry.field(
        default=None,
        description="As read today: SENT is sent and still valid, EXPIRED sent and past "
        "validUntil.",
    )
    quote_date: DateFilter | None = None
    valid_until: DateFilter | None = None
    number: DocumentNumberFilter | None = None


def quote_condition(f: QuoteFilter, today: dt.date) -> ColumnElement[bool]:
    c = quotes.c
    status = None
    if f.status is not None:
        parts = []
        if f.status.eq is not None:
            parts.append(queries.quote_status_condition([f.status.eq.value], today))
        if f.status.in_ is not None:
            parts.append(queries.quote_status_condition([s.value for s in f.status.in_], today))
        if f.status.is_null:  # a status is never null
            parts.append(c.id.is_(None))
        status = all_of(parts)
    return all_of([
        id_condition(c.customer_id, f.customer_id, "customerId"),
        id_condition(c.family_id, f.family_id, "familyId"),
        status,
        day_condition(c.quote_date, f.quote_date),
        day_condition(c.valid_until, f.valid_until),
        number_condition(c.number, f.number),
    ])  # fmt: skip


@strawberry.enum
class QuoteOrderField(enum.Enum):
    QUOTE_DATE = "quote_date"
    VALID_UNTIL = "valid_until"
    NUMBER = "number"
    GROSS_TOTAL = "gross_total"


@strawberry.input
class QuoteOrder:
    field: QuoteOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.type
class OrderQueries:
    @strawberry.field(
        extensions=requires(ORDERS_READ),
        description="A sales order by id; null if it does not exist or its customer is "
        "outside your data scope.",
    )
    async def sales_order(self, info: Info, id: strawberry.ID) -> SalesOrder | None:
        return await visible_node(
            info, id, queries.get_order, partial(build_orders, today=tenant_today(info))
        )

    @strawberry.field(
        extensions=requires(ORDERS_READ),
        description="Sales orders of the customers you can see; newest order date first "
        "unless ordered.",
    )
    async def sales_orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: SalesOrderFilter | None = None,
        order_by: list[SalesOrderOrder] | None = None,
    ) -> Connection[SalesOrder]:
        principal = info.context.principal
        query = queries.orders_query(
            queries.visible_orders(principal), order_condition(filter or SalesOrderFilter())
        )
        order = order_by or [
            SalesOrderOrder(field=SalesOrderOrderField.ORDER_DATE, direction=SortDirection.DESC)
        ]
        keys = _keys(sales_orders, order, {"number": []})
        build = partial(build_orders, today=tenant_today(info))
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected_paths(info), partial(build, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(
        extensions=requires(QUOTES_READ),
        description="A quote (one revision) by id; null if it does not exist or its "
        "customer is outside your data scope.",
    )
    async def quote(self, info: Info, id: strawberry.ID) -> Quote | None:
        return await visible_node(
            info, id, queries.get_quote, partial(build_quotes, today=tenant_today(info))
        )

    @strawberry.field(
        extensions=requires(QUOTES_READ),
        description="Quotes (every revision) of the customers you can see; newest quote "
        "date first unless ordered.",
    )
    async def quotes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: QuoteFilter | None = None,
        order_by: list[QuoteOrder] | None = None,
    ) -> Connection[Quote]:
        principal = info.context.principal
        today = tenant_today(info)
        query = queries.quotes_query(
            queries.visible_quotes(principal), quote_condition(filter or QuoteFilter(), today)
        )
        order = order_by or [
            QuoteOrder(field=QuoteOrderField.QUOTE_DATE, direction=SortDirection.DESC)
        ]
        keys = _keys(quotes, order, {"number": ["revision"]})
        build = partial(build_quotes, today=today)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected_paths(info), partial(build, conn, principal),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip
