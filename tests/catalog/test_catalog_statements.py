"""No N+1: the statements behind `products` with nested categories, `priceLists` with
nested items, their products and customers, and `resolvePrices` with nested products
and lists depend on the query's shape, never on the number of rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import make_tenant

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.catalog import prices, service
from app.customers import service as customers
from app.db import tenant_transaction

PRODUCTS = """query($first: Int) { products(first: $first) {
  totalCount edges { node { id code category { id name } } } } }"""
PRICE_LISTS = """query($first: Int) {
  priceLists(first: $first, filter: {target: {eq: CUSTOMER}}) {
  totalCount edges { node { id name customer { name owner { name } }
    items { unitPrice product { code category { name } } } } } } }"""
RESOLVE = """query($input: ResolvePricesInput!) { resolvePrices(input: $input) {
  lines { unitPrice product { code category { name } } priceList { name items { unitPrice } } }
} }"""


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "catcount")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        categories = [
            await service.create_category(
                conn, actor=SYSTEM, category_id=None, name=f"类{i}", parent_id=None
            )
            for i in range(5)
        ]
        products = [
            await service.create_product(
                conn,
                actor=SYSTEM,
                product_id=None,
                fields={
                    "code": f"C{i:03}",
                    "name": f"产品{i}",
                    "unit": "件",
                    "list_price": Decimal(i + 1),
                    "category_id": categories[i % 5].id,
                },
            )  # fmt: skip
            for i in range(60)
        ]
        owner_id = tenant.user_ids["sales"]
        for i in range(55):
            customer = await customers.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={"name": f"客户{i}", "owner_id": owner_id},
            )  # fmt: skip
            await prices.create_price_list(
                conn, actor=SYSTEM, who=EVERYTHING, price_list_id=None,
                fields={"name": f"价目表{i:02}", "currency": "CNY", "target": "customer",
                        "customer_id": customer.id},
                items=[{"product_id": products[(i + k) % 60].id, "min_quantity": Decimal(k),
                        "unit_price": Decimal(10 + k)} for k in range(4)],
            )  # fmt: skip
        await prices.create_price_list(
            conn, actor=SYSTEM, who=EVERYTHING, price_list_id=None,
            fields={"name": "通用", "currency": "CNY", "target": "all"},
            items=[{"product_id": p.id, "min_quantity": Decimal(0), "unit_price": Decimal(9)}
                   for p in products[:40]],
        )  # fmt: skip
    return {"tenant": tenant, "products": [str(p.id) for p in products]}


async def _count(api, sql_counter, token, query, variables) -> tuple[int, dict]:
    await api.gql("{ me { user { id } } }", token=token)  # principal cached (1 s in tests)
    sql_counter.statements.clear()
    data = await api.gql(query, variables, token=token)
    return sql_counter.count, data


async def test_products_with_categories(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["viewer"]
    counts = {}
    for first in (5, 50):
        counts[first], data = await _count(api, sql_counter, token, PRODUCTS, {"first": first})
        edges = data["products"]["edges"]
        assert len(edges) == first and all(e["node"]["category"]["name"] for e in edges)
    assert counts[5] == counts[50] == 3, counts  # page, count, categories


async def test_price_lists_with_items_products_and_customers(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["admin"]
    counts = {}
    for first in (3, 50):
        counts[first], data = await _count(api, sql_counter, token, PRICE_LISTS, {"first": first})
        edges = data["priceLists"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["items"]) == 4 for e in edges)
        assert all(e["node"]["customer"]["owner"]["name"] == "sales" for e in edges)
        assert all(i["product"]["category"]["name"] for e in edges for i in e["node"]["items"])
    # page, count, items, products, categories, customers, owners
    assert counts[3] == counts[50] == 7, counts


async def test_resolve_prices_with_nested_fields(api, crowded, sql_counter):
    token = crowded["tenant"].tokens["admin"]
    counts = {}
    for size in (2, 40):
        lines = [{"productId": p, "quantity": "1"} for p in crowded["products"][:size]]
        counts[size], data = await _count(
            api, sql_counter, token, RESOLVE, {"input": {"currency": "CNY", "lines": lines}}
        )
        assert len(data["resolvePrices"]["lines"]) == size
        assert all(len(li["priceList"]["items"]) == 40 for li in data["resolvePrices"]["lines"])
    # resolution, products, categories, price lists, their items
    assert counts[2] == counts[40] == 5, counts
