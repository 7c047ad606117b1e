"""Reads of purchasing, as composable selects, and lookups for whole pages (one
statement per kind of child, never per row).

Purchasing is tenant-wide: whoever holds purchasing:read sees every supplier, order
and receipt of the tenant (no data scope: no customer is involved).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.catalog.tables import products
from app.customers.queries import text_search
from app.purchasing.tables import (
    OPEN_STATUSES,
    goods_receipt_lines,
    goods_receipts,
    purchase_order_lines,
    purchase_orders,
    suppliers,
)
from app.stock.queries import available_in_level, expired_in_level
from app.stock.tables import QUANTITY, reorder_rules, stock_levels

SUPPLIER_COLUMNS = [c for c in suppliers.c if c.key != "search_tokens"]


def _where(query: Select, conditions: Iterable[ColumnElement[bool] | None]) -> Select:
    return query.where(*(c for c in conditions if c is not None))


def supplier_search(text: str | None) -> ColumnElement[bool]:
    """Any part of the code or the name (the bigram index narrows, ILIKE decides)."""
    if not (text or "").strip():
        return true()
    return text_search(suppliers, (suppliers.c.code, suppliers.c.name), text)


def suppliers_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(*SUPPLIER_COLUMNS), conditions)


def orders_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(purchase_orders), conditions)


def receipts_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(goods_receipts), conditions)


def receipts_of_orders(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Receipts against the orders matching `condition` (a receipt has no supplier of its
    own: its order's never changes once goods can be received)."""
    return goods_receipts.c.order_id.in_(select(purchase_orders.c.id).where(condition))


async def _by_id(conn: AsyncConnection, query: Select, column, ids: Iterable) -> dict:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    return {r.id: r for r in await conn.execute(query.where(column.in_(wanted)))}


async def suppliers_by_id(conn: AsyncConnection, ids: Iterable[uuid.UUID | None]) -> dict:
    return await _by_id(conn, suppliers_query(), suppliers.c.id, ids)


async def orders_by_id(conn: AsyncConnection, ids: Iterable[uuid.UUID | None]) -> dict:
    return await _by_id(conn, orders_query(), purchase_orders.c.id, ids)


async def get_supplier(conn: AsyncConnection, who, supplier_id: uuid.UUID) -> Row | None:
    return (await conn.execute(suppliers_query(suppliers.c.id == supplier_id))).first()


async def get_order(conn: AsyncConnection, who, order_id: uuid.UUID) -> Row | None:
    return (await conn.execute(orders_query(purchase_orders.c.id == order_id))).first()


async def get_receipt(conn: AsyncConnection, who, receipt_id: uuid.UUID) -> Row | None:
    return (await conn.execute(receipts_query(goods_receipts.c.id == receipt_id))).first()


async def _grouped(
    conn: AsyncConnection, table, parent, ids: Iterable[uuid.UUID], *order_by
) -> dict[uuid.UUID, list[Row]]:
    """The rows of `table` under many parents (`parent` column) in one statement."""
    wanted = list(dict.fromkeys(ids))
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not wanted:
        return grouped
    query = select(table).where(parent.in_(wanted)).order_by(parent, *order_by)
    for row in await conn.execute(query):
        grouped[row._mapping[parent]].append(row)
    return grouped


