"""Quote and sales order mutations: each one transaction, audited, with userErrors.

Permissions: quotes:write (create, change, send, reject, revise quotes), orders:write
(create and change draft orders; acceptQuote, which makes one, needs it as well as
quotes:write), orders:confirm (confirm, cancel and close orders: a manager's call, 审核).
A unit price typed in by hand needs prices:override (see app/orders/lines.py)."""

from __future__ import annotations

import strawberry

from app.api.context import Info, tenant_today
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, parse_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import Forbidden
from app.orders import quotes as quote_service
from app.orders import service
from app.orders.inputs import (
    AcceptQuoteInput,
    AcceptQuotePayload,
    CancelSalesOrderInput,
    CancelSalesOrderPayload,
    CloseSalesOrderInput,
    CloseSalesOrderPayload,
    ConfirmSalesOrderInput,
    ConfirmSalesOrderPayload,
    CreateQuoteInput,
    CreateQuotePayload,
    CreateSalesOrderInput,
    CreateSalesOrderPayload,
    DocumentLineInput,
    RejectQuoteInput,
    RejectQuotePayload,
    ReviseQuoteInput,
    ReviseQuotePayload,
    SendQuoteInput,
    SendQuotePayload,
    UpdateQuoteInput,
    UpdateQuotePayload,
    UpdateSalesOrderInput,
    UpdateSalesOrderPayload,
)
from app.orders.lines import OVERRIDE, LineInput
from app.orders.types import build_orders, build_quotes

ORDERS_WRITE = "orders:write"
ORDERS_CONFIRM = "orders:confirm"
QUOTES_WRITE = "quotes:write"
IDS = {"warehouse_id": ("warehouseId", "warehouse")}


def _lines(lines: list[DocumentLineInput] | None) -> list[LineInput] | None:
    """Lines as the service takes them; a malformed product id names no product (the
    service reports it on lines[i].productId)."""
    if lines is None or lines is strawberry.UNSET:
        return None
    return [
        LineInput(
            parse_uuid(line.product_id), line.quantity, line.unit_price, line.discount_percent
        )  # fmt: skip
        for line in lines
    ]


async def _order_mutation(info: Info, payload: type, change):
    async def write(conn) -> dict:
        row = await change(conn)
        (node,) = await build_orders(
            conn, info.context.principal, [row], selected_paths(info), "salesOrder.",
            today=tenant_today(info),
        )  # fmt: skip
        return {"sales_order": node}

    return await run_mutation(info, payload, write)


async def _quote_mutation(info: Info, payload: type, change):
    async def write(conn) -> dict:
        row = await change(conn)
        (node,) = await build_quotes(
            conn, info.context.principal, [row], selected_paths(info), "quote.",
            today=tenant_today(info),
        )  # fmt: skip
        return {"quote": node}

    return await run_mutation(info, payload, write)


