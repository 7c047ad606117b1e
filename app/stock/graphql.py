"""Stock queries: `warehouse(s)`, `batch(es)`, `stockLevels`, `stockAvailability`,
`stockMoves`, `reorderRules`, `lowStock`, `stockTake(s)`, `stockTakeLines`. Everything
needs stock:read; stock is tenant-wide for internal users, and every query adds the
warehouse predicate of app/stock/queries.py, which limits data scope "assigned"
(distributors' partner users) to their distributor's consignment warehouses. Every
filter and sort is answered from an index (tests/stock/test_stock_indexes.py)."""

from __future__ import annotations

import enum
from functools import partial

import strawberry
from sqlalchemy import Select, select

from app.api.context import Info, tenant_today
from app.api.filters import (
    DateFilter,
    DateTimeFilter,
    EnumFilter,
    IdFilter,
    datetime_condition,
    enum_condition,
    filter_id,
    id_condition,
)
from app.api.ids import parse_uuid
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import BadUserInput
from app.stock import queries, reorder, service
from app.stock.tables import (
    batches,
    reorder_rules,
    stock_levels,
    stock_moves,
    stock_take_lines,
    stock_takes,
    warehouses,
)
from app.stock.types import (
    Batch,
    LowStockItem,
    ProductAvailability,
    ReorderRule,
    StockLevel,
    StockMove,
    StockMoveKind,
    StockTake,
    StockTakeLine,
    StockTakeStatus,
    Warehouse,
    WarehouseKind,
    build_batches,
    build_levels,
    build_low_stock,
    build_moves,
    build_rules,
    build_take_lines,
    build_takes,
    build_warehouses,
    loaders,
)

READ = requires("stock:read")
MAX_AVAILABILITY = 100


@strawberry.input
class WarehouseFilter:
    kind: EnumFilter[WarehouseKind] | None = None
    active: bool | None = None
    customer_id: IdFilter | None = None


@strawberry.enum
class WarehouseOrderField(enum.Enum):
    CODE = "code"
    NAME = "name"


@strawberry.input
class WarehouseOrder:
    field: WarehouseOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class BatchFilter:
    product_id: IdFilter | None = None
    code: str | None = strawberry.field(default=None, description="Exactly this code.")
    expires_on: DateFilter | None = strawberry.field(
        default=None, description="Batches without an expiry date count as never expiring."
    )


@strawberry.enum
class BatchOrderField(enum.Enum):
    EXPIRES_ON = "expiry_key"
    CREATED_AT = "created_at"


@strawberry.input
class BatchOrder:
    field: BatchOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class StockLevelFilter:
    product_id: IdFilter | None = None
    warehouse_id: IdFilter | None = None
    batch_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Levels holding stock of this batch (their batches list shows only it).",
    )
    below_min: bool | None = strawberry.field(
        default=None,
        description="true: only levels whose available (expired batches not counted) is "
        "below the rule's minimum.",
    )


@strawberry.enum
class StockLevelOrderField(enum.Enum):
    PRODUCT = "product_id"
    # By the stored onHand - reserved (indexed): expired stock depends on the day, so
    # it is not part of this order.
    AVAILABLE = "available"
    UPDATED_AT = "updated_at"


@strawberry.input
class StockLevelOrder:
    field: StockLevelOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class StockSourceFilter:
    type: str
    id: strawberry.ID | None = None


@strawberry.input
class StockMoveFilter:
    product_id: IdFilter | None = None
    warehouse_id: IdFilter | None = None
    batch_id: IdFilter | None = None
    kind: EnumFilter[StockMoveKind] | None = None
    source: StockSourceFilter | None = None
    posting_id: strawberry.ID | None = None
    created_at: DateTimeFilter | None = None


@strawberry.input
class StockMoveOrder:
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class ReorderRuleFilter:
    product_id: IdFilter | None = None
    warehouse_id: IdFilter | None = None
    alerted: bool | None = strawberry.field(
        default=None, description="true: rules whose low-stock alert went out (lowSince set)."
    )


