"""Shipments (发货): ship part or all of a confirmed order's reserved quantities.

    create_shipment(conn, *, actor, who, shipment_id, order_id, lines, shipment_date,
                    today, notes=None) -> Row

In one transaction (the caller's): the order is locked, each line's quantity is
checked against what is left to ship (`lines[i].quantity` OVER_SHIPMENT), the
reserved stock is issued through app/stock/service.issue_reserved (batches first
expiring first unless named, expired by `today`, the tenant's calendar day, whatever
the shipment's date; more than reserved is INSUFFICIENT_RESERVATION on
`lines[i].quantity`) and the batches it took are recorded per shipment line
(app/billing/batches.py), the order lines' `shipped_quantity` rises and the order's
progress is refreshed. Idempotent on the client-supplied id: the same request again
returns the first shipment (the stock posting uses the shipment id as its key); the
same id with another request is a CONFLICT.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.billing import batches as shipped_batches
from app.billing import common
from app.billing.tables import shipment_lines, shipments
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders.progress import refresh_progress
from app.orders.service import order_source
from app.orders.tables import sales_order_lines
from app.records import fingerprint, new_id
from app.stock import service as stock
from app.validation import check_length, clean


@dataclass(frozen=True)
class ShipmentLineInput:
    order_line_id: uuid.UUID | None
    quantity: Any
    batch_id: uuid.UUID | None = None


async def create_shipment(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, shipment_id: uuid.UUID | None,
    order_id: uuid.UUID, lines: Sequence[ShipmentLineInput], shipment_date: dt.date,
    today: dt.date, notes: str | None = None,
) -> Row:  # fmt: skip
    notes = clean(notes)
    digest = fingerprint({
        "order": order_id, "date": shipment_date, "notes": notes,
        "lines": [(x.order_line_id, str(x.quantity), x.batch_id) for x in lines],
    })  # fmt: skip
    order = await common.lock_visible_order(conn, who, order_id)
    if found := await common.replay(conn, who, shipments, shipment_id, digest, "shipment"):
        return found
    common.require_open_order(order, "shipped")
    if order.status != "confirmed":
        raise fail("orderId", "ORDER_NOT_CONFIRMED",
                   f"sales order {order.number} is {order.status}: nothing more ships on it")  # fmt: skip
    if not lines:
        raise fail("lines", "REQUIRED", "a shipment ships at least one line")
    if len(lines) > common.MAX_LINES:
        raise fail("lines", "TOO_MANY", f"at most {common.MAX_LINES} lines per shipment")
    ids, errors = common.line_ids(lines)
    errors += common.check_date("shipmentDate", shipment_date)
    if (problem := check_length("notes", notes, max_length=2000)) is not None:
        errors.append(problem)
    by_id = await common.order_lines_by_id(conn, order_id)
    quantities = []
    for i, (line, line_id) in enumerate(zip(lines, ids, strict=True)):
        problem = common.check_quantity(f"lines[{i}].quantity", line.quantity)
        qty = None if problem else common.quantity(line.quantity)
        if problem:
            errors.append(problem)
        quantities.append(qty)
        row = by_id.get(line_id) if line_id is not None else None
        if line_id is not None and row is None:
            errors.append(UserError(f"lines[{i}].orderLineId", "NOT_FOUND",
                                    "no such line on this order"))  # fmt: skip
        if row is not None and qty is not None and qty > row.quantity - row.shipped_quantity:
            errors.append(UserError(
                f"lines[{i}].quantity", "OVER_SHIPMENT",
                f"line {row.position + 1} has {common.fmt(row.quantity - row.shipped_quantity)} "
                f"left to ship of {common.fmt(row.quantity)}",
            ))  # fmt: skip
    if errors:
        raise UserErrors(errors)
    sid = shipment_id or new_id()
    number = await next_number(conn, DocumentType.SHIPMENT, shipment_date)
    row = (
        await conn.execute(
            insert(shipments).values(
                id=sid, number=number, order_id=order_id, customer_id=order.customer_id,
                warehouse_id=order.warehouse_id, shipment_date=shipment_date,
                fingerprint=digest, notes=notes, created_by=actor.id,
            ).returning(shipments)
        )
    ).one()  # fmt: skip
    line_ids = {line_id: new_id() for line_id in ids}
    await conn.execute(insert(shipment_lines), [
        {"id": line_ids[line_id], "shipment_id": sid, "position": i, "order_line_id": line_id,
         "product_id": by_id[line_id].product_id, "quantity": qty, "batch_id": line.batch_id}
        for i, (line, line_id, qty) in enumerate(zip(lines, ids, quantities, strict=True))
    ])  # fmt: skip
    posting = await stock.issue_reserved(
        conn, actor=actor, reserved_for=order_source(order_id),
        lines=[stock.ShipLine(line_id, qty, line.batch_id)
               for line, line_id, qty in zip(lines, ids, quantities, strict=True)],
        source=stock.Source("shipment", sid), posting_id=sid, today=today,
    )  # fmt: skip
    await shipped_batches.record_shipped(conn, shipment_id=sid, shipment_date=shipment_date,
                                         line_ids=line_ids, moves=posting.moves)  # fmt: skip
    for line_id, qty in zip(ids, quantities, strict=True):
        await conn.execute(
            update(sales_order_lines)
            .where(sales_order_lines.c.id == line_id)
            .values(shipped_quantity=sales_order_lines.c.shipped_quantity + qty,
                    version=sales_order_lines.c.version + 1)
        )  # fmt: skip
    await refresh_progress(conn, [order_id])
    await common.audit(conn, actor, "shipment", "create", sid, {
        "number": {"from": None, "to": number}, "orderId": {"from": None, "to": str(order_id)},
        "lines": {"from": None, "to": len(lines)},
    })  # fmt: skip
    return row
