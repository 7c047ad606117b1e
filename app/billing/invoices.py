"""Invoices (开票): bill shipped, not yet invoiced quantities of one order.

    create_invoice(conn, *, actor, who, invoice_id, order_id, lines=None, invoice_date,
                   due_date=None, notes=None) -> Row
        `lines` None: every line's invoiceable quantity; else the chosen order lines and
        quantities. Invoiceable per order line = shipped - returned - invoiced (goods
        returned before they were invoiced are never invoiced). More is OVER_INVOICING
        on `lines[i].quantity`. Amounts come from the order line's unit price, discount
        and tax rate on the order's tax basis, rounded per line by app/catalog/pricing.py
        (so partial invoices of one line are each rounded; their sum may differ from the
        order line's amount by a cent per invoice, which is the per-line rule). The due
        date is `due_date`, or the invoice date + 30 days (the default payment terms).
        The order lines' `invoiced_quantity` rises; progress is refreshed.
    void_invoice(conn, *, actor, who, invoice_id, version, reason=None) -> Row
        issued -> void, only while nothing is allocated to it (app/billing/lifecycle.py):
        its quantities become invoiceable again.

Idempotent on the client-supplied id like shipments. Lock order: the order, then its
invoices (allocations lock orders before invoices too).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.billing import common, lifecycle
from app.billing.tables import invoice_lines, invoices
from app.catalog.pricing import line_amounts, total
from app.customers.queries import customer_visible
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders.progress import refresh_progress
from app.orders.tables import sales_order_lines
from app.records import fingerprint, new_id
from app.validation import check_length, clean


@dataclass(frozen=True)
class InvoiceLineInput:
    order_line_id: uuid.UUID | None
    quantity: Any


def invoiceable(line: Row) -> Decimal:
    return line.shipped_quantity - line.returned_quantity - line.invoiced_quantity


def priced(order: Row, line: Row, qty: Decimal):
    return line_amounts(qty, line.unit_price, tax_rate=line.tax_rate,
                        tax_inclusive=order.prices_include_tax,
                        discount_percent=line.discount_percent)  # fmt: skip


async def create_invoice(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, invoice_id: uuid.UUID | None,
    order_id: uuid.UUID, lines: Sequence[InvoiceLineInput] | None, invoice_date: dt.date,
    due_date: dt.date | None = None, notes: str | None = None,
) -> Row:  # fmt: skip
    notes = clean(notes)
    digest = fingerprint({
        "order": order_id, "date": invoice_date, "due": due_date, "notes": notes,
        "lines": None if lines is None else [(x.order_line_id, str(x.quantity)) for x in lines],
    })  # fmt: skip
    order = await common.lock_visible_order(conn, who, order_id)
    if found := await common.replay(conn, who, invoices, invoice_id, digest, "invoice"):
        return found
    common.require_open_order(order, "invoiced")
    due = due_date or invoice_date + dt.timedelta(days=common.DEFAULT_PAYMENT_TERMS_DAYS)
    errors = common.check_date("invoiceDate", invoice_date) + common.check_date("dueDate", due)
    if due < invoice_date:
        errors.append(UserError("dueDate", "INVALID", "dueDate cannot be before invoiceDate"))
    if (problem := check_length("notes", notes, max_length=2000)) is not None:
        errors.append(problem)
    by_id = await common.order_lines_by_id(conn, order_id)
    chosen: list[tuple[Row, Decimal]] = []
    if lines is None:
        chosen = [(row, invoiceable(row)) for row in by_id.values() if invoiceable(row) > 0]
        if not chosen:
            errors.append(UserError("lines", "NOTHING_TO_INVOICE",
                                    f"sales order {order.number} has nothing shipped and not "
                                    "yet invoiced"))  # fmt: skip
    else:
        if not lines:
            errors.append(UserError("lines", "REQUIRED", "an invoice has at least one line"))
        if len(lines) > common.MAX_LINES:
            raise fail("lines", "TOO_MANY", f"at most {common.MAX_LINES} lines per invoice")
        ids, problems = common.line_ids(lines)
        errors += problems
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
            if qty > invoiceable(row):
                errors.append(UserError(
                    f"lines[{i}].quantity", "OVER_INVOICING",
                    f"line {row.position + 1} has {common.fmt(invoiceable(row))} shipped and "
                    "not yet invoiced",
                ))  # fmt: skip
            chosen.append((row, qty))
    if errors:
        raise UserErrors(errors)
    amounts = [priced(order, row, qty) for row, qty in chosen]
    totals = total(amounts)
    iid = invoice_id or new_id()
    number = await next_number(conn, DocumentType.INVOICE, invoice_date)
    row = (
        await conn.execute(
            insert(invoices).values(
                id=iid, number=number, order_id=order_id, customer_id=order.customer_id,
                currency=order.currency, prices_include_tax=order.prices_include_tax,
                invoice_date=invoice_date, due_date=due, net_total=totals.net,
                tax_total=totals.tax, gross_total=totals.gross, fingerprint=digest,
                notes=notes, created_by=actor.id,
            ).returning(invoices)
        )
    ).one()  # fmt: skip
    await conn.execute(insert(invoice_lines), [
        {"id": new_id(), "invoice_id": iid, "position": i, "order_line_id": line.id,
         "product_id": line.product_id, "quantity": qty, "unit_price": line.unit_price,
         "discount_percent": line.discount_percent, "tax_rate": line.tax_rate,
         "net_amount": a.net, "tax_amount": a.tax, "gross_amount": a.gross}
        for i, ((line, qty), a) in enumerate(zip(chosen, amounts, strict=True))
    ])  # fmt: skip
    for line, qty in chosen:
        await _invoiced(conn, line.id, qty)
    await refresh_progress(conn, [order_id])
    await common.audit(conn, actor, "invoice", "create", iid, {
        "number": {"from": None, "to": number}, "orderId": {"from": None, "to": str(order_id)},
        "grossTotal": {"from": None, "to": str(totals.gross)},
    })  # fmt: skip
    return row


async def _invoiced(conn, line_id: uuid.UUID, delta: Decimal) -> None:
    l = sales_order_lines.c  # noqa: E741
    await conn.execute(
        update(sales_order_lines).where(l.id == line_id)
        .values(invoiced_quantity=l.invoiced_quantity + delta, version=l.version + 1)
    )  # fmt: skip


async def void_invoice(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, invoice_id: uuid.UUID,
    version: int | None, reason: str | None = None,
) -> Row:  # fmt: skip
    order_id = await conn.scalar(select(invoices.c.order_id).where(
        invoices.c.id == invoice_id, customer_visible(invoices.c.customer_id, who)))  # fmt: skip
    if order_id is None:
        raise fail("id", "NOT_FOUND", "no such invoice")
    await common.lock_visible_order(conn, who, order_id)
    current = (
        await conn.execute(select(invoices).where(invoices.c.id == invoice_id).with_for_update())
    ).one()
    if version is not None and version != current.version:
        raise fail("version", "CONFLICT", f"this invoice was changed by someone else (it is "
                   f"now at version {current.version}); reload it and try again")  # fmt: skip
    target = lifecycle.invoice_transition(current.status, "void")
    reason = clean(reason)
    if (problem := check_length("reason", reason, max_length=500)) is not None:
        raise UserErrors([problem])
    found = (
        await conn.execute(
            select(invoice_lines.c.order_line_id, invoice_lines.c.quantity,
                   sales_order_lines.c.invoiced_quantity, sales_order_lines.c.position)
            .join(sales_order_lines, sales_order_lines.c.id == invoice_lines.c.order_line_id)
            .where(invoice_lines.c.invoice_id == invoice_id)
        )
    ).all()  # fmt: skip
    for line in found:
        if line.invoiced_quantity < line.quantity:  # credited by a return meanwhile
            raise fail("status", "INVALID_TRANSITION",
                       f"goods of line {line.position + 1} were returned and credited after "
                       "this invoice: it can no longer be voided")  # fmt: skip
    for line in found:
        await _invoiced(conn, line.order_line_id, -line.quantity)
    row = (
        await conn.execute(
            update(invoices).where(invoices.c.id == invoice_id)
            .values(status=target, voided_at=func.now(), void_reason=reason,
                    version=invoices.c.version + 1, updated_at=func.now())
            .returning(invoices)
        )
    ).one()  # fmt: skip
    await refresh_progress(conn, [order_id])
    await common.audit(conn, actor, "invoice", "void", invoice_id, {
        "status": {"from": current.status, "to": target}, "reason": {"from": None, "to": reason},
    })  # fmt: skip
    return row
