"""Who may do what: purchasing:read (admin, manager, warehouse), purchasing:write
(admin), purchasing:receive (admin, warehouse), purchasing:read_cost (admin; the prices
themselves are tests/purchasing/test_purchase_prices.py). Sales reps, viewers, service
and partners get nothing; a refused call changes nothing."""

from __future__ import annotations

import pytest
from helpers import operation
from purchasing_helpers import (
    CANCEL_PO,
    CLOSE_PO,
    CREATE_PO,
    CREATE_SUPPLIER,
    RECEIPT_BY_ID,
    SEND_PO,
    SUPPLIER_BY_ID,
    SUPPLIERS,
    UPDATE_PO,
    UPDATE_SUPPLIER,
    role_token,
)

from app.auth.permissions import BUILTIN_ROLES, PERMISSIONS

READERS = {"admin", "manager", "warehouse"}
WRITERS = {"admin"}
RECEIVERS = {"admin", "warehouse"}
COST_READERS = {"admin"}
# What every reader may see: quantities, no prices.
PO_BY_ID = """query($id: ID!) { purchaseOrder(id: $id) { id status
  lines { quantity receivedQuantity openQuantity } receipts { lines { quantity } } } }"""
PURCHASE_ORDERS = """{ purchaseOrders(first: 5) { totalCount edges { node { id
  lines { quantity receivedQuantity } } } } }"""
SUGGESTED = """query($warehouseId: ID!) { suggestedPurchases(warehouseId: $warehouseId) {
  productId onOrder suggestedQuantity supplierId lastOrderId } }"""
RECEIPTS = "{ goodsReceipts(first: 5) { totalCount edges { node { id lines { quantity } } } } }"
ROLES = ("admin", "manager", "warehouse", "sales", "viewer", "service", "partner")


def test_the_permissions_and_grants():
    assert PERMISSIONS["purchasing:read"] == "See suppliers and purchase orders"
    assert PERMISSIONS["purchasing:write"] == "Create and send purchase orders; manage suppliers"
    assert PERMISSIONS["purchasing:receive"] == "Receive goods against purchase orders"
    assert PERMISSIONS["purchasing:read_cost"] == (
        "See purchase prices on purchase orders and receipts"
    )
    for role in ROLES:
        granted = {p for p in BUILTIN_ROLES[role].permissions if p.startswith("purchasing:")}
        expected = {
            p
            for p, holders in (("purchasing:read", READERS), ("purchasing:write", WRITERS),
                               ("purchasing:receive", RECEIVERS),
                               ("purchasing:read_cost", COST_READERS))
            if role in holders
        }  # fmt: skip
        assert granted == expected, role


@pytest.fixture(scope="module")
async def world(buy, services, tenant_a):
    admin = tenant_a.tokens["admin"]
    tokens = dict(tenant_a.tokens)
    for role in ("warehouse", "service", "partner"):
        tokens[role] = await role_token(services, tenant_a, role)
    supplier = await buy.supplier(admin)
    warehouse = await buy.warehouse(admin)
    product = await buy.product(admin)
    order = await buy.send(admin, await buy.order(
        admin, supplier["id"], warehouse,
        [{"productId": product, "quantity": "100", "unitCost": "1"}],
    ))  # fmt: skip
    draft = await buy.order(
        admin, supplier["id"], warehouse, [{"productId": product, "quantity": "1", "unitCost": "1"}]
    )
    receipt = await buy.receive(admin, order["id"],
                                [{"orderLineId": order["lines"][0]["id"], "quantity": "1"}])  # fmt: skip
    return {
        "tokens": tokens, "supplier": supplier, "warehouse": warehouse, "product": product,
        "order": order, "draft": draft, "receipt": receipt["receipt"]["id"],
    }  # fmt: skip


def _code(response) -> str | None:
    body = response.json()
    return body["errors"][0]["extensions"]["code"] if body.get("errors") else None


@pytest.mark.parametrize("role", ROLES)
async def test_reading(api, world, role):
    token = world["tokens"][role]
    reads = [
        (SUPPLIERS, {}),
        (SUPPLIER_BY_ID, {"id": world["supplier"]["id"]}),
        (PURCHASE_ORDERS, {}),
        (PO_BY_ID, {"id": world["order"]["id"]}),
        (RECEIPT_BY_ID, {"id": world["receipt"]}),
        (RECEIPTS, {}),
        (SUGGESTED, {"warehouseId": world["warehouse"]}),
    ]
    for query, variables in reads:
        response = await api.post(query, variables, token=token)
        assert response.status_code == 200
        assert _code(response) == (None if role in READERS else "FORBIDDEN"), (role, query)


@pytest.mark.parametrize("role", ROLES)
async def test_writing_and_receiving(api, buy, world, role):
    token = world["tokens"][role]
    admin = world["tokens"]["admin"]
    draft, order = world["draft"], world["order"]
    writes = [
        (CREATE_SUPPLIER, {"code": f"X-{role}", "name": "x"}),
        (UPDATE_SUPPLIER, {"id": world["supplier"]["id"], "version": 1, "notes": role}),
        (CREATE_PO, {"supplierId": world["supplier"]["id"], "warehouseId": world["warehouse"],
                     "expectedDate": "2027-01-01",
                     "lines": [{"productId": world["product"], "quantity": "1",
                                "unitCost": "1"}]}),
        (UPDATE_PO, {"id": draft["id"], "version": draft["version"], "notes": role}),
        (SEND_PO, {"id": draft["id"], "version": draft["version"]}),
        (CANCEL_PO, {"id": draft["id"], "version": draft["version"]}),
        (CLOSE_PO, {"id": order["id"], "reason": role}),
    ]  # fmt: skip
    if role not in WRITERS:
        for query, input in writes:
            response = await api.post(query, {"input": input}, token=token)
            assert _code(response) == "FORBIDDEN", (role, query)
        assert await buy.get(admin, draft["id"]) == draft
    before = await buy.get(admin, order["id"])
    response = await api.post(
        operation("receivePurchaseOrder"),
        {"input": {"orderId": order["id"],
                   "lines": [{"orderLineId": order["lines"][0]["id"], "quantity": "1"}]}},
        token=token,
    )  # fmt: skip
    if role in RECEIVERS:
        assert _code(response) is None
        assert response.json()["data"]["receivePurchaseOrder"]["userErrors"] == []
    else:
        assert _code(response) == "FORBIDDEN"
        assert await buy.get(admin, order["id"]) == before
