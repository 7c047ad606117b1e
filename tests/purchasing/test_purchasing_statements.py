"""No N+1: the statements behind `purchaseOrders` with nested supplier, warehouse,
lines (and their products), receipts (and their lines, products and batches) depend on
the query's shape, never on the number of orders, lines or receipts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from helpers import make_tenant

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.catalog import service as catalog
from app.db import tenant_transaction
from app.purchasing import receipts, service
from app.purchasing.rules import OrderLine, ReceiptLine
from app.stock import warehouses

ORDERS = """query($first: Int) { purchaseOrders(first: $first) {
  totalCount edges { node { id number status
    supplier { code } warehouse { code }
    lines { quantity receivedQuantity product { code category { name } } }
    receipts { number warehouse { code } lines { quantity product { code } batch { code } } }
  } } } }"""
ONE = """query($id: ID!) { purchaseOrder(id: $id) { id
  lines { product { code } } receipts { lines { batch { code } } } } }"""
TODAY = dt.date(2027, 1, 1)


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "buycount")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        category = await catalog.create_category(
            conn, actor=SYSTEM, category_id=None, name="原料", parent_id=None
        )
        products = [
            await catalog.create_product(
                conn,
                actor=SYSTEM,
                product_id=None,
                fields={
                    "code": f"M{i:03}",
                    "name": f"物料{i}",
                    "unit": "kg",
                    "list_price": Decimal(5),
                    "category_id": category.id,
                    "batch_tracked": i % 2 == 0,
                },
            )  # fmt: skip
            for i in range(6)
        ]
        warehouse = await warehouses.create_warehouse(
            conn, actor=SYSTEM, who=EVERYTHING, warehouse_id=None,
            fields={"code": "MAIN", "name": "总仓"},
        )  # fmt: skip
        orders = []
        for i in range(25):
            supplier = await service.create_supplier(
                conn, actor=SYSTEM, supplier_id=None, fields={"code": f"V{i:02}", "name": f"供{i}"}
            )
            order = await service.create_purchase_order(
                conn, actor=SYSTEM, order_id=None,
                fields={"supplier_id": supplier.id, "warehouse_id": warehouse.id,
                        "expected_date": TODAY},
                lines=[OrderLine(products[(i + k) % 6].id, Decimal(10), Decimal(2))
                       for k in range(3)],
                today=TODAY, may_set_costs=True,
            )  # fmt: skip
            await service.send_purchase_order(conn, actor=SYSTEM, order_id=order.id, version=None)
            lines = await service.lines_of(conn, order.id)
            await receipts.receive_purchase_order(
                conn, actor=SYSTEM, receipt_id=None, order_id=order.id,
                lines=[ReceiptLine(x.id, Decimal(1),
                                   batch_code=f"B{i}" if products[(i + k) % 6].batch_tracked
                                   else None)
                       for k, x in enumerate(lines[:2])],
                received_on=None, note=None, today=TODAY,
            )  # fmt: skip
            orders.append(order)
    return {"tenant": tenant, "orders": orders}


async def _count(api, sql_counter, token, query, variables) -> tuple[int, dict]:
    await api.gql("{ me { user { id } } }", token=token)  # principal cached
    sql_counter.statements.clear()
    data = await api.gql(query, variables, token=token)
    return sql_counter.count, data


async def test_orders_with_everything_nested(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["manager"]
    counts = {}
    for first in (2, 25):
        counts[first], data = await _count(api, sql_counter, token, ORDERS, {"first": first})
        edges = data["purchaseOrders"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["lines"]) == 3 and len(e["node"]["receipts"]) == 1
                   for e in edges)  # fmt: skip
        assert all(x["batch"] for e in edges for r in e["node"]["receipts"]
                   for x in r["lines"] if int(x["product"]["code"][1:]) % 2 == 0)  # fmt: skip
    assert counts[2] == counts[25], counts
    # page, count, supplier, warehouse, lines, their products, categories, receipts,
    # receipt warehouses, receipt lines, their products, batches.
    assert counts[25] <= 13, sql_counter.statements


async def test_one_order(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["manager"]
    order_id = str(crowded["orders"][0].id)
    count, data = await _count(api, sql_counter, token, ONE, {"id": order_id})
    assert data["purchaseOrder"]["id"] == order_id
    assert count <= 6, sql_counter.statements


RECEIPTS = """query($first: Int) { goodsReceipts(first: $first) {
  totalCount edges { node { number warehouse { code }
    purchaseOrder { number supplier { code } }
    lines { quantity product { code category { name } } batch { code } } } } } }"""


async def test_receipts_with_their_lines(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["manager"]
    counts = {}
    for first in (2, 25):
        counts[first], data = await _count(api, sql_counter, token, RECEIPTS, {"first": first})
        edges = data["goodsReceipts"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["lines"]) == 2 and e["node"]["purchaseOrder"]["supplier"]
                   for e in edges)  # fmt: skip
        assert any(x["batch"] for e in edges for x in e["node"]["lines"])
    assert counts[2] == counts[25], counts
    # page, count, warehouses, orders, their suppliers, lines, products, categories,
    # batches.
    assert counts[25] <= 10, sql_counter.statements
