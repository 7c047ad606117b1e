"""What a partner user of a distributor (data scope "assigned", users.distributor_id)
sees and does, through the HTTP API with real tokens: their distributor's customer
record, orders, quotes and consignment stock, and nothing else (other distributors,
other customers, internal warehouses through any stock query, cost prices)."""

from __future__ import annotations

import pytest
from distributor_helpers import (
    CREATE_CUSTOMER,
    CREATE_ORDER,
    CREATE_QUOTE,
    UPDATE_CUSTOMER,
    World,
    make_world,
    payload,
)


@pytest.fixture(scope="module")
async def world(api, owner, services) -> World:
    return await make_world(api, owner, services, "distacc")


CUSTOMERS = """query($filter: CustomerFilter) { customers(first: 50, filter: $filter) {
  totalCount edges { node { id name isDistributor } } } }"""
CUSTOMER = "query($id: ID!) { customer(id: $id) { id isDistributor } }"
ORDERS = """{ salesOrders(first: 50) { totalCount edges { node { id customerId status
  warehouse { id } } } } }"""
ORDER = "query($id: ID!) { salesOrder(id: $id) { id } }"
QUOTES = "{ quotes(first: 50) { totalCount edges { node { id customerId } } } }"
QUOTE = "query($id: ID!) { quote(id: $id) { id } }"
CONFIRM = """mutation($id: ID!) { confirmSalesOrder(input: {id: $id}) {
  salesOrder { id status } userErrors { field code message } } }"""


def _ids(data: dict, name: str, key: str = "id") -> set[str]:
    return {edge["node"][key] for edge in data[name]["edges"]}


async def test_partner_sees_its_distributor_and_assigned_customers_only(api, world):
    data = await api.gql(CUSTOMERS, token=world.tokens["p"])
    assert _ids(data, "customers") == {world.d, world.assigned}
    assert data["customers"]["totalCount"] == 2
    seen = await api.gql(CUSTOMER, {"id": world.d}, token=world.tokens["p"])
    assert seen["customer"] == {"id": world.d, "isDistributor": True}
    for hidden in (world.e, world.x):
        assert (await api.gql(CUSTOMER, {"id": hidden}, token=world.tokens["p"]))[
            "customer"
        ] is None
    other = await api.gql(CUSTOMERS, token=world.tokens["q"])
    assert _ids(other, "customers") == {world.e}
    lone = await api.gql(CUSTOMERS, token=world.tokens["r"])
    assert lone["customers"]["totalCount"] == 0


async def test_is_distributor_filter(api, world):
    admin = world.tenant.tokens["admin"]
    marked = await api.gql(CUSTOMERS, {"filter": {"isDistributor": True}}, token=admin)
    assert _ids(marked, "customers") == {world.d, world.e}
    rest = await api.gql(CUSTOMERS, {"filter": {"isDistributor": False}}, token=admin)
    assert {world.x, world.assigned} <= _ids(rest, "customers")
    assert not {world.d, world.e} & _ids(rest, "customers")


async def test_partner_places_a_draft_order_for_its_distributor_and_reads_it(api, world):
    token = world.tokens["p"]
    made = await payload(api, CREATE_ORDER, "createSalesOrder", {
        "customerId": world.d, "warehouseId": world.w_d,
        "lines": [{"productId": world.p1, "quantity": "2"}]}, token)  # fmt: skip
    assert made["userErrors"] == []
    order = made["salesOrder"]
    assert order["status"] == "DRAFT" and order["customerId"] == world.d
    listed = await api.gql(ORDERS, token=token)
    nodes = {e["node"]["id"]: e["node"] for e in listed["salesOrders"]["edges"]}
    assert set(nodes) == {order["id"], world.orders["d"]}
    assert nodes[order["id"]]["warehouse"] == {"id": world.w_d}
    # Staff's order for D ships from the internal warehouse: the order shows, the
    # warehouse record does not.
    assert nodes[world.orders["d"]]["warehouse"] is None
    assert (await api.gql(ORDER, {"id": order["id"]}, token=token))["salesOrder"]
    for hidden in (world.orders["e"], world.orders["x"]):
        assert (await api.gql(ORDER, {"id": hidden}, token=token))["salesOrder"] is None
    q_orders = await api.gql(ORDERS, token=world.tokens["q"])
    assert _ids(q_orders, "salesOrders") == {world.orders["e"]}


