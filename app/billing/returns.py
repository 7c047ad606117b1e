"""Sales returns (退货) and the credit notes they make.

    create_sales_return(conn, *, actor, who, return_id, order_id, lines, return_date,
                        warehouse_id=None, reason=None) -> Row

Goods come back against shipped lines of one order: at most shipped - returned per
line (OVER_RETURN on `lines[i].quantity`), into `warehouse_id` (default: the order's)
through app/stock/service.return_in. A batch-tracked product goes back into a batch
its order line shipped and has not had back (app/billing/batches.py): the one the
line names (BATCH_NOT_SHIPPED on `lines[i].batchId` if the line never shipped it,
OVER_RETURN on `lines[i].quantity` beyond what of it is out), else the one still out
(BATCH_REQUIRED on `lines[i].batchId` when several are). Each
order line's `returned_quantity` rises. What of the returned quantity had not been
invoiced yet (shipped - returned - invoiced, before this return) is simply never
invoiced: nothing was billed, so nothing is credited. The rest had been invoiced: it is
credited on one credit note (CN-...) at the order line's unit price, discount and tax,
rounded per line like the invoice (app/catalog/pricing.py), and the order line's
`invoiced_quantity` falls by it. The credit note is applied at once to the order's
open invoices (oldest first) as far as they are open; what is left stays open as the
customer's credit, applied later with allocateCreditNote. Idempotent on the id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.billing import batches as shipped_batches
from app.billing import common, payments
from app.billing.invoices import priced
from app.billing.tables import (
    credit_note_lines,
    credit_notes,
    invoices,
    sales_return_lines,
    sales_returns,
)
from app.catalog.pricing import total
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders.progress import refresh_progress
from app.orders.service import warehouse_errors
from app.orders.tables import sales_order_lines
from app.records import fingerprint, new_id
from app.stock import service as stock
from app.validation import check_length, clean


@dataclass(frozen=True)
class ReturnLineInput:
    order_line_id: uuid.UUID | None
    quantity: Any
    batch_id: uuid.UUID | None = None


async def create_sales_return(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, return_id: uuid.UUID | None,
    order_id: uuid.UUID, lines: Sequence[ReturnLineInput], return_date: dt.date,
    warehouse_id: uuid.UUID | None = None, reason: str | None = None,
) -> Row:  # fmt: skip
    reason = clean(reason)
    digest = fingerprint({
        "order": order_id, "date": return_date, "reason": reason, "warehouse": warehouse_id,
        "lines": [(x.order_line_id, str(x.quantity), x.batch_id) for x in lines],
    })  # fmt: skip
    order = await common.lock_visible_order(conn, who, order_id)
    if found := await common.replay(conn, who, sales_returns, return_id, digest, "sales return"):
        return found
    common.require_open_order(order, "returned against")
    if not lines:
        raise fail("lines", "REQUIRED", "a return takes back at least one line")
    if len(lines) > common.MAX_LINES:
        raise fail("lines", "TOO_MANY", f"at most {common.MAX_LINES} lines per return")
    warehouse = warehouse_id or order.warehouse_id
    # One order line may come back into several batches: a line per batch.
    ids, errors = common.line_ids(lines, key=lambda x: (x.order_line_id, x.batch_id))
    errors += common.check_date("returnDate", return_date)
    if warehouse_id is not None:
        errors += await warehouse_errors(conn, warehouse_id)
    if (problem := check_length("reason", reason, max_length=500)) is not None:
        errors.append(problem)
    by_id = await common.order_lines_by_id(conn, order_id)
    plan: list[tuple[Row, Decimal, Decimal]] = []  # (order line, returned, credited)
    taken: dict[uuid.UUID, Decimal] = defaultdict(Decimal)  # by earlier lines of this return
    for i, (line, line_id) in enumerate(zip(lines, ids, strict=True)):
        problem = common.check_quantity(f"lines[{i}].quantity", line.quantity)
        if problem:
            errors.append(problem)
        row = by_id.get(line_id) if line_id is not None else None
        if line_id is not None and row is None:
            errors.append(UserError(f"lines[{i}].orderLineId", "NOT_FOUND",
                                    "no such line on this order"))  # fmt: skip
        if row is None or problem:
            continue
        qty = common.quantity(line.quantity)
        returnable = row.shipped_quantity - row.returned_quantity - taken[row.id]
        if qty > returnable:
            errors.append(UserError(f"lines[{i}].quantity", "OVER_RETURN",
                                    f"line {row.position + 1} has {common.fmt(returnable)} "
                                    "shipped and not returned"))  # fmt: skip
            continue
        uninvoiced = max(returnable - row.invoiced_quantity, Decimal(0))
        plan.append((row, qty, qty - min(qty, uninvoiced)))
        taken[row.id] += qty
    batch_ids = [line.batch_id for line in lines]
    outstanding = None
    if not errors:
        problems, outstanding = await shipped_batches.return_batches(conn, plan, batch_ids)
        errors += problems
    if errors:
        raise UserErrors(errors)
    rid = return_id or new_id()
    number = await next_number(conn, DocumentType.SALES_RETURN, return_date)
    await conn.execute(insert(sales_returns).values(
        id=rid, number=number, order_id=order_id, customer_id=order.customer_id,
        warehouse_id=warehouse, return_date=return_date, reason=reason, fingerprint=digest,
        created_by=actor.id,
    ))  # fmt: skip
    await conn.execute(insert(sales_return_lines), [
        {"id": new_id(), "return_id": rid, "position": i, "order_line_id": row.id,
         "product_id": row.product_id, "quantity": qty, "batch_id": batch_id,
         "credited_quantity": credited}
        for i, ((row, qty, credited), batch_id) in enumerate(zip(plan, batch_ids, strict=True))
    ])  # fmt: skip
    await stock.return_in(
        conn, actor=actor, warehouse_id=warehouse,
        lines=[stock.StockLine(row.product_id, qty, batch_id=batch_id)
               for (row, qty, _), batch_id in zip(plan, batch_ids, strict=True)],
        source=stock.Source("sales_return", rid), reason=reason, posting_id=rid,
    )  # fmt: skip
    await shipped_batches.take_back(conn, outstanding, [
        (row.id, batch_id, qty) for (row, qty, _), batch_id in zip(plan, batch_ids, strict=True)
    ])  # fmt: skip
    l = sales_order_lines.c  # noqa: E741
    for row, qty, credited in plan:
        await conn.execute(
            update(sales_order_lines).where(l.id == row.id)
            .values(returned_quantity=l.returned_quantity + qty,
                    invoiced_quantity=l.invoiced_quantity - credited, version=l.version + 1)
        )  # fmt: skip
    credit_id = None
    credited_lines = [(row, c) for row, _, c in plan if c > 0]
    if credited_lines:
        credit_id = await _credit_note(conn, actor, who, order, rid, credited_lines, return_date)
        await conn.execute(update(sales_returns).where(sales_returns.c.id == rid)
                           .values(credit_note_id=credit_id))  # fmt: skip
    await refresh_progress(conn, [order_id])
    await common.audit(conn, actor, "sales_return", "create", rid, {
        "number": {"from": None, "to": number}, "orderId": {"from": None, "to": str(order_id)},
        "creditNoteId": {"from": None, "to": str(credit_id) if credit_id else None},
    })  # fmt: skip
    return (await conn.execute(select(sales_returns).where(sales_returns.c.id == rid))).one()


async def _credit_note(conn, actor: Actor, who: Scoped, order: Row, return_id: uuid.UUID,
                       credited: list[tuple[Row, Decimal]], on: dt.date) -> uuid.UUID:  # fmt: skip
    amounts = [priced(order, row, qty) for row, qty in credited]
    totals = total(amounts)
    cid = new_id()
    number = await next_number(conn, DocumentType.CREDIT_NOTE, on)
    await conn.execute(insert(credit_notes).values(
        id=cid, number=number, order_id=order.id, customer_id=order.customer_id,
        return_id=return_id, currency=order.currency, credit_date=on, net_total=totals.net,
        tax_total=totals.tax, gross_total=totals.gross, created_by=actor.id,
    ))  # fmt: skip
    await conn.execute(insert(credit_note_lines), [
        {"id": new_id(), "credit_note_id": cid, "position": i, "order_line_id": row.id,
         "product_id": row.product_id, "quantity": qty, "unit_price": row.unit_price,
         "discount_percent": row.discount_percent, "tax_rate": row.tax_rate,
         "net_amount": a.net, "tax_amount": a.tax, "gross_amount": a.gross}
        for i, ((row, qty), a) in enumerate(zip(credited, amounts, strict=True))
    ])  # fmt: skip
    await common.audit(conn, actor, "credit_note", "create", cid, {
        "number": {"from": None, "to": number}, "grossTotal": {"from": None, "to": str(totals.gross)},
    })  # fmt: skip
    # Apply it to the order's open invoices, oldest first, as far as they are open.
    open_invoices = (
        await conn.execute(
            select(invoices.c.id, invoices.c.gross_total, invoices.c.paid_amount)
            .where(invoices.c.order_id == order.id,
                   invoices.c.status.in_(("issued", "partially_paid")))
            .order_by(invoices.c.invoice_date, invoices.c.number)
        )
    ).all()  # fmt: skip
    left, plan = totals.gross, []
    for inv in open_invoices:
        if left <= 0:
            break
        take = min(left, inv.gross_total - inv.paid_amount)
        if take > 0:
            plan.append(payments.AllocationInput(inv.id, take))
            left -= take
    if plan:
        await payments.allocate(conn, actor=actor, who=who,
                                source=payments.Source("credit_note", cid), allocations=plan,
                                on=on)  # fmt: skip
    return cid