@strawberry.input
class StockTakeFilter:
    warehouse_id: IdFilter | None = None
    status: EnumFilter[StockTakeStatus] | None = None
    created_at: DateTimeFilter | None = None


@strawberry.input
class StockTakeLineFilter:
    product_id: IdFilter | None = None
    counted: bool | None = strawberry.field(
        default=None, description="true: counted lines; false: not yet counted."
    )


def _keys(table, fields: list[tuple[str, bool]], tail: list[str]) -> list[SortKey]:
    """The sort asked for, then the unique tail (in the last direction)."""
    keys = [SortKey(table.c[name], descending) for name, descending in fields]
    last = keys[-1].descending if keys else False
    return [*keys, *(SortKey(table.c[name], last) for name in tail if name not in
                     [k.column.key for k in keys])]  # fmt: skip


async def _page(info: Info, query: Select, keys: list[SortKey], build, window: dict, **kw):
    selected = selected_paths(info)
    async with info.context.db.read() as conn:
        return await page_of(
            conn, query, keys, selected, partial(build, conn, info.context.principal, **kw),
            **window,
        )  # fmt: skip


def _eq(column, value):
    return None if value is None else column == value


async def _one(conn, who, row_id, *, table, visible):
    query = select(table).where(table.c.id == row_id, visible(who))
    return (await conn.execute(query)).first()


