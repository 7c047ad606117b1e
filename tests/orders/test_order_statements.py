"""`salesOrders` and `quotes` with nested lines, products, customers, warehouses and
linked documents cost the same number of SQL statements for 2 documents as for 12:
one per kind of child for the whole page, never one per row. (Pages by number: the
first orders include one made from a quote, so every kind of child is on both pages.)"""

from __future__ import annotations

import pytest
from helpers import make_tenant
from order_helpers import create_order, create_quote, goods, order_action, quote_action

ORDERS = """query($first: Int) {
  salesOrders(first: $first, orderBy: [{field: NUMBER}]) { totalCount edges { node {
  id number grossTotal
  customer { id name owner { id } contacts { id } }
  warehouse { id code }
  quote { id number lines { id product { id code } } }
  lines { id quantity reservedQuantity product { id code category { id name } } }
} } } }"""
QUOTES = """query($first: Int) {
  quotes(first: $first, orderBy: [{field: NUMBER}]) { totalCount edges { node {
  id number status
  customer { id name }
  lines { id quantity product { id code } }
  salesOrder { id number lines { id product { id } } }
} } } }"""
MOST = 12


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "ostmt")


@pytest.fixture(scope="module")
async def filled(api, tenant):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=3, stock="1000")
    for i in range(MOST):
        if i % 2:
            order = await create_order(api, admin, g)
            if i % 3 == 0:
                await order_action(api, admin, "confirm", order["id"])
        else:
            quote = await create_quote(api, admin, g)
            await quote_action(api, admin, "send", quote["id"])
            await quote_action(api, admin, "accept", quote["id"], warehouseId=g.warehouse)
    return g


async def _count(api, sql_counter, token: str, query: str, first: int, name: str) -> int:
    sql_counter.statements.clear()
    data = await api.gql(query, {"first": first}, token=token)
    assert len(data[name]["edges"]) == first
    return sql_counter.count


@pytest.mark.parametrize(("query", "name"), [(ORDERS, "salesOrders"), (QUOTES, "quotes")])
@pytest.mark.parametrize("role", ["admin", "manager"])
async def test_statements_do_not_grow_with_rows(api, tenant, filled, sql_counter, query, name,
                                                role):  # fmt: skip
    token = tenant.tokens[role]
    await api.gql(query, {"first": 1}, token=token)  # principal cached, caches warm
    few = await _count(api, sql_counter, token, query, 2, name)
    many = await _count(api, sql_counter, token, query, MOST // 2 if name == "quotes" else MOST,
                        name)  # fmt: skip
    assert few == many
    assert many <= 12, sql_counter.statements


async def test_a_confirmation_costs_the_same_for_3_lines_as_for_30(api, tenant, filled,
                                                                   sql_counter):  # fmt: skip
    from order_helpers import CONFIRM_ORDER

    admin = tenant.tokens["admin"]
    g = filled
    counts = []
    for size in (3, 30):
        order = await create_order(api, admin, g, [
            {"productId": g.products[i % 3], "quantity": "1"} for i in range(size)
        ])  # fmt: skip
        sql_counter.statements.clear()
        data = await api.gql(CONFIRM_ORDER, {"input": {"id": order["id"]}}, token=admin)
        assert data["confirmSalesOrder"]["userErrors"] == []
        counts.append(sql_counter.count)
    assert counts[0] == counts[1], counts
    # Lock customer and order, lines, reserve (savepoint, reservations, levels, their
    # update, the reservations, audit), the order and its audit, the answer's lines.
    assert counts[1] <= 16, "\n".join(s[:90] for s in sql_counter.statements)
