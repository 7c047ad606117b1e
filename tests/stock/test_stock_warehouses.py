"""Warehouses: create, change, retire; consignment warehouses name their customer;
codes are unique; retries are idempotent; versions conflict; warehouses:manage only."""

from __future__ import annotations

import uuid

from stock_helpers import CREATE_WAREHOUSE, UPDATE_WAREHOUSE

WAREHOUSES = """query($filter: WarehouseFilter, $orderBy: [WarehouseOrder!]) {
  warehouses(first: 100, filter: $filter, orderBy: $orderBy) { totalCount edges { node {
    id code name kind active customerId customer { id name } } } } }"""
ONE = "query($id: ID!) { warehouse(id: $id) { id code kind customer { name } } }"
CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } userErrors { code } } }"""


async def test_create_change_and_retire(stock, api, tenant_a):
    admin = tenant_a.tokens["admin"]
    code = f"WH-{uuid.uuid4().hex[:6]}"
    made = await stock.ok(CREATE_WAREHOUSE, "createWarehouse", {"code": f"  {code} ",
                                                                "name": "上海仓"}, admin)  # fmt: skip
    warehouse = made["warehouse"]
    assert (warehouse["code"], warehouse["kind"], warehouse["active"], warehouse["version"]) == (
        code, "STANDARD", True, 1)  # fmt: skip
    taken = await stock.payload(CREATE_WAREHOUSE, "createWarehouse",
                                {"code": code, "name": "again"}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in taken["userErrors"]] == [("code", "TAKEN")]
    blank = await stock.payload(CREATE_WAREHOUSE, "createWarehouse", {"code": " ", "name": ""},
                                admin)  # fmt: skip
    assert {(e["field"], e["code"]) for e in blank["userErrors"]} == {
        ("code", "REQUIRED"), ("name", "REQUIRED")}  # fmt: skip

    renamed = await stock.ok(UPDATE_WAREHOUSE, "updateWarehouse", {
        "id": warehouse["id"], "version": 1, "name": "上海一号仓", "active": False}, admin)  # fmt: skip
    assert (renamed["warehouse"]["name"], renamed["warehouse"]["active"],
            renamed["warehouse"]["version"]) == ("上海一号仓", False, 2)  # fmt: skip
    stale = await stock.payload(UPDATE_WAREHOUSE, "updateWarehouse", {
        "id": warehouse["id"], "version": 1, "name": "x"}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [("version", "CONFLICT")]
    missing = await stock.payload(UPDATE_WAREHOUSE, "updateWarehouse",
                                  {"id": str(uuid.uuid4()), "name": "x"}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in missing["userErrors"]] == [("id", "NOT_FOUND")]

    inactive = await api.gql(WAREHOUSES, {"filter": {"active": False}}, token=admin)
    assert warehouse["id"] in [e["node"]["id"] for e in inactive["warehouses"]["edges"]]


async def test_a_retried_create_is_one_warehouse(stock, tenant_a):
    admin = tenant_a.tokens["admin"]
    input = {"id": str(uuid.uuid4()), "code": f"WH-{uuid.uuid4().hex[:6]}", "name": "重试仓"}
    first = await stock.ok(CREATE_WAREHOUSE, "createWarehouse", input, admin)
    again = await stock.ok(CREATE_WAREHOUSE, "createWarehouse", input, admin)
    assert first["warehouse"] == again["warehouse"]
    other = await stock.payload(CREATE_WAREHOUSE, "createWarehouse", {**input, "name": "别的"},
                                admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("id", "CONFLICT")]


async def test_consignment_warehouses_name_their_customer(stock, api, tenant_a):
    admin = tenant_a.tokens["admin"]
    customer = (await api.gql(CUSTOMER, {"input": {"name": f"寄售客户 {uuid.uuid4().hex[:4]}",
                                         "ownerId": str(tenant_a.user_ids["manager"])}},
                              token=admin))["createCustomer"]["customer"]["id"]  # fmt: skip
    without = await stock.payload(CREATE_WAREHOUSE, "createWarehouse", {
        "code": f"C-{uuid.uuid4().hex[:6]}", "name": "中转仓", "kind": "CONSIGNMENT"}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in without["userErrors"]] == [("customerId", "REQUIRED")]
    unknown = await stock.payload(CREATE_WAREHOUSE, "createWarehouse", {
        "code": f"C-{uuid.uuid4().hex[:6]}", "name": "中转仓", "kind": "CONSIGNMENT",
        "customerId": str(uuid.uuid4())}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [("customerId", "NOT_FOUND")]
    standard = await stock.payload(CREATE_WAREHOUSE, "createWarehouse", {
        "code": f"C-{uuid.uuid4().hex[:6]}", "name": "仓", "customerId": customer}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in standard["userErrors"]] == [("customerId", "INVALID")]
    made = await stock.ok(CREATE_WAREHOUSE, "createWarehouse", {
        "code": f"C-{uuid.uuid4().hex[:6]}", "name": "客户中转仓", "kind": "CONSIGNMENT",
        "customerId": customer}, admin)  # fmt: skip
    warehouse = made["warehouse"]
    assert (warehouse["kind"], warehouse["customerId"]) == ("CONSIGNMENT", customer)
    assert warehouse["customer"]["id"] == customer
    # A sales rep reads the warehouse; the customer only if it is in their scope.
    seen = await api.gql(ONE, {"id": warehouse["id"]}, token=tenant_a.tokens["sales"])
    assert seen["warehouse"]["kind"] == "CONSIGNMENT" and seen["warehouse"]["customer"] is None
    listed = await api.gql(WAREHOUSES, {"filter": {"customerId": {"eq": customer}}}, token=admin)
    assert [e["node"]["id"] for e in listed["warehouses"]["edges"]] == [warehouse["id"]]
    # Made standard, it names no customer any more.
    changed = await stock.ok(UPDATE_WAREHOUSE, "updateWarehouse", {
        "id": warehouse["id"], "kind": "STANDARD"}, admin)  # fmt: skip
    assert changed["warehouse"]["customerId"] is None


async def test_only_warehouse_managers_define_warehouses(api, tenant_a):
    for role in ("manager", "sales", "viewer"):
        errors = await api.errors(CREATE_WAREHOUSE, {"input": {"code": "X", "name": "X"}},
                                  token=tenant_a.tokens[role])  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