@strawberry.type
class StockQueries:
    @strawberry.field(extensions=READ)
    async def warehouse(self, info: Info, id: strawberry.ID) -> Warehouse | None:
        load = partial(_one, table=warehouses, visible=queries.visible_warehouses)
        return await visible_node(info, id, load, build_warehouses)

    @strawberry.field(extensions=READ, description="By code unless ordered otherwise.")
    async def warehouses(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: WarehouseFilter | None = None,
        order_by: list[WarehouseOrder] | None = None,
    ) -> Connection[Warehouse]:
        f = filter or WarehouseFilter()
        w = warehouses.c
        query = queries.warehouses_query(
            queries.visible_warehouses(info.context.principal),
            enum_condition(w.kind, f.kind),
            _eq(w.active, f.active),
            id_condition(w.customer_id, f.customer_id, "customerId"),
        )
        order = order_by or [WarehouseOrder(field=WarehouseOrderField.CODE)]
        keys = _keys(
            warehouses, [(o.field.value, o.direction is SortDirection.DESC) for o in order], ["id"]
        )
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_warehouses, window)

    @strawberry.field(extensions=READ)
    async def batch(self, info: Info, id: strawberry.ID) -> Batch | None:
        load = partial(_one, table=batches, visible=queries.visible_batches)
        return await visible_node(info, id, load, build_batches)

    @strawberry.field(extensions=READ, description="First expiring first unless ordered otherwise.")
    async def batches(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: BatchFilter | None = None,
        order_by: list[BatchOrder] | None = None,
    ) -> Connection[Batch]:
        f = filter or BatchFilter()
        b = batches.c
        dates = f.expires_on or DateFilter()
        query = queries.batches_query(
            queries.visible_batches(info.context.principal),
            id_condition(b.product_id, f.product_id, "productId"),
            _eq(b.code, f.code),
            None if dates.gte is None else b.expiry_key >= dates.gte,
            None if dates.lte is None else b.expiry_key <= dates.lte,
        )
        order = order_by or [BatchOrder(field=BatchOrderField.EXPIRES_ON)]
        keys = _keys(
            batches, [(o.field.value, o.direction is SortDirection.DESC) for o in order], ["id"]
        )
        return await _page(info, query, keys, build_batches, dict(first=first, after=after))

    @strawberry.field(
        extensions=READ,
        description="On hand, reserved and available per product x warehouse, with batches "
        "nested. By product unless ordered otherwise.",
    )
    async def stock_levels(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: StockLevelFilter | None = None,
        order_by: list[StockLevelOrder] | None = None,
    ) -> Connection[StockLevel]:
        f = filter or StockLevelFilter()
        s = stock_levels.c
        batch_id = None
        batch_conditions = []
        if f.batch_id is not None:
            batch_id = filter_id(f.batch_id, "batchId")
            product = select(batches.c.product_id).where(batches.c.id == batch_id)
            batch_conditions = [s.product_id == product.scalar_subquery(),
                                queries.holds_batch(batch_id)]  # fmt: skip
        today = tenant_today(info)
        query = queries.levels_query(
            queries.in_visible_warehouse(info.context.principal, s.warehouse_id),
            id_condition(s.product_id, f.product_id, "productId"),
            id_condition(s.warehouse_id, f.warehouse_id, "warehouseId"),
            queries.below_min(today) if f.below_min else None,
            *batch_conditions,
        ).add_columns(queries.expired_in_level(today).label("expired"))
        order = order_by or [StockLevelOrder(field=StockLevelOrderField.PRODUCT)]
        keys = _keys(
            stock_levels, [(o.field.value, o.direction is SortDirection.DESC) for o in order],
            ["product_id", "warehouse_id"],
        )  # fmt: skip
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_levels, window, batch_id=batch_id)

    @strawberry.field(
        extensions=READ,
        description="On hand, reserved and available of up to 100 products, summed over "
        "the warehouses named (default all), with the per-warehouse levels.",
    )
    async def stock_availability(
        self,
        info: Info,
        product_ids: list[strawberry.ID],
        warehouse_ids: list[strawberry.ID] | None = None,
    ) -> list[ProductAvailability]:
        if len(product_ids) > MAX_AVAILABILITY:
            raise BadUserInput(f"productIds: at most {MAX_AVAILABILITY}")
        selected = selected_paths(info)
        who = info.context.principal
        async with info.context.db.read() as conn:
            found = await service.availability(
                conn, product_ids, warehouse_ids, today=tenant_today(info),
                visible=queries.in_visible_warehouse(who, stock_levels.c.warehouse_id),
            )  # fmt: skip
            items = list(found.values())
            levels = [row for item in items for row in item.levels] if "levels" in selected else []
            built = await build_levels(conn, who, levels, selected, "levels.")
            nodes = [
                ProductAvailability(
                    product_id=strawberry.ID(str(i.product_id)),
                    on_hand=i.on_hand,
                    reserved=i.reserved,
                    expired_quantity=i.expired,
                    available=i.available,
                )  # fmt: skip
                for i in items
            ]
            start = 0
            for node, item in zip(nodes, items, strict=True):
                if built:
                    node.levels = built[start : start + len(item.levels)]
                    start += len(item.levels)
            if "product" in selected and items:
                products = await loaders(conn, who, selected)["product"](
                    [i.product_id for i in items], "product."
                )
                for node, item in zip(nodes, items, strict=True):
                    node.product = products.get(item.product_id)
        return nodes

    @strawberry.field(extensions=READ, description="The ledger, newest first unless ordered.")
    async def stock_moves(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: StockMoveFilter | None = None,
        order_by: list[StockMoveOrder] | None = None,
    ) -> Connection[StockMove]:
        f = filter or StockMoveFilter()
        m = stock_moves.c
        source = []
        if f.source is not None:
            source = [m.source_id.is_not(None), m.source_type == f.source.type]
            if f.source.id is not None:
                source.append(m.source_id == filter_id(f.source.id, "source.id"))
        posting = None
        if f.posting_id is not None:
            posting = m.posting_id == filter_id(f.posting_id, "postingId")
        query = queries.moves_query(
            queries.in_visible_warehouse(info.context.principal, m.warehouse_id),
            id_condition(m.product_id, f.product_id, "productId"),
            id_condition(m.warehouse_id, f.warehouse_id, "warehouseId"),
            id_condition(m.batch_id, f.batch_id, "batchId"),
            enum_condition(m.kind, f.kind),
            datetime_condition(m.created_at, f.created_at),
            posting,
            *source,
        )
        descending = (order_by or [StockMoveOrder()])[0].direction is SortDirection.DESC
        keys = [SortKey(m.created_at, descending), SortKey(m.id, descending)]
        window = dict(first=first, after=after, last=last, before=before)
        return await _page(info, query, keys, build_moves, window)

    @strawberry.field(extensions=READ, description="By product, then warehouse.")
    async def reorder_rules(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ReorderRuleFilter | None = None,
    ) -> Connection[ReorderRule]:
        f = filter or ReorderRuleFilter()
        r = reorder_rules.c
        alerted = None
        if f.alerted is not None:
            alerted = r.low_since.is_not(None) if f.alerted else r.low_since.is_(None)
        query = queries.rules_query(
            queries.in_visible_warehouse(info.context.principal, r.warehouse_id),
            id_condition(r.product_id, f.product_id, "productId"),
            id_condition(r.warehouse_id, f.warehouse_id, "warehouseId"),
            alerted,
        )
        keys = [SortKey(r.product_id), SortKey(r.warehouse_id)]
        return await _page(info, query, keys, build_rules, dict(first=first, after=after))

    @strawberry.field(
        extensions=READ,
        description="Reorder rules whose product's available stock is below the minimum "
        "(strictly), with what it takes to reach the maximum; by warehouse, then product.",
    )
    async def low_stock(
        self,
        info: Info,
        warehouse_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[LowStockItem]:
        wid = filter_id(warehouse_id, "warehouseId")
        r = reorder_rules.c
        query = reorder.low_stock_query(tenant_today(info), wid).where(
            queries.in_visible_warehouse(info.context.principal, r.warehouse_id)
        )
        keys = [SortKey(r.warehouse_id), SortKey(r.product_id)]
        return await _page(info, query, keys, build_low_stock, dict(first=first, after=after))

    @strawberry.field(extensions=READ)
    async def stock_take(self, info: Info, id: strawberry.ID) -> StockTake | None:
        load = partial(_one, table=stock_takes, visible=queries.visible_takes)
        return await visible_node(info, id, load, build_takes)

    @strawberry.field(extensions=READ, description="Newest first.")
    async def stock_takes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: StockTakeFilter | None = None,
    ) -> Connection[StockTake]:
        f = filter or StockTakeFilter()
        t = stock_takes.c
        query = queries.takes_query(
            queries.visible_takes(info.context.principal),
            id_condition(t.warehouse_id, f.warehouse_id, "warehouseId"),
            enum_condition(t.status, f.status),
            datetime_condition(t.created_at, f.created_at),
        )
        keys = [SortKey(t.created_at, True), SortKey(t.id, True)]
        return await _page(info, query, keys, build_takes, dict(first=first, after=after))

    @strawberry.field(extensions=READ, description="A count sheet's lines, by product.")
    async def stock_take_lines(
        self,
        info: Info,
        stock_take_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        filter: StockTakeLineFilter | None = None,
    ) -> Connection[StockTakeLine]:
        f = filter or StockTakeLineFilter()
        t = stock_take_lines.c
        counted = None
        if f.counted is not None:
            counted = t.counted.is_not(None) if f.counted else t.counted.is_(None)
        query = queries.take_lines_query(
            t.stock_take_id == parse_uuid(stock_take_id),
            queries.in_visible_take(info.context.principal, t.stock_take_id),
            id_condition(t.product_id, f.product_id, "productId"),
            counted,
        )
        keys = [SortKey(t.product_id), SortKey(t.id)]
        return await _page(info, query, keys, build_take_lines, dict(first=first, after=after))
