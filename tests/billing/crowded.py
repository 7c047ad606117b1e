"""A tenant crowded with billing documents made in SQL (respecting every constraint),
then analysed: what the index and receivables tests plan and page over. Built once for
the package (the `crowded` fixture in conftest.py): the fill is the slow part."""

from __future__ import annotations

import datetime as dt

from helpers import TenantHandle, make_tenant
from sqlalchemy import text

from app.db import tenant_transaction

# Customers: a third the sales rep's, a third in the pool (which the rep sees too), a
# third the admin's (which the rep does not).
# Most invoices are paid, as in a real ledger: about one in eight is still owed
# (issued or partially paid), and payments land up to 44 days after the invoice.
N = 4000
CUSTOMER = "00000000-0000-0000-0000-000000000007"
DEBTOR = "00000000-0000-0000-0000-000000000014"  # owes CNY; the admin's, not the rep's
ORDER = "00000000-0000-0000-0004-000000000042"
TODAY = dt.date(2026, 6, 15)
CUST = "('00000000-0000-0000-0000-' || lpad(({expr})::text, 12, '0'))::uuid"
ORD = "('00000000-0000-0000-0004-' || lpad(({expr})::text, 12, '0'))::uuid"


def _c(expr: str) -> str:
    return CUST.format(expr=expr)


def _o(expr: str) -> str:
    return ORD.format(expr=expr)


