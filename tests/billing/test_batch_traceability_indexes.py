"""The recall (batchDeliveries) and the batches of shipment lines are answered from
indexes at a few thousand shipments: with sequential scans disabled no statement the
API ran has one; counting a batch's deliveries and reading its page go through
ix_shipment_line_batches_batch_id, the page in index order by the planner's own choice
(no Sort); a page of shipments reads its lines' batches through their index. The
shipped batches are made by migration 0023's backfill from ledger moves made in SQL."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import make_tenant
from sqlalchemy import text
from test_batch_traceability import DELIVERIES, MIGRATION, SHIPMENTS
from test_billing_indexes import _index_names, _plan, _scans

from app.db import tenant_transaction

N = 4000
BATCHES = 8
TODAY = dt.date(2026, 6, 15)
PRODUCT = "00000000-0000-0000-0001-000000000001"
BATCH = "00000000-0000-0000-0009-000000000003"
CUST = "('00000000-0000-0000-0000-' || lpad(({expr})::text, 12, '0'))::uuid"
ORD = "('00000000-0000-0000-0004-' || lpad(({expr})::text, 12, '0'))::uuid"
SHIP = "('00000000-0000-0000-0003-' || lpad(({expr})::text, 12, '0'))::uuid"
LOT = "('00000000-0000-0000-0009-' || lpad(({expr})::text, 12, '0'))::uuid"

FILL = f"""
INSERT INTO customers (id, name, owner_id)
SELECT {CUST.format(expr="i")}, '客户' || i,
       CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(:owner AS uuid) END
FROM generate_series(1, 300) AS i;
INSERT INTO products (id, code, name, unit, list_price, batch_tracked)
VALUES ('{PRODUCT}', 'LOTTED', '批次产品', '件', 10, true);
INSERT INTO warehouses (id, code, name)
VALUES ('00000000-0000-0000-0002-000000000001', 'W1', '仓1');
INSERT INTO batches (id, product_id, code, expires_on)
SELECT {LOT.format(expr="i")}, '{PRODUCT}', 'LOT-' || i, DATE '2030-01-01' + i
FROM generate_series(1, {BATCHES}) AS i;
INSERT INTO sales_orders (id, number, customer_id, currency, warehouse_id, order_date, status,
                          fulfilment_status, invoice_status, payment_status, gross_total)
SELECT {ORD.format(expr="i")}, 'SO-2026-' || lpad(i::text, 6, '0'),
       {CUST.format(expr="i % 300 + 1")}, 'CNY', '00000000-0000-0000-0002-000000000001',
       DATE '{TODAY}' - (i % 500), 'confirmed', 'full', 'none', 'none', 22.6
FROM generate_series(1, {N}) AS i;
INSERT INTO sales_order_lines (id, order_id, position, product_id, quantity, shipped_quantity,
                               unit_price, tax_rate, price_source, net_amount, tax_amount,
                               gross_amount)
SELECT gen_random_uuid(), o.id, 0, '{PRODUCT}', 2, 2, 10, 0.13, 'list_price', 20, 2.6, 22.6
FROM sales_orders o;
INSERT INTO shipments (id, number, order_id, customer_id, warehouse_id, shipment_date,
                       fingerprint)
SELECT {SHIP.format(expr="i")}, 'SH-2026-' || lpad(i::text, 6, '0'), {ORD.format(expr="i")},
       {CUST.format(expr="i % 300 + 1")}, '00000000-0000-0000-0002-000000000001',
       DATE '{TODAY}' - (i % 500), 'fill'
FROM generate_series(1, {N}) AS i;
INSERT INTO shipment_lines (id, shipment_id, position, order_line_id, product_id, quantity)
SELECT gen_random_uuid(), s.id, 0, l.id, l.product_id, 2
FROM shipments s JOIN sales_order_lines l ON l.order_id = s.order_id;
INSERT INTO stock_postings (id, kind, fingerprint) SELECT id, 'issue', 'fill' FROM shipments;
INSERT INTO stock_moves (id, posting_id, line, kind, product_id, warehouse_id, batch_id,
                         quantity, source_type, source_id, source_line_id)
SELECT gen_random_uuid(), s.id, 1, 'issue', l.product_id, s.warehouse_id,
       {LOT.format(expr="right(s.number, 6)::int % " + str(BATCHES) + " + 1")}, -2,
       'shipment', s.id, l.order_line_id
FROM shipments s JOIN shipment_lines l ON l.shipment_id = s.id
"""
TABLES = ("customers", "products", "warehouses", "batches", "sales_orders", "sales_order_lines",
          "shipments", "shipment_lines", "stock_postings", "stock_moves",
          "shipment_line_batches")  # fmt: skip


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "btindex")
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in [*FILL.split(";"), MIGRATION.BACKFILL_SHIPPED]:
            if statement.strip():
                await conn.execute(text(statement), {"owner": str(tenant.user_ids["sales"])}
                                   if ":owner" in statement else {})  # fmt: skip
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in TABLES:
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    return tenant


async def _statements(api, sql_counter, token, query, variables) -> list[tuple[str, object]]:
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, variables, token=token)
    return list(zip(sql_counter.statements, sql_counter.parameters, strict=True))


def _touching(statements, table: str) -> list:
    return [(s, p) for s, p in statements if f".{table} " in s or f".{table}\n" in s]


async def test_the_fill_is_what_the_cases_assume(api, crowded):
    data = await api.gql(DELIVERIES, {"batchId": BATCH, "first": 1},
                         token=crowded.tokens["admin"])  # fmt: skip
    assert data["batchDeliveries"]["totalCount"] == N // BATCHES


@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_the_recall_reads_its_index(api, services, crowded, sql_counter, role):
    statements = await _statements(api, sql_counter, crowded.tokens[role], DELIVERIES,
                                   {"batchId": BATCH, "first": 20})  # fmt: skip
    statements = _touching(statements, "shipment_line_batches")
    assert len(statements) == 2, statements  # the page and its count
    for statement, parameters in statements:
        plan = await _plan(services, statement, parameters)
        assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], (statement, _scans(plan))
        assert "ix_shipment_line_batches_batch_id" in _index_names(plan), _scans(plan)
    if role == "admin":
        (page,) = [(s, p) for s, p in statements if "LIMIT" in s]
        natural = await _plan(services, *page, seqscan=True)
        assert "ix_shipment_line_batches_batch_id" in _index_names(natural), _scans(natural)
        assert not [s for s in _scans(natural) if s.startswith(("Seq Scan", "Sort"))], _scans(
            natural
        )


async def test_shipment_lines_read_their_batches_through_an_index(api, services, crowded,
                                                                  sql_counter):  # fmt: skip
    statements = await _statements(api, sql_counter, crowded.tokens["admin"], SHIPMENTS,
                                   {"first": 20})  # fmt: skip
    (child,) = _touching(statements, "shipment_line_batches")
    plan = await _plan(services, *child)
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)
    natural = await _plan(services, *child, seqscan=True)
    assert "ix_shipment_line_batches_shipment_line_id" in _index_names(natural), _scans(natural)
    assert "Seq Scan on shipment_line_batches" not in _scans(natural), _scans(natural)
