"""Queries: shipment(s), salesReturn(s), batchDeliveries (a recall), invoice(s),
creditNote(s), payment(s) and receivables. Lists are connections whose filters and
sorts are all indexed (migrations 0018, 0023, 0025); a list costs one statement for the
page (one more for totalCount, one more for receivables' totals) and one per kind of
child selected. A document is visible exactly when its customer is."""

from __future__ import annotations

import datetime as dt
import enum
from functools import partial

import strawberry
from sqlalchemy import false, select

from app.api.context import Info, tenant_today
from app.api.filters import (
    DateFilter,
    DocumentNumberFilter,
    EnumFilter,
    IdFilter,
    all_of,
    day_condition,
    enum_condition,
    id_condition,
    number_condition,
)
from app.api.ids import parse_uuid
from app.api.nodes import visible_node
from app.api.pagination import Connection, SortDirection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.billing import batches as shipped_batches
from app.billing import receivables as receivables_service
from app.billing.tables import (
    credit_notes,
    invoices,
    payments,
    sales_returns,
    shipment_line_batches,
    shipments,
)
from app.billing.types import (
    BatchDelivery,
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ReceivableConnection,
    SalesReturn,
    Shipment,
    build_credit_notes,
    build_deliveries,
    build_invoices,
    build_payments,
    build_receivables,
    build_returns,
    build_shipments,
    build_totals,
)
from app.customers.queries import customer_visible

SHIPMENTS_READ = "shipments:read"
INVOICES_READ = "invoices:read"
RECEIVABLES_READ = "receivables:read"


def _getter(table):
    async def get(conn, who, row_id):
        query = select(table).where(table.c.id == row_id,
                                    customer_visible(table.c.customer_id, who))  # fmt: skip
        return (await conn.execute(query)).first()

    return get


async def _list(info: Info, table, condition, order: list, date_column: str, build, window):
    principal = info.context.principal
    query = select(table).where(customer_visible(table.c.customer_id, principal), condition)
    if order:
        keys = [SortKey(table.c[o.field.value], o.direction is SortDirection.DESC) for o in order]
        if order[-1].field.value != "number":
            keys.append(SortKey(table.c.id, keys[-1].descending))
    else:
        keys = [SortKey(table.c[date_column], True), SortKey(table.c.id, True)]
    async with info.context.db.read() as conn:
        return await page_of(conn, query, keys, selected_paths(info),
                             partial(build, conn, principal), **window)  # fmt: skip


@strawberry.input
class ShipmentFilter:
    customer_id: IdFilter | None = None
    order_id: IdFilter | None = None
    shipment_date: DateFilter | None = None
    number: DocumentNumberFilter | None = None


@strawberry.enum
class ShipmentOrderField(enum.Enum):
    SHIPMENT_DATE = "shipment_date"
    NUMBER = "number"


@strawberry.input
class ShipmentOrder:
    field: ShipmentOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class SalesReturnFilter:
    customer_id: IdFilter | None = None
    order_id: IdFilter | None = None
    return_date: DateFilter | None = None
    number: DocumentNumberFilter | None = None


@strawberry.enum
class SalesReturnOrderField(enum.Enum):
    RETURN_DATE = "return_date"
    NUMBER = "number"


@strawberry.input
class SalesReturnOrder:
    field: SalesReturnOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class InvoiceFilter:
    customer_id: IdFilter | None = None
    order_id: IdFilter | None = None
    status: EnumFilter[InvoiceStatus] | None = None
    invoice_date: DateFilter | None = None
    due_date: DateFilter | None = None
    number: DocumentNumberFilter | None = None


@strawberry.enum
class InvoiceOrderField(enum.Enum):
    INVOICE_DATE = "invoice_date"
    DUE_DATE = "due_date"
    NUMBER = "number"
    GROSS_TOTAL = "gross_total"


@strawberry.input
class InvoiceOrder:
    field: InvoiceOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class CreditNoteFilter:
    customer_id: IdFilter | None = None
    order_id: IdFilter | None = None
    status: EnumFilter[CreditNoteStatus] | None = None
    credit_date: DateFilter | None = None
    number: DocumentNumberFilter | None = None


