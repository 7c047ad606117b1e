"""Mutations: createShipment, createSalesReturn (shipments:write); createInvoice,
voidInvoice (invoices:write); recordPayment, allocatePayment, allocateCreditNote
(payments:write). Each one transaction, audited, with userErrors naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from app.api.context import Info, tenant_today
from app.api.errors import UserErrorType, run_mutation
from app.api.ids import optional_uuid, parse_uuid, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.billing import invoices as invoice_service
from app.billing import payments as payment_service
from app.billing import returns as return_service
from app.billing import shipments as shipment_service
from app.billing.tables import credit_notes as credit_notes_table
from app.billing.types import (
    CreditNote,
    Invoice,
    Payment,
    SalesReturn,
    Shipment,
    build_credit_notes,
    build_invoices,
    build_payments,
    build_returns,
    build_shipments,
)

SHIPMENTS_WRITE = "shipments:write"
INVOICES_WRITE = "invoices:write"
PAYMENTS_WRITE = "payments:write"


@strawberry.input
class DocumentQuantityInput:
    order_line_id: strawberry.ID
    quantity: Decimal
    batch_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Ship or take back this batch (shipping: default first expiring; "
        "returning: default the one batch the line still has out).",
    )


@strawberry.input
class CreateShipmentInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="For safe retries.")
    order_id: strawberry.ID
    lines: list[DocumentQuantityInput]
    shipment_date: dt.date | None = None
    notes: str | None = None


@strawberry.type
class CreateShipmentPayload:
    shipment: Shipment | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class CreateSalesReturnInput:
    id: strawberry.ID | None = None
    order_id: strawberry.ID
    lines: list[DocumentQuantityInput]
    warehouse_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where the goods go back (default: the order's warehouse)."
    )
    return_date: dt.date | None = None
    reason: str | None = None


@strawberry.type
class CreateSalesReturnPayload:
    sales_return: SalesReturn | None = None
    credit_note: CreditNote | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class InvoiceLineInput:
    order_line_id: strawberry.ID
    quantity: Decimal


@strawberry.input
class CreateInvoiceInput:
    id: strawberry.ID | None = None
    order_id: strawberry.ID
    lines: list[InvoiceLineInput] | None = strawberry.field(
        default=None, description="Omitted: everything shipped and not yet invoiced."
    )
    invoice_date: dt.date | None = None
    due_date: dt.date | None = strawberry.field(
        default=None, description="Default: invoiceDate + 30 days."
    )
    notes: str | None = None


@strawberry.type
class CreateInvoicePayload:
    invoice: Invoice | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class VoidInvoiceInput:
    id: strawberry.ID
    version: int | None = None
    reason: str | None = None


@strawberry.type
class VoidInvoicePayload:
    invoice: Invoice | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class AllocationInput:
    invoice_id: strawberry.ID
    amount: Decimal


@strawberry.input
class RecordPaymentInput:
    id: strawberry.ID | None = None
    customer_id: strawberry.ID
    currency: str
    amount: Decimal
    received_on: dt.date | None = None
    method: str | None = None
    reference: str | None = None
    allocations: list[AllocationInput] = strawberry.field(default_factory=list)


@strawberry.type
class RecordPaymentPayload:
    payment: Payment | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class AllocatePaymentInput:
    payment_id: strawberry.ID
    allocations: list[AllocationInput]


@strawberry.type
class AllocatePaymentPayload:
    payment: Payment | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class AllocateCreditNoteInput:
    credit_note_id: strawberry.ID
    allocations: list[AllocationInput]


@strawberry.type
class AllocateCreditNotePayload:
    credit_note: CreditNote | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


def _batch(line, i: int):
    return optional_uuid(line.batch_id, f"lines[{i}].batchId", "batch")


def _allocations(given) -> list[payment_service.AllocationInput]:
    return [payment_service.AllocationInput(parse_uuid(a.invoice_id), a.amount) for a in given]


def _who(info: Info) -> dict:
    return {"actor": info.context.actor, "who": info.context.principal}


async def _one(conn, info, build, row, name: str):
    (node,) = await build(conn, info.context.principal, [row], selected_paths(info), f"{name}.")
    return node


@strawberry.type
class BillingMutations:
    @strawberry.mutation(extensions=requires(SHIPMENTS_WRITE),
                         description="Ship reserved stock of a confirmed order (partial "
                         "allowed). OVER_SHIPMENT / INSUFFICIENT_RESERVATION on "
                         "lines[i].quantity.")  # fmt: skip
    async def create_shipment(
        self, info: Info, input: CreateShipmentInput
    ) -> CreateShipmentPayload:
        async def write(conn):
            lines = [shipment_service.ShipmentLineInput(parse_uuid(x.order_line_id), x.quantity,
                                                        _batch(x, i))
                     for i, x in enumerate(input.lines)]  # fmt: skip
            row = await shipment_service.create_shipment(
                conn, **_who(info), shipment_id=optional_uuid(input.id, "id", "shipment"),
                order_id=require_uuid(input.order_id, "orderId", "sales order"), lines=lines,
                shipment_date=input.shipment_date or tenant_today(info), notes=input.notes,
                today=tenant_today(info),
            )  # fmt: skip
            return {"shipment": await _one(conn, info, build_shipments, row, "shipment")}

        return await run_mutation(info, CreateShipmentPayload, write)

    @strawberry.mutation(extensions=requires(SHIPMENTS_WRITE),
                         description="Take goods back against shipped lines; returned goods "
                         "that had been invoiced are credited (creditNote). A batch-tracked "
                         "line goes back into a batch it shipped, one return line per batch "
                         "(BATCH_NOT_SHIPPED / BATCH_REQUIRED on lines[i].batchId).")  # fmt: skip
    async def create_sales_return(self, info: Info,
                                  input: CreateSalesReturnInput) -> CreateSalesReturnPayload:  # fmt: skip
        async def write(conn):
            lines = [return_service.ReturnLineInput(parse_uuid(x.order_line_id), x.quantity,
                                                    _batch(x, i))
                     for i, x in enumerate(input.lines)]  # fmt: skip
            row = await return_service.create_sales_return(
                conn, **_who(info), return_id=optional_uuid(input.id, "id", "sales return"),
                order_id=require_uuid(input.order_id, "orderId", "sales order"), lines=lines,
                return_date=input.return_date or tenant_today(info),
                warehouse_id=optional_uuid(input.warehouse_id, "warehouseId", "warehouse"),
                reason=input.reason,
            )  # fmt: skip
            credit = None
            if row.credit_note_id is not None and info.context.principal.can("invoices:read"):
                from sqlalchemy import select

                found = (await conn.execute(select(credit_notes_table).where(
                    credit_notes_table.c.id == row.credit_note_id))).one()  # fmt: skip
                credit = await _one(conn, info, build_credit_notes, found, "creditNote")
            return {"sales_return": await _one(conn, info, build_returns, row, "salesReturn"),
                    "credit_note": credit}  # fmt: skip

        return await run_mutation(info, CreateSalesReturnPayload, write)

    @strawberry.mutation(extensions=requires(INVOICES_WRITE),
                         description="Invoice shipped, not yet invoiced quantities of one "
                         "order (OVER_INVOICING on lines[i].quantity).")  # fmt: skip
    async def create_invoice(self, info: Info, input: CreateInvoiceInput) -> CreateInvoicePayload:
        async def write(conn):
            lines = None
            if input.lines is not None:
                lines = [invoice_service.InvoiceLineInput(parse_uuid(x.order_line_id), x.quantity)
                         for x in input.lines]  # fmt: skip
            row = await invoice_service.create_invoice(
                conn, **_who(info), invoice_id=optional_uuid(input.id, "id", "invoice"),
                order_id=require_uuid(input.order_id, "orderId", "sales order"), lines=lines,
                invoice_date=input.invoice_date or tenant_today(info), due_date=input.due_date,
                notes=input.notes,
            )  # fmt: skip
            return {"invoice": await _one(conn, info, build_invoices, row, "invoice")}

        return await run_mutation(info, CreateInvoicePayload, write)

    @strawberry.mutation(extensions=requires(INVOICES_WRITE),
                         description="Void an issued invoice nothing is allocated to; its "
                         "quantities can be invoiced again.")  # fmt: skip
    async def void_invoice(self, info: Info, input: VoidInvoiceInput) -> VoidInvoicePayload:
        async def write(conn):
            row = await invoice_service.void_invoice(
                conn, **_who(info), invoice_id=require_uuid(input.id, "id", "invoice"),
                version=input.version, reason=input.reason,
            )  # fmt: skip
            return {"invoice": await _one(conn, info, build_invoices, row, "invoice")}

        return await run_mutation(info, VoidInvoicePayload, write)

    @strawberry.mutation(extensions=requires(PAYMENTS_WRITE),
                         description="Record money received, optionally allocated to open "
                         "invoices; the rest stays as the customer's credit.")  # fmt: skip
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentPayload:
        async def write(conn):
            row = await payment_service.record_payment(
                conn, **_who(info), payment_id=optional_uuid(input.id, "id", "payment"),
                customer_id=require_uuid(input.customer_id, "customerId", "customer"),
                currency=input.currency, amount=input.amount,
                received_on=input.received_on or tenant_today(info), method=input.method,
                reference=input.reference, allocations=_allocations(input.allocations),
            )  # fmt: skip
            return {"payment": await _one(conn, info, build_payments, row, "payment")}

        return await run_mutation(info, RecordPaymentPayload, write)

    @strawberry.mutation(extensions=requires(PAYMENTS_WRITE),
                         description="Allocate what is left of a payment to open invoices "
                         "(OVER_ALLOCATION on allocations[i].amount).")  # fmt: skip
    async def allocate_payment(self, info: Info,
                               input: AllocatePaymentInput) -> AllocatePaymentPayload:  # fmt: skip
        async def write(conn):
            row = await payment_service.allocate(
                conn, **_who(info),
                source=payment_service.Source(
                    "payment", require_uuid(input.payment_id, "paymentId", "payment")),
                allocations=_allocations(input.allocations), on=tenant_today(info),
            )  # fmt: skip
            return {"payment": await _one(conn, info, build_payments, row, "payment")}

        return await run_mutation(info, AllocatePaymentPayload, write)

    @strawberry.mutation(extensions=requires(PAYMENTS_WRITE),
                         description="Apply what is left of a credit note to open invoices, "
                         "like a payment.")  # fmt: skip
    async def allocate_credit_note(self, info: Info,
                                   input: AllocateCreditNoteInput) -> AllocateCreditNotePayload:  # fmt: skip
        async def write(conn):
            row = await payment_service.allocate(
                conn, **_who(info),
                source=payment_service.Source(
                    "credit_note",
                    require_uuid(input.credit_note_id, "creditNoteId", "credit note")),
                allocations=_allocations(input.allocations), on=tenant_today(info),
            )  # fmt: skip
            return {"credit_note": await _one(conn, info, build_credit_notes, row, "creditNote")}

        return await run_mutation(info, AllocateCreditNotePayload, write)
