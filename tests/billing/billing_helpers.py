"""What the billing and shipping tests share (importable as `billing_helpers`): the
published operations, and confirmed orders made through the API (order_helpers)."""

from __future__ import annotations

import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from order_helpers import (  # noqa: E402
    ERRORS,
    Goods,
    create_order,
    dec,
    goods,
    ok,
    operation,
    order_action,
    payload,
    today,
    user_token,
)
from sqlalchemy import func, select  # noqa: E402

from app.db import tenant_transaction  # noqa: E402

__all__ = ["ERRORS", "Goods", "dec", "goods", "ok", "payload", "today", "user_token"]

CREATE_SHIPMENT = operation("createShipment")
CREATE_INVOICE = operation("createInvoice")
VOID_INVOICE = operation("voidInvoice")
RECORD_PAYMENT = operation("recordPayment")
ALLOCATE_PAYMENT = operation("allocatePayment")
CREATE_RETURN = operation("createSalesReturn")
LIST_INVOICES = operation("invoices")
RECEIVABLES = operation("receivables")
ORDER = """query($id: ID!) { salesOrder(id: $id) { status fulfilmentStatus invoiceStatus
  paymentStatus lines { id quantity shippedQuantity returnedQuantity invoicedQuantity } } }"""


async def confirmed_order(api, tenant, g: Goods, quantities: list[str], token: str | None = None,
                          **fields: Any) -> dict:  # fmt: skip
    """A confirmed order of `quantities` (one line per product of `g`), with its lines."""
    token = token or tenant.tokens["admin"]
    lines = [{"productId": p, "quantity": q} for p, q in zip(g.products, quantities, strict=False)]
    order = await create_order(api, token, g, lines, **fields)
    result = await order_action(api, tenant.tokens["admin"], "confirm", order["id"])
    assert result["userErrors"] == [], result
    return await order_view(api, tenant.tokens["admin"], order["id"]) | {"id": order["id"]}


async def order_view(api, token: str, order_id: str) -> dict:
    return (await api.gql(ORDER, {"id": order_id}, token=token))["salesOrder"]


def progress(order: dict) -> tuple[str, str, str]:
    return (order["fulfilmentStatus"], order["invoiceStatus"], order["paymentStatus"])


async def ship(api, token: str, order_id: str, lines: list[tuple[str, str]], **fields) -> dict:
    return await payload(api, CREATE_SHIPMENT, "createShipment", {
        "orderId": order_id, "lines": [{"orderLineId": i, "quantity": q} for i, q in lines],
        **fields}, token)  # fmt: skip


async def invoice(api, token: str, order_id: str, lines: list[tuple[str, str]] | None = None,
                  **fields) -> dict:  # fmt: skip
    values: dict = {"orderId": order_id, **fields}
    if lines is not None:
        values["lines"] = [{"orderLineId": i, "quantity": q} for i, q in lines]
    return await payload(api, CREATE_INVOICE, "createInvoice", values, token)


async def pay(api, token: str, customer: str, amount: str, allocations: list[tuple[str, str]],
              currency: str = "CNY", **fields) -> dict:  # fmt: skip
    return await payload(api, RECORD_PAYMENT, "recordPayment", {
        "customerId": customer, "currency": currency, "amount": amount,
        "allocations": [{"invoiceId": i, "amount": a} for i, a in allocations], **fields,
    }, token)  # fmt: skip


async def give_back(api, token: str, order_id: str, lines: list[tuple[str, str]], **fields):
    return await payload(api, CREATE_RETURN, "createSalesReturn", {
        "orderId": order_id, "lines": [{"orderLineId": i, "quantity": q} for i, q in lines],
        **fields}, token)  # fmt: skip


async def count(services, tenant, table, **where) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(table.c[name] == uuid.UUID(str(value)))
        return await conn.scalar(query)


def money(value: Any) -> Decimal:
    return Decimal(str(value))