@strawberry.enum
class CreditNoteOrderField(enum.Enum):
    CREDIT_DATE = "credit_date"
    NUMBER = "number"


@strawberry.input
class CreditNoteOrder:
    field: CreditNoteOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class PaymentFilter:
    customer_id: IdFilter | None = None
    status: EnumFilter[PaymentStatus] | None = None
    received_on: DateFilter | None = None
    number: DocumentNumberFilter | None = None


@strawberry.enum
class PaymentOrderField(enum.Enum):
    RECEIVED_ON = "received_on"
    NUMBER = "number"
    AMOUNT = "amount"


@strawberry.input
class PaymentOrder:
    field: PaymentOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class ReceivableFilter:
    customer_id: IdFilter | None = None
    currency: str | None = None


def _receivable_condition(f: ReceivableFilter | None):
    f = f or ReceivableFilter()
    currency = f.currency.strip().upper() if f.currency else None
    return all_of([id_condition(invoices.c.customer_id, f.customer_id, "customerId"),
                   invoices.c.currency == currency if currency else None])  # fmt: skip


def _common(c, f, date_name: str):
    return [
        id_condition(c.customer_id, f.customer_id, "customerId"),
        id_condition(c.order_id, getattr(f, "order_id", None), "orderId") if "order_id" in c
        else None,
        enum_condition(c.status, getattr(f, "status", None)) if "status" in c else None,
        day_condition(c[date_name], getattr(f, date_name)),
        number_condition(c.number, f.number),
    ]  # fmt: skip


