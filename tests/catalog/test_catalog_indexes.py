"""Every filter and sort of `products` and `priceLists`, and price resolution, can be
answered from indexes at a few thousand products: with sequential scans disabled, the
plan of each statement the API really ran has none; counting a selective filter goes
through that filter's own index; each sort reads its index in order, by the planner's
own choice."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.db import tenant_transaction

SOME_ID = str(uuid.uuid4())
FILL = """
INSERT INTO product_categories (id, parent_id, name)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, NULL, '大类' || i
FROM generate_series(1, 10) AS i;
INSERT INTO product_categories (id, parent_id, name)
SELECT ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0000-' || lpad((i % 10 + 1)::text, 12, '0'))::uuid, '小类' || i
FROM generate_series(1, 40) AS i;
INSERT INTO products (id, code, name, category_id, unit, list_price, tax_rate, batch_tracked,
                      active)
SELECT gen_random_uuid(), 'P' || lpad(i::text, 5, '0'),
       '产品' || i || CASE WHEN i % 100 = 0 THEN '螺栓' ELSE '' END,
       ('00000000-0000-0000-0001-' || lpad((i % 40 + 1)::text, 12, '0'))::uuid, '件',
       (i % 5000) * 1.37, 0.13, i % 40 = 0, i % 50 <> 0
FROM generate_series(1, 5000) AS i;
INSERT INTO customers (id, name, tier)
SELECT gen_random_uuid(), '客户' || i, (ARRAY['A', 'B', 'C'])[i % 3 + 1]
FROM generate_series(1, 300) AS i;
INSERT INTO price_lists (id, name, currency, tax_inclusive, valid_from, valid_to, target,
                         customer_id)
SELECT gen_random_uuid(), '专享' || row_number() OVER (), CASE WHEN random() < 0.1 THEN 'USD'
       ELSE 'CNY' END, true, DATE '2026-01-01', DATE '2027-12-31', 'customer', id
FROM customers;
INSERT INTO price_lists (id, name, currency, target, tier)
SELECT gen_random_uuid(), '级别价' || t, 'CNY', 'tier', t FROM unnest(ARRAY['A', 'B', 'C']) AS t;
INSERT INTO price_lists (id, name, currency, target) VALUES (gen_random_uuid(), '标准价', 'CNY', 'all');
INSERT INTO price_list_items (id, price_list_id, product_id, min_quantity, unit_price)
SELECT gen_random_uuid(), l.id, p.id, q, 10 + q
FROM (SELECT id, row_number() OVER () AS n FROM price_lists) AS l
JOIN (SELECT id, row_number() OVER (ORDER BY code) AS n FROM products) AS p
  ON p.n % 50 = l.n % 50 OR p.n <= 20