async def lines_by_order(
    conn: AsyncConnection, order_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """The lines of many orders in one statement, by position."""
    line = purchase_order_lines.c
    return await _grouped(conn, purchase_order_lines, line.order_id, order_ids, line.position)


async def receipts_by_order(
    conn: AsyncConnection, order_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """The receipts of many orders in one statement, oldest first."""
    r = goods_receipts.c
    return await _grouped(conn, goods_receipts, r.order_id, order_ids, r.created_at, r.id)


async def lines_by_receipt(
    conn: AsyncConnection, receipt_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    line = goods_receipt_lines.c
    return await _grouped(conn, goods_receipt_lines, line.receipt_id, receipt_ids, line.position)


# -- suggested purchases ----------------------------------------------------------------


def no_demand(warehouse_id: uuid.UUID) -> Select | None:
    """The demand seam: a select of (product_id, demand) — what the warehouse is
    expected to need over the replenishment horizon — for the products that have any.
    Forecasting (DOMAIN.md 5) plugs in here; until then there is none."""
    return None


def suggested_purchases_query(
    warehouse_id: uuid.UUID, today: dt.date, demand: Select | None = None
) -> Select:
    """What to buy for one warehouse, in one statement. Per product with a reorder
    rule in the warehouse (active products only):

        available = on_hand - reserved - expired            (stock_levels; expired:
                    stock in batches expired as of the tenant's `today`, as lowStock)
        on_order  = sum(quantity - received_quantity)       over the lines of the
                    warehouse's open purchase orders (sent, partially received)
        demand    = expected demand (`demand`; 0 until forecasting feeds it)
        projected = available + on_order - demand
        suggest ordering  max - projected   when  projected < min

    so stock already on its way is never ordered twice, and the order brings the
    projected stock back up to the rule's maximum. Expired stock would otherwise
    lower the suggestion while it can never ship: food and pharma would under-order. With each suggestion: the
    product's usual supplier, its unit cost and currency, from its most recent
    purchase order that was not a draft or cancelled (any warehouse).
    Ordered by product code."""
    r, s, p = reorder_rules.c, stock_levels.c, products.c
    o, line = purchase_orders.c, purchase_order_lines.c
    available = available_in_level(today)
    on_order = (
        select(line.product_id, func.sum(line.quantity - line.received_quantity).label("qty"))
        .join_from(purchase_orders, purchase_order_lines, line.order_id == o.id)
        .where(o.warehouse_id == warehouse_id, o.status.in_(OPEN_STATUSES))
        .group_by(line.product_id)
        .subquery("on_order")
    )
    zero = cast(literal(0), QUANTITY)
    on_order_qty = cast(func.coalesce(on_order.c.qty, 0), QUANTITY)
    last_line = purchase_order_lines.alias("last_line")
    last_order = purchase_orders.alias("last_order")
    last = (
        select(
            last_order.c.supplier_id,
            last_order.c.id.label("order_id"),
            last_order.c.currency,
            last_line.c.unit_cost,
        )
        .join_from(last_line, last_order, last_order.c.id == last_line.c.order_id)
        .where(
            last_line.c.product_id == r.product_id,
            last_order.c.status.not_in(("draft", "cancelled")),
        )
        .order_by(last_line.c.created_at.desc(), last_line.c.id.desc())
        .limit(1)
        .lateral("last")
    )
    query = (
        select(
            r.product_id,
            r.warehouse_id,
            r.min_quantity,
            r.max_quantity,
            s.on_hand,
            s.reserved,
            expired_in_level(today).label("expired"),
            available.label("available"),
            p.code.label("product_code"),
        )  # fmt: skip
        .join_from(
            reorder_rules,
            stock_levels,
            and_(s.product_id == r.product_id, s.warehouse_id == r.warehouse_id),
        )
        .join(products, p.id == r.product_id)
        .outerjoin(on_order, on_order.c.product_id == r.product_id)
        .outerjoin(last, true())
    )
    demand_qty = zero
    if demand is not None:
        wanted = demand.subquery("demand")
        query = query.outerjoin(wanted, wanted.c.product_id == r.product_id)
        demand_qty = cast(func.coalesce(wanted.c.demand, 0), QUANTITY)
    projected = available + on_order_qty - demand_qty
    return (
        query.add_columns(
            on_order_qty.label("on_order"),
            demand_qty.label("demand"),
            projected.label("projected"),
            (r.max_quantity - projected).label("suggested_quantity"),
            last.c.supplier_id,
            last.c.order_id.label("last_order_id"),
            last.c.currency.label("last_currency"),
            last.c.unit_cost.label("last_unit_cost"),
        )
        .where(r.warehouse_id == warehouse_id, p.active.is_(True), projected < r.min_quantity)
        .order_by(p.code)
    )