def _who(info: Info) -> dict:
    return {"actor": info.context.actor, "who": info.context.principal}


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        extensions=requires(ORDERS_WRITE),
        description="A draft sales order, priced from the price lists (or by hand with "
        "prices:override). NOT_FOUND on customerId for a customer you cannot see.",
    )
    async def create_sales_order(
        self, info: Info, input: CreateSalesOrderInput
    ) -> CreateSalesOrderPayload:
        async def change(conn):
            return await service.create_sales_order(
                conn, **_who(info), order_id=optional_uuid(input.id, "id", "sales order"),
                customer_id=require_uuid(input.customer_id, "customerId", "customer"),
                warehouse_id=require_uuid(input.warehouse_id, "warehouseId", "warehouse"),
                lines=_lines(input.lines), today=tenant_today(info),
                may_override=info.context.principal.can(OVERRIDE), currency=input.currency,
                prices_include_tax=input.prices_include_tax, order_date=input.order_date,
                requested_date=input.requested_date, notes=input.notes,
            )  # fmt: skip

        return await _order_mutation(info, CreateSalesOrderPayload, change)

    @strawberry.mutation(
        extensions=requires(ORDERS_WRITE),
        description="Change a draft order; lines, when given, replace all its lines. "
        "NOT_EDITABLE once it is confirmed.",
    )
    async def update_sales_order(
        self, info: Info, input: UpdateSalesOrderInput
    ) -> UpdateSalesOrderPayload:
        async def change(conn):
            fields = provided(input, ("warehouse_id", "order_date", "requested_date", "notes"),
                              IDS)  # fmt: skip
            return await service.update_sales_order(
                conn, **_who(info), order_id=require_uuid(input.id, "id", "sales order"),
                version=input.version, fields=fields, lines=_lines(input.lines),
                today=tenant_today(info), may_override=info.context.principal.can(OVERRIDE),
            )  # fmt: skip

        return await _order_mutation(info, UpdateSalesOrderPayload, change)

    @strawberry.mutation(
        extensions=requires(ORDERS_CONFIRM),
        description="Confirm a draft (审核): checks the customer's credit limit and reserves "
        "every line's stock, all or nothing (CREDIT_LIMIT_EXCEEDED on creditLimit, "
        "INSUFFICIENT_STOCK on lines[i].quantity: the order stays a draft holding nothing).",
    )
    async def confirm_sales_order(
        self, info: Info, input: ConfirmSalesOrderInput
    ) -> ConfirmSalesOrderPayload:
        async def change(conn):
            return await service.confirm_sales_order(
                conn, **_who(info), order_id=require_uuid(input.id, "id", "sales order"),
                version=input.version, today=tenant_today(info),
            )  # fmt: skip

        return await _order_mutation(info, ConfirmSalesOrderPayload, change)

    @strawberry.mutation(
        extensions=requires(ORDERS_CONFIRM),
        description="Cancel a draft or confirmed order, releasing its reservations; "
        "refused once anything has shipped (close it instead).",
    )
    async def cancel_sales_order(
        self, info: Info, input: CancelSalesOrderInput
    ) -> CancelSalesOrderPayload:
        async def change(conn):
            return await service.cancel_sales_order(
                conn, **_who(info), order_id=require_uuid(input.id, "id", "sales order"),
                version=input.version, reason=input.reason,
            )  # fmt: skip

        return await _order_mutation(info, CancelSalesOrderPayload, change)

    @strawberry.mutation(
        extensions=requires(ORDERS_CONFIRM),
        description="Short-close a confirmed order: nothing more ships; what is still "
        "reserved is released.",
    )
    async def close_sales_order(
        self, info: Info, input: CloseSalesOrderInput
    ) -> CloseSalesOrderPayload:
        async def change(conn):
            return await service.close_sales_order(
                conn, **_who(info), order_id=require_uuid(input.id, "id", "sales order"),
                version=input.version,
            )  # fmt: skip

        return await _order_mutation(info, CloseSalesOrderPayload, change)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE),
        description="A draft quote (revision 1), priced like an order. NOT_FOUND on "
        "customerId for a customer you cannot see.",
    )
    async def create_quote(self, info: Info, input: CreateQuoteInput) -> CreateQuotePayload:
        async def change(conn):
            return await quote_service.create_quote(
                conn, **_who(info), quote_id=optional_uuid(input.id, "id", "quote"),
                customer_id=require_uuid(input.customer_id, "customerId", "customer"),
                lines=_lines(input.lines), today=tenant_today(info),
                may_override=info.context.principal.can(OVERRIDE), currency=input.currency,
                prices_include_tax=input.prices_include_tax, quote_date=input.quote_date,
                valid_until=input.valid_until, notes=input.notes,
            )  # fmt: skip

        return await _quote_mutation(info, CreateQuotePayload, change)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE),
        description="Change a draft quote; NOT_EDITABLE once sent (revise it instead).",
    )
    async def update_quote(self, info: Info, input: UpdateQuoteInput) -> UpdateQuotePayload:
        async def change(conn):
            return await quote_service.update_quote(
                conn, **_who(info), quote_id=require_uuid(input.id, "id", "quote"),
                version=input.version,
                fields=provided(input, ("quote_date", "valid_until", "notes")),
                lines=_lines(input.lines), today=tenant_today(info),
                may_override=info.context.principal.can(OVERRIDE),
            )  # fmt: skip

        return await _quote_mutation(info, UpdateQuotePayload, change)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE), description="Send a draft quote to the customer."
    )
    async def send_quote(self, info: Info, input: SendQuoteInput) -> SendQuotePayload:
        async def change(conn):
            return await quote_service.send_quote(
                conn, **_who(info), quote_id=require_uuid(input.id, "id", "quote"),
                version=input.version, today=tenant_today(info),
            )  # fmt: skip

        return await _quote_mutation(info, SendQuotePayload, change)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE), description="Record that the customer said no."
    )
    async def reject_quote(self, info: Info, input: RejectQuoteInput) -> RejectQuotePayload:
        async def change(conn):
            return await quote_service.reject_quote(
                conn, **_who(info), quote_id=require_uuid(input.id, "id", "quote"),
                version=input.version, today=tenant_today(info), reason=input.reason,
            )  # fmt: skip

        return await _quote_mutation(info, RejectQuotePayload, change)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE),
        description="Make the next version of a sent, expired or rejected quote: a draft "
        "with the same lines (revision + 1); the revised one becomes SUPERSEDED.",
    )
    async def revise_quote(self, info: Info, input: ReviseQuoteInput) -> ReviseQuotePayload:
        today = tenant_today(info)

        async def write(conn) -> dict:
            previous, row = await quote_service.revise_quote(
                conn, **_who(info), quote_id=require_uuid(input.id, "id", "quote"),
                version=input.version, today=today,
                new_id_=optional_uuid(input.new_id, "newId", "quote"),
                valid_until=input.valid_until,
            )  # fmt: skip
            selected = selected_paths(info)
            principal = info.context.principal
            (node,) = await build_quotes(conn, principal, [row], selected, "quote.", today=today)
            (old,) = await build_quotes(
                conn, principal, [previous], selected, "previous.", today=today
            )
            return {"quote": node, "previous": old}

        return await run_mutation(info, ReviseQuotePayload, write)

    @strawberry.mutation(
        extensions=requires(QUOTES_WRITE),
        description="Accept a sent quote: it becomes ACCEPTED and a draft sales order with "
        "the same lines is made, once (a second accept is INVALID_TRANSITION; so is an "
        "expired quote). Needs orders:write too.",
    )
    async def accept_quote(self, info: Info, input: AcceptQuoteInput) -> AcceptQuotePayload:
        if not info.context.principal.can(ORDERS_WRITE):
            raise Forbidden(f"accepting a quote makes a sales order: it needs {ORDERS_WRITE}")
        today = tenant_today(info)

        async def write(conn) -> dict:
            quote, order = await quote_service.accept_quote(
                conn, **_who(info), quote_id=require_uuid(input.id, "id", "quote"),
                version=input.version,
                warehouse_id=require_uuid(input.warehouse_id, "warehouseId", "warehouse"),
                today=today, order_id=optional_uuid(input.order_id, "orderId", "sales order"),
                order_date=input.order_date, requested_date=input.requested_date,
            )  # fmt: skip
            selected = selected_paths(info)
            principal = info.context.principal
            (node,) = await build_quotes(conn, principal, [quote], selected, "quote.", today=today)
            (made,) = await build_orders(
                conn, principal, [order], selected, "salesOrder.", today=today
            )
            return {"quote": node, "sales_order": made}

        return await run_mutation(info, AcceptQuotePayload, write)