CROSS JOIN (VALUES (0), (10)) AS breaks(q);
"""
TABLES = ("product_categories", "products", "customers", "price_lists", "price_list_items")


def _walk(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _walk(child)
    return nodes


def _scans(plan: dict) -> list[str]:
    return [f"{n['Node Type']} on {n.get('Relation Name', '?')}" for n in _walk(plan)]


def _index_names(plan: dict) -> set[str]:
    return {n["Index Name"] for n in _walk(plan) if "Index Name" in n}


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "catcrowd")
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in FILL.split(";"):
            if statement.strip():
                await conn.execute(text(statement))
    async with owner.connect() as conn:
        # VACUUM also moves the GIN index's pending entries into the index proper.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in TABLES:
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    return tenant


async def _plan(services, statement: str, parameters, *, seqscan: bool = False) -> dict:
    async with services.engine.begin() as conn:
        if not seqscan:
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Plan"]


async def _statement(api, sql_counter, token, query, variables, marker: str):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, variables, token=token)
    return next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker(s)
    )


PRODUCTS = """query($filter: ProductFilter, $orderBy: [ProductOrder!]) {
  products(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } } }"""
COUNT_PRODUCTS = """query($filter: ProductFilter) {
  products(first: 1, filter: $filter) { totalCount } }"""
UNDER = "00000000-0000-0000-0000-000000000003"
CHILD = "00000000-0000-0000-0001-000000000007"
PRODUCT_FILTERS = [
    # Equality: either index on the code will do.
    ({"code": {"eq": "P00042"}}, ("uq_products_code", "ix_products_code_prefix")),
    ({"code": {"in": ["P00042", "P00043"]}}, ("uq_products_code", "ix_products_code_prefix")),
    ({"code": {"startsWith": "P0004"}}, "ix_products_code_prefix"),
    ({"search": "螺栓"}, "ix_products_search_tokens"),
    ({"search": "栓"}, "ix_products_search_tokens"),
    ({"categoryId": {"eq": CHILD}}, "ix_products_category_id"),
    ({"categoryId": {"isNull": True}}, "ix_products_category_id"),
    ({"underCategory": UNDER}, "ix_products_category_id"),
    ({"active": False}, "ix_products_active"),
    ({"batchTracked": True}, "ix_products_batch_tracked"),
]
SORTS = [
    (None, "uq_products_code"),
    ([{"field": "CODE", "direction": "DESC"}], "uq_products_code"),
    ([{"field": "NAME"}], "ix_products_name"),
    ([{"field": "LIST_PRICE", "direction": "DESC"}], "ix_products_list_price"),
    ([{"field": "LIST_PRICE"}, {"field": "CODE"}], "ix_products_list_price"),
]


def _products_page(s: str) -> bool:
    return "FROM" in s and ".products" in s and "count(" not in s


def _products_count(s: str) -> bool:
    return "count(" in s and ".products" in s


@pytest.mark.parametrize(
    ("filter_", "index"), PRODUCT_FILTERS, ids=lambda v: json.dumps(v, ensure_ascii=False)
)
async def test_product_filters_use_their_index(api, services, crowded, sql_counter, filter_, index):
    token = crowded.tokens["viewer"]
    statement, parameters = await _statement(
        api, sql_counter, token, PRODUCTS, {"filter": filter_}, _products_page
    )
    plan = await _plan(services, statement, parameters)
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)
    statement, parameters = await _statement(
        api, sql_counter, token, COUNT_PRODUCTS, {"filter": filter_}, _products_count
    )
    plan = await _plan(services, statement, parameters)
    assert _index_names(plan) & ({index} if isinstance(index, str) else set(index)), plan
    if "underCategory" in filter_:  # the walk down the tree is indexed too
        assert "ix_product_categories_parent_id" in _index_names(plan), plan


@pytest.mark.parametrize(("order", "index"), SORTS, ids=lambda v: json.dumps(v))
async def test_product_sorts_read_their_index(api, services, crowded, sql_counter, order, index):
    statement, parameters = await _statement(
        api, sql_counter, crowded.tokens["viewer"], PRODUCTS, {"orderBy": order}, _products_page
    )
    plan = await _plan(services, statement, parameters, seqscan=True)  # the planner's choice
    assert index in _index_names(plan), plan
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan") or s.startswith("Sort")]


async def test_product_pages_after_a_cursor_use_the_index(api, services, crowded, sql_counter):
    token = crowded.tokens["viewer"]
    for order in (None, [{"field": "LIST_PRICE"}], [{"field": "NAME", "direction": "DESC"}]):
        first = await api.gql(
            """query($orderBy: [ProductOrder!]) { products(first: 5, orderBy: $orderBy) {
                 pageInfo { endCursor } } }""",
            {"orderBy": order}, token=token,
        )  # fmt: skip
        cursor = first["products"]["pageInfo"]["endCursor"]
        statement, parameters = await _statement(
            api, sql_counter, token,
            """query($orderBy: [ProductOrder!], $after: String) {
                 products(first: 20, after: $after, orderBy: $orderBy) { edges { node { id } } } }""",
            {"orderBy": order, "after": cursor}, _products_page,
        )  # fmt: skip
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)


PRICE_LISTS = """query($filter: PriceListFilter, $orderBy: PriceListOrder) {
  priceLists(first: 20, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id items { unitPrice } } } } }"""
LIST_CASES = [
    ({}, None),
    ({}, {"field": "CREATED_AT", "direction": "DESC"}),
    ({"currency": "USD"}, None),
    ({"target": {"eq": "TIER"}}, None),
    ({"tier": "B"}, None),
    ({"customerId": {"eq": SOME_ID}}, None),
    ({"active": False}, None),
    ({"validOn": "2027-06-30"}, None),
]


@pytest.mark.parametrize(("filter_", "order"), LIST_CASES, ids=lambda v: json.dumps(v))
@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_price_list_filters_and_items_use_indexes(
    api, services, crowded, sql_counter, filter_, order, role
):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(PRICE_LISTS, {"filter": filter_, "orderBy": order}, token=crowded.tokens[role])
    statements = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if ".price_list" in s
    ]
    assert len(statements) >= 2  # page and count (and items when the page has lists)
    for statement, parameters in statements:
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], (statement, _scans(plan))


RESOLVE = """query($input: ResolvePricesInput!) {
  resolvePrices(input: $input) { lines { unitPrice source } } }"""


async def test_price_resolution_uses_indexes(api, services, crowded, sql_counter):
    token = crowded.tokens["admin"]
    customers = await api.gql(
        '{ customers(first: 1, filter: {search: "客户7"}) { edges { node { id } } } }', token=token
    )
    customer = customers["customers"]["edges"][0]["node"]["id"]
    products = await api.gql("{ products(first: 30) { edges { node { id } } } }", token=token)
    lines = [{"productId": e["node"]["id"], "quantity": "12"}
             for e in products["products"]["edges"]]  # fmt: skip
    statement, parameters = await _statement(
        api, sql_counter, token, RESOLVE,
        {"input": {"customerId": customer, "currency": "CNY", "date": "2027-01-01",
                   "lines": lines}},
        lambda s: "applicable" in s,
    )  # fmt: skip
    plan = await _plan(services, statement, parameters)
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)
    assert "uq_price_list_items_break" in _index_names(plan), plan
    # By the planner's own choice too, items are read through the index, never all of
    # them (a few hundred lists, on the other hand, it may well read in one go).
    natural = await _plan(services, statement, parameters, seqscan=True)
    assert "Seq Scan on price_list_items" not in _scans(natural), _scans(natural)
    assert "uq_price_list_items_break" in _index_names(natural)
