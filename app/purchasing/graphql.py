"""Purchasing queries: `supplier(s)`, `purchaseOrder(s)`, `goodsReceipt(s)` and
`suggestedPurchases`. Everything needs purchasing:read; purchasing is tenant-wide (no
data scope). Every filter and sort is answered from an index
(tests/purchasing/test_purchasing_indexes.py)."""

from __future__ import annotations

import enum
from functools import partial

import strawberry
from sqlalchemy import ColumnElement, Select, select

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
from app.api.ids import parse_uuid
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import NotFound
from app.purchasing import queries
from app.purchasing.tables import goods_receipts, purchase_orders, suppliers
from app.purchasing.types import (
    GoodsReceipt,
    PurchaseOrder,
    PurchaseOrderStatus,
    SuggestedPurchase,
    Supplier,
    build_orders,
    build_receipts,
    build_suggestions,
    build_suppliers,
)
from app.stock.tables import warehouses

READ = requires("purchasing:read")


@strawberry.input
class SupplierFilter:
    code: str | None = strawberry.field(default=None, description="Exactly this code.")
    search: str | None = strawberry.field(
        default=None, description="Any part of the code or the name; any language."
    )
    active: bool | None = None


@strawberry.enum
class SupplierOrderField(enum.Enum):
    CODE = "code"
    NAME = "name"
    CREATED_AT = "created_at"


@strawberry.input
class SupplierOrder:
    field: SupplierOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class PurchaseOrderFilter:
    supplier_id: IdFilter | None = None
    status: EnumFilter[PurchaseOrderStatus] | None = None
    warehouse_id: IdFilter | None = None
    expected_date: DateFilter | None = strawberry.field(
        default=None, description="Expected between these days (both inclusive)."
    )
    number: DocumentNumberFilter | None = None


@strawberry.enum
class PurchaseOrderOrderField(enum.Enum):
    EXPECTED_DATE = "expected_date"
    NUMBER = "number"
    CREATED_AT = "created_at"


@strawberry.input
class PurchaseOrderOrder:
    field: PurchaseOrderOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class GoodsReceiptFilter:
    supplier_id: IdFilter | None = strawberry.field(
        default=None, description="Received against orders to this supplier."
    )
    purchase_order_id: IdFilter | None = None
    warehouse_id: IdFilter | None = None
    received_on: DateFilter | None = strawberry.field(
        default=None, description="Received between these days (both inclusive)."
    )
    number: DocumentNumberFilter | None = None


@strawberry.enum
class GoodsReceiptOrderField(enum.Enum):
    RECEIVED_ON = "received_on"


@strawberry.input
class GoodsReceiptOrder:
    field: GoodsReceiptOrderField = GoodsReceiptOrderField.RECEIVED_ON
    direction: SortDirection = SortDirection.DESC


def _keys(table, order: list, unique: str) -> list[SortKey]:
    """The sort asked for; ending in a unique column (`unique`, or else the id)."""
    keys = [SortKey(table.c[o.field.value], o.direction is SortDirection.DESC) for o in order]
    if keys[-1].column.key not in (unique, "id"):
        keys.append(SortKey(table.c.id, keys[-1].descending))
    return keys


def supplier_condition(f: SupplierFilter) -> ColumnElement[bool]:
    c = suppliers.c
    return all_of([
        c.code == f.code.strip() if f.code is not None else None,
        queries.supplier_search(f.search) if f.search else None,
        c.active.is_(f.active) if f.active is not None else None,
    ])  # fmt: skip


def order_condition(f: PurchaseOrderFilter) -> ColumnElement[bool]:
    c = purchase_orders.c
    return all_of([
        id_condition(c.supplier_id, f.supplier_id, "supplierId"),
        enum_condition(c.status, f.status),
        id_condition(c.warehouse_id, f.warehouse_id, "warehouseId"),
        day_condition(c.expected_date, f.expected_date),
        number_condition(c.number, f.number),
    ])  # fmt: skip


