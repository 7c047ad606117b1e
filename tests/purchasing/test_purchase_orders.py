"""Purchase orders: numbers, amounts by app/catalog/pricing.py, validation naming the
field, idempotent creates, draft edits with versions, listing with filters and sorts,
and the audit trail."""

from __future__ import annotations

import re
import uuid

from purchasing_helpers import (
    CREATE_PO,
    PURCHASE_ORDERS,
    UPDATE_PO,
    codes,
    dec,
)

AUDIT = """query($filter: AuditLogFilter) { auditLog(first: 20, filter: $filter) {
  edges { node { action entityType entityId changes } } } }"""


async def test_create_computes_amounts_and_numbers(buy, setup):
    admin = setup["admin"]
    order = await buy.order(
        admin, setup["supplier"], setup["warehouse"],
        [{"productId": setup["product"], "quantity": "3", "unitCost": "3.3333"},
         {"productId": setup["lot"], "quantity": "2.5", "unitCost": "10", "taxRate": "0.09"}],
        notes="首批",
    )  # fmt: skip
    assert re.fullmatch(r"PO-\d{4}-\d{6}", order["number"]), order["number"]
    assert order["status"] == "DRAFT" and order["version"] == 1
    assert order["currency"] == "CNY"  # the supplier's (the base currency by default)
    first, second = order["lines"]
    # 3 x 3.3333 = 9.9999 -> 10.00; tax 13 % (the product's) 1.30.
    assert (dec(first["netAmount"]), dec(first["taxAmount"]), dec(first["grossAmount"])) == (
        dec("10.00"), dec("1.30"), dec("11.30"),
    )  # fmt: skip
    assert dec(first["taxRate"]) == dec("0.13")
    assert (dec(second["netAmount"]), dec(second["taxAmount"])) == (dec("25.00"), dec("2.25"))
    assert dec(order["netTotal"]) == dec("35.00")
    assert dec(order["taxTotal"]) == dec("3.55")
    assert dec(order["grossTotal"]) == dec("38.55")
    assert [x["position"] for x in order["lines"]] == [0, 1]
    assert dec(first["openQuantity"]) == 3 and dec(first["receivedQuantity"]) == 0

    included = await buy.order(
        admin, setup["supplier"], setup["warehouse"],
        [{"productId": setup["product"], "quantity": "1", "unitCost": "113"}],
        pricesIncludeTax=True,
    )  # fmt: skip
    line = included["lines"][0]
    assert (dec(line["netAmount"]), dec(line["taxAmount"]), dec(line["grossAmount"])) == (
        dec("100.00"), dec("13.00"), dec("113.00"),
    )  # fmt: skip
    assert included["number"] != order["number"]


async def test_validation_names_the_field_and_writes_nothing(api, buy, setup):
    admin = setup["admin"]
    before = (await api.gql(PURCHASE_ORDERS, {"first": 1}, token=admin))["purchaseOrders"]
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": setup["supplier"], "warehouseId": setup["warehouse"],
         "expectedDate": "2027-01-01", "orderDate": "2027-02-01", "currency": "XYZ",
         "lines": [{"productId": setup["product"], "quantity": "1", "unitCost": "1"},
                   {"productId": setup["product"], "quantity": "0", "unitCost": "-1"},
                   {"productId": str(uuid.uuid4()), "quantity": "1.0001", "unitCost": "1",
                    "taxRate": "1.5"},
                   {"productId": "not-an-id", "quantity": "1", "unitCost": "1.00001"}]},
        admin,
    )  # fmt: skip
    assert payload["purchaseOrder"] is None
    assert set(codes(payload)) == {
        ("currency", "INVALID"),
        ("expectedDate", "INVALID"),
        ("lines[1].quantity", "INVALID"),
        ("lines[1].unitCost", "INVALID"),
        ("lines[2].quantity", "INVALID"),
        ("lines[2].taxRate", "INVALID"),
        ("lines[2].productId", "NOT_FOUND"),
        ("lines[3].productId", "NOT_FOUND"),
        ("lines[3].unitCost", "INVALID"),
    }, payload["userErrors"]
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": str(uuid.uuid4()), "warehouseId": "nope", "expectedDate": "2027-01-01",
         "lines": []},
        admin,
    )  # fmt: skip
    assert ("warehouseId", "NOT_FOUND") in codes(payload)
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": str(uuid.uuid4()), "warehouseId": setup["warehouse"],
         "expectedDate": "2027-01-01", "lines": []},
        admin,
    )  # fmt: skip
    assert set(codes(payload)) == {("supplierId", "NOT_FOUND"), ("lines", "REQUIRED")}
    after = (await api.gql(PURCHASE_ORDERS, {"first": 1}, token=admin))["purchaseOrders"]
    assert after["totalCount"] == before["totalCount"]


