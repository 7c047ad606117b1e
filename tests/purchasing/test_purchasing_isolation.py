"""Tenants are apart: another tenant cannot read, change, list, count or infer
suppliers, purchase orders or receipts, and ids of another tenant's products,
warehouses, suppliers, orders and order lines are simply NOT_FOUND. Reusing another
tenant's ids and codes works as if they were new (no conflict that would reveal
them)."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from purchasing_helpers import (
    CANCEL_PO,
    CREATE_PO,
    CREATE_SUPPLIER,
    PO_BY_ID,
    PURCHASE_ORDERS,
    RECEIPT_BY_ID,
    SEND_PO,
    SUPPLIER_BY_ID,
    SUPPLIERS,
    UPDATE_PO,
    UPDATE_SUPPLIER,
    codes,
)


@pytest.fixture(scope="module")
async def two(owner, services, buy):
    a = await make_tenant(owner, services, "buya")
    b = await make_tenant(owner, services, "buyb")
    admin = a.tokens["admin"]
    supplier = await buy.supplier(admin, code="SAME-CODE")
    warehouse = await buy.warehouse(admin)
    product = await buy.product(admin)
    order = await buy.order(admin, supplier["id"], warehouse,
                            [{"productId": product, "quantity": "5", "unitCost": "1"}])  # fmt: skip
    await buy.send(admin, order)
    receipt = await buy.receive(admin, order["id"],
                                [{"orderLineId": order["lines"][0]["id"], "quantity": "2"}])  # fmt: skip
    assert receipt["userErrors"] == []
    await buy.rule(admin, product, warehouse, "10", "20")
    return {
        "a": a, "b": b, "supplier": supplier, "warehouse": warehouse, "product": product,
        "order": await buy.get(admin, order["id"]), "receipt": receipt["receipt"],
    }  # fmt: skip


async def test_another_tenant_cannot_read_list_or_count(api, two):
    token = two["b"].tokens["admin"]
    assert (await api.gql(SUPPLIER_BY_ID, {"id": two["supplier"]["id"]}, token=token))[
        "supplier"
    ] is None
    assert (await api.gql(PO_BY_ID, {"id": two["order"]["id"]}, token=token))[
        "purchaseOrder"
    ] is None
    assert (await api.gql(RECEIPT_BY_ID, {"id": two["receipt"]["id"]}, token=token))[
        "goodsReceipt"
    ] is None
    suppliers = await api.gql(SUPPLIERS, {"filter": {"code": "SAME-CODE"}}, token=token)
    assert suppliers["suppliers"]["totalCount"] == 0
    assert (await api.gql(SUPPLIERS, {}, token=token))["suppliers"]["totalCount"] == 0
    for filter_ in (
        {},
        {"supplierId": {"eq": two["supplier"]["id"]}},
        {"warehouseId": {"eq": two["warehouse"]}},
        {"number": {"eq": two["order"]["number"]}},
        {"status": {"eq": "PARTIALLY_RECEIVED"}},
    ):
        listed = await api.gql(PURCHASE_ORDERS, {"filter": filter_}, token=token)
        assert listed["purchaseOrders"]["totalCount"] == 0, filter_
        assert listed["purchaseOrders"]["edges"] == []
    errors = await api.errors(
        "query($w: ID!) { suggestedPurchases(warehouseId: $w) { productId } }",
        {"w": two["warehouse"]}, token=token,
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert two["warehouse"] not in str(errors)


async def test_another_tenant_cannot_change_anything(api, buy, two):
    token = two["b"].tokens["admin"]
    order = two["order"]
    updated = await buy.payload(
        UPDATE_SUPPLIER, "updateSupplier",
        {"id": two["supplier"]["id"], "version": 1, "name": "改名"}, token,
    )  # fmt: skip
    assert codes(updated) == [("id", "NOT_FOUND")]
    for query, name, input in (
        (UPDATE_PO, "updatePurchaseOrder", {"id": order["id"], "version": order["version"],
                                            "notes": "x"}),
        (SEND_PO, "sendPurchaseOrder", {"id": order["id"]}),
        (CANCEL_PO, "cancelPurchaseOrder", {"id": order["id"]}),
    ):  # fmt: skip
        payload = await buy.payload(query, name, input, token)
        assert codes(payload) == [("id", "NOT_FOUND")], name
    received = await buy.receive(token, order["id"],
                                 [{"orderLineId": order["lines"][0]["id"], "quantity": "1"}])  # fmt: skip
    assert codes(received) == [("orderId", "NOT_FOUND")]
    # Tenant A's order is untouched.
    admin = two["a"].tokens["admin"]
    assert await buy.get(admin, order["id"]) == order
    assert await buy.on_hand(admin, two["product"], two["warehouse"]) == 2


async def test_foreign_ids_are_not_found(buy, two):
    token = two["b"].tokens["admin"]
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": two["supplier"]["id"], "warehouseId": two["warehouse"],
         "expectedDate": "2027-01-01",
         "lines": [{"productId": two["product"], "quantity": "1", "unitCost": "1"}]},
        token,
    )  # fmt: skip
    assert set(codes(payload)) == {
        ("supplierId", "NOT_FOUND"), ("warehouseId", "NOT_FOUND"),
        ("lines[0].productId", "NOT_FOUND"),
    }  # fmt: skip
    # Its own order, with the other tenant's order line.
    supplier = (await buy.supplier(token))["id"]
    warehouse = await buy.warehouse(token)
    product = await buy.product(token)
    mine = await buy.send(token, await buy.order(
        token, supplier, warehouse, [{"productId": product, "quantity": "3", "unitCost": "1"}],
    ))  # fmt: skip
    payload = await buy.receive(token, mine["id"],
                                [{"orderLineId": two["order"]["lines"][0]["id"], "quantity": "1"}])  # fmt: skip
    assert codes(payload) == [("lines[0].orderLineId", "NOT_FOUND")]
    changed = await buy.payload(
        UPDATE_PO, "updatePurchaseOrder",
        {"id": mine["id"], "version": mine["version"],
         "lines": [{"productId": two["product"], "quantity": "1", "unitCost": "1"}]},
        token,
    )  # fmt: skip
    assert ("status", "INVALID_TRANSITION") in codes(changed)


async def test_reusing_another_tenant_s_ids_and_codes_reveals_nothing(api, buy, two):
    token = two["b"].tokens["admin"]
    supplier = await buy.ok(
        CREATE_SUPPLIER, "createSupplier",
        {"id": two["supplier"]["id"], "code": "SAME-CODE", "name": "另一家"}, token,
    )  # fmt: skip
    assert supplier["supplier"]["version"] == 1
    warehouse = await buy.warehouse(token)
    product = await buy.product(token)
    order = await buy.ok(
        CREATE_PO, "createPurchaseOrder",
        {"id": two["order"]["id"], "supplierId": two["supplier"]["id"], "warehouseId": warehouse,
         "expectedDate": "2027-01-01",
         "lines": [{"productId": product, "quantity": "2", "unitCost": "1"}]},
        token,
    )  # fmt: skip
    po = order["purchaseOrder"]
    assert po["id"] == two["order"]["id"] and po["status"] == "DRAFT"
    await buy.send(token, po)
    received = await buy.receive(token, po["id"], [{"orderLineId": po["lines"][0]["id"],
                                                    "quantity": "2"}], id=two["receipt"]["id"])  # fmt: skip
    assert received["userErrors"] == [] and not received["replayed"]
    # Each tenant still sees only its own.
    admin = two["a"].tokens["admin"]
    mine = await api.gql(PO_BY_ID, {"id": two["order"]["id"]}, token=admin)
    assert mine["purchaseOrder"]["warehouseId"] == two["warehouse"]
    theirs = await api.gql(PO_BY_ID, {"id": two["order"]["id"]}, token=token)
    assert theirs["purchaseOrder"]["warehouseId"] == warehouse
