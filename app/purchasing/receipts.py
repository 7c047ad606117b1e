"""Goods receipts (入库单, GR-2026-000001): receiving quantities against the lines of a
purchase order, in one function, in the caller's transaction:

1. the order row is locked (FOR UPDATE): every receipt of one order queues behind the
   one before it, so the "still to receive" check below is exact under concurrency
   (and `received_quantity <= quantity` is also a CHECK constraint);
2. a receipt id already used (a retried request) is answered with that receipt
   (`replayed`), writing nothing; the same id with another request is a CONFLICT;
3. the order's status must allow receiving (app/purchasing/lifecycle.py);
4. each line names a line of this order and a quantity more than zero; a line may be
   named several times (several batches of one order line); what a receipt takes
   for an order line is never more than ordered minus already received: there is
   no over-receipt tolerance (OVER_RECEIPT; receive the surplus with receiveStock
   and talk to the supplier);
5. the stock is posted by app/stock/service.receive into the order's warehouse
   (kind `receipt`, source `purchase_receipt` = the receipt, posting id = the
   receipt id), into batches for batch-tracked products (a batch code, created with
   its expiry when new, or a batch id): BATCH_REQUIRED otherwise;
6. the order lines' received quantities go up, and the order becomes partially
   received or received; the receipt, its lines and the audit records are written.
Any error leaves nothing: no stock, no receipt, no change to the order (the caller's
transaction rolls back; stock.receive itself runs in a savepoint).

Lock order: the order row, then (inside stock.receive) the stock levels. Nothing that
holds a stock level lock waits for an order row, so receipts never deadlock with
other stock writers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor, record
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.purchasing.lifecycle import Action, Status, ensure_allowed, receive_target, transition
from app.purchasing.rules import DATES, ReceiptLine, over_receipt
from app.purchasing.service import lines_of
from app.purchasing.tables import (
    goods_receipt_lines,
    goods_receipts,
    purchase_order_lines,
    purchase_orders,
)
from app.records import fingerprint, new_id
from app.stock import service as stock
from app.stock.rules import MAX_LINES, check_quantity, quantity
from app.validation import check_length, clean

SOURCE_TYPE = "purchase_receipt"


async def _lock_order(conn: AsyncConnection, order_id: uuid.UUID | None) -> Row:
    row = None
    if order_id is not None:
        row = (
            await conn.execute(
                select(purchase_orders).where(purchase_orders.c.id == order_id).with_for_update()
            )
        ).first()
    if row is None:
        raise fail("orderId", "NOT_FOUND", "no such purchase order")
    return row


def _digest(order_id: uuid.UUID, lines: list[ReceiptLine], received_on: Any, note: Any) -> str:
    return fingerprint({
        "order": str(order_id), "received_on": str(received_on or ""), "note": note or "",
        "lines": [[str(x.order_line_id), str(x.quantity), str(x.batch_id or ""),
                   x.batch_code or "", str(x.expires_on or ""), str(x.produced_on or "")]
                  for x in lines],
    })  # fmt: skip


def _stock_field(field: str | None) -> str | None:
    """A stock error's field, as the receipt's input names it."""
    if field is None:
        return None
    if field == "warehouseId":
        return "orderId"  # the order's warehouse
    if field.endswith(".productId"):
        return field.removesuffix(".productId") + ".orderLineId"
    return field


async def receive_purchase_order(
    conn: AsyncConnection, *, actor: Actor, receipt_id: uuid.UUID | None,
    order_id: uuid.UUID | None, lines: list[ReceiptLine], received_on: dt.date | None,
    note: str | None, today: dt.date,
) -> tuple[Row, bool]:  # fmt: skip
    """Receive goods against an order (see the module's docstring). Returns the receipt
    and whether it was a replay of an earlier identical request."""
    order = await _lock_order(conn, order_id)
    rid = receipt_id or new_id()
    digest = _digest(order.id, lines, received_on, note)
    existing = (
        await conn.execute(select(goods_receipts).where(goods_receipts.c.id == rid))
    ).first()
    if existing is not None:
        if existing.order_id != order.id or existing.fingerprint != digest:
            raise fail("id", "CONFLICT", "another goods receipt already has this id")
        return existing, True
    ensure_allowed(order.status, Action.RECEIVE)

    errors: list[UserError] = []
    if not lines:
        errors.append(UserError("lines", "REQUIRED", "receive at least one line"))
    elif len(lines) > MAX_LINES:
        errors.append(UserError("lines", "TOO_MANY", f"at most {MAX_LINES} lines at once"))
    note = clean(note)
    if error := check_length("note", note, max_length=2000):
        errors.append(error)
    day = received_on or today
    if not DATES[0] <= day <= DATES[1]:
        errors.append(UserError("receivedOn", "INVALID", "receivedOn must be in 1900-2999"))
    order_lines = {r.id: r for r in await lines_of(conn, order.id)}
    taking: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    resolved: list[Row | None] = []
    for index, line in enumerate(lines[:MAX_LINES]):
        at = f"lines[{index}]"
        order_line = order_lines.get(parse_uuid(line.order_line_id))
        resolved.append(order_line)
        if order_line is None:
            errors.append(UserError(f"{at}.orderLineId", "NOT_FOUND",
                                    "no such line on this purchase order"))  # fmt: skip
        if error := check_quantity(f"{at}.quantity", line.quantity):
            errors.append(error)
            continue
        if order_line is None:
            continue
        taking[order_line.id] += quantity(line.quantity)
        if order_line.received_quantity + taking[order_line.id] > order_line.quantity:
            errors.append(over_receipt(f"{at}.quantity", order_line.position + 1,
                                       order_line.quantity, order_line.received_quantity))  # fmt: skip
    if errors:
        raise UserErrors(errors)

    try:
        posting = await stock.receive(
            conn, actor=actor, warehouse_id=order.warehouse_id,
            lines=[stock.StockLine(product_id=o.product_id, quantity=x.quantity,
                                   batch_id=x.batch_id, batch_code=x.batch_code,
                                   expires_on=x.expires_on, produced_on=x.produced_on)
                   for x, o in zip(lines, resolved, strict=True)],
            source=stock.Source(SOURCE_TYPE, rid), posting_id=rid,
        )  # fmt: skip
    except stock.StockError as error:
        raise UserErrors(
            [UserError(_stock_field(e.field), e.code, e.message) for e in error.errors]
        ) from None
    if posting.replayed:  # the id is another stock operation's, not a receipt's
        raise fail("id", "CONFLICT", "this id is already used by another stock posting")

    number = await next_number(conn, DocumentType.GOODS_RECEIPT, day)
    receipt = (
        await conn.execute(
            insert(goods_receipts)
            .values(
                id=rid,
                number=number,
                order_id=order.id,
                warehouse_id=order.warehouse_id,
                received_on=day,
                note=note,
                posting_id=posting.id,
                fingerprint=digest,
                created_by=actor.id,
            )  # fmt: skip
            .returning(goods_receipts)
        )
    ).one()
    await conn.execute(
        insert(goods_receipt_lines),
        [{"id": new_id(), "receipt_id": rid, "position": i, "order_line_id": o.id,
          "product_id": o.product_id, "quantity": quantity(x.quantity),
          "batch_id": move.batch_id, "move_id": move.id}
         for i, (x, o, move) in enumerate(zip(lines, resolved, posting.moves, strict=True))],
    )  # fmt: skip
    l = purchase_order_lines.c  # noqa: E741
    for line_id, taken in sorted(taking.items()):
        changed = await conn.execute(
            update(purchase_order_lines)
            .where(l.id == line_id, l.received_quantity + taken <= l.quantity)
            .values(
                received_quantity=l.received_quantity + taken,
                updated_at=func.now(),
                version=l.version + 1,
            )  # fmt: skip
        )
        if changed.rowcount != 1:  # the order lock makes this unreachable; belt and braces
            raise fail("lines", "OVER_RECEIPT", "this receipt would receive more than ordered")
    after = [
        (x.quantity, x.received_quantity + taking.get(x.id, Decimal(0)))
        for x in order_lines.values()
    ]
    target = transition(order.status, Action.RECEIVE, receive_target(after))
    po = purchase_orders.c
    await conn.execute(
        update(purchase_orders)
        .where(po.id == order.id)
        .values(
            status=target.value,
            version=po.version + 1,
            updated_at=func.now(),
            received_at=func.now() if target is Status.RECEIVED else None,
        )  # fmt: skip
    )
    await record(
        conn, actor=actor, action="goods_receipt.create", entity_type="goods_receipt",
        entity_id=rid,
        changes={"number": {"from": None, "to": number},
                 "order_id": {"from": None, "to": str(order.id)},
                 "lines": {"from": None, "to": [[str(o.id), str(quantity(x.quantity))]
                                                for x, o in zip(lines, resolved, strict=True)]}},
    )  # fmt: skip
    await record(
        conn, actor=actor, action="purchase_order.receive", entity_type="purchase_order",
        entity_id=order.id,
        changes={"status": {"from": order.status, "to": target.value},
                 "receipt": {"from": None, "to": number}},
    )  # fmt: skip
    return receipt, False