async def test_inactive_supplier_product_and_consignment_warehouse_refused(api, buy, setup):
    admin = setup["admin"]
    retired = await buy.supplier(admin, active=False)
    old = await buy.product(admin)
    await buy.deactivate_product(admin, old)
    customer = await api.gql(
        """mutation { createCustomer(input: {name: "寄售客户"}) { customer { id } } }""",
        token=admin,
    )
    consignment = await buy.warehouse(
        admin, kind="CONSIGNMENT", customerId=customer["createCustomer"]["customer"]["id"]
    )
    payload = await buy.payload(
        CREATE_PO, "createPurchaseOrder",
        {"supplierId": retired["id"], "warehouseId": consignment, "expectedDate": "2027-01-01",
         "lines": [{"productId": old, "quantity": "1", "unitCost": "1"}]},
        admin,
    )  # fmt: skip
    assert set(codes(payload)) == {
        ("supplierId", "SUPPLIER_INACTIVE"),
        ("warehouseId", "INVALID"),
        ("lines[0].productId", "PRODUCT_INACTIVE"),
    }


async def test_create_is_idempotent_on_the_client_id(api, buy, setup):
    admin = setup["admin"]
    order_id = str(uuid.uuid4())
    input = {
        "id": order_id, "supplierId": setup["supplier"], "warehouseId": setup["warehouse"],
        "expectedDate": "2027-05-01",
        "lines": [{"productId": setup["product"], "quantity": "4", "unitCost": "2.5"}],
    }  # fmt: skip
    first = await buy.ok(CREATE_PO, "createPurchaseOrder", input, admin)
    again = await buy.ok(CREATE_PO, "createPurchaseOrder", input, admin)
    assert again["purchaseOrder"]["number"] == first["purchaseOrder"]["number"]
    assert again["purchaseOrder"]["lines"] == first["purchaseOrder"]["lines"]
    listed = await api.gql(
        PURCHASE_ORDERS, {"filter": {"number": {"eq": first["purchaseOrder"]["number"]}}},
        token=admin,
    )  # fmt: skip
    assert listed["purchaseOrders"]["totalCount"] == 1
    other = {
        **input,
        "lines": [{"productId": setup["product"], "quantity": "5", "unitCost": "2.5"}],
    }
    payload = await buy.payload(CREATE_PO, "createPurchaseOrder", other, admin)
    assert codes(payload) == [("id", "CONFLICT")]


