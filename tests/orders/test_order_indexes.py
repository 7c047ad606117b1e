"""Every filter and sort of `salesOrders` and `quotes` can be answered from indexes at
a few thousand documents: with sequential scans disabled, the plan of each statement
the API really ran has none (the nested lines and products included); counting a
selective filter goes through that filter's own index; each sort reads its index in
order, by the planner's own choice."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.db import tenant_transaction

CUSTOMER = "00000000-0000-0000-0000-000000000007"
WAREHOUSE = "00000000-0000-0000-0002-000000000001"
FAMILY = "00000000-0000-0000-0003-000000000042"
QUOTE = FAMILY
TODAY = dt.date(2026, 6, 15)  # the fill's calendar; statuses read relative to the real today
FILL = f"""
INSERT INTO customers (id, name, owner_id)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, '客户' || i,
       CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(:owner AS uuid) END
FROM generate_series(1, 300) AS i;
INSERT INTO products (id, code, name, unit, list_price)
SELECT ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid, 'IX' || i, '产品' || i,
       '件', 10
FROM generate_series(1, 50) AS i;
INSERT INTO warehouses (id, code, name)
SELECT ('00000000-0000-0000-0002-' || lpad(i::text, 12, '0'))::uuid, 'W' || i, '仓' || i
FROM generate_series(1, 5) AS i;
INSERT INTO quotes (id, number, family_id, revision, customer_id, currency, quote_date,
                    valid_until, status, gross_total)
SELECT ('00000000-0000-0000-0003-' || lpad(i::text, 12, '0'))::uuid,
       'QT-2026-' || lpad(i::text, 6, '0'),
       ('00000000-0000-0000-0003-' || lpad(i::text, 12, '0'))::uuid, 1,
       ('00000000-0000-0000-0000-' || lpad((i % 300 + 1)::text, 12, '0'))::uuid, 'CNY',
       DATE '{TODAY}' - (i % 400), DATE '{TODAY}' - (i % 400) + 30 + (i % 60),
       (ARRAY['draft', 'sent', 'accepted', 'rejected', 'superseded'])[i % 5 + 1], i * 3.7
FROM generate_series(1, 4000) AS i;
INSERT INTO quote_lines (id, quote_id, position, product_id, quantity, unit_price, tax_rate,
                         price_source, net_amount, tax_amount, gross_amount)
SELECT gen_random_uuid(), q.id, p, ('00000000-0000-0000-0001-' || lpad((p + 1)::text, 12, '0'))::uuid,
       1, 10, 0.13, 'list_price', 10, 1.3, 11.3
FROM quotes q CROSS JOIN generate_series(0, 1) AS p;
INSERT INTO sales_orders (id, number, customer_id, currency, warehouse_id, quote_id, order_date,
                          status, fulfilment_status, invoice_status, payment_status, gross_total)
SELECT gen_random_uuid(), 'SO-2026-' || lpad(i::text, 6, '0'),
       ('00000000-0000-0000-0000-' || lpad((i % 300 + 1)::text, 12, '0'))::uuid, 'CNY',
       ('00000000-0000-0000-0002-' || lpad((i % 5 + 1)::text, 12, '0'))::uuid,
       CASE WHEN i % 4 = 0 THEN ('00000000-0000-0000-0003-' || lpad(i::text, 12, '0'))::uuid END,
       DATE '{TODAY}' - (i % 500),
       (ARRAY['draft', 'confirmed', 'confirmed', 'closed', 'cancelled'])[i % 5 + 1],
       (ARRAY['none', 'none', 'none', 'partial', 'full', 'full'])[i % 6 + 1],
       (ARRAY['none', 'none', 'none', 'none', 'partial', 'full', 'full'])[i % 7 + 1],
       (ARRAY['none', 'none', 'none', 'none', 'none', 'partial', 'full', 'full'])[i % 8 + 1],
       i * 1.9
FROM generate_series(1, 4000) AS i;
INSERT INTO sales_order_lines (id, order_id, position, product_id, quantity, unit_price,
                               tax_rate, price_source, net_amount, tax_amount, gross_amount)
SELECT gen_random_uuid(), o.id, p, ('00000000-0000-0000-0001-' || lpad((p + 1)::text, 12, '0'))::uuid,
       1, 10, 0.13, 'list_price', 10, 1.3, 11.3
