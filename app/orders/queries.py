"""Reads of quotes and sales orders, as composable selects.

Data scope: a quote or an order is visible exactly when its customer is
(app/customers/queries.visible_customers), so it never shows a customer its reader
could not see, and a rep sees the documents of their own customers (and the pool's).
Children (lines, products, reservations) come in one statement per kind for a whole
page of documents.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Row, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.customers.queries import customer_visible
from app.orders.tables import quote_lines, quotes, sales_order_lines, sales_orders
from app.stock.tables import stock_reservations

SOURCE_TYPE = "sales_order"  # the stock reservations' source type of an order


def visible_orders(who: Scoped) -> ColumnElement[bool]:
    return customer_visible(sales_orders.c.customer_id, who)


def visible_quotes(who: Scoped) -> ColumnElement[bool]:
    return customer_visible(quotes.c.customer_id, who)


def orders_query(*conditions: ColumnElement[bool] | None) -> Select:
    return select(sales_orders).where(*(c for c in conditions if c is not None))


def quotes_query(*conditions: ColumnElement[bool] | None) -> Select:
    return select(quotes).where(*(c for c in conditions if c is not None))


def quote_status_condition(statuses: Iterable[str], today: dt.date) -> ColumnElement[bool]:
    """Quotes whose status as read (app/orders/lifecycle.quote_status) is one of these:
    SENT means sent and still valid today, EXPIRED sent and past its validity."""
    q = quotes.c
    parts = []
    for status in dict.fromkeys(statuses):
        if status == "sent":
            parts.append(and_(q.status == "sent", q.valid_until >= today))
        elif status == "expired":
            parts.append(and_(q.status == "sent", q.valid_until < today))
        else:
            parts.append(q.status == status)
    return or_(*parts) if parts else false()


async def get_order(conn: AsyncConnection, who: Scoped, order_id: uuid.UUID) -> Row | None:
    query = orders_query(sales_orders.c.id == order_id, visible_orders(who))
    return (await conn.execute(query)).first()


async def get_quote(conn: AsyncConnection, who: Scoped, quote_id: uuid.UUID) -> Row | None:
    query = quotes_query(quotes.c.id == quote_id, visible_quotes(who))
    return (await conn.execute(query)).first()


async def orders_by_id(
    conn: AsyncConnection, who: Scoped, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    rows = await conn.execute(orders_query(sales_orders.c.id.in_(wanted), visible_orders(who)))
    return {row.id: row for row in rows}


async def quotes_by_id(
    conn: AsyncConnection, who: Scoped, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    rows = await conn.execute(quotes_query(quotes.c.id.in_(wanted), visible_quotes(who)))
    return {row.id: row for row in rows}


async def orders_by_quote(
    conn: AsyncConnection, who: Scoped, quote_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """The order each quote became (at most one: the column is unique)."""
    wanted = list(dict.fromkeys(quote_ids))
    if not wanted:
        return {}
    query = orders_query(sales_orders.c.quote_id.in_(wanted), visible_orders(who))
    return {row.quote_id: row for row in await conn.execute(query)}


async def _lines(conn: AsyncConnection, table, parent, ids: Sequence[uuid.UUID]) -> dict:
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return grouped
    query = select(table).where(parent.in_(wanted)).order_by(parent, table.c.position)
    for row in await conn.execute(query):
        grouped[getattr(row, parent.key)].append(row)
    return grouped


async def lines_by_order(
    conn: AsyncConnection, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """Lines of many orders in one statement, by position."""
    return await _lines(conn, sales_order_lines, sales_order_lines.c.order_id, order_ids)


async def lines_by_quote(
    conn: AsyncConnection, quote_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    return await _lines(conn, quote_lines, quote_lines.c.quote_id, quote_ids)


async def reserved_by_line(
    conn: AsyncConnection, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, object]:
    """What each order line holds reserved now (open reservations), one statement."""
    wanted = list(dict.fromkeys(order_ids))
    if not wanted:
        return {}
    r = stock_reservations.c
    rows = await conn.execute(
        select(r.source_line_id, func.sum(r.open_quantity).label("open"))
        .where(r.source_type == SOURCE_TYPE, r.source_id.in_(wanted))
        .group_by(r.source_line_id)
    )
    return {row.source_line_id: row.open for row in rows}
