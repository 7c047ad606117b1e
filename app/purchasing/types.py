"""GraphQL types of purchasing, built as plain objects for a whole page: lines,
receipts, products, batches, suppliers and warehouses are fetched per page by looking
ahead at the selection, one statement per kind of child, never per row."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import graphql_id
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.catalog.types import Product
from app.purchasing import queries
from app.purchasing.rules import READ_COST
from app.stock.types import AVAILABLE, EXPIRED, Batch, Warehouse, loaders

# Purchase prices reveal what the goods cost: like a product's cost price
# (products:read_cost), each price field is refused (FORBIDDEN, null) without it.
COST = READ_COST
COST_HELP = " Refused (FORBIDDEN) without purchasing:read_cost."


def _cost(description: str = "") -> Any:
    return strawberry.field(
        default=None, extensions=requires(COST), description=(description + COST_HELP).strip()
    )


@strawberry.enum(
    description="DRAFT -> SENT -> PARTIALLY_RECEIVED -> RECEIVED; DRAFT or SENT -> "
    "CANCELLED (never once goods were received); PARTIALLY_RECEIVED -> CLOSED (结案: the "
    "rest will never come). RECEIVED, CANCELLED and CLOSED are final."
)
class PurchaseOrderStatus(enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    CLOSED = "closed"


@strawberry.type(description="A supplier (供应商). Never deleted: active false retires one.")
class Supplier:
    id: strawberry.ID
    code: str = strawberry.field(description="Unique in the tenant.")
    name: str
    contact_name: str | None
    email: str | None
    phone: str | None
    address: str | None
    payment_terms_days: int = strawberry.field(description="Days to pay after the invoice.")
    currency: str = strawberry.field(description="New purchase orders default to it (ISO 4217).")
    notes: str | None
    active: bool = strawberry.field(description="An inactive supplier gets no new orders.")
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Row) -> Supplier:
        return cls(
            id=graphql_id(row.id), code=row.code, name=row.name, contact_name=row.contact_name,
            email=row.email, phone=row.phone, address=row.address,
            payment_terms_days=row.payment_terms_days, currency=row.currency, notes=row.notes,
            active=row.active, version=row.version, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(description="A line of a purchase order.")
class PurchaseOrderLine:
    id: strawberry.ID
    order_id: strawberry.ID
    position: int = strawberry.field(description="0, 1, ... in the order given.")
    product_id: strawberry.ID
    quantity: Decimal = strawberry.field(description="Ordered.")
    unit_cost: Decimal | None = _cost(
        "In the order's currency; tax-inclusive if the order's prices are."
    )
    tax_rate: Decimal = strawberry.field(description="A fraction: 0.13 is 13 %.")
    net_amount: Decimal | None = _cost("Tax-exclusive, rounded per line.")
    tax_amount: Decimal | None = _cost()
    gross_amount: Decimal | None = _cost("net + tax.")
    received_quantity: Decimal
    open_quantity: Decimal = strawberry.field(
        description="Still to come: quantity - receivedQuantity; 0 once the order is CLOSED "
        "or CANCELLED."
    )
    short_closed_quantity: Decimal = strawberry.field(
        description="Written off when the order was CLOSED (quantity - receivedQuantity "
        "then); 0 otherwise."
    )
    product: Product | None = None

    @classmethod
    def from_row(cls, row: Row, *, status: str | None = None) -> PurchaseOrderLine:
        """`status`: the order's, when known; nothing more comes for a closed or
        cancelled one (a cancelled order never received anything, so nothing was
        written off either)."""
        remainder = row.quantity - row.received_quantity
        zero = Decimal(0).quantize(remainder)
        closed = status == "closed"
        return cls(
            id=graphql_id(row.id), order_id=graphql_id(row.order_id), position=row.position,
            product_id=graphql_id(row.product_id), quantity=row.quantity, unit_cost=row.unit_cost,
            tax_rate=row.tax_rate, net_amount=row.net_amount, tax_amount=row.tax_amount,
            gross_amount=row.gross_amount, received_quantity=row.received_quantity,
            open_quantity=zero if status in ("closed", "cancelled") else remainder,
            short_closed_quantity=remainder if closed else zero,
        )  # fmt: skip


@strawberry.type(description="A line of a goods receipt: what came in for one order line.")
class GoodsReceiptLine:
    id: strawberry.ID
    receipt_id: strawberry.ID
    position: int
    order_line_id: strawberry.ID
    product_id: strawberry.ID
    quantity: Decimal
    batch_id: strawberry.ID | None = strawberry.field(description="For batch-tracked products.")
    move_id: strawberry.ID = strawberry.field(description="The stock move it posted.")
    product: Product | None = None
    batch: Batch | None = None

    @classmethod
    def from_row(cls, row: Row) -> GoodsReceiptLine:
        return cls(
            id=graphql_id(row.id), receipt_id=graphql_id(row.receipt_id), position=row.position,
            order_line_id=graphql_id(row.order_line_id), product_id=graphql_id(row.product_id),
            quantity=row.quantity, batch_id=graphql_id(row.batch_id),
            move_id=graphql_id(row.move_id),
        )  # fmt: skip


@strawberry.type(description="A goods receipt (入库单) against a purchase order.")
class GoodsReceipt:
    id: strawberry.ID
    number: str = strawberry.field(description="GR-2026-000001.")
    order_id: strawberry.ID
    warehouse_id: strawberry.ID
    received_on: dt.date
    note: str | None
    posting_id: strawberry.ID = strawberry.field(
        description="Its stock posting (stockMoves(filter: {postingId})); the receipt's id."
    )
    created_by_id: strawberry.ID | None
    created_at: dt.datetime
    lines: list[GoodsReceiptLine] = strawberry.field(default_factory=list)
    warehouse: Warehouse | None = None
    purchase_order: PurchaseOrder | None = strawberry.field(
        default=None, description="The order it received against (with its supplier)."
    )

    @classmethod
    def from_row(cls, row: Row) -> GoodsReceipt:
        return cls(
            id=graphql_id(row.id), number=row.number, order_id=graphql_id(row.order_id),
            warehouse_id=graphql_id(row.warehouse_id), received_on=row.received_on, note=row.note,
            posting_id=graphql_id(row.posting_id), created_by_id=graphql_id(row.created_by),
            created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="A purchase order (采购订单).")
class PurchaseOrder:
    id: strawberry.ID
    number: str = strawberry.field(description="PO-2026-000001.")
    supplier_id: strawberry.ID
    currency: str
    warehouse_id: strawberry.ID = strawberry.field(description="Where the goods are received.")
    order_date: dt.date
    expected_date: dt.date
    prices_include_tax: bool
    status: PurchaseOrderStatus
    net_total: Decimal | None = _cost("The sum of the lines' net amounts.")
    tax_total: Decimal | None = _cost()
    gross_total: Decimal | None = _cost()
    notes: str | None
    sent_at: dt.datetime | None
    received_at: dt.datetime | None = strawberry.field(description="When it was all received.")
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    closed_at: dt.datetime | None = strawberry.field(description="When it was CLOSED (结案).")
    closed_by_id: strawberry.ID | None = strawberry.field(description="Who closed it.")
    close_reason: str | None = strawberry.field(description="Why the rest will never come.")
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    created_at: dt.datetime
    updated_at: dt.datetime
    supplier: Supplier | None = None
    warehouse: Warehouse | None = None
    lines: list[PurchaseOrderLine] = strawberry.field(
        default_factory=list, description="By position."
    )
    receipts: list[GoodsReceipt] = strawberry.field(
        default_factory=list, description="Oldest first."
    )

    @classmethod
    def from_row(cls, row: Row) -> PurchaseOrder:
        return cls(
            id=graphql_id(row.id), number=row.number, supplier_id=graphql_id(row.supplier_id),
            currency=row.currency, warehouse_id=graphql_id(row.warehouse_id),
            order_date=row.order_date, expected_date=row.expected_date,
            prices_include_tax=row.prices_include_tax, status=PurchaseOrderStatus(row.status),
            net_total=row.net_total, tax_total=row.tax_total, gross_total=row.gross_total,
            notes=row.notes, sent_at=row.sent_at, received_at=row.received_at,
            cancelled_at=row.cancelled_at, cancel_reason=row.cancel_reason,
            closed_at=row.closed_at, closed_by_id=graphql_id(row.closed_by),
            close_reason=row.close_reason, version=row.version, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(
    description="A product to buy for a warehouse: projected = available + onOrder - "
    "expectedDemand is below the rule's minimum; ordering suggestedQuantity brings it to "
    "the maximum."
)
class SuggestedPurchase:
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    min_quantity: Decimal
    max_quantity: Decimal
    on_hand: Decimal
    reserved: Decimal
    expired_quantity: Decimal = strawberry.field(description=EXPIRED)
    available: Decimal = strawberry.field(
        description=f"{AVAILABLE} Expired stock never lowers the suggestion: it has to be replaced."
    )
    on_order: Decimal = strawberry.field(
        description="Not yet received on SENT and PARTIALLY_RECEIVED orders for this "
        "warehouse (a CLOSED order's remainder will not come: it is not counted)."
    )
    expected_demand: Decimal = strawberry.field(
        description="Forecast demand (0 until forecasting feeds it)."
    )
    projected: Decimal = strawberry.field(description="available + onOrder - expectedDemand.")
    suggested_quantity: Decimal = strawberry.field(description="maxQuantity - projected.")
    supplier_id: strawberry.ID | None = strawberry.field(
        description="The supplier of the product's most recent (sent) purchase order."
    )
    last_unit_cost: Decimal | None = _cost("Its unit cost on that order.")
    last_currency: str | None
    last_order_id: strawberry.ID | None
    product: Product | None = None
    supplier: Supplier | None = None

    @classmethod
    def from_row(cls, row: Row) -> SuggestedPurchase:
        return cls(
            product_id=graphql_id(row.product_id), warehouse_id=graphql_id(row.warehouse_id),
            min_quantity=row.min_quantity, max_quantity=row.max_quantity, on_hand=row.on_hand,
            reserved=row.reserved, expired_quantity=row.expired, available=row.available,
            on_order=row.on_order, expected_demand=row.demand, projected=row.projected,
            suggested_quantity=row.suggested_quantity, supplier_id=graphql_id(row.supplier_id),
            last_unit_cost=row.last_unit_cost, last_currency=row.last_currency,
            last_order_id=graphql_id(row.last_order_id),
        )  # fmt: skip


# -- builders ---------------------------------------------------------------------------


async def _attach(nodes, rows, selected, prefix, name, column, load, field=None) -> None:
    """Set `name` on every node from one lookup of the rows' `column` values, when the
    GraphQL `field` (default `name`) is selected."""
    path = f"{prefix}{field or name}"
    if not rows or path not in selected:
        return
    found = await load([getattr(r, column) for r in rows], f"{path}.")
    for node, row in zip(nodes, rows, strict=True):
        setattr(node, name, found.get(getattr(row, column)))


def _supplier_loader(conn: AsyncConnection):
    async def load(ids: list, prefix: str) -> dict:
        found = await queries.suppliers_by_id(conn, ids)
        return {k: Supplier.from_row(v) for k, v in found.items()}

    return load


def _order_loader(conn: AsyncConnection, who: Scoped, selected: set[str]):
    async def load(ids: list, prefix: str) -> dict:
        found = list((await queries.orders_by_id(conn, ids)).values())
        built = await build_orders(conn, who, found, selected, prefix)
        return {row.id: node for row, node in zip(found, built, strict=True)}

    return load


async def build_suppliers(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Supplier]:
    return [Supplier.from_row(r) for r in rows]


async def build_order_lines(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = "",
    *, order_status: dict[uuid.UUID, str] | None = None,
) -> list[PurchaseOrderLine]:  # fmt: skip
    status = order_status or {}
    nodes = [PurchaseOrderLine.from_row(r, status=status.get(r.order_id)) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    return nodes


async def build_receipts(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[GoodsReceipt]:
    """Receipts with their lines (one statement for all of them), the lines' products
    and batches (one each), and warehouses (one)."""
    nodes = [GoodsReceipt.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    await _attach(nodes, rows, selected, prefix, "purchase_order", "order_id",
                  _order_loader(conn, who, selected), "purchaseOrder")  # fmt: skip
    if rows and f"{prefix}lines" in selected:
        grouped = await queries.lines_by_receipt(conn, [r.id for r in rows])
        lines = [x for r in rows for x in grouped.get(r.id, [])]
        built = [GoodsReceiptLine.from_row(x) for x in lines]
        at = f"{prefix}lines."
        await _attach(built, lines, selected, at, "product", "product_id", load["product"])
        await _attach(built, lines, selected, at, "batch", "batch_id", load["batch"])
        start = 0
        for node, row in zip(nodes, rows, strict=True):
            count = len(grouped.get(row.id, []))
            node.lines = built[start : start + count]
            start += count
    return nodes


async def build_orders(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[PurchaseOrder]:
    """Orders with what is selected below `prefix`: a bounded number of statements
    (lines, their products, receipts, their lines, products and batches, suppliers,
    warehouses: one each) whatever the number of orders, lines and receipts."""
    nodes = [PurchaseOrder.from_row(r) for r in rows]
    if not rows:
        return nodes
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "supplier", "supplier_id",
                  _supplier_loader(conn))  # fmt: skip
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    if f"{prefix}lines" in selected:
        grouped = await queries.lines_by_order(conn, [r.id for r in rows])
        lines = [x for r in rows for x in grouped.get(r.id, [])]
        built = await build_order_lines(
            conn, who, lines, selected, f"{prefix}lines.",
            order_status={r.id: r.status for r in rows},
        )  # fmt: skip
        start = 0
        for node, row in zip(nodes, rows, strict=True):
            count = len(grouped.get(row.id, []))
            node.lines = built[start : start + count]
            start += count
    if f"{prefix}receipts" in selected:
        grouped = await queries.receipts_by_order(conn, [r.id for r in rows])
        receipts = [x for r in rows for x in grouped.get(r.id, [])]
        built = await build_receipts(conn, who, receipts, selected, f"{prefix}receipts.")
        start = 0
        for node, row in zip(nodes, rows, strict=True):
            count = len(grouped.get(row.id, []))
            node.receipts = built[start : start + count]
            start += count
    return nodes


async def build_suggestions(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[SuggestedPurchase]:
    nodes = [SuggestedPurchase.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "supplier", "supplier_id",
                  _supplier_loader(conn))  # fmt: skip
    return nodes