FROM sales_orders o CROSS JOIN generate_series(0, 1) AS p;
"""
TABLES = ("customers", "products", "warehouses", "quotes", "quote_lines", "sales_orders",
          "sales_order_lines")  # fmt: skip


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
    tenant = await make_tenant(owner, services, "oindex")
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in FILL.split(";"):
            if statement.strip():
                await conn.execute(text(statement), {"owner": str(tenant.user_ids["sales"])}
                                   if ":owner" in statement else {})  # fmt: skip
    async with owner.connect() as conn:
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


async def _statements(api, sql_counter, token, query, variables) -> list[tuple[str, object]]:
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, variables, token=token)
    return list(zip(sql_counter.statements, sql_counter.parameters, strict=True))


def _main(table: str):
    """The page statement of a list of `table` (not its count, not a child's)."""
    return lambda s: f".{table} " in s and "count(" not in s and "LIMIT" in s


def _count(table: str):
    return lambda s: "count(" in s and f".{table}" in s


ORDERS = """query($filter: SalesOrderFilter, $orderBy: [SalesOrderOrder!]) {
  salesOrders(first: 20, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id lines { id reservedQuantity product { id } } } } } }"""
QUOTES = """query($filter: QuoteFilter, $orderBy: [QuoteOrder!]) {
  quotes(first: 20, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id lines { id product { id } } salesOrder { id } } } } }"""

ORDER_FILTERS = [
    # Either index of a customer's orders counts them (the second is the timeline's,
    # migration 0020): the same range of customer_id, whichever the planner takes.
    ({"customerId": {"eq": CUSTOMER}},
     ("ix_sales_orders_customer_id", "ix_sales_orders_customer_created")),
    ({"warehouseId": {"eq": WAREHOUSE}}, "ix_sales_orders_warehouse_id"),
    ({"quoteId": {"eq": QUOTE}}, "ix_sales_orders_quote_id"),
    ({"status": {"eq": "CANCELLED"}}, "ix_sales_orders_status"),
    ({"fulfilmentStatus": {"eq": "PARTIAL"}}, "ix_sales_orders_fulfilment_status"),
    ({"invoiceStatus": {"in": ["PARTIAL"]}}, "ix_sales_orders_invoice_status"),
    ({"paymentStatus": {"eq": "PARTIAL"}}, "ix_sales_orders_payment_status"),
    ({"orderDate": {"gte": str(TODAY - dt.timedelta(days=3)), "lte": str(TODAY)}},
     "ix_sales_orders_order_date"),
    ({"number": {"eq": "SO-2026-000042"}}, "uq_sales_orders_number"),
]  # fmt: skip
ORDER_SORTS = [
    (None, "ix_sales_orders_order_date"),
    ([{"field": "NUMBER"}], "uq_sales_orders_number"),
    ([{"field": "GROSS_TOTAL", "direction": "DESC"}], "ix_sales_orders_gross_total"),
]
QUOTE_FILTERS = [
    ({"customerId": {"eq": CUSTOMER}}, "ix_quotes_customer_id"),
    ({"familyId": {"eq": FAMILY}}, "uq_quotes_family_id_revision"),
    ({"status": {"eq": "REJECTED"}}, "ix_quotes_status"),
    ({"status": {"eq": "SENT"}}, "ix_quotes_status"),
    ({"status": {"eq": "EXPIRED"}}, "ix_quotes_status"),
    ({"quoteDate": {"gte": str(TODAY - dt.timedelta(days=2))}}, "ix_quotes_quote_date"),
    ({"validUntil": {"lte": str(TODAY - dt.timedelta(days=300))}}, "ix_quotes_valid_until"),
    ({"number": {"in": ["QT-2026-000042"]}}, "uq_quotes_number_revision"),
]
QUOTE_SORTS = [
    (None, "ix_quotes_quote_date"),
    ([{"field": "VALID_UNTIL"}], "ix_quotes_valid_until"),
    ([{"field": "NUMBER", "direction": "DESC"}], "uq_quotes_number_revision"),
    ([{"field": "GROSS_TOTAL"}], "ix_quotes_gross_total"),
]
CASES = [(ORDERS, "sales_orders", f, i) for f, i in ORDER_FILTERS] + [
    (QUOTES, "quotes", f, i) for f, i in QUOTE_FILTERS
]
SORTS = [(ORDERS, "sales_orders", o, i) for o, i in ORDER_SORTS] + [
    (QUOTES, "quotes", o, i) for o, i in QUOTE_SORTS
]


@pytest.mark.parametrize(("query", "table", "filter_", "index"), CASES,
                         ids=lambda v: json.dumps(v)[:60] if not isinstance(v, str) or "{" not in v else "q")  # fmt: skip
@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_filters_use_their_index(api, services, crowded, sql_counter, query, table,
                                       filter_, index, role):  # fmt: skip
    statements = await _statements(api, sql_counter, crowded.tokens[role], query,
                                   {"filter": filter_})  # fmt: skip
    for statement, parameters in statements:
        if "pg_catalog" in statement or "users" in statement.split("FROM")[-1][:40]:
            continue
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], (statement, _scans(plan))
    if role == "admin":
        counted = [(s, p) for s, p in statements if _count(table)(s)]
        assert counted, [s for s, _ in statements]
        plan = await _plan(services, *counted[0])
        indexes = {index} if isinstance(index, str) else set(index)
        assert indexes & _index_names(plan), (index, _index_names(plan))


@pytest.mark.parametrize(("query", "table", "order", "index"), SORTS,
                         ids=lambda v: json.dumps(v)[:60] if not isinstance(v, str) or "{" not in v else "q")  # fmt: skip
async def test_sorts_read_their_index(api, services, crowded, sql_counter, query, table, order,
                                      index):  # fmt: skip
    statements = await _statements(api, sql_counter, crowded.tokens["admin"], query,
                                   {"orderBy": order})  # fmt: skip
    (page,) = [(s, p) for s, p in statements if _main(table)(s)]
    plan = await _plan(services, *page, seqscan=True)  # the planner's own choice
    assert index in _index_names(plan), (index, _scans(plan), _index_names(plan))
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan") or s.startswith("Sort")]


async def test_the_fill_is_what_the_cases_assume(api, crowded):
    data = await api.gql(ORDERS, {"filter": {"customerId": {"eq": CUSTOMER}}},
                         token=crowded.tokens["admin"])  # fmt: skip
    assert data["salesOrders"]["totalCount"] > 5
    assert uuid.UUID(CUSTOMER)
