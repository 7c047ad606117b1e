"""What the delete-guard tests share (importable as `delete_guard_helpers`): the
published operations, a world with a product and stock, and documents in each state
made through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from helpers import operation as _op
from sqlalchemy import func, select, update

from app.audit.tables import audit_log
from app.customers.tables import customers
from app.db import tenant_transaction
from app.orders.tables import quotes

CREATE_CUSTOMER = _op("createCustomer")
DELETE_CUSTOMER = _op("deleteCustomer")
RESTORE_CUSTOMER = _op("restoreCustomer")
CREATE_PRODUCT = _op("createProduct")
CREATE_WAREHOUSE = _op("createWarehouse")
RECEIVE = _op("receiveStock")
ISSUE = _op("issueStock")
CREATE_ORDER = _op("createSalesOrder")
CONFIRM_ORDER = _op("confirmSalesOrder")
CANCEL_ORDER = _op("cancelSalesOrder")
CLOSE_ORDER = _op("closeSalesOrder")
CREATE_QUOTE = _op("createQuote")
SEND_QUOTE = _op("sendQuote")
REJECT_QUOTE = _op("rejectQuote")
REVISE_QUOTE = _op("reviseQuote")
SHIP = _op("createShipment")
INVOICE = _op("createInvoice")
VOID_INVOICE = _op("voidInvoice")
PAY = _op("recordPayment")
RETURN = _op("createSalesReturn")
CREATE_USER = _op("createUser")
UPDATE_USER = """mutation($input: UpdateUserInput!) {
  updateUser(input: $input) { user { id } userErrors { field code message } } }"""


async def run(api, operation: str, name: str, token: str, input: dict) -> dict:
    """The payload of a mutation that must succeed."""
    result = (await api.gql(operation, {"input": input}, token=token))[name]
    assert result["userErrors"] == [], result
    return result


@dataclass
class World:
    api: Any
    services: Any
    tenant: Any
    product: str
    warehouse: str

    @property
    def admin(self) -> str:
        return self.tenant.tokens["admin"]

    async def customer(self, name: str = "删除保护客户", **fields: Any) -> str:
        input = {"name": f"{name}-{uuid.uuid4().hex[:6]}", **fields}
        return (await run(self.api, CREATE_CUSTOMER, "createCustomer", self.admin, input))[
            "customer"
        ]["id"]

    async def delete(self, customer_id: str, token: str | None = None) -> dict:
        data = await self.api.gql(
            DELETE_CUSTOMER, {"input": {"id": customer_id}}, token=token or self.admin
        )
        return data["deleteCustomer"]

    async def restore(self, customer_id: str) -> dict:
        return await run(self.api, RESTORE_CUSTOMER, "restoreCustomer", self.admin,
                         {"id": customer_id})  # fmt: skip

    async def order(self, customer_id: str, quantity: str = "2") -> str:
        lines = [{"productId": self.product, "quantity": quantity}]
        result = await run(self.api, CREATE_ORDER, "createSalesOrder", self.admin,
                           {"customerId": customer_id, "warehouseId": self.warehouse,
                            "lines": lines})  # fmt: skip
        return result["salesOrder"]["id"]

    async def confirmed_order(self, customer_id: str, quantity: str = "2") -> tuple[str, str]:
        """(order id, its line id), confirmed."""
        order = await self.order(customer_id, quantity)
        result = await run(self.api, CONFIRM_ORDER, "confirmSalesOrder", self.admin, {"id": order})
        return order, result["salesOrder"]["lines"][0]["id"]

    async def ship(self, order: str, line: str, quantity: str) -> None:
        await run(self.api, SHIP, "createShipment", self.admin,
                  {"orderId": order, "lines": [{"orderLineId": line, "quantity": quantity}]})  # fmt: skip

    async def invoice(self, order: str) -> dict:
        return (await run(self.api, INVOICE, "createInvoice", self.admin, {"orderId": order}))[
            "invoice"
        ]

    async def pay(self, customer_id: str, amount: str, invoice: str | None = None) -> None:
        allocations = [] if invoice is None else [{"invoiceId": invoice, "amount": amount}]
        await run(self.api, PAY, "recordPayment", self.admin,
                  {"customerId": customer_id, "currency": "CNY", "amount": amount,
                   "allocations": allocations})  # fmt: skip

    async def quote(self, customer_id: str) -> dict:
        lines = [{"productId": self.product, "quantity": "1"}]
        result = await run(self.api, CREATE_QUOTE, "createQuote", self.admin,
                           {"customerId": customer_id, "lines": lines})  # fmt: skip
        return result["quote"]

    async def let_quote_lapse(self, quote_id: str) -> None:
        """Time passing: the quote's validity ended (two days ago, so in every tenant's
        calendar); a sent one reads expired."""
        lapsed = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
        async with tenant_transaction(self.services.engine, self.tenant.schema) as conn:
            await conn.execute(
                update(quotes)
                .where(quotes.c.id == uuid.UUID(quote_id))
                .values(quote_date=lapsed - dt.timedelta(days=30), valid_until=lapsed)
            )

    async def snapshot(self, customer_id: str) -> tuple:
        """The customer row and the number of audit records about it."""
        async with tenant_transaction(self.services.engine, self.tenant.schema) as conn:
            row = (
                await conn.execute(
                    select(
                        customers.c.version, customers.c.deleted_at, customers.c.updated_at
                    ).where(customers.c.id == uuid.UUID(customer_id))
                )
            ).one()
            audits = await conn.scalar(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.entity_id == uuid.UUID(customer_id))
            )
        return (*row, audits)

    async def refused(self, customer_id: str, token: str | None = None) -> str:
        """Delete must be refused with OPEN_BUSINESS on id and change nothing; the
        message is returned for the caller to check what it names."""
        before = await self.snapshot(customer_id)
        result = await self.delete(customer_id, token)
        assert result["customer"] is None, result
        [error] = result["userErrors"]
        assert (error["field"], error["code"]) == ("id", "OPEN_BUSINESS"), error
        assert await self.snapshot(customer_id) == before
        return error["message"]

    async def deleted(self, customer_id: str) -> None:
        """Delete must succeed; then restore it, so the same customer can go on."""
        result = await self.delete(customer_id)
        assert result["userErrors"] == [], result
        assert result["customer"]["deletedAt"] is not None
        restored = await self.restore(customer_id)
        assert restored["customer"]["deletedAt"] is None


def open_part(message: str) -> list[str]:
    """The list of open things the message names, in order."""
    head = "this customer has open business: "
    assert message.startswith(head), message
    return message[len(head) :].split(";")[0].split(", ")