def receipt_condition(f: GoodsReceiptFilter) -> ColumnElement[bool]:
    c, po = goods_receipts.c, purchase_orders.c
    by_supplier = id_condition(po.supplier_id, f.supplier_id, "supplierId")
    return all_of([
        queries.receipts_of_orders(by_supplier) if by_supplier is not None else None,
        id_condition(c.order_id, f.purchase_order_id, "purchaseOrderId"),
        id_condition(c.warehouse_id, f.warehouse_id, "warehouseId"),
        day_condition(c.received_on, f.received_on),
        number_condition(c.number, f.number),
    ])  # fmt: skip


async def _page(info: Info, query: Select, keys: list[SortKey], build, window: dict):
    selected = selected_paths(info)
    async with info.context.db.read() as conn:
        return await page_of(
            conn, query, keys, selected, partial(build, conn, info.context.principal), **window
        )


@strawberry.type
class PurchasingQueries:
    @strawberry.field(extensions=READ, description="A supplier by id, or null.")
    async def supplier(self, info: Info, id: strawberry.ID) -> Supplier | None:
        return await visible_node(info, id, queries.get_supplier, build_suppliers)

    @strawberry.field(extensions=READ, description="Suppliers; by code unless ordered.")
    async def suppliers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: SupplierFilter | None = None,
        order_by: list[SupplierOrder] | None = None,
    ) -> Connection[Supplier]:
        query = queries.suppliers_query(supplier_condition(filter or SupplierFilter()))
        keys = _keys(suppliers, order_by or [SupplierOrder(field=SupplierOrderField.CODE)], "code")
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_suppliers, window)

    @strawberry.field(extensions=READ, description="A purchase order by id, or null.")
    async def purchase_order(self, info: Info, id: strawberry.ID) -> PurchaseOrder | None:
        return await visible_node(info, id, queries.get_order, build_orders)

    @strawberry.field(
        extensions=READ,
        description="Purchase orders with their lines and receipts; newest first unless ordered.",
    )
    async def purchase_orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: PurchaseOrderFilter | None = None,
        order_by: list[PurchaseOrderOrder] | None = None,
    ) -> Connection[PurchaseOrder]:
        query = queries.orders_query(order_condition(filter or PurchaseOrderFilter()))
        order = order_by or [
            PurchaseOrderOrder(
                field=PurchaseOrderOrderField.CREATED_AT, direction=SortDirection.DESC
            )
        ]
        keys = _keys(purchase_orders, order, "number")
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_orders, window)

    @strawberry.field(extensions=READ, description="A goods receipt by id, or null.")
    async def goods_receipt(self, info: Info, id: strawberry.ID) -> GoodsReceipt | None:
        return await visible_node(info, id, queries.get_receipt, build_receipts)

    @strawberry.field(
        extensions=READ,
        description="Goods receipts (入库单) with their lines; newest receipt date first "
        "unless ordered (then by id).",
    )
    async def goods_receipts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: GoodsReceiptFilter | None = None,
        order_by: GoodsReceiptOrder | None = None,
    ) -> Connection[GoodsReceipt]:
        query = queries.receipts_query(receipt_condition(filter or GoodsReceiptFilter()))
        keys = _keys(goods_receipts, [order_by or GoodsReceiptOrder()], "id")
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_receipts, window)

    @strawberry.field(
        extensions=READ,
        description="What to buy for a warehouse: each product with a reorder rule there "
        "whose projected stock (available + on order on SENT and PARTIALLY_RECEIVED orders "
        "for the warehouse - expected demand; available leaves out stock in batches expired "
        "as of the tenant's today, as lowStock does) is below the rule's minimum, with the "
        "quantity that brings it to the maximum and its usual supplier. By product code. "
        "NOT_FOUND for an unknown warehouse.",
    )
    async def suggested_purchases(
        self, info: Info, warehouse_id: strawberry.ID
    ) -> list[SuggestedPurchase]:
        wid = parse_uuid(warehouse_id)
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            found = None
            if wid is not None:
                found = await conn.scalar(select(warehouses.c.id).where(warehouses.c.id == wid))
            if found is None:
                raise NotFound("no such warehouse")
            query = queries.suggested_purchases_query(
                wid, tenant_today(info), queries.no_demand(wid)
            )
            rows = list((await conn.execute(query)).all())
            return await build_suggestions(conn, info.context.principal, rows, selected)