@strawberry.type
class BillingQueries:
    @strawberry.field(extensions=requires(SHIPMENTS_READ),
                      description="A shipment; null if missing or its customer is outside "
                      "your data scope.")  # fmt: skip
    async def shipment(self, info: Info, id: strawberry.ID) -> Shipment | None:
        return await visible_node(info, id, _getter(shipments), build_shipments)

    @strawberry.field(extensions=requires(SHIPMENTS_READ),
                      description="Shipments; newest first unless ordered.")  # fmt: skip
    async def shipments(
        self, info: Info, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None,
        filter: ShipmentFilter | None = None, order_by: list[ShipmentOrder] | None = None,
    ) -> Connection[Shipment]:  # fmt: skip
        f = filter or ShipmentFilter()
        return await _list(info, shipments, all_of(_common(shipments.c, f, "shipment_date")),
                           order_by or [], "shipment_date", build_shipments,
                           {"first": first, "after": after, "last": last, "before": before})  # fmt: skip

    @strawberry.field(extensions=requires(SHIPMENTS_READ),
                      description="A recall (批次追溯): every shipment line that took goods of "
                      "this batch, newest shipment first, with what came back; only deliveries "
                      "to customers in your data scope. Empty for a missing batch.")  # fmt: skip
    async def batch_deliveries(
        self, info: Info, batch_id: strawberry.ID, first: int | None = None,
        after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[BatchDelivery]:  # fmt: skip
        parsed = parse_uuid(batch_id)
        query = shipped_batches.deliveries_query(info.context.principal, parsed)
        if parsed is None:
            query = query.where(false())
        keys = [SortKey(shipment_line_batches.c.shipment_date, True),
                SortKey(shipment_line_batches.c.id, True)]  # fmt: skip

        async def build(rows, _selected, _prefix):
            return build_deliveries(rows)

        async with info.context.db.read() as conn:
            return await page_of(conn, query, keys, selected_paths(info), build, first=first,
                                 after=after, last=last, before=before)  # fmt: skip

    @strawberry.field(extensions=requires(SHIPMENTS_READ),
                      description="A sales return; null if missing or not visible.")  # fmt: skip
    async def sales_return(self, info: Info, id: strawberry.ID) -> SalesReturn | None:
        return await visible_node(info, id, _getter(sales_returns), build_returns)

    @strawberry.field(extensions=requires(SHIPMENTS_READ),
                      description="Sales returns; newest first unless ordered.")  # fmt: skip
    async def sales_returns(
        self, info: Info, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None,
        filter: SalesReturnFilter | None = None, order_by: list[SalesReturnOrder] | None = None,
    ) -> Connection[SalesReturn]:  # fmt: skip
        f = filter or SalesReturnFilter()
        return await _list(info, sales_returns,
                           all_of(_common(sales_returns.c, f, "return_date")), order_by or [],
                           "return_date", build_returns,
                           {"first": first, "after": after, "last": last, "before": before})  # fmt: skip

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="An invoice; null if missing or not visible.")  # fmt: skip
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        return await visible_node(info, id, _getter(invoices), build_invoices)

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="Invoices; newest first unless ordered.")  # fmt: skip
    async def invoices(
        self, info: Info, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None,
        filter: InvoiceFilter | None = None, order_by: list[InvoiceOrder] | None = None,
    ) -> Connection[Invoice]:  # fmt: skip
        f = filter or InvoiceFilter()
        condition = all_of([*_common(invoices.c, f, "invoice_date"),
                            day_condition(invoices.c.due_date, f.due_date)])  # fmt: skip
        return await _list(info, invoices, condition, order_by or [], "invoice_date",
                           build_invoices,
                           {"first": first, "after": after, "last": last, "before": before})  # fmt: skip

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="A credit note; null if missing or not visible.")  # fmt: skip
    async def credit_note(self, info: Info, id: strawberry.ID) -> CreditNote | None:
        return await visible_node(info, id, _getter(credit_notes), build_credit_notes)

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="Credit notes; newest first unless ordered.")  # fmt: skip
    async def credit_notes(
        self, info: Info, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None,
        filter: CreditNoteFilter | None = None, order_by: list[CreditNoteOrder] | None = None,
    ) -> Connection[CreditNote]:  # fmt: skip
        f = filter or CreditNoteFilter()
        return await _list(info, credit_notes,
                           all_of(_common(credit_notes.c, f, "credit_date")), order_by or [],
                           "credit_date", build_credit_notes,
                           {"first": first, "after": after, "last": last, "before": before})  # fmt: skip

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="A payment; null if missing or not visible.")  # fmt: skip
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        return await visible_node(info, id, _getter(payments), build_payments)

    @strawberry.field(extensions=requires(INVOICES_READ),
                      description="Payments received; newest first unless ordered.")  # fmt: skip
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None,
        filter: PaymentFilter | None = None, order_by: list[PaymentOrder] | None = None,
    ) -> Connection[Payment]:  # fmt: skip
        f = filter or PaymentFilter()
        return await _list(info, payments, all_of(_common(payments.c, f, "received_on")),
                           order_by or [], "received_on", build_payments,
                           {"first": first, "after": after, "last": last, "before": before})  # fmt: skip

    @strawberry.field(extensions=requires(RECEIVABLES_READ),
                      description="Open receivables (应收账款) per customer and currency as of "
                      "a day (default today), aged by days past due: current, 1-30, 31-60, "
                      "61-90, over 90. Ordered by customer name, then customer id, then "
                      "currency; `totals` sums every row per currency. Breaking change "
                      "(2026-11): this was a plain list of every row; it is now a connection "
                      "with a page cap, so read `edges { node }` and page with first/after.")  # fmt: skip
    async def receivables(
        self, info: Info, as_of: dt.date | None = None, filter: ReceivableFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None,
        before: str | None = None,
    ) -> ReceivableConnection:  # fmt: skip
        principal, selected = info.context.principal, selected_paths(info)
        day, condition = as_of or tenant_today(info), _receivable_condition(filter)
        query = receivables_service.receivables_query(principal, day, condition)
        keys = [SortKey(column) for column in receivables_service.sort_keys(query)]
        async with info.context.db.read() as conn:
            page = await page_of(conn, query, keys, selected,
                                 partial(build_receivables, conn, principal), first=first,
                                 after=after, last=last, before=before)  # fmt: skip
            totals = []
            if "totals" in selected:
                statement = receivables_service.totals_query(principal, day, condition)
                totals = build_totals(list(await conn.execute(statement)))
        return ReceivableConnection(edges=page.edges, page_info=page.page_info,
                                    total_count=page.total_count, totals=totals)  # fmt: skip