async def test_partner_cannot_order_for_others_or_from_other_warehouses(api, world):
    token = world.tokens["p"]
    lines = [{"productId": world.p1, "quantity": "1"}]
    for customer, warehouse, field in (
        (world.e, world.w_d, "customerId"),
        (world.x, world.w_d, "customerId"),
        (world.d, world.w_i, "warehouseId"),
        (world.d, world.w_e, "warehouseId"),
    ):
        result = await payload(api, CREATE_ORDER, "createSalesOrder", {
            "customerId": customer, "warehouseId": warehouse, "lines": lines}, token)  # fmt: skip
        assert result["salesOrder"] is None
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, "NOT_FOUND")]


async def test_partner_cannot_confirm_orders(api, world):
    token = world.tokens["p"]
    errors = await api.errors(CONFIRM, {"id": world.orders["d"]}, token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    admin_view = await api.gql(ORDER.replace("{ id }", "{ id status }"),
                               {"id": world.orders["d"]}, token=world.tenant.tokens["admin"])  # fmt: skip
    assert admin_view["salesOrder"]["status"] == "DRAFT"


async def test_partner_reads_its_distributors_quotes_only(api, world):
    token = world.tokens["p"]
    data = await api.gql(QUOTES, token=token)
    assert _ids(data, "quotes") == {world.quotes["d"]}
    for hidden in (world.quotes["e"], world.quotes["x"]):
        assert (await api.gql(QUOTE, {"id": hidden}, token=token))["quote"] is None
    errors = await api.errors(
        CREATE_QUOTE,
        {"input": {"customerId": world.d, "lines": [{"productId": world.p1, "quantity": "1"}]}},
        token=token,
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_partner_cannot_mark_distributors_or_read_cost(api, world):
    token = world.tokens["p"]
    errors = await api.errors(
        UPDATE_CUSTOMER, {"input": {"id": world.d, "version": 1, "isDistributor": False}},
        token=token,
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await api.errors(
        CREATE_CUSTOMER, {"input": {"name": "new", "isDistributor": True}}, token=token
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    products = await api.gql("{ products(first: 5) { totalCount } }", token=token)
    assert products["products"]["totalCount"] >= 2
    errors = await api.errors(
        "query($id: ID!) { product(id: $id) { id costPrice } }", {"id": world.p1}, token=token
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


# -- stock: every query a partner with stock:read can reach ------------------------------

LEVELS = """query($filter: StockLevelFilter) { stockLevels(first: 50, filter: $filter) {
  totalCount edges { node { productId warehouseId onHand warehouse { id }
  batches { batchId } } } } }"""
MOVES = """query($filter: StockMoveFilter) { stockMoves(first: 50, filter: $filter) {
  totalCount edges { node { warehouseId warehouse { id } } } } }"""
WAREHOUSES = "{ warehouses(first: 50) { totalCount edges { node { id customer { id } } } } }"
WAREHOUSE = "query($id: ID!) { warehouse(id: $id) { id kind } }"
BATCHES = "{ batches(first: 50) { totalCount edges { node { id } } } }"
BATCH = "query($id: ID!) { batch(id: $id) { id } }"
RULES = "{ reorderRules(first: 50) { totalCount edges { node { warehouseId warehouse { id } } } } }"
LOW = """query($w: ID) { lowStock(first: 50, warehouseId: $w) { totalCount edges { node {
  warehouseId warehouse { id } rule { warehouse { id } } } } } }"""
AVAILABILITY = """query($p: [ID!]!, $w: [ID!]) { stockAvailability(productIds: $p,
  warehouseIds: $w) { productId onHand levels { warehouseId warehouse { id } } } }"""
TAKES = (
    "{ stockTakes(first: 50) { totalCount edges { node { id warehouseId warehouse { id } } } } }"
)
TAKE = "query($id: ID!) { stockTake(id: $id) { id } }"
TAKE_LINES = """query($id: ID!) { stockTakeLines(stockTakeId: $id, first: 50) {
  totalCount } }"""


async def test_partner_stock_levels_and_moves_are_its_consignment_warehouses_only(api, world):
    token = world.tokens["p"]
    levels = (await api.gql(LEVELS, token=token))["stockLevels"]
    assert {e["node"]["warehouseId"] for e in levels["edges"]} == {world.w_d}
    by_product = {e["node"]["productId"]: e["node"] for e in levels["edges"]}
    assert by_product[world.p1]["onHand"] == "10.000"
    assert by_product[world.p1]["warehouse"] == {"id": world.w_d}
    assert [b["batchId"] for b in by_product[world.p2]["batches"]] == [world.batch_in_d]
    for other in (world.w_i, world.w_e):
        hidden = await api.gql(LEVELS, {"filter": {"warehouseId": {"eq": other}}}, token=token)
        assert hidden["stockLevels"]["totalCount"] == 0
    by_batch = await api.gql(LEVELS, {"filter": {"batchId": world.batch_hq}}, token=token)
    assert by_batch["stockLevels"]["totalCount"] == 0
    moves = (await api.gql(MOVES, token=token))["stockMoves"]
    assert moves["totalCount"] == 2  # the incoming halves of the transfer to W_D
    assert {e["node"]["warehouseId"] for e in moves["edges"]} == {world.w_d}
    hidden = await api.gql(MOVES, {"filter": {"warehouseId": {"eq": world.w_i}}}, token=token)
    assert hidden["stockMoves"]["totalCount"] == 0


async def test_partner_warehouses_batches_rules_and_sheets(api, world):
    token = world.tokens["p"]
    warehouses = (await api.gql(WAREHOUSES, token=token))["warehouses"]
    assert [e["node"] for e in warehouses["edges"]] == [
        {"id": world.w_d, "customer": {"id": world.d}}
    ]
    assert (await api.gql(WAREHOUSE, {"id": world.w_d}, token=token))["warehouse"] == {
        "id": world.w_d, "kind": "CONSIGNMENT",
    }  # fmt: skip
    for hidden in (world.w_i, world.w_e):
        assert (await api.gql(WAREHOUSE, {"id": hidden}, token=token))["warehouse"] is None
    batches = (await api.gql(BATCHES, token=token))["batches"]
    assert _ids({"b": batches}, "b") == {world.batch_in_d}
    assert (await api.gql(BATCH, {"id": world.batch_hq}, token=token))["batch"] is None
    assert (await api.gql(BATCH, {"id": world.batch_in_d}, token=token))["batch"]
    rules = (await api.gql(RULES, token=token))["reorderRules"]
    assert [e["node"]["warehouseId"] for e in rules["edges"]] == [world.w_d]
    low = (await api.gql(LOW, token=token))["lowStock"]
    assert [e["node"]["warehouseId"] for e in low["edges"]] == [world.w_d]
    assert low["edges"][0]["node"]["rule"]["warehouse"] == {"id": world.w_d}
    low_internal = await api.gql(LOW, {"w": world.w_i}, token=token)
    assert low_internal["lowStock"]["totalCount"] == 0
    takes = (await api.gql(TAKES, token=token))["stockTakes"]
    assert [e["node"]["id"] for e in takes["edges"]] == [world.takes["d"]]
    for name in ("i", "e"):
        assert (await api.gql(TAKE, {"id": world.takes[name]}, token=token))["stockTake"] is None
        lines = await api.gql(TAKE_LINES, {"id": world.takes[name]}, token=token)
        assert lines["stockTakeLines"]["totalCount"] == 0
    own_lines = await api.gql(TAKE_LINES, {"id": world.takes["d"]}, token=token)
    assert own_lines["stockTakeLines"]["totalCount"] == 2
    # Staff see every sheet's lines (the predicate is for the assigned scope only).
    admin_lines = await api.gql(TAKE_LINES, {"id": world.takes["i"]},
                                token=world.tenant.tokens["admin"])  # fmt: skip
    assert admin_lines["stockTakeLines"]["totalCount"] == 3  # p1, and p2 by batch


async def test_partner_availability_sums_its_warehouses_only(api, world):
    token = world.tokens["p"]
    found = (await api.gql(AVAILABILITY, {"p": [world.p1]}, token=token))["stockAvailability"]
    assert found[0]["onHand"] == "10.000"
    assert [lv["warehouseId"] for lv in found[0]["levels"]] == [world.w_d]
    internal = await api.gql(AVAILABILITY, {"p": [world.p1], "w": [world.w_i, world.w_e]},
                             token=token)  # fmt: skip
    assert internal["stockAvailability"][0]["onHand"] == "0.000"
    assert internal["stockAvailability"][0]["levels"] == []
    staff = await api.gql(AVAILABILITY, {"p": [world.p1]}, token=world.tenant.tokens["admin"])
    assert len(staff["stockAvailability"][0]["levels"]) == 3


async def test_other_distributors_partner_and_a_partner_without_one(api, world):
    q = world.tokens["q"]
    assert [e["node"]["id"] for e in (await api.gql(WAREHOUSES, token=q))["warehouses"][
        "edges"]] == [world.w_e]  # fmt: skip
    levels = (await api.gql(LEVELS, token=q))["stockLevels"]
    assert {e["node"]["warehouseId"] for e in levels["edges"]} == {world.w_e}
    r = world.tokens["r"]
    for query, name in ((WAREHOUSES, "warehouses"), (LEVELS, "stockLevels"),
                        (MOVES, "stockMoves"), (BATCHES, "batches"), (RULES, "reorderRules"),
                        (LOW, "lowStock"), (TAKES, "stockTakes"), (ORDERS, "salesOrders"),
                        (QUOTES, "quotes")):  # fmt: skip
        assert (await api.gql(query, token=r))[name]["totalCount"] == 0, name


async def test_staff_stock_is_unchanged(api, world):
    admin = world.tenant.tokens["admin"]
    warehouses = (await api.gql(WAREHOUSES, token=admin))["warehouses"]
    assert {world.w_i, world.w_d, world.w_e} <= _ids({"w": warehouses}, "w")
    levels = (await api.gql(LEVELS, token=admin))["stockLevels"]
    assert {e["node"]["warehouseId"] for e in levels["edges"]} == {world.w_i, world.w_d, world.w_e}
    orders = await api.gql(ORDERS, token=world.tenant.tokens["manager"])
    assert {world.orders["d"], world.orders["e"], world.orders["x"]} <= _ids(orders, "salesOrders")


STATEMENT_LIST = """query($first: Int) { customers(first: $first) { totalCount edges { node {
  id name isDistributor owner { id } partner { id } contacts { id } } } } }"""


async def test_customer_list_statements_do_not_grow_with_rows(api, world, sql_counter):
    admin = world.tenant.tokens["admin"]
    manager = str(world.tenant.user_ids["manager"])
    for i in range(5):
        await payload(api, CREATE_CUSTOMER, "createCustomer",
                      {"name": f"分销{i}", "partnerId": world.p, "ownerId": manager}, admin)  # fmt: skip
    token = world.tokens["p"]
    counts = []
    for first in (2, 7):
        await api.gql(STATEMENT_LIST, {"first": 1}, token=token)  # warm the principal cache
        sql_counter.statements.clear()
        data = await api.gql(STATEMENT_LIST, {"first": first}, token=token)
        assert len(data["customers"]["edges"]) == first
        counts.append(sql_counter.count)
    assert counts[0] == counts[1]
    # The distributor predicate is a comparison with a value the principal carries: the
    # list's statement does not look users up.
    listing = [s for s in sql_counter.statements if "customers.name" in s]
    assert listing and not any(".users" in s for s in listing[:1]), listing
