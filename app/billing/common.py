"""What the billing documents share: order locks, money and quantity parsing, audit."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.customers.queries import customer_visible, lock_live_customers
from app.errors import UserError, fail
from app.orders.queries import visible_orders
from app.orders.service import lock_order
from app.orders.tables import sales_order_lines, sales_orders
from app.stock.rules import MAX_LINES, check_quantity, fmt, quantity
from app.validation import parse_decimal

__all__ = ["MAX_LINES", "check_quantity", "fmt", "quantity"]

CENT = Decimal("0.01")
MAX_MONEY = Decimal("1e16")
DEFAULT_PAYMENT_TERMS_DAYS = 30
DATES = (dt.date(2000, 1, 1), dt.date(2999, 12, 31))


async def lock_visible_order(conn: AsyncConnection, who: Scoped, order_id: uuid.UUID) -> Row:
    """The order, locked (FOR UPDATE: shipments, invoices and returns of one order
    queue); NOT_FOUND on orderId when it is missing or its customer is invisible.

    Its customer is held FOR KEY SHARE first (customer before order, the order in which
    confirmations and merges lock), so no document is added for a customer that a
    concurrent delete removes (CUSTOMER_DELETED). A merge that moved the order
    meanwhile is followed once, to the surviving customer."""
    for _ in range(2):
        customer_id = await conn.scalar(
            select(sales_orders.c.customer_id).where(
                sales_orders.c.id == order_id, visible_orders(who)
            )
        )
        if customer_id is None:
            raise fail("orderId", "NOT_FOUND", "no such sales order")
        if await lock_live_customers(conn, [customer_id]):
            order = await lock_order(conn, who, order_id, None)
            if order.customer_id == customer_id:
                return order
    raise fail("orderId", "CUSTOMER_DELETED",
               "this order's customer was deleted: restore the customer first")  # fmt: skip


async def replay(conn: AsyncConnection, who: Scoped, table: Table, row_id: uuid.UUID | None,
                 digest: str, what: str) -> Row | None:  # fmt: skip
    """The document a retry of a create with this id already made (None when there is
    none, or no id); CONFLICT when that id is taken by other content or by a document `who`
    cannot see."""
    if row_id is None:
        return None
    existing = (await conn.execute(select(table).where(table.c.id == row_id))).first()
    if existing is None:
        return None
    visible = await conn.scalar(select(table.c.id).where(
        table.c.id == row_id, customer_visible(table.c.customer_id, who)))  # fmt: skip
    if visible is not None and existing.fingerprint == digest:
        return existing
    raise fail("id", "CONFLICT", f"another {what} already has this id")


def require_open_order(order: Row, what: str) -> None:
    if order.status not in ("confirmed", "closed"):
        raise fail("orderId", "ORDER_NOT_CONFIRMED",
                   f"sales order {order.number} is {order.status}: only a confirmed (or "
                   f"closed) order can be {what}")  # fmt: skip


async def order_lines_by_id(conn: AsyncConnection, order_id: uuid.UUID) -> dict[uuid.UUID, Row]:
    rows = await conn.execute(
        select(sales_order_lines)
        .where(sales_order_lines.c.order_id == order_id)
        .order_by(sales_order_lines.c.position)
        .with_for_update()
    )
    return {row.id: row for row in rows}


def parse_money(field: str, value: Any) -> tuple[Decimal | None, UserError | None]:
    """A positive amount below 10^16 with at most 2 decimals (a Decimal, an int or a
    decimal string), returned with exactly 2."""
    return parse_decimal(field, value, places=CENT, below=MAX_MONEY, positive=True)


def check_date(field: str, value: dt.date | None) -> list[UserError]:
    if value is not None and not DATES[0] <= value <= DATES[1]:
        return [UserError(field, "INVALID", f"{field} must be between 2000 and 2999")]
    return []


def line_ids(lines, field: str = "orderLineId", *,
             key=lambda line: line.order_line_id) -> tuple[list, list[UserError]]:  # fmt: skip
    """Each line's order line id (None when malformed: NOT_FOUND) and duplicates (of
    `key`: the order line, or for returns the order line and batch) refused."""
    errors: list[UserError] = []
    seen: set = set()
    for i, line in enumerate(lines):
        if line.order_line_id is None:
            errors.append(UserError(f"lines[{i}].{field}", "NOT_FOUND", "no such order line"))
        elif key(line) in seen:
            errors.append(UserError(f"lines[{i}].{field}", "DUPLICATE",
                                    "name each order line once per document (and batch, "
                                    "for a return)"))  # fmt: skip
        seen.add(key(line))
    return [line.order_line_id for line in lines], errors


async def audit(conn, actor: Actor, entity: str, action: str, row_id: uuid.UUID,
                changes: dict) -> None:  # fmt: skip
    await record(conn, actor=actor, action=f"{entity}.{action}", entity_type=entity,
                 entity_id=row_id, changes=changes)  # fmt: skip