FILL = f"""
INSERT INTO customers (id, name, owner_id)
SELECT {_c("i")}, '客户' || i,
       CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN CAST(:owner AS uuid) ELSE CAST(:other AS uuid) END
FROM generate_series(1, 300) AS i;
INSERT INTO products (id, code, name, unit, list_price)
SELECT ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid, 'BX' || i, '产品' || i,
       '件', 10
FROM generate_series(1, 20) AS i;
INSERT INTO warehouses (id, code, name)
SELECT ('00000000-0000-0000-0002-' || lpad(i::text, 12, '0'))::uuid, 'W' || i, '仓' || i
FROM generate_series(1, 5) AS i;
INSERT INTO sales_orders (id, number, customer_id, currency, warehouse_id, order_date, status,
                          fulfilment_status, invoice_status, payment_status, gross_total)
SELECT {_o("i")}, 'SO-2026-' || lpad(i::text, 6, '0'), {_c("i % 300 + 1")},
       CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'CNY' END,
       ('00000000-0000-0000-0002-' || lpad((i % 5 + 1)::text, 12, '0'))::uuid,
       DATE '{TODAY}' - (i % 500), 'confirmed', 'full', 'partial', 'partial', 22.6
FROM generate_series(1, {N}) AS i;
INSERT INTO sales_order_lines (id, order_id, position, product_id, quantity, unit_price,
                               tax_rate, price_source, net_amount, tax_amount, gross_amount)
SELECT gen_random_uuid(), o.id, 0, '00000000-0000-0000-0001-000000000001'::uuid,
       2, 10, 0.13, 'list_price', 20, 2.6, 22.6
FROM sales_orders o;
INSERT INTO shipments (id, number, order_id, customer_id, warehouse_id, shipment_date,
                       fingerprint)
SELECT gen_random_uuid(), 'SH-2026-' || lpad(i::text, 6, '0'), {_o("i")}, {_c("i % 300 + 1")},
       ('00000000-0000-0000-0002-' || lpad((i % 5 + 1)::text, 12, '0'))::uuid,
       DATE '{TODAY}' - (i % 500), 'fill'
FROM generate_series(1, {N}) AS i;
INSERT INTO shipment_lines (id, shipment_id, position, order_line_id, product_id, quantity)
SELECT gen_random_uuid(), s.id, 0, l.id, l.product_id, 2
FROM shipments s JOIN sales_order_lines l ON l.order_id = s.order_id;
INSERT INTO sales_returns (id, number, order_id, customer_id, warehouse_id, return_date,
                           fingerprint)
SELECT ('00000000-0000-0000-0005-' || lpad(i::text, 12, '0'))::uuid,
       'RT-2026-' || lpad(i::text, 6, '0'), {_o("i")}, {_c("i % 300 + 1")},
       ('00000000-0000-0000-0002-' || lpad((i % 5 + 1)::text, 12, '0'))::uuid,
       DATE '{TODAY}' - (i % 500), 'fill'
FROM generate_series(1, {N}) AS i;
INSERT INTO sales_return_lines (id, return_id, position, order_line_id, product_id, quantity,
                                credited_quantity)
SELECT gen_random_uuid(), r.id, 0, l.id, l.product_id, 1, 1
FROM sales_returns r JOIN sales_order_lines l ON l.order_id = r.order_id;
INSERT INTO invoices (id, number, order_id, customer_id, currency, invoice_date, due_date,
                      status, net_total, tax_total, gross_total, paid_amount, fingerprint)
SELECT ('00000000-0000-0000-0006-' || lpad(i::text, 12, '0'))::uuid,
       'INV-2026-' || lpad(i::text, 6, '0'), {_o("i")}, {_c("i % 300 + 1")},
       CASE WHEN i % 20 = 3 OR i % 10 = 5 THEN 'USD' ELSE 'CNY' END,
       DATE '{TODAY}' - (i % 500), DATE '{TODAY}' - (i % 500) + 30 + (i % 7),
       s.status, 10 + i, 1.3, 11.3 + i,
       CASE s.status WHEN 'paid' THEN 11.3 + i WHEN 'partially_paid' THEN 1 ELSE 0 END, 'fill'
FROM generate_series(1, {N}) AS i,
     LATERAL (SELECT CASE WHEN i % 50 = 0 THEN 'void' WHEN i % 40 = 1 THEN 'partially_paid'
                          WHEN i % 10 = 3 THEN 'issued' ELSE 'paid' END AS status) AS s;
INSERT INTO invoice_lines (id, invoice_id, position, order_line_id, product_id, quantity,
                           unit_price, tax_rate, net_amount, tax_amount, gross_amount)
SELECT gen_random_uuid(), v.id, 0, l.id, l.product_id, 2, 10, 0.13, 20, 2.6, 22.6
FROM invoices v JOIN sales_order_lines l ON l.order_id = v.order_id;
INSERT INTO credit_notes (id, number, order_id, customer_id, return_id, currency, credit_date,
                          status, net_total, tax_total, gross_total, applied_amount)
SELECT ('00000000-0000-0000-0007-' || lpad(i::text, 12, '0'))::uuid,
       'CN-2026-' || lpad(i::text, 6, '0'), {_o("i")}, {_c("i % 300 + 1")},
       ('00000000-0000-0000-0005-' || lpad(i::text, 12, '0'))::uuid,
       CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'CNY' END, DATE '{TODAY}' - (i % 500),
       s.status, 10, 1.3, 11.3,
       CASE s.status WHEN 'applied' THEN 11.3 WHEN 'partially_applied' THEN 1 ELSE 0 END
FROM generate_series(1, {N}) AS i,
     LATERAL (SELECT CASE WHEN i % 40 = 0 THEN 'partially_applied'
                          WHEN i % 2 = 0 THEN 'applied' ELSE 'open' END AS status) AS s;
INSERT INTO credit_note_lines (id, credit_note_id, position, order_line_id, product_id,
                               quantity, unit_price, tax_rate, net_amount, tax_amount,
                               gross_amount)
SELECT gen_random_uuid(), c.id, 0, l.id, l.product_id, 1, 10, 0.13, 10, 1.3, 11.3
FROM credit_notes c JOIN sales_order_lines l ON l.order_id = c.order_id;
INSERT INTO payments (id, number, customer_id, currency, amount, allocated_amount, received_on,
                      status, fingerprint)
SELECT ('00000000-0000-0000-0008-' || lpad(i::text, 12, '0'))::uuid,
       'PAY-2026-' || lpad(i::text, 6, '0'), {_c("i % 300 + 1")},
       CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'CNY' END, 20000 + i,
       CASE s.status WHEN 'allocated' THEN 20000 + i WHEN 'partially_allocated' THEN 1 ELSE 0 END,
       DATE '{TODAY}' - (i % 500), s.status, 'fill'
FROM generate_series(1, {N}) AS i,
     LATERAL (SELECT CASE WHEN i % 40 = 1 THEN 'partially_allocated'
                          WHEN i % 2 = 0 THEN 'allocated' ELSE 'unallocated' END AS status) AS s;
INSERT INTO payment_allocations (id, invoice_id, payment_id, credit_note_id, amount,
                                 allocated_on)
SELECT gen_random_uuid(), v.id,
       CASE WHEN i % 3 <> 0 THEN ('00000000-0000-0000-0008-' || lpad(i::text, 12, '0'))::uuid END,
       CASE WHEN i % 3 = 0 THEN ('00000000-0000-0000-0007-' || lpad(i::text, 12, '0'))::uuid END,
       v.paid_amount, v.invoice_date + (i % 45)
FROM generate_series(1, {N}) AS i
JOIN invoices v ON v.id = ('00000000-0000-0000-0006-' || lpad(i::text, 12, '0'))::uuid
WHERE v.paid_amount > 0;
"""
TABLES = ("customers", "products", "warehouses", "sales_orders", "sales_order_lines",
          "shipments", "shipment_lines", "sales_returns", "sales_return_lines", "invoices",
          "invoice_lines", "credit_notes", "credit_note_lines", "payments",
          "payment_allocations")  # fmt: skip
BIG = TABLES[3:]


async def fill_crowded(owner, services) -> TenantHandle:
    tenant = await make_tenant(owner, services, "bindex")
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in FILL.split(";"):
            if statement.strip():
                owners = {"owner": str(tenant.user_ids["sales"]),
                          "other": str(tenant.user_ids["admin"])}  # fmt: skip
                await conn.execute(text(statement), owners if ":owner" in statement else {})
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in TABLES:
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    return tenant