async def test_update_a_draft_replaces_lines_and_checks_versions(api, buy, setup):
    admin = setup["admin"]
    order = await buy.order(
        admin, setup["supplier"], setup["warehouse"],
        [{"productId": setup["product"], "quantity": "1", "unitCost": "10"}],
    )  # fmt: skip
    changed = await buy.ok(
        UPDATE_PO, "updatePurchaseOrder",
        {"id": order["id"], "version": 1, "expectedDate": "2027-06-30",
         "lines": [{"productId": setup["lot"], "quantity": "2", "unitCost": "5"},
                   {"productId": setup["product"], "quantity": "1", "unitCost": "1"}]},
        admin,
    )  # fmt: skip
    po = changed["purchaseOrder"]
    assert po["version"] == 2 and po["expectedDate"] == "2027-06-30"
    assert [x["productId"] for x in po["lines"]] == [setup["lot"], setup["product"]]
    assert dec(po["netTotal"]) == dec("11.00")
    # Tax-inclusive now: the same lines, amounts computed again.
    flipped = await buy.ok(
        UPDATE_PO, "updatePurchaseOrder",
        {"id": order["id"], "version": 2, "pricesIncludeTax": True}, admin,
    )  # fmt: skip
    assert dec(flipped["purchaseOrder"]["grossTotal"]) == dec("11.00")
    assert flipped["purchaseOrder"]["version"] == 3
    # Nothing changed: nothing written, the version stays.
    same = await buy.ok(
        UPDATE_PO, "updatePurchaseOrder", {"id": order["id"], "version": 3, "notes": None}, admin
    )
    assert same["purchaseOrder"]["version"] == 3
    stale = await buy.payload(
        UPDATE_PO, "updatePurchaseOrder", {"id": order["id"], "version": 1, "notes": "x"}, admin
    )
    assert codes(stale) == [("version", "CONFLICT")]
    bad = await buy.payload(
        UPDATE_PO, "updatePurchaseOrder",
        {"id": order["id"], "version": 3,
         "lines": [{"productId": setup["product"], "quantity": "1", "unitCost": "1"},
                   {"productId": setup["product"], "quantity": "-2", "unitCost": "1"}]},
        admin,
    )  # fmt: skip
    assert codes(bad) == [("lines[1].quantity", "INVALID")]
    assert (await buy.get(admin, order["id"]))["version"] == 3
    audit = await api.gql(
        AUDIT, {"filter": {"entityType": "purchase_order", "entityId": {"eq": order["id"]}}},
        token=admin,
    )  # fmt: skip
    actions = [e["node"]["action"] for e in audit["auditLog"]["edges"]]
    assert actions == ["purchase_order.update", "purchase_order.update", "purchase_order.create"]


async def test_list_filters_and_sorts(api, buy, tenant_a):
    admin = tenant_a.tokens["admin"]
    supplier = (await buy.supplier(admin))["id"]
    warehouse = await buy.warehouse(admin)
    product = await buy.product(admin)
    made = []
    for day in ("2027-09-03", "2027-09-01", "2027-09-02"):
        made.append(await buy.order(
            admin, supplier, warehouse, [{"productId": product, "quantity": "1", "unitCost": "1"}],
            expectedDate=day,
        ))  # fmt: skip
    await buy.send(admin, made[1])

    async def listed(filter_, order=None, first=10):
        data = await api.gql(
            PURCHASE_ORDERS, {"filter": filter_, "orderBy": order, "first": first}, token=admin
        )
        return [e["node"]["number"] for e in data["purchaseOrders"]["edges"]]

    numbers = [o["number"] for o in made]
    mine = {"supplierId": {"eq": supplier}}
    assert await listed(mine) == numbers[::-1]  # newest first
    assert await listed(mine, [{"field": "NUMBER"}]) == sorted(numbers)
    assert await listed(mine, [{"field": "EXPECTED_DATE"}]) == [numbers[1], numbers[2], numbers[0]]
    assert await listed({**mine, "status": {"eq": "SENT"}}) == [numbers[1]]
    assert await listed({"warehouseId": {"eq": warehouse}, "status": {"in": ["DRAFT"]}}) == [
        numbers[2], numbers[0],
    ]  # fmt: skip
    assert await listed({**mine, "expectedDate": {"gte": "2027-09-02", "lte": "2027-09-02"}}) == [
        numbers[2]
    ]
    assert await listed({"number": {"in": [numbers[0], numbers[2]]}}, [{"field": "NUMBER"}]) == [
        numbers[0], numbers[2],
    ]  # fmt: skip
    # Keyset pages: two, then the rest.
    data = await api.gql(
        PURCHASE_ORDERS,
        {"filter": mine, "orderBy": [{"field": "EXPECTED_DATE", "direction": "DESC"}], "first": 2},
        token=admin,
    )  # fmt: skip
    page = data["purchaseOrders"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    rest = await api.gql(
        PURCHASE_ORDERS,
        {"filter": mine, "orderBy": [{"field": "EXPECTED_DATE", "direction": "DESC"}],
         "first": 2, "after": page["pageInfo"]["endCursor"]},
        token=admin,
    )  # fmt: skip
    assert [e["node"]["number"] for e in rest["purchaseOrders"]["edges"]] == [numbers[1]]
