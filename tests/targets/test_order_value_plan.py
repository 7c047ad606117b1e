"""Order value at a few thousand orders: `targetAttainment` and `salesRanking` by
ORDER_VALUE agree with the same rules applied in Python to every order row, and the
statements the API really ran are answered from indexes (with sequential scans
disabled, none is left; the orders of a period come through ix_sales_orders_status,
(status, order_date, id), so no index of its own is needed)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import pytest
from helpers import make_tenant
from sqlalchemy import select, text
from target_helpers import ATTAINMENT, RANKING, set_targets

from app.customers.tables import customers
from app.db import tenant_transaction
from app.orders.tables import sales_orders

FILL = """
INSERT INTO warehouses (id, code, name)
VALUES ('00000000-0000-0000-0002-000000000001', 'W1', '仓1');
INSERT INTO customers (id, name, owner_id)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, '客户' || i,
       CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN CAST(:sales AS uuid)
                  WHEN 2 THEN CAST(:manager AS uuid) ELSE CAST(:admin AS uuid) END
FROM generate_series(1, 300) AS i;
INSERT INTO sales_orders (id, number, customer_id, currency, warehouse_id, order_date, status,
                          net_total, tax_total, gross_total)
SELECT gen_random_uuid(), 'SO-2026-' || lpad(i::text, 6, '0'),
       ('00000000-0000-0000-0000-' || lpad((i % 300 + 1)::text, 12, '0'))::uuid,
       CASE WHEN i % 11 = 0 THEN 'USD' ELSE 'CNY' END,
       '00000000-0000-0000-0002-000000000001', DATE '2026-12-31' - (i % 730),
       (ARRAY['draft', 'confirmed', 'confirmed', 'closed', 'cancelled'])[i % 5 + 1],
       round(i * 1.7, 2), round(i * 0.221, 2), round(i * 1.7, 2) + round(i * 0.221, 2)
FROM generate_series(1, 4000) AS i;
"""
TABLES = ("warehouses", "customers", "sales_orders", "sales_targets", "users", "teams")
MONTHS = [dt.date(2026, m, 1) for m in range(1, 13)]


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
async def crowded(api, owner, services):
    tenant = await make_tenant(owner, services, "ovplan")
    people = {role: str(tenant.user_ids[role]) for role in ("sales", "manager", "admin")}
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in FILL.split(";"):
            if statement.strip():
                await conn.execute(text(statement), people)
    targets = [{"period": m.isoformat(), "scope": "COMPANY", "metric": "ORDER_VALUE",
                "amount": "100000"} for m in MONTHS]  # fmt: skip
    targets += [{"period": m.isoformat(), "scope": "USER", "userId": user, "amount": "5000",
                 "metric": "ORDER_VALUE", "currency": currency}
                for m in MONTHS for user in people.values() for currency in ("CNY", "USD")]  # fmt: skip
    payload = await set_targets(api, tenant.tokens["admin"], targets)
    assert payload["userErrors"] == [], payload["userErrors"][:3]
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in TABLES:
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = (
            await conn.execute(
                select(sales_orders.c.order_date, sales_orders.c.status,
                       sales_orders.c.currency, sales_orders.c.gross_total,
                       sales_orders.c.net_total, customers.c.owner_id)
                .join(customers, customers.c.id == sales_orders.c.customer_id)
            )
        ).all()  # fmt: skip
    tenant.orders = rows
    return tenant


def _booked(rows, currency: str, start: dt.date, end: dt.date):
    return [r for r in rows if r.status in ("confirmed", "closed") and r.currency == currency
            and start <= r.order_date <= end]  # fmt: skip


def _month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


async def test_attainment_at_volume_matches_the_rows(api, crowded):
    for currency in ("CNY", "USD"):
        data = await api.gql(ATTAINMENT, {"from": "2026-01-01", "to": "2026-12-31",
                                          "currency": currency, "metric": "ORDER_VALUE"},
                             token=crowded.tokens["admin"])  # fmt: skip
        got = {(r["target"]["scope"], r["target"]["userId"], r["target"]["period"]):
               Decimal(r["achieved"]) for r in data["targetAttainment"]["targets"]}  # fmt: skip
        expected = {}
        for month in MONTHS:
            booked = _booked(crowded.orders, currency, month, _month_end(month))
            if currency == "CNY":
                expected[("COMPANY", None, month.isoformat())] = sum(
                    (r.gross_total for r in booked), Decimal(0)
                )
            for role in ("sales", "manager", "admin"):
                user = crowded.user_ids[role]
                expected[("USER", str(user), month.isoformat())] = sum(
                    (r.gross_total for r in booked if r.owner_id == user), Decimal(0)
                )
        assert got == expected
        # Gross, not net: the fill's taxes make the two differ.
        assert sum(got.values()) > 0


@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_ranking_at_volume_matches_the_rows(api, crowded, role):
    data = await api.gql(RANKING, {"from": "2026-03-15", "to": "2026-06-14", "first": 100,
                                   "metric": "ORDER_VALUE"}, token=crowded.tokens[role])  # fmt: skip
    got = [(r["userId"], Decimal(r["amount"]), r["count"]) for r in data["salesRanking"]]
    totals: dict = defaultdict(lambda: [Decimal(0), 0])
    seen = set(crowded.user_ids.values()) if role == "admin" else {crowded.user_ids[role]}
    for r in _booked(crowded.orders, "CNY", dt.date(2026, 3, 15), dt.date(2026, 6, 14)):
        if r.owner_id in seen:
            totals[r.owner_id][0] += r.gross_total
            totals[r.owner_id][1] += 1
    expected = sorted(((str(k), v[0], v[1]) for k, v in totals.items()), key=lambda x: -x[1])
    assert got == expected


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
    return [(s, p) for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
            if "sales_orders" in s]  # fmt: skip


CASES = [
    (ATTAINMENT, {"from": "2026-01-01", "to": "2026-12-31", "metric": "ORDER_VALUE"}),
    (ATTAINMENT, {"from": "2026-04-01", "to": "2026-06-30"}),
    (RANKING, {"from": "2026-03-15", "to": "2026-06-14", "metric": "ORDER_VALUE"}),
]


@pytest.mark.parametrize(("query", "variables"), CASES, ids=["year", "quarter", "ranking"])
@pytest.mark.parametrize("role", ["admin", "manager", "sales"])
async def test_order_value_reads_through_indexes(api, services, crowded, sql_counter, query,
                                                 variables, role):  # fmt: skip
    statements = await _statements(api, sql_counter, crowded.tokens[role], query, variables)
    assert len(statements) == 1, statements
    plan = await _plan(services, *statements[0])
    assert not [s for s in _scans(plan) if s.startswith("Seq Scan")], _scans(plan)
    orders = {i for i in _index_names(plan) if i.startswith("ix_sales_orders")}
    if query is ATTAINMENT or role == "admin":
        # The months' booked orders, aggregated once (whatever the targets).
        assert orders == {"ix_sales_orders_status"}, _scans(plan)
    else:
        # Narrowed to the customers the rep or manager sees: either index will do.
        assert orders, _scans(plan)
    if query is ATTAINMENT:
        assert [s for s in _scans(plan) if s == "CTE Scan on ?"], _scans(plan)
