"""The published example operations (graphql/operations/) in the order a buyer and a
warehouse would use them: a supplier, a purchase order drafted, changed and sent,
goods received in two receipts (one batch-tracked), the list, what to buy next, and a
cancelled order."""

from __future__ import annotations

import uuid

from helpers import make_tenant, operation
from purchasing_helpers import dec, role_token


async def test_example_operations_run_in_order(api, buy, owner, services):
    tenant = await make_tenant(owner, services, "buyexample")
    admin = tenant.tokens["admin"]
    keeper = await role_token(services, tenant, "warehouse")

    async def run(name: str, variables: dict | None = None, token: str = admin) -> dict:
        return await api.gql(operation(name), variables, token=token)

    warehouse = await buy.warehouse(admin, code="SH-01", name="上海仓")
    bolts = await buy.product(admin, code="M6-20")
    milk = await buy.product(admin, code="MILK-1L", batch_tracked=True, tax_rate="0.09")
    await buy.rule(admin, bolts, warehouse, "100", "500")

    supplier_id = str(uuid.uuid4())
    created = await run("createSupplier", {"input": {
        "id": supplier_id, "code": "HD-001", "name": "华东五金", "contactName": "李经理",
        "phone": "13800000000", "paymentTermsDays": 45,
    }})  # fmt: skip
    assert created["createSupplier"]["supplier"]["currency"] == "CNY"
    updated = await run("updateSupplier", {"input": {"id": supplier_id, "version": 1,
                                                     "paymentTermsDays": 60}})  # fmt: skip
    assert updated["updateSupplier"]["supplier"]["version"] == 2
    listed = await run("suppliers", {"filter": {"search": "五金"}})
    assert listed["suppliers"]["totalCount"] == 1

    order_id = str(uuid.uuid4())
    draft = await run("createPurchaseOrder", {"input": {
        "id": order_id, "supplierId": supplier_id, "warehouseId": warehouse,
        "expectedDate": "2027-03-15",
        "lines": [{"productId": bolts, "quantity": "300", "unitCost": "0.85"},
                  {"productId": milk, "quantity": "40", "unitCost": "6.5"}],
    }})  # fmt: skip
    po = draft["createPurchaseOrder"]["purchaseOrder"]
    assert po["status"] == "DRAFT" and dec(po["netTotal"]) == dec("515.00")
    changed = await run("updatePurchaseOrder", {"input": {
        "id": order_id, "version": 1, "expectedDate": "2027-03-20",
    }})  # fmt: skip
    assert changed["updatePurchaseOrder"]["purchaseOrder"]["expectedDate"] == "2027-03-20"
    sent = await run("sendPurchaseOrder", {"input": {"id": order_id, "version": 2}})
    assert sent["sendPurchaseOrder"]["purchaseOrder"]["status"] == "SENT"

    # Nothing in stock yet and 300 on order: 300 is not below 100, nothing to buy.
    suggested = await run("suggestedPurchases", {"warehouseId": warehouse})
    assert suggested["suggestedPurchases"] == []

    one = (await run("purchaseOrder", {"id": order_id}))["purchaseOrder"]
    bolt_line, milk_line = one["lines"]
    first = await run("receivePurchaseOrder", {"input": {
        "id": str(uuid.uuid4()), "orderId": order_id, "receivedOn": "2027-03-18",
        "lines": [{"orderLineId": bolt_line["id"], "quantity": "200"},
                  {"orderLineId": milk_line["id"], "quantity": "40", "batchCode": "20270310",
                   "expiresOn": "2027-04-10"}],
    }}, token=keeper)  # fmt: skip
    receipt = first["receivePurchaseOrder"]
    assert (
        receipt["userErrors"] == [] and receipt["purchaseOrder"]["status"] == "PARTIALLY_RECEIVED"
    )
    assert receipt["receipt"]["lines"][1]["batch"]["code"] == "20270310"

    # Before the rest arrives: 200 on hand + 100 still on order, nothing to buy.
    suggested = await run("suggestedPurchases", {"warehouseId": warehouse})
    assert suggested["suggestedPurchases"] == []
    second = await run("receivePurchaseOrder", {"input": {
        "orderId": order_id, "lines": [{"orderLineId": bolt_line["id"], "quantity": "100"}],
    }}, token=keeper)  # fmt: skip
    assert second["receivePurchaseOrder"]["purchaseOrder"]["status"] == "RECEIVED"

    orders = await run("purchaseOrders", {"filter": {"supplierId": {"eq": supplier_id}}})
    node = orders["purchaseOrders"]["edges"][0]["node"]
    assert node["status"] == "RECEIVED" and len(node["receipts"]) == 2
    assert dec(node["grossTotal"]) > 0 and node["lines"][0]["unitCost"] is not None
    # The warehouse reads the same operations without prices, and without errors.
    for name, variables in (
        ("purchaseOrders", {"filter": {"supplierId": {"eq": supplier_id}}}),
        ("purchaseOrder", {"id": order_id}),
    ):
        body = (await api.post(operation(name), {**variables, "withPrices": False},
                               token=keeper)).json()  # fmt: skip
        assert "errors" not in body, body
        text = str(body["data"])
        assert "unitCost" not in text and "grossTotal" not in text, body

    other = await buy.order(admin, supplier_id, warehouse,
                            [{"productId": bolts, "quantity": "10", "unitCost": "0.8"}])  # fmt: skip
    cancelled = await run("cancelPurchaseOrder", {"input": {"id": other["id"], "version": 1,
                                                            "reason": "重复下单"}})  # fmt: skip
    assert cancelled["cancelPurchaseOrder"]["purchaseOrder"]["status"] == "CANCELLED"
