"""GraphQL types of quotes and sales orders, built as plain objects for a whole page:
lines, products, customers, warehouses and the linked quote or order are fetched by
looking ahead at the selection, one statement per kind of child, never per row."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import graphql_id
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.catalog import queries as catalog
from app.catalog.types import Product, build_products
from app.customers.types import Customer, attach_customers
from app.orders import lifecycle, queries
from app.stock import queries as stock_queries
from app.stock.types import Warehouse, build_warehouses

ZERO = Decimal("0.000")


@strawberry.enum(description="DRAFT -> CONFIRMED (审核: credit checked, stock reserved) -> "
                 "CLOSED; DRAFT or CONFIRMED (nothing shipped) -> CANCELLED.")  # fmt: skip
class SalesOrderStatus(enum.Enum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


@strawberry.enum(description="How far shipping, invoicing or payment of an order has got.")
class OrderProgress(enum.Enum):
    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


@strawberry.enum(
    description="DRAFT -> SENT -> ACCEPTED (makes a sales order) or REJECTED; a SENT quote "
    "past validUntil reads EXPIRED; revising a SENT, EXPIRED or REJECTED quote makes it "
    "SUPERSEDED by the next version."
)
class QuoteStatus(enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


@strawberry.enum(description="Where a line's unit price came from.")
class LinePriceSource(enum.Enum):
    CUSTOMER_LIST = "customer"
    TIER_LIST = "tier"
    ALL_CUSTOMERS_LIST = "all"
    LIST_PRICE = "list_price"
    MANUAL = strawberry.enum_value("manual", description="Typed in (prices:override).")


def _line_fields(row: Row) -> dict:
    return {
        "id": graphql_id(row.id), "position": row.position,
        "product_id": graphql_id(row.product_id),
        "quantity": row.quantity, "unit_price": row.unit_price,
        "discount_percent": row.discount_percent, "tax_rate": row.tax_rate,
        "price_source": LinePriceSource(row.price_source),
        "price_list_id": graphql_id(row.price_list_id), "net_amount": row.net_amount,
        "tax_amount": row.tax_amount, "gross_amount": row.gross_amount,
    }  # fmt: skip


@strawberry.type(description="A priced line of a quote.")
class QuoteLine:
    id: strawberry.ID
    position: int = strawberry.field(description="0, 1, 2, ... as sent.")
    product_id: strawberry.ID
    quantity: Decimal
    unit_price: Decimal = strawberry.field(
        description="In the document's currency, on its tax basis (pricesIncludeTax)."
    )
    discount_percent: Decimal
    tax_rate: Decimal = strawberry.field(description="The product's, a fraction (0.13).")
    price_source: LinePriceSource
    price_list_id: strawberry.ID | None
    net_amount: Decimal = strawberry.field(description="Tax-exclusive, rounded per line.")
    tax_amount: Decimal
    gross_amount: Decimal = strawberry.field(description="netAmount + taxAmount.")
    product: Product | None = None

    @classmethod
    def from_row(cls, row: Row) -> QuoteLine:
        return cls(**_line_fields(row))


@strawberry.type(description="A line of a sales order, with how much of it has moved on.")
class SalesOrderLine:
    id: strawberry.ID
    position: int
    product_id: strawberry.ID
    quantity: Decimal
    unit_price: Decimal = strawberry.field(
        description="In the order's currency, on its tax basis (pricesIncludeTax)."
    )
    discount_percent: Decimal
    tax_rate: Decimal
    price_source: LinePriceSource
    price_list_id: strawberry.ID | None
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal
    shipped_quantity: Decimal
    returned_quantity: Decimal
    invoiced_quantity: Decimal
    reserved_quantity: Decimal = strawberry.field(
        default=ZERO, description="Held in stock for this line now (open reservation)."
    )
    product: Product | None = None

    @classmethod
    def from_row(cls, row: Row) -> SalesOrderLine:
        return cls(
            **_line_fields(row), shipped_quantity=row.shipped_quantity,
            returned_quantity=row.returned_quantity, invoiced_quantity=row.invoiced_quantity,
        )  # fmt: skip


@strawberry.type(description="A quote (报价): one version of an offer to a customer.")
class Quote:
    id: strawberry.ID
    number: str = strawberry.field(description="QT-2026-000123; the same for every revision.")
    revision: int = strawberry.field(description="1 for the first version, then 2, 3, ...")
    family_id: strawberry.ID = strawberry.field(description="The first version's id.")
    customer_id: strawberry.ID
    currency: str
    prices_include_tax: bool = strawberry.field(description="Unit prices include tax (含税).")
    quote_date: dt.date
    valid_until: dt.date = strawberry.field(description="The last day it can be accepted.")
    status: QuoteStatus
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    notes: str | None
    sent_at: dt.datetime | None
    accepted_at: dt.datetime | None
    rejected_at: dt.datetime | None
    reject_reason: str | None
    superseded_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    lines: list[QuoteLine] = strawberry.field(default_factory=list, description="By position.")
    customer: Customer | None = strawberry.field(
        default=None, extensions=requires("customers:read"),
        description="FORBIDDEN without customers:read.",
    )  # fmt: skip
    sales_order: SalesOrder | None = strawberry.field(
        default=None, extensions=requires("orders:read"),
        description="The order accepting it made. FORBIDDEN without orders:read.",
    )  # fmt: skip

    @classmethod
    def from_row(cls, row: Row, today: dt.date) -> Quote:
        return cls(
            id=graphql_id(row.id), number=row.number, revision=row.revision,
            family_id=graphql_id(row.family_id), customer_id=graphql_id(row.customer_id),
            currency=row.currency, prices_include_tax=row.prices_include_tax,
            quote_date=row.quote_date, valid_until=row.valid_until,
            status=QuoteStatus(lifecycle.quote_status(row.status, row.valid_until, today)),
            net_total=row.net_total, tax_total=row.tax_total, gross_total=row.gross_total,
            notes=row.notes, sent_at=row.sent_at, accepted_at=row.accepted_at,
            rejected_at=row.rejected_at, reject_reason=row.reject_reason,
            superseded_at=row.superseded_at, created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


@strawberry.type(description="A sales order (销售订单).")
class SalesOrder:
    id: strawberry.ID
    number: str = strawberry.field(description="SO-2026-000123.")
    customer_id: strawberry.ID
    warehouse_id: strawberry.ID = strawberry.field(description="Where it ships from.")
    quote_id: strawberry.ID | None = strawberry.field(description="The quote it came from.")
    currency: str = strawberry.field(description="One currency for the whole order.")
    prices_include_tax: bool = strawberry.field(description="Unit prices include tax (含税).")
    order_date: dt.date
    requested_date: dt.date | None
    status: SalesOrderStatus
    fulfilment_status: OrderProgress
    invoice_status: OrderProgress
    payment_status: OrderProgress
    net_total: Decimal = strawberry.field(description="The sum of the lines' net amounts.")
    tax_total: Decimal
    gross_total: Decimal
    notes: str | None
    confirmed_at: dt.datetime | None
    confirmed_by: strawberry.ID | None
    closed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    lines: list[SalesOrderLine] = strawberry.field(default_factory=list, description="By position.")
    customer: Customer | None = strawberry.field(
        default=None, extensions=requires("customers:read"),
        description="FORBIDDEN without customers:read.",
    )  # fmt: skip
    warehouse: Warehouse | None = None
    quote: Quote | None = strawberry.field(
        default=None, extensions=requires("quotes:read"),
        description="FORBIDDEN without quotes:read.",
    )  # fmt: skip

    @classmethod
    def from_row(cls, row: Row) -> SalesOrder:
        return cls(
            id=graphql_id(row.id), number=row.number, customer_id=graphql_id(row.customer_id),
            warehouse_id=graphql_id(row.warehouse_id), quote_id=graphql_id(row.quote_id),
            currency=row.currency, prices_include_tax=row.prices_include_tax,
            order_date=row.order_date, requested_date=row.requested_date,
            status=SalesOrderStatus(row.status),
            fulfilment_status=OrderProgress(row.fulfilment_status),
            invoice_status=OrderProgress(row.invoice_status),
            payment_status=OrderProgress(row.payment_status), net_total=row.net_total,
            tax_total=row.tax_total, gross_total=row.gross_total, notes=row.notes,
            confirmed_at=row.confirmed_at, confirmed_by=graphql_id(row.confirmed_by),
            closed_at=row.closed_at, cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason, created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


# -- builders ------------------------------------------------------------------------------


async def _products(conn, who: Scoped, lines: Sequence, selected: set[str], prefix: str) -> None:
    """Set `product` on every line node (pairs of node, row) from one lookup."""
    if not lines or f"{prefix}product" not in selected:
        return
    found = await catalog.products_by_id(conn, [row.product_id for _, row in lines])
    built = await build_products(conn, who, list(found.values()), selected, f"{prefix}product.")
    products = dict(zip(found, built, strict=True))
    for node, row in lines:
        node.product = products.get(row.product_id)


async def build_orders(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = "",
    *, today: dt.date,
) -> list[SalesOrder]:  # fmt: skip
    """Orders with what is selected below `prefix`: one statement per kind of child
    (lines, their products, reservations, customers, warehouses, quotes)."""
    nodes = [SalesOrder.from_row(r) for r in rows]
    if not rows:
        return nodes
    if f"{prefix}lines" in selected:
        grouped = await queries.lines_by_order(conn, [r.id for r in rows])
        reserved = {}
        if f"{prefix}lines.reservedQuantity" in selected:
            reserved = await queries.reserved_by_line(conn, [r.id for r in rows])
        pairs = []
        for node, row in zip(nodes, rows, strict=True):
            node.lines = [SalesOrderLine.from_row(line) for line in grouped.get(row.id, [])]
            for line_node, line in zip(node.lines, grouped.get(row.id, []), strict=True):
                line_node.reserved_quantity = reserved.get(line.id, ZERO)
                pairs.append((line_node, line))
        await _products(conn, who, pairs, selected, f"{prefix}lines.")
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    if f"{prefix}warehouse" in selected:
        found = await stock_queries.warehouses_by_id(conn, [r.warehouse_id for r in rows], who)
        built = await build_warehouses(conn, who, list(found.values()), selected,
                                       f"{prefix}warehouse.")  # fmt: skip
        warehouses = dict(zip(found, built, strict=True))
        for node, row in zip(nodes, rows, strict=True):
            node.warehouse = warehouses.get(row.warehouse_id)
    if f"{prefix}quote" in selected:
        found = await queries.quotes_by_id(conn, who, [r.quote_id for r in rows])
        built = await build_quotes(conn, who, list(found.values()), selected, f"{prefix}quote.",
                                   today=today)  # fmt: skip
        quotes = dict(zip(found, built, strict=True))
        for node, row in zip(nodes, rows, strict=True):
            node.quote = quotes.get(row.quote_id)
    return nodes


async def build_quotes(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = "",
    *, today: dt.date,
) -> list[Quote]:  # fmt: skip
    nodes = [Quote.from_row(r, today) for r in rows]
    if not rows:
        return nodes
    if f"{prefix}lines" in selected:
        grouped = await queries.lines_by_quote(conn, [r.id for r in rows])
        pairs = []
        for node, row in zip(nodes, rows, strict=True):
            node.lines = [QuoteLine.from_row(line) for line in grouped.get(row.id, [])]
            pairs += list(zip(node.lines, grouped.get(row.id, []), strict=True))
        await _products(conn, who, pairs, selected, f"{prefix}lines.")
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    if f"{prefix}salesOrder" in selected:
        found = await queries.orders_by_quote(conn, who, [r.id for r in rows])
        orders = list(found.values())
        built = await build_orders(conn, who, orders, selected, f"{prefix}salesOrder.",
                                   today=today)  # fmt: skip
        by_quote = {row.quote_id: node for row, node in zip(orders, built, strict=True)}
        for node, row in zip(nodes, rows, strict=True):
            node.sales_order = by_quote.get(row.id)
    return nodes
