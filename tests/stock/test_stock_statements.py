"""stockLevels and stockMoves with everything nested cost a fixed number of SQL
statements, whatever the page size: children are fetched per page, never per row."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from stock_helpers import Stock

LEVELS = """query($first: Int) { stockLevels(first: $first) { totalCount edges { node {
  onHand available
  product { code category { name } }
  warehouse { code customer { name } }
  batches { onHand batch { code expiresOn product { code } } } } } } }"""
MOVES = """query($first: Int) { stockMoves(first: $first) { totalCount edges { node {
  quantity kind product { code } warehouse { code } batch { code product { code } }
  createdBy { name } } } } }"""
TAKES = """query($first: Int) { stockTakes(first: $first) { edges { node {
  number lineCount countedCount warehouse { code } } } } }"""
RULES = """query($first: Int) {
  reorderRules(first: $first) { edges { node { minQuantity product { code } warehouse { code } } } }
  lowStock(first: $first) { edges { node { toMax product { code } warehouse { code }
    rule { id product { code } } } } } }"""


@pytest.fixture(scope="module")
async def filled(api, owner, services):
    """A tenant with 12 batch-tracked products received into 3 warehouses (36 levels,
    two batches each), a rule per level and a count sheet per warehouse."""
    tenant = await make_tenant(owner, services, "stockcount")
    stock, admin = Stock(api), tenant.tokens["admin"]
    products = [await stock.product(admin, batch_tracked=True) for _ in range(12)]
    warehouses = [await stock.warehouse(admin) for _ in range(3)]
    for w in warehouses:
        lines = [
            {"productId": p, "quantity": "3", "batchCode": code, "expiresOn": day}
            for p in products
            for code, day in (("E1", "2031-01-01"), ("E2", "2032-01-01"))
        ]
        assert (await stock.receive(admin, w, lines))["userErrors"] == []
        for p in products:
            await stock.payload(
                """mutation($input: SetReorderRuleInput!) { setReorderRule(input: $input) {
                  userErrors { code } } }""",
                "setReorderRule",
                {"productId": p, "warehouseId": w, "minQuantity": "10", "maxQuantity": "20"},
                admin,
            )
        await stock.payload(
            "mutation($input: CreateStockTakeInput!) { createStockTake(input: $input) "
            "{ userErrors { code } } }",
            "createStockTake", {"warehouseId": w}, admin,
        )  # fmt: skip
    return tenant


@pytest.mark.parametrize("query", [LEVELS, MOVES, TAKES, RULES], ids=["levels", "moves", "takes",
                                                                      "rules"])  # fmt: skip
async def test_statements_do_not_grow_with_the_page(api, filled, sql_counter, query):
    token = filled.tokens["admin"]
    counts = {}
    for size in (2, 30):
        # Twice, keeping the fewer: the principal cache (1 s in tests) may expire between
        # the warm-up and the query on a busy machine, adding its own statements.
        for _ in range(2):
            await api.gql("{ me { user { id } } }", token=token)  # principal cached
            sql_counter.statements.clear()
            data = await api.gql(query, {"first": size}, token=token)
            counts[size] = min(counts.get(size, 1000), sql_counter.count)
        listing = next(iter(data.values()))
        assert len(listing["edges"]) == min(size, 3 if "stockTakes" in data else size)
    assert counts[2] == counts[30], counts
    assert counts[30] <= 10, sql_counter.statements
