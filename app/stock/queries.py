"""Reads of the stock capability as composable selects, and lookups by id for whole
pages. Stock is tenant-wide for internal users: whoever holds stock:read with data
scope own, team or all sees every warehouse, level, move, batch, rule and sheet of the
tenant. Data scope "assigned" (partner users of a distributor) sees only the
consignment warehouses whose customer is their distributor, and only the rows of those
warehouses: `visible_warehouses` and `in_visible_warehouse`, used by every read path
(lists, by-id, nested warehouses, availability, low stock, count sheets)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.stock.tables import (
    batches,
    reorder_rules,
    stock_batch_levels,
    stock_levels,
    stock_moves,
    stock_take_lines,
    stock_takes,
    warehouses,
)


def visible_warehouses(who: Scoped) -> ColumnElement[bool]:
    """Warehouses the principal may see: all of them, except for data scope "assigned",
    which sees the consignment warehouses of the distributor its user works for (a
    value the principal carries: no per-row lookup) and nothing else."""
    if who.data_scope != "assigned":
        return true()
    distributor_id = getattr(who, "distributor_id", None)
    if distributor_id is None:
        return false()
    w = warehouses.c
    return and_(w.kind == "consignment", w.customer_id == distributor_id)


def warehouse_visible_to(
    data_scope: ColumnElement, distributor_id: ColumnElement
) -> ColumnElement[bool]:
    """`visible_warehouses` for many people at once, in SQL: a warehouses row is
    visible to someone whose role's data scope and distributor are these columns
    (the low-stock alert picks its recipients per warehouse with it)."""
    w = warehouses.c
    return or_(
        data_scope != "assigned",
        and_(w.kind == "consignment", w.customer_id == distributor_id),
    )


def in_visible_warehouse(who: Scoped, column) -> ColumnElement[bool]:
    """Rows of one warehouse (`column`: levels, moves, rules, sheets) the principal may
    see, by `visible_warehouses`."""
    if who.data_scope != "assigned":
        return true()
    return column.in_(select(warehouses.c.id).where(visible_warehouses(who)))


def visible_batches(who: Scoped) -> ColumnElement[bool]:
    """Batches: tenant-wide, except that data scope "assigned" sees the batches that
    are or were held in a warehouse it may see."""
    if who.data_scope != "assigned":
        return true()
    bl = stock_batch_levels.c
    return exists().where(bl.batch_id == batches.c.id, in_visible_warehouse(who, bl.warehouse_id))


def visible_takes(who: Scoped) -> ColumnElement[bool]:
    return in_visible_warehouse(who, stock_takes.c.warehouse_id)


def in_visible_take(who: Scoped, column) -> ColumnElement[bool]:
    """Lines of a count sheet (`column`: their sheet) the principal may see."""
    if who.data_scope != "assigned":
        return true()
    return column.in_(select(stock_takes.c.id).where(visible_takes(who)))


def _where(table_select: Select, conditions: Iterable[ColumnElement[bool] | None]) -> Select:
    return table_select.where(*(c for c in conditions if c is not None))


def warehouses_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(warehouses), conditions)


def batches_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(batches), conditions)


def levels_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(stock_levels), conditions)


def moves_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(stock_moves), conditions)


def rules_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(reorder_rules), conditions)


def takes_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(stock_takes), conditions)


def take_lines_query(*conditions: ColumnElement[bool] | None) -> Select:
    return _where(select(stock_take_lines), conditions)


def holds_batch(batch_id: uuid.UUID) -> ColumnElement[bool]:
    """Levels holding stock of the batch (a batch belongs to one product)."""
    s, bl = stock_levels.c, stock_batch_levels.c
    return exists().where(
        bl.batch_id == batch_id,
        bl.product_id == s.product_id,
        bl.warehouse_id == s.warehouse_id,
        bl.on_hand > 0,
    )


def expired_in_level(today: dt.date) -> ColumnElement:
    """The stock of a level (correlated to stock_levels) in batches expired as of the
    tenant's `today` (a batch expiring today is still good, as in first-expiring-first
    picking): it is on hand but can never ship, so it is not available. Zero for
    products without batches. One index probe per level (the batch levels' key)."""
    s, bl, b = stock_levels.c, stock_batch_levels.c, batches.c
    return (
        select(func.coalesce(func.sum(bl.on_hand), 0))
        .join_from(stock_batch_levels, batches, b.id == bl.batch_id)
        .where(
            bl.product_id == s.product_id,
            bl.warehouse_id == s.warehouse_id,
            bl.on_hand > 0,
            b.expiry_key < today,
        )
        .scalar_subquery()
    )


def available_in_level(today: dt.date) -> ColumnElement:
    """What a level (stock_levels in the enclosing select) can still promise as of the
    tenant's `today`: on hand - reserved - expired. The one definition behind lowStock,
    belowMin, the low-stock alerts and suggestedPurchases, so they never disagree."""
    s = stock_levels.c
    return s.on_hand - s.reserved - expired_in_level(today)


def levels_with_expired_stock(today: dt.date) -> Select:
    """(product_id, warehouse_id) of the levels holding stock of expired batches: from
    the batches' expiry index, so only expired batches are visited."""
    bl, b = stock_batch_levels.c, batches.c
    return (
        select(bl.product_id, bl.warehouse_id)
        .join_from(batches, stock_batch_levels, bl.batch_id == b.id)
        .where(b.expiry_key < today, bl.on_hand > 0)
    )


def below_min(today: dt.date) -> ColumnElement[bool]:
    """Levels whose available stock, not counting expired batches, is below the reorder
    rule's minimum. Expired stock never counts toward the minimum: it has to be replaced.
    The candidates are the levels low by their stored figures (the partial index) and
    those holding expired stock; the exact test runs on those only."""
    s = stock_levels.c
    candidates = union(
        select(s.product_id, s.warehouse_id).where(s.below_min),
        levels_with_expired_stock(today),
    )
    return and_(
        tuple_(s.product_id, s.warehouse_id).in_(candidates),
        available_in_level(today) < s.min_quantity,
    )


async def expired_stock(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]], today: dt.date
) -> dict[tuple[uuid.UUID, uuid.UUID], Decimal]:
    """Stock in batches expired as of `today` per level, one statement; levels without
    any are absent."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    bl, b = stock_batch_levels.c, batches.c
    rows = await conn.execute(
        select(bl.product_id, bl.warehouse_id, func.sum(bl.on_hand).label("expired"))
        .join_from(stock_batch_levels, batches, b.id == bl.batch_id)
        .where(
            tuple_(bl.product_id, bl.warehouse_id).in_(wanted),
            bl.on_hand > 0,
            b.expiry_key < today,
        )
        .group_by(bl.product_id, bl.warehouse_id)
    )
    return {(r.product_id, r.warehouse_id): r.expired for r in rows}


async def _by_id(
    conn: AsyncConnection, table, ids: Iterable[uuid.UUID | None], *conditions: ColumnElement[bool]
) -> dict:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    rows = await conn.execute(select(table).where(table.c.id.in_(wanted), *conditions))
    return {r.id: r for r in rows}


async def warehouses_by_id(
    conn: AsyncConnection, ids: Iterable[uuid.UUID | None], who: Scoped | None = None
) -> dict:
    """By id; with `who`, only those it may see (nested warehouses of any node)."""
    visible = () if who is None else (visible_warehouses(who),)
    return await _by_id(conn, warehouses, ids, *visible)


async def batches_by_id(conn: AsyncConnection, ids: Iterable[uuid.UUID | None]) -> dict:
    return await _by_id(conn, batches, ids)


async def rules_by_level(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], Row]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    r = reorder_rules.c
    rows = await conn.execute(
        select(reorder_rules).where(tuple_(r.product_id, r.warehouse_id).in_(wanted))
    )
    return {(x.product_id, x.warehouse_id): x for x in rows}


async def batch_stock(
    conn: AsyncConnection,
    keys: Iterable[tuple[uuid.UUID, uuid.UUID]],
    batch_id: uuid.UUID | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], list[Row]]:
    """The batches with stock of many levels in one statement, first expiring first:
    rows of (product_id, warehouse_id, on_hand) and the batch's columns."""
    wanted = sorted(set(keys))
    grouped: dict[tuple[uuid.UUID, uuid.UUID], list[Row]] = defaultdict(list)
    if not wanted:
        return grouped
    bl, b = stock_batch_levels.c, batches.c
    query = (
        select(
            bl.product_id.label("level_product_id"),
            bl.warehouse_id,
            bl.on_hand,
            bl.updated_at.label("level_updated_at"),
            batches,
        )  # fmt: skip
        .join_from(stock_batch_levels, batches, b.id == bl.batch_id)
        .where(tuple_(bl.product_id, bl.warehouse_id).in_(wanted), bl.on_hand > 0)
        .order_by(bl.product_id, bl.warehouse_id, b.expires_on.asc().nulls_last(), b.code)
    )
    if batch_id is not None:
        query = query.where(bl.batch_id == batch_id)
    for row in await conn.execute(query):
        grouped[(row.level_product_id, row.warehouse_id)].append(row)
    return grouped


async def take_counts(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """Lines and counted lines per sheet, one statement."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    t = stock_take_lines.c
    rows = await conn.execute(
        select(
            t.stock_take_id,
            func.count().label("lines"),
            func.count(t.counted).label("counted"),
            func.count()
            .filter(and_(t.difference.is_not(None), t.difference != 0))
            .label("differences"),
        )
        .where(t.stock_take_id.in_(wanted))
        .group_by(t.stock_take_id)
    )
    return {r.stock_take_id: r for r in rows}
