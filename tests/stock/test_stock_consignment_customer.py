"""Goods never arrive at a deleted customer: a consignment warehouse held at a deleted
customer takes no stock (receipt, transfer in, adjustment or count up: CUSTOMER_DELETED
on the field that named the warehouse, nothing written), and a receipt racing
deleteCustomer over HTTP never ends with both done: the receipt holds the customer
FOR KEY SHARE and re-checks it is live, the delete counts the stock under FOR UPDATE."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import select
from stock_helpers import COUNT_TAKE, CREATE_TAKE, POST_TAKE, Stock, dec

from app.customers.tables import customers
from app.db import tenant_transaction

CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code message } } }"""
DELETE_CUSTOMER = """mutation($input: DeleteCustomerInput!) {
  deleteCustomer(input: $input) { customer { id } userErrors { field code message } } }"""
RESTORE_CUSTOMER = """mutation($input: RestoreCustomerInput!) {
  restoreCustomer(input: $input) { customer { id } userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "consdel")


async def _customer(api, admin: str) -> str:
    made = await api.gql(CREATE_CUSTOMER, {"input": {"name": f"寄售客户{uuid.uuid4().hex[:6]}"}},
                         token=admin)  # fmt: skip
    assert made["createCustomer"]["userErrors"] == [], made
    return made["createCustomer"]["customer"]["id"]


async def _delete(api, admin: str, customer: str) -> dict:
    return (await api.gql(DELETE_CUSTOMER, {"input": {"id": customer}}, token=admin))[
        "deleteCustomer"
    ]


async def _is_deleted(services, tenant, customer: str) -> bool:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        deleted_at = await conn.scalar(
            select(customers.c.deleted_at).where(customers.c.id == uuid.UUID(customer))
        )
    return deleted_at is not None


async def _on_hand(stock: Stock, admin: str, product: str, warehouse: str):
    level = await stock.level(admin, product, warehouse)
    return dec(level["onHand"]) if level else dec(0)


def _codes(payload: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_a_deleted_customers_consignment_warehouse_takes_nothing(api, services, tenant):
    stock, admin = Stock(api), tenant.tokens["admin"]
    product = await stock.product(admin)
    hq = await stock.warehouse(admin)
    await stock.receive(admin, hq, [{"productId": product, "quantity": "10"}])
    customer = await _customer(api, admin)
    consignment = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=customer)
    take = (await stock.ok(CREATE_TAKE, "createStockTake",
                           {"warehouseId": consignment, "productIds": [product]},
                           admin))["stockTake"]  # fmt: skip
    await stock.ok(COUNT_TAKE, "countStockTake",
                   {"id": take["id"], "lines": [{"productId": product, "counted": "2"}]}, admin)  # fmt: skip
    assert (await _delete(api, admin, customer))["userErrors"] == []  # nothing there yet

    line = [{"productId": product, "quantity": "1"}]
    received = await stock.receive(admin, consignment, line)
    assert _codes(received) == [("warehouseId", "CUSTOMER_DELETED")]
    assert "held at a deleted customer" in received["userErrors"][0]["message"]
    moved = await stock.transfer(admin, hq, consignment, line)
    assert _codes(moved) == [("toWarehouseId", "CUSTOMER_DELETED")]
    adjusted = await stock.adjust(admin, consignment, line, reason="盘盈")
    assert _codes(adjusted) == [("warehouseId", "CUSTOMER_DELETED")]
    posted = await stock.payload(POST_TAKE, "postStockTake", {"id": take["id"]}, admin)
    assert _codes(posted) == [("id", "CUSTOMER_DELETED")]
    # Nothing of any of them remains: no stock there, none gone from hq, sheet a draft.
    assert await _on_hand(stock, admin, product, consignment) == 0
    assert await _on_hand(stock, admin, product, hq) == 10
    sheet = await api.gql("query($id: ID!) { stockTake(id: $id) { status } }",
                          {"id": take["id"]}, token=admin)  # fmt: skip
    assert sheet["stockTake"]["status"] == "DRAFT"

    # Restored, the customer's warehouse takes goods again.
    restored = await api.gql(RESTORE_CUSTOMER, {"input": {"id": customer}}, token=admin)
    assert restored["restoreCustomer"]["userErrors"] == []
    assert (await stock.transfer(admin, hq, consignment, line))["userErrors"] == []
    assert await _on_hand(stock, admin, product, consignment) == 1


async def test_a_receipt_racing_the_delete_never_lands_on_a_deleted_customer(api, services, tenant):
    stock, admin = Stock(api), tenant.tokens["admin"]
    product = await stock.product(admin)
    for round_ in range(8):
        customer = await _customer(api, admin)
        consignment = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=customer)
        receive = stock.receive(admin, consignment, [{"productId": product, "quantity": "3"}])
        delete = _delete(api, admin, customer)
        if round_ % 2:
            received, deleted = await asyncio.gather(receive, delete)
        else:
            deleted, received = await asyncio.gather(delete, receive)
        stocked, gone = not received["userErrors"], not deleted["userErrors"]
        assert stocked != gone, (received, deleted)  # exactly one of the two
        if stocked:
            assert _codes(deleted) == [("id", "OPEN_BUSINESS")]
        else:
            assert _codes(received) == [("warehouseId", "CUSTOMER_DELETED")]
        assert await _is_deleted(services, tenant, customer) == gone
        assert await _on_hand(stock, admin, product, consignment) == (3 if stocked else 0)
