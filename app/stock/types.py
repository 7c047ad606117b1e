"""GraphQL types of stock, built as plain objects for a whole page: products,
warehouses, batches, customers and people are fetched per page by looking ahead at the
selection, one statement per kind, never per row."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import graphql_id
from app.auth.principal import Scoped
from app.catalog import queries as catalog
from app.catalog.types import Product, build_products
from app.customers.types import Customer, attach_customers
from app.stock import queries
from app.users.graphql import User
from app.users.queries import users_by_id


@strawberry.enum(description="STANDARD: our own warehouse. CONSIGNMENT: a transit warehouse at a "
                 "customer holding goods sent but not yet settled (中转仓).")  # fmt: skip
class WarehouseKind(enum.Enum):
    STANDARD = "standard"
    CONSIGNMENT = "consignment"


@strawberry.enum(description="RECEIPT 入库, ISSUE 出库, TRANSFER 调拨 (a pair of moves), "
                 "ADJUSTMENT (with a reason), STOCK_TAKE 盘点 difference, RETURN 退货入库.")  # fmt: skip
class StockMoveKind(enum.Enum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER = "transfer"
    ADJUSTMENT = "adjustment"
    STOCK_TAKE = "stock_take"
    RETURN = "return"


@strawberry.enum(description="DRAFT -> POSTED or CANCELLED; both final.")
class StockTakeStatus(enum.Enum):
    DRAFT = "draft"
    POSTED = "posted"
    CANCELLED = "cancelled"


@strawberry.type(description="A warehouse (仓库). Never deleted: active false retires it.")
class Warehouse:
    id: strawberry.ID
    code: str = strawberry.field(description="Unique in the tenant.")
    name: str
    kind: WarehouseKind
    customer_id: strawberry.ID | None = strawberry.field(
        description="The customer holding a CONSIGNMENT warehouse's goods."
    )
    active: bool = strawberry.field(
        description="An inactive warehouse takes no new stock (receipts, returns, transfers in)."
    )
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    created_at: dt.datetime
    updated_at: dt.datetime
    customer: Customer | None = strawberry.field(
        default=None, description="Null when the customer is outside your data scope."
    )

    @classmethod
    def from_row(cls, row: Row) -> Warehouse:
        return cls(
            id=graphql_id(row.id), code=row.code, name=row.name, kind=WarehouseKind(row.kind),
            customer_id=graphql_id(row.customer_id), active=row.active, version=row.version,
            created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(description="A batch/lot (批次) of a product.")
class Batch:
    id: strawberry.ID
    product_id: strawberry.ID
    code: str = strawberry.field(description="Unique per product.")
    expires_on: dt.date | None = strawberry.field(
        description="Issues pick the first expiring first; batches without it last."
    )
    produced_on: dt.date | None
    created_at: dt.datetime
    product: Product | None = None

    @classmethod
    def from_row(cls, row: Row) -> Batch:
        return cls(
            id=graphql_id(row.id), product_id=graphql_id(row.product_id), code=row.code,
            expires_on=row.expires_on, produced_on=row.produced_on, created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="A batch's stock on hand in one warehouse.")
class BatchStock:
    batch_id: strawberry.ID
    on_hand: Decimal
    batch: Batch


EXPIRED = (
    "Of onHand, what is in batches expired as of the tenant's today (a batch expiring today "
    "is still good): it can be written off or issued by naming its batch, never reserved "
    "or picked. 0 for products that are not batch-tracked."
)
AVAILABLE = (
    "onHand - expiredQuantity - reserved: what confirming an order can reserve now. "
    "Negative when batches expired after their stock was reserved."
)


def expired_of(row: Row) -> Decimal:
    """The `expired` column the reads add (app/stock/queries.expired_in_level)."""
    return row._mapping.get("expired") or Decimal("0.000")


@strawberry.type(description="Stock of a product in a warehouse.")
class StockLevel:
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    on_hand: Decimal = strawberry.field(description="What the moves add up to.")
    reserved: Decimal = strawberry.field(description="Held by open reservations (orders).")
    expired_quantity: Decimal = strawberry.field(description=EXPIRED)
    available: Decimal = strawberry.field(description=AVAILABLE)
    min_quantity: Decimal | None = strawberry.field(description="The reorder rule's minimum.")
    below_min: bool = strawberry.field(
        description="available < minQuantity: expired stock never counts toward the minimum."
    )
    updated_at: dt.datetime
    product: Product | None = None
    warehouse: Warehouse | None = None
    batches: list[BatchStock] = strawberry.field(
        default_factory=list,
        description="Batches with stock here, first expiring first (batch-tracked products).",
    )

    @classmethod
    def from_row(cls, row: Row) -> StockLevel:
        expired = expired_of(row)
        available = row.available - expired
        return cls(
            product_id=graphql_id(row.product_id), warehouse_id=graphql_id(row.warehouse_id),
            on_hand=row.on_hand, reserved=row.reserved, expired_quantity=expired,
            available=available, min_quantity=row.min_quantity,
            below_min=row.min_quantity is not None and available < row.min_quantity,
            updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(description="One immutable entry of the stock ledger.")
class StockMove:
    id: strawberry.ID
    posting_id: strawberry.ID = strawberry.field(
        description="The operation it belongs to (a transfer's two halves share it)."
    )
    line: int = strawberry.field(description="Its place in the posting.")
    kind: StockMoveKind
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    batch_id: strawberry.ID | None
    quantity: Decimal = strawberry.field(description="Signed: positive in, negative out.")
    reason: str | None
    source_type: str | None = strawberry.field(
        description="The document that caused it: shipment, purchase_receipt, stock_take, ..."
    )
    source_id: strawberry.ID | None
    source_line_id: strawberry.ID | None = strawberry.field(
        description="The document line, e.g. the order line a shipment fulfils."
    )
    created_by_id: strawberry.ID | None
    created_at: dt.datetime
    product: Product | None = None
    warehouse: Warehouse | None = None
    batch: Batch | None = None
    created_by: User | None = None

    @classmethod
    def from_row(cls, row: Row) -> StockMove:
        return cls(
            id=graphql_id(row.id), posting_id=graphql_id(row.posting_id), line=row.line,
            kind=StockMoveKind(row.kind), product_id=graphql_id(row.product_id),
            warehouse_id=graphql_id(row.warehouse_id), batch_id=graphql_id(row.batch_id),
            quantity=row.quantity, reason=row.reason, source_type=row.source_type,
            source_id=graphql_id(row.source_id), source_line_id=graphql_id(row.source_line_id),
            created_by_id=graphql_id(row.created_by), created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="Min/max of a product in a warehouse (库存预警).")
class ReorderRule:
    id: strawberry.ID
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    min_quantity: Decimal = strawberry.field(
        description="Low (lowStock, alerts) when available is below this (lowStock: "
        "expired stock does not count; the alert job still counts it)."
    )
    max_quantity: Decimal = strawberry.field(description="Replenish up to this.")
    low_since: dt.datetime | None = strawberry.field(
        description="When the current low-stock alert went out; null when not alerted."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    product: Product | None = None
    warehouse: Warehouse | None = None

    @classmethod
    def from_row(cls, row: Row) -> ReorderRule:
        return cls(
            id=graphql_id(row.id), product_id=graphql_id(row.product_id),
            warehouse_id=graphql_id(row.warehouse_id),
            min_quantity=row.min_quantity, max_quantity=row.max_quantity,
            low_since=row.low_since, version=row.version, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(description="A product below its minimum in a warehouse.")
class LowStockItem:
    rule: ReorderRule
    product_id: strawberry.ID
    warehouse_id: strawberry.ID
    on_hand: Decimal
    reserved: Decimal
    expired_quantity: Decimal = strawberry.field(description=EXPIRED)
    available: Decimal = strawberry.field(description=AVAILABLE)
    min_quantity: Decimal
    max_quantity: Decimal
    shortfall: Decimal = strawberry.field(description="minQuantity - available.")
    to_max: Decimal = strawberry.field(
        description="maxQuantity - available: what brings it back to the maximum."
    )
    product: Product | None = None
    warehouse: Warehouse | None = None

    @classmethod
    def from_row(cls, row: Row) -> LowStockItem:
        return cls(
            rule=ReorderRule.from_row(row), product_id=graphql_id(row.product_id),
            warehouse_id=graphql_id(row.warehouse_id), on_hand=row.on_hand, reserved=row.reserved,
            expired_quantity=row.expired, available=row.available, min_quantity=row.min_quantity,
            max_quantity=row.max_quantity, shortfall=row.shortfall, to_max=row.to_max,
        )  # fmt: skip


@strawberry.type(description="A count sheet (盘点单).")
class StockTake:
    id: strawberry.ID
    number: str = strawberry.field(description="ST-2026-000001.")
    warehouse_id: strawberry.ID
    status: StockTakeStatus
    partial: bool = strawberry.field(description="Only some products (a cycle count).")
    note: str | None
    snapshot_at: dt.datetime = strawberry.field(
        description="When the expected quantities were taken; differences are against them."
    )
    posted_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    posting_id: strawberry.ID | None = strawberry.field(
        description="The posting of its differences (see stockMoves), once posted."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    line_count: int = 0
    counted_count: int = 0
    difference_count: int = strawberry.field(default=0, description="Counted lines that differ.")
    warehouse: Warehouse | None = None

    @classmethod
    def from_row(cls, row: Row) -> StockTake:
        return cls(
            id=graphql_id(row.id), number=row.number, warehouse_id=graphql_id(row.warehouse_id),
            status=StockTakeStatus(row.status), partial=row.partial, note=row.note,
            snapshot_at=row.snapshot_at, posted_at=row.posted_at,
            cancelled_at=row.cancelled_at, posting_id=graphql_id(row.posting_id),
            version=row.version, created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(description="A line of a count sheet: one product (and batch).")
class StockTakeLine:
    id: strawberry.ID
    stock_take_id: strawberry.ID
    product_id: strawberry.ID
    batch_id: strawberry.ID | None
    expected: Decimal = strawberry.field(description="On hand at the snapshot.")
    counted: Decimal | None = strawberry.field(description="Null until counted.")
    difference: Decimal | None = strawberry.field(description="counted - expected.")
    counted_at: dt.datetime | None
    product: Product | None = None
    batch: Batch | None = None

    @classmethod
    def from_row(cls, row: Row) -> StockTakeLine:
        return cls(
            id=graphql_id(row.id), stock_take_id=graphql_id(row.stock_take_id),
            product_id=graphql_id(row.product_id),
            batch_id=graphql_id(row.batch_id), expected=row.expected, counted=row.counted,
            difference=row.difference, counted_at=row.counted_at,
        )  # fmt: skip


@strawberry.type(description="A product's stock summed over warehouses.")
class ProductAvailability:
    product_id: strawberry.ID
    on_hand: Decimal
    reserved: Decimal
    expired_quantity: Decimal = strawberry.field(description=EXPIRED)
    available: Decimal = strawberry.field(description=AVAILABLE)
    product: Product | None = None
    levels: list[StockLevel] = strawberry.field(default_factory=list, description="Per warehouse.")


# -- builders ------------------------------------------------------------------------------

Loader = Callable[[list[Any], str], Awaitable[dict]]


async def _attach(
    nodes: Sequence[Any], rows: Sequence[Any], selected: set[str], prefix: str, name: str,
    column: str, load: Loader,
) -> None:  # fmt: skip
    """Set `name` on every node from one lookup of the rows' `column` values."""
    if not rows or f"{prefix}{name}" not in selected:
        return
    found = await load([getattr(r, column) for r in rows], f"{prefix}{name}.")
    for node, row in zip(nodes, rows, strict=True):
        setattr(node, name, found.get(getattr(row, column)))


