"""An order's progress measures, derived in one place from its lines.

Whatever changes a line's shipped, returned or invoiced quantity (shipments, returns,
invoices: later work) calls `refresh_progress(conn, order_ids)` in its transaction,
after its own writes. Rules, per order:

- fulfilment: `none` while no line has shipped anything; `full` when every line has
  shipped its whole quantity; `partial` in between. Returns do not undo fulfilment
  (what shipped, shipped; a return is its own document with its credit).
- invoice: `none` while nothing is invoiced; `full` when every line's invoiced
  quantity reaches what is due on it; `partial` in between. Due is the ordered
  quantity, except on a closed (short-closed) order, where it is what shipped (the
  rest will never be delivered, so never invoiced).
- payment (app/billing): `none` while nothing is allocated to the order's invoices
  (payments and credit notes); `full` when invoicing is full and every invoice that is
  not void is paid; `partial` in between.
Returned quantities are never due for invoicing (a return of goods not invoiced yet
reduces what is invoiced; one of invoiced goods is credited and lowers
`invoiced_quantity` by the credited quantity), so due = ordered (or shipped, when
closed) - returned.

Cancelled orders keep their measures as they were. Rows whose measures change get
their version bumped (they changed); one statement for all the orders.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.orders.tables import sales_order_lines, sales_orders


def _measure(done_all, any_done):
    return case((done_all, "full"), (any_done, "partial"), else_="none")


async def refresh_progress(
    conn: AsyncConnection, order_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str]]:
    """Recompute fulfilment and invoice progress of these orders from their lines;
    returns {order id: (fulfilment, invoice, payment)} of the orders that changed."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    line, order = sales_order_lines.c, sales_orders.c
    due = (
        case((order.status == "closed", line.shipped_quantity), else_=line.quantity)
        - line.returned_quantity
    )
    sums = (
        select(
            order.id.label("order_id"),
            _measure(
                func.bool_and(line.shipped_quantity >= line.quantity),
                func.bool_or(line.shipped_quantity > 0),
            ).label("fulfilment"),
            _measure(
                and_(
                    func.bool_and(line.invoiced_quantity >= due),
                    func.bool_or(line.invoiced_quantity > 0),
                ),
                func.bool_or(line.invoiced_quantity > 0),
            ).label("invoice"),
        )
        .select_from(sales_order_lines.join(sales_orders, order.id == line.order_id))
        .where(line.order_id.in_(ids), order.status != "cancelled")
        .group_by(order.id)  # its primary key: order.status may be used
        .subquery("progress")
    )
    statement = (
        update(sales_orders)
        .where(
            order.id == sums.c.order_id,
            or_(
                order.fulfilment_status != sums.c.fulfilment,
                order.invoice_status != sums.c.invoice,
            ),
        )
        .values(
            fulfilment_status=sums.c.fulfilment,
            invoice_status=sums.c.invoice,
            version=order.version + 1,
            updated_at=func.now(),
        )
        .returning(order.id, order.fulfilment_status, order.invoice_status, order.payment_status)
    )
    rows = await conn.execute(statement)
    changed = {r.id: (r.fulfilment_status, r.invoice_status, r.payment_status) for r in rows}
    for r in await conn.execute(_payment_progress(ids)):
        changed[r.id] = (r.fulfilment_status, r.invoice_status, r.payment_status)
    return changed


def _payment_progress(ids: list[uuid.UUID]):
    """Payment progress from the orders' invoices (app/billing): one statement."""
    from app.billing.tables import invoices  # billing builds on orders, not the reverse

    order, inv = sales_orders.c, invoices.c
    paid = (
        select(
            order.id.label("order_id"),
            case(
                (func.coalesce(func.sum(inv.paid_amount), 0) == 0, "none"),
                (
                    and_(
                        order.invoice_status == "full",
                        func.bool_and(inv.paid_amount >= inv.gross_total),
                    ),
                    "full",
                ),
                else_="partial",
            ).label("payment"),
        )  # fmt: skip
        .select_from(
            sales_orders.outerjoin(invoices, and_(inv.order_id == order.id, inv.status != "void"))
        )  # fmt: skip
        .where(order.id.in_(ids), order.status != "cancelled")
        .group_by(order.id)
        .subquery("paid")
    )
    return (
        update(sales_orders)
        .where(order.id == paid.c.order_id, order.payment_status != paid.c.payment)
        .values(payment_status=paid.c.payment, version=order.version + 1, updated_at=func.now())
        .returning(order.id, order.fulfilment_status, order.invoice_status, order.payment_status)
    )
