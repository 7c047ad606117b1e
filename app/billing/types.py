"""GraphQL types of shipments, returns, invoices, credit notes and payments, built as
plain objects for a whole page: lines (and allocations) come in one statement per kind
for all the documents of a page, never per row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import strawberry
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.pagination import Connection
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.billing import batches as shipped_batches
from app.billing.tables import (
    credit_note_lines,
    invoice_lines,
    payment_allocations,
    sales_return_lines,
    shipment_lines,
)
from app.customers.types import Customer, attach_customers


@strawberry.enum(description="ISSUED -> PARTIALLY_PAID -> PAID; ISSUED (nothing allocated) "
                 "-> VOID.")  # fmt: skip
class InvoiceStatus(enum.Enum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


@strawberry.enum(description="OPEN -> PARTIALLY_APPLIED -> APPLIED (to invoices).")
class CreditNoteStatus(enum.Enum):
    OPEN = "open"
    PARTIALLY_APPLIED = "partially_applied"
    APPLIED = "applied"


@strawberry.enum(description="UNALLOCATED -> PARTIALLY_ALLOCATED -> ALLOCATED (to invoices).")
class PaymentStatus(enum.Enum):
    UNALLOCATED = "unallocated"
    PARTIALLY_ALLOCATED = "partially_allocated"
    ALLOCATED = "allocated"


def _value(value):
    return strawberry.ID(str(value)) if isinstance(value, uuid.UUID) else value


def _from_row(cls, row: Row, **extra):
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: _value(v) for k, v in row._mapping.items() if k in names}
    return cls(**values, **extra)


@strawberry.type(description="What a shipment line took of one batch, as the stock ledger "
                 "issued it (first expiring first unless the line named the batch).")  # fmt: skip
class ShippedBatch:
    batch_id: strawberry.ID
    code: str
    expires_on: dt.date | None
    quantity: Decimal
    returned_quantity: Decimal = strawberry.field(description="Taken back by sales returns.")


@strawberry.type(description="A shipped line: an order line's quantity, from a batch.")
class ShipmentLine:
    id: strawberry.ID
    position: int
    order_line_id: strawberry.ID
    product_id: strawberry.ID
    quantity: Decimal
    batch_id: strawberry.ID | None = strawberry.field(
        description="The batch the line asked for (null: first expiring); see batches."
    )
    batches: list[ShippedBatch] = strawberry.field(
        default_factory=list,
        description="The batches actually issued; empty for a product not batch-tracked.",
    )


@strawberry.type(description="A shipment line that took goods of one batch: who received "
                 "how much, and how much came back (a recall's answer).")  # fmt: skip
class BatchDelivery:
    id: strawberry.ID
    batch_id: strawberry.ID
    product_id: strawberry.ID
    customer_id: strawberry.ID
    customer_name: str
    shipment_id: strawberry.ID
    shipment_number: str
    shipment_date: dt.date
    shipment_line_id: strawberry.ID
    order_id: strawberry.ID
    order_number: str
    order_line_id: strawberry.ID
    quantity: Decimal = strawberry.field(description="Shipped of this batch on this line.")
    returned_quantity: Decimal = strawberry.field(description="Came back of this batch.")
    outstanding_quantity: Decimal = strawberry.field(
        description="quantity - returnedQuantity: still at the customer."
    )


@strawberry.type(description="A shipment (发货) of a confirmed order's reserved stock.")
class Shipment:
    id: strawberry.ID
    number: str = strawberry.field(description="SH-2026-000123.")
    order_id: strawberry.ID
    customer_id: strawberry.ID
    warehouse_id: strawberry.ID
    shipment_date: dt.date
    notes: str | None
    created_at: dt.datetime
    lines: list[ShipmentLine] = strawberry.field(default_factory=list)


@strawberry.type(description="A returned line; creditedQuantity is the part that had been "
                 "invoiced and is credited.")  # fmt: skip
class SalesReturnLine:
    id: strawberry.ID
    position: int
    order_line_id: strawberry.ID
    product_id: strawberry.ID
    quantity: Decimal
    credited_quantity: Decimal
    batch_id: strawberry.ID | None


@strawberry.type(description="A sales return (退货): goods back against shipped lines.")
class SalesReturn:
    id: strawberry.ID
    number: str = strawberry.field(description="RT-2026-000123.")
    order_id: strawberry.ID
    customer_id: strawberry.ID
    warehouse_id: strawberry.ID
    return_date: dt.date
    reason: str | None
    credit_note_id: strawberry.ID | None = strawberry.field(
        description="The credit for the returned goods that had been invoiced."
    )
    created_at: dt.datetime
    lines: list[SalesReturnLine] = strawberry.field(default_factory=list)


@strawberry.type(description="A priced line of an invoice or a credit note.")
class BillingLine:
    id: strawberry.ID
    position: int
    order_line_id: strawberry.ID
    product_id: strawberry.ID
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal


@strawberry.type(description="Money of a payment or a credit note applied to an invoice.")
class Allocation:
    id: strawberry.ID
    invoice_id: strawberry.ID
    payment_id: strawberry.ID | None
    credit_note_id: strawberry.ID | None
    amount: Decimal
    allocated_on: dt.date


@strawberry.type(description="An invoice (开票; a commercial document, not a fapiao).")
class Invoice:
    id: strawberry.ID
    number: str = strawberry.field(description="INV-2026-000123.")
    order_id: strawberry.ID
    customer_id: strawberry.ID
    currency: str
    prices_include_tax: bool
    invoice_date: dt.date
    due_date: dt.date
    status: InvoiceStatus
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    paid_amount: Decimal = strawberry.field(description="Allocated payments and credits.")
    open_amount: Decimal = strawberry.field(description="grossTotal - paidAmount.")
    notes: str | None
    voided_at: dt.datetime | None
    void_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    lines: list[BillingLine] = strawberry.field(default_factory=list)
    allocations: list[Allocation] = strawberry.field(default_factory=list)


@strawberry.type(description="A credit note: money owed back for returned invoiced goods.")
class CreditNote:
    id: strawberry.ID
    number: str = strawberry.field(description="CN-2026-000123.")
    order_id: strawberry.ID
    customer_id: strawberry.ID
    return_id: strawberry.ID | None
    currency: str
    credit_date: dt.date
    status: CreditNoteStatus
    net_total: Decimal
    tax_total: Decimal
    gross_total: Decimal
    applied_amount: Decimal
    open_amount: Decimal = strawberry.field(description="grossTotal - appliedAmount.")
    created_at: dt.datetime
    version: int
    lines: list[BillingLine] = strawberry.field(default_factory=list)
    allocations: list[Allocation] = strawberry.field(default_factory=list)


@strawberry.type(description="A payment received (回款); the unallocated rest is the "
                 "customer's credit.")  # fmt: skip
class Payment:
    id: strawberry.ID
    number: str = strawberry.field(description="PAY-2026-000123.")
    customer_id: strawberry.ID
    currency: str
    amount: Decimal
    allocated_amount: Decimal
    unallocated_amount: Decimal = strawberry.field(description="amount - allocatedAmount.")
    received_on: dt.date
    method: str | None
    reference: str | None
    status: PaymentStatus
    created_at: dt.datetime
    version: int
    allocations: list[Allocation] = strawberry.field(default_factory=list)


@strawberry.type(description="Money owed in one currency, aged by days past due.")
class Ageing:
    currency: str
    open_amount: Decimal
    open_invoices: int = strawberry.field(description="Invoices with money still owed.")
    current: Decimal = strawberry.field(description="Not yet past due.")
    days_1_30: Decimal = strawberry.field(name="days1To30")
    days_31_60: Decimal = strawberry.field(name="days31To60")
    days_61_90: Decimal = strawberry.field(name="days61To90")
    over_90: Decimal = strawberry.field(name="over90")


@strawberry.type(description="What one customer owes in one currency, aged by days past due.")
class Receivable(Ageing):
    customer_id: strawberry.ID
    customer: Customer | None = strawberry.field(
        default=None, extensions=requires("customers:read"),
        description="FORBIDDEN without customers:read.",
    )  # fmt: skip


@strawberry.type(description="The sums of every receivable of the list in one currency "
                 "(not only of one page): an ageing report's grand total.")  # fmt: skip
class ReceivableTotal(Ageing):
    customers: int = strawberry.field(description="Customers owing in this currency.")


@strawberry.type
class ReceivableConnection(Connection[Receivable]):
    totals: list[ReceivableTotal] = strawberry.field(
        default_factory=list, description="Per currency, by currency code."
    )


async def _children(conn: AsyncConnection, table, parent, ids, order) -> dict:
    grouped: dict = defaultdict(list)
    if ids:
        for row in await conn.execute(select(table).where(parent.in_(ids)).order_by(parent, order)):
            grouped[getattr(row, parent.key)].append(row)
    return grouped


async def _attach(conn, nodes, rows, selected, prefix, name, table, parent, order, cls):
    if f"{prefix}{name}" not in selected:
        return
    grouped = await _children(conn, table, parent, [r.id for r in rows], order)
    for node, row in zip(nodes, rows, strict=True):
        setattr(node, name, [_from_row(cls, child) for child in grouped.get(row.id, [])])


async def build_shipments(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                          selected: set[str], prefix: str = "") -> list[Shipment]:  # fmt: skip
    nodes = [_from_row(Shipment, r) for r in rows]
    await _attach(conn, nodes, rows, selected, prefix, "lines", shipment_lines,
                  shipment_lines.c.shipment_id, shipment_lines.c.position, ShipmentLine)  # fmt: skip
    if f"{prefix}lines.batches" in selected:
        lines = [line for node in nodes for line in node.lines]
        shipped = await shipped_batches.shipped_by_line(conn, [uuid.UUID(x.id) for x in lines])
        for line in lines:
            line.batches = [_from_row(ShippedBatch, b) for b in shipped.get(uuid.UUID(line.id), [])]
    return nodes


def build_deliveries(rows: Sequence[Row]) -> list[BatchDelivery]:
    return [_from_row(BatchDelivery, r, outstanding_quantity=r.quantity - r.returned_quantity)
            for r in rows]  # fmt: skip


async def build_returns(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                        selected: set[str], prefix: str = "") -> list[SalesReturn]:  # fmt: skip
    nodes = [_from_row(SalesReturn, r) for r in rows]
    await _attach(conn, nodes, rows, selected, prefix, "lines", sales_return_lines,
                  sales_return_lines.c.return_id, sales_return_lines.c.position,
                  SalesReturnLine)  # fmt: skip
    return nodes


async def build_invoices(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                         selected: set[str], prefix: str = "") -> list[Invoice]:  # fmt: skip
    nodes = [_from_row(Invoice, r, open_amount=r.gross_total - r.paid_amount) for r in rows]
    for node in nodes:
        node.status = InvoiceStatus(node.status)
    await _attach(conn, nodes, rows, selected, prefix, "lines", invoice_lines,
                  invoice_lines.c.invoice_id, invoice_lines.c.position, BillingLine)  # fmt: skip
    await _attach(conn, nodes, rows, selected, prefix, "allocations", payment_allocations,
                  payment_allocations.c.invoice_id, payment_allocations.c.created_at,
                  Allocation)  # fmt: skip
    return nodes


async def build_credit_notes(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                             selected: set[str], prefix: str = "") -> list[CreditNote]:  # fmt: skip
    nodes = [_from_row(CreditNote, r, open_amount=r.gross_total - r.applied_amount) for r in rows]
    for node in nodes:
        node.status = CreditNoteStatus(node.status)
    await _attach(conn, nodes, rows, selected, prefix, "lines", credit_note_lines,
                  credit_note_lines.c.credit_note_id, credit_note_lines.c.position,
                  BillingLine)  # fmt: skip
    await _attach(conn, nodes, rows, selected, prefix, "allocations", payment_allocations,
                  payment_allocations.c.credit_note_id, payment_allocations.c.created_at,
                  Allocation)  # fmt: skip
    return nodes


async def build_payments(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                         selected: set[str], prefix: str = "") -> list[Payment]:  # fmt: skip
    nodes = [_from_row(Payment, r, unallocated_amount=r.amount - r.allocated_amount)
             for r in rows]  # fmt: skip
    for node in nodes:
        node.status = PaymentStatus(node.status)
    await _attach(conn, nodes, rows, selected, prefix, "allocations", payment_allocations,
                  payment_allocations.c.payment_id, payment_allocations.c.created_at,
                  Allocation)  # fmt: skip
    return nodes


async def build_receivables(conn: AsyncConnection, who: Scoped, rows: Sequence[Row],
                            selected: set[str], prefix: str = "") -> list[Receivable]:  # fmt: skip
    nodes = [_from_row(Receivable, r) for r in rows]
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    return nodes


def build_totals(rows: Sequence[Row]) -> list[ReceivableTotal]:
    return [_from_row(ReceivableTotal, r) for r in rows]