def loaders(conn: AsyncConnection, who: Scoped, selected: set[str]) -> dict[str, Loader]:
    async def products(ids: list, prefix: str) -> dict:
        found = await catalog.products_by_id(conn, ids)
        built = await build_products(conn, who, list(found.values()), selected, prefix)
        return dict(zip(found, built, strict=True))

    async def warehouses(ids: list, prefix: str) -> dict:
        found = await queries.warehouses_by_id(conn, ids, who)
        built = await build_warehouses(conn, who, list(found.values()), selected, prefix)
        return dict(zip(found, built, strict=True))

    async def batches(ids: list, prefix: str) -> dict:
        found = await queries.batches_by_id(conn, ids)
        built = await build_batches(conn, who, list(found.values()), selected, prefix)
        return dict(zip(found, built, strict=True))

    async def people(ids: list, prefix: str) -> dict:
        return {k: User.from_row(v) for k, v in (await users_by_id(conn, ids)).items()}

    return {"product": products, "warehouse": warehouses, "batch": batches, "people": people}


async def build_warehouses(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Warehouse]:
    nodes = [Warehouse.from_row(r) for r in rows]
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    return nodes


async def build_batches(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Batch]:
    nodes = [Batch.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    return nodes


async def build_levels(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = "",
    *, batch_id: uuid.UUID | None = None,
) -> list[StockLevel]:  # fmt: skip
    nodes = [StockLevel.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    if rows and f"{prefix}batches" in selected:
        grouped = await queries.batch_stock(
            conn, [(r.product_id, r.warehouse_id) for r in rows], batch_id
        )
        found = [b for items in grouped.values() for b in items]
        built = await build_batches(conn, who, found, selected, f"{prefix}batches.batch.")
        by_row = {id(b): n for b, n in zip(found, built, strict=True)}
        for node, row in zip(nodes, rows, strict=True):
            node.batches = [
                BatchStock(batch_id=graphql_id(b.id), on_hand=b.on_hand, batch=by_row[id(b)])
                for b in grouped.get((row.product_id, row.warehouse_id), [])
            ]
    return nodes


async def build_moves(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[StockMove]:
    nodes = [StockMove.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    await _attach(nodes, rows, selected, prefix, "batch", "batch_id", load["batch"])
    if rows and f"{prefix}createdBy" in selected:
        people = await load["people"]([r.created_by for r in rows], "")
        for node, row in zip(nodes, rows, strict=True):
            node.created_by = people.get(row.created_by)
    return nodes


async def build_rules(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[ReorderRule]:
    nodes = [ReorderRule.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    return nodes


async def build_low_stock(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[LowStockItem]:
    nodes = [LowStockItem.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    rules = [n.rule for n in nodes]
    await _attach(rules, rows, selected, f"{prefix}rule.", "product", "product_id",
                  load["product"])  # fmt: skip
    await _attach(rules, rows, selected, f"{prefix}rule.", "warehouse", "warehouse_id",
                  load["warehouse"])  # fmt: skip
    return nodes


COUNTS = ("lineCount", "countedCount", "differenceCount")


async def build_takes(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[StockTake]:
    nodes = [StockTake.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "warehouse", "warehouse_id", load["warehouse"])
    if rows and any(f"{prefix}{c}" in selected for c in COUNTS):
        counts = await queries.take_counts(conn, [r.id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            found = counts.get(row.id)
            if found is not None:
                node.line_count, node.counted_count = found.lines, found.counted
                node.difference_count = found.differences
    return nodes


async def build_take_lines(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[StockTakeLine]:
    nodes = [StockTakeLine.from_row(r) for r in rows]
    load = loaders(conn, who, selected)
    await _attach(nodes, rows, selected, prefix, "product", "product_id", load["product"])
    await _attach(nodes, rows, selected, prefix, "batch", "batch_id", load["batch"])
    return nodes
