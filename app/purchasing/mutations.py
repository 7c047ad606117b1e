"""Purchasing mutations: each one transaction, audited, with userErrors naming the field
(`lines[1].quantity`). Suppliers and orders need purchasing:write; receiving goods
purchasing:receive. Typing unit costs (an order's lines), or changing the currency or
the tax basis of a draft, also needs purchasing:read_cost, the permission to read them
back: FORBIDDEN on `lines[i].unitCost`, `currency`, `pricesIncludeTax` otherwise."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info, tenant_today
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, parse_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.purchasing import receipts, service
from app.purchasing.inputs import (
    CancelPurchaseOrderInput,
    CancelPurchaseOrderPayload,
    ClosePurchaseOrderInput,
    ClosePurchaseOrderPayload,
    CreatePurchaseOrderInput,
    CreatePurchaseOrderPayload,
    CreateSupplierInput,
    CreateSupplierPayload,
    PurchaseOrderLineInput,
    ReceivePurchaseOrderInput,
    ReceivePurchaseOrderPayload,
    SendPurchaseOrderInput,
    SendPurchaseOrderPayload,
    UpdatePurchaseOrderInput,
    UpdatePurchaseOrderPayload,
    UpdateSupplierInput,
    UpdateSupplierPayload,
)
from app.purchasing.queries import get_order
from app.purchasing.rules import READ_COST, OrderLine, ReceiptLine
from app.purchasing.types import build_orders, build_receipts, build_suppliers

WRITE = requires("purchasing:write")
RECEIVE = requires("purchasing:receive")
IDS = {
    "supplier_id": ("supplierId", "supplier"),
    "warehouse_id": ("warehouseId", "warehouse"),
}


def _lines(lines: list[PurchaseOrderLineInput]) -> list[OrderLine]:
    return [OrderLine(parse_uuid(x.product_id), x.quantity, x.unit_cost, x.tax_rate)
            for x in lines]  # fmt: skip


async def _one(info: Info, payload: type, key: str, build, change) -> Any:
    async def write(conn: AsyncConnection) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build(conn, info.context.principal, [row], selected_paths(info), f"{key}.")
        return {"purchase_order" if key == "purchaseOrder" else key: node}

    return await run_mutation(info, payload, write)


@strawberry.type
class PurchasingMutations:
    @strawberry.mutation(extensions=WRITE, description="A new supplier (供应商).")
    async def create_supplier(
        self, info: Info, input: CreateSupplierInput
    ) -> CreateSupplierPayload:
        async def change(conn, actor):
            return await service.create_supplier(
                conn, actor=actor, supplier_id=optional_uuid(input.id, "id", "supplier"),
                fields=provided(input, service.SUPPLIER_FIELDS, {}),
            )  # fmt: skip

        return await _one(info, CreateSupplierPayload, "supplier", build_suppliers, change)

    @strawberry.mutation(
        extensions=WRITE, description="Change a supplier; active: false retires it."
    )
    async def update_supplier(
        self, info: Info, input: UpdateSupplierInput
    ) -> UpdateSupplierPayload:
        async def change(conn, actor):
            return await service.update_supplier(
                conn, actor=actor, supplier_id=require_uuid(input.id, "id", "supplier"),
                version=input.version, fields=provided(input, service.SUPPLIER_FIELDS, {}),
            )  # fmt: skip

        return await _one(info, UpdateSupplierPayload, "supplier", build_suppliers, change)

    @strawberry.mutation(
        extensions=WRITE,
        description="A DRAFT purchase order (PO-2026-000001) with its lines; amounts are "
        "computed per line (rounded to 2 places) and summed.",
    )
    async def create_purchase_order(
        self, info: Info, input: CreatePurchaseOrderInput
    ) -> CreatePurchaseOrderPayload:
        async def change(conn, actor):
            fields = provided(input, service.ORDER_FIELDS, IDS)
            return await service.create_purchase_order(
                conn, actor=actor, order_id=optional_uuid(input.id, "id", "purchase order"),
                fields=fields, lines=_lines(input.lines), today=tenant_today(info),
                may_set_costs=info.context.principal.can(READ_COST),
            )  # fmt: skip

        return await _one(info, CreatePurchaseOrderPayload, "purchaseOrder", build_orders, change)

    @strawberry.mutation(
        extensions=WRITE,
        description="Change a DRAFT purchase order (lines, when given, replace all of them); "
        "anything else is refused with INVALID_TRANSITION.",
    )
    async def update_purchase_order(
        self, info: Info, input: UpdatePurchaseOrderInput
    ) -> UpdatePurchaseOrderPayload:
        async def change(conn, actor):
            lines = None if input.lines in (None, strawberry.UNSET) else _lines(input.lines)
            return await service.update_purchase_order(
                conn, actor=actor, order_id=require_uuid(input.id, "id", "purchase order"),
                version=input.version, fields=provided(input, service.ORDER_FIELDS, IDS),
                lines=lines, may_set_costs=info.context.principal.can(READ_COST),
            )  # fmt: skip

        return await _one(info, UpdatePurchaseOrderPayload, "purchaseOrder", build_orders, change)

    @strawberry.mutation(extensions=WRITE, description="DRAFT -> SENT: the order goes out.")
    async def send_purchase_order(
        self, info: Info, input: SendPurchaseOrderInput
    ) -> SendPurchaseOrderPayload:
        async def change(conn, actor):
            return await service.send_purchase_order(
                conn, actor=actor, order_id=require_uuid(input.id, "id", "purchase order"),
                version=input.version,
            )  # fmt: skip

        return await _one(info, SendPurchaseOrderPayload, "purchaseOrder", build_orders, change)

    @strawberry.mutation(
        extensions=WRITE,
        description="DRAFT or SENT -> CANCELLED; refused once anything was received.",
    )
    async def cancel_purchase_order(
        self, info: Info, input: CancelPurchaseOrderInput
    ) -> CancelPurchaseOrderPayload:
        async def change(conn, actor):
            return await service.cancel_purchase_order(
                conn, actor=actor, order_id=require_uuid(input.id, "id", "purchase order"),
                version=input.version, reason=input.reason,
            )  # fmt: skip

        return await _one(info, CancelPurchaseOrderPayload, "purchaseOrder", build_orders, change)

    @strawberry.mutation(
        extensions=WRITE,
        description="PARTIALLY_RECEIVED -> CLOSED (结案): the rest will never come. What was "
        "received stays; the remainder is no longer on order and nothing more can be "
        "received. A SENT order with nothing received is cancelled instead.",
    )
    async def close_purchase_order(
        self, info: Info, input: ClosePurchaseOrderInput
    ) -> ClosePurchaseOrderPayload:
        async def change(conn, actor):
            return await service.close_purchase_order(
                conn, actor=actor, order_id=require_uuid(input.id, "id", "purchase order"),
                version=input.version, reason=input.reason,
            )  # fmt: skip

        return await _one(info, ClosePurchaseOrderPayload, "purchaseOrder", build_orders, change)

    @strawberry.mutation(
        extensions=RECEIVE,
        description="Receive goods against a SENT or PARTIALLY_RECEIVED order (a goods "
        "receipt, GR-2026-000001): posts the stock into the order's warehouse (batches for "
        "batch-tracked products) and moves the order to PARTIALLY_RECEIVED or RECEIVED, "
        "all or nothing. Never more than ordered minus received (OVER_RECEIPT).",
    )
    async def receive_purchase_order(
        self, info: Info, input: ReceivePurchaseOrderInput
    ) -> ReceivePurchaseOrderPayload:
        selected = selected_paths(info)
        who = info.context.principal

        async def write(conn: AsyncConnection) -> dict:
            lines = [
                ReceiptLine(
                    order_line_id=x.order_line_id,
                    quantity=x.quantity,
                    batch_id=x.batch_id,
                    batch_code=x.batch_code,
                    expires_on=x.expires_on,
                    produced_on=x.produced_on,
                )  # fmt: skip
                for x in input.lines
            ]
            receipt, replayed = await receipts.receive_purchase_order(
                conn, actor=info.context.actor,
                receipt_id=optional_uuid(input.id, "id", "goods receipt"),
                order_id=parse_uuid(input.order_id), lines=lines,
                received_on=input.received_on, note=input.note, today=tenant_today(info),
            )  # fmt: skip
            (node,) = await build_receipts(conn, who, [receipt], selected, "receipt.")
            order = None
            if "purchaseOrder" in selected:
                row = await get_order(conn, who, receipt.order_id)
                (order,) = await build_orders(conn, who, [row], selected, "purchaseOrder.")
            return {"receipt": node, "purchase_order": order, "replayed": replayed}

        return await run_mutation(info, ReceivePurchaseOrderPayload, write)
