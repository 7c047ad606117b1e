"""Every filter and sort of the stock queries is answered from an index: on a tenant
with thousands of rows in every stock table (made in SQL as the owner, then
analysed), the plan of the statement the API really ran has no sequential scan of the
table it lists."""

from __future__ import annotations

import json

import pytest
from helpers import make_tenant
from sqlalchemy import text
from stock_helpers import bulk_products

PRODUCTS = 2000
WAREHOUSES = 2000  # only the first 5 hold stock; the rest make the table big enough
STOCKED = 5

FILL = """
INSERT INTO {s}.warehouses (id, code, name, kind, customer_id)
  SELECT gen_random_uuid(), 'IW-' || lpad(g::text, 5, '0'), '仓库' || g, 'standard', NULL
  FROM generate_series(1, {warehouses}) g;
CREATE TEMP TABLE stocked AS
  SELECT id, row_number() OVER (ORDER BY code) AS n FROM {s}.warehouses ORDER BY code LIMIT {stocked};
INSERT INTO {s}.batches (id, product_id, code, expires_on, produced_on)
  SELECT gen_random_uuid(), p.id, 'LOT-' || g, date '2030-01-01' + (g * 37 % 900),
         date '2029-01-01'
  FROM {s}.products p, generate_series(1, 3) g WHERE p.batch_tracked;
INSERT INTO {s}.stock_postings (id, kind, fingerprint)
  VALUES ('00000000-0000-4000-8000-000000000001', 'receipt', 'fill');
INSERT INTO {s}.stock_levels (product_id, warehouse_id, on_hand, reserved, min_quantity, updated_at)
  SELECT p.id, w.id, (hashint4(w.n::int * 7919 + p.rn::int) & 1023) + 1, 0,
         CASE WHEN p.rn % 4 = 0 THEN 300 END, now() - (p.rn % 97) * interval '1 hour'
  FROM (SELECT id, row_number() OVER (ORDER BY code) AS rn FROM {s}.products) p, stocked w;
INSERT INTO {s}.stock_batch_levels (product_id, warehouse_id, batch_id, on_hand)
  SELECT l.product_id, l.warehouse_id, b.id, 0
  FROM {s}.stock_levels l JOIN {s}.batches b ON b.product_id = l.product_id;
UPDATE {s}.stock_batch_levels bl SET on_hand = l.on_hand
  FROM {s}.stock_levels l, {s}.batches b
  WHERE b.id = bl.batch_id AND b.code = 'LOT-1' AND l.product_id = bl.product_id
    AND l.warehouse_id = bl.warehouse_id;
INSERT INTO {s}.stock_moves (id, posting_id, line, kind, product_id, warehouse_id, batch_id,
                             quantity, source_type, source_id, created_at)
  SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001',
         row_number() OVER (), CASE WHEN row_number() OVER () % 3 = 0 THEN 'issue' ELSE 'receipt' END,
         l.product_id, l.warehouse_id, bl.batch_id,
         CASE WHEN row_number() OVER () % 3 = 0 THEN -1 ELSE 1 END,
         CASE WHEN row_number() OVER () % 5 = 0 THEN 'shipment' END,
         CASE WHEN row_number() OVER () % 5 = 0 THEN gen_random_uuid() END,
         now() - (row_number() OVER ()) * interval '1 minute'
  FROM {s}.stock_levels l
  LEFT JOIN {s}.stock_batch_levels bl
    ON bl.product_id = l.product_id AND bl.warehouse_id = l.warehouse_id AND bl.on_hand > 0;
INSERT INTO {s}.reorder_rules (id, product_id, warehouse_id, min_quantity, max_quantity, low_since)
  SELECT gen_random_uuid(), l.product_id, l.warehouse_id, 300, 900,
         CASE WHEN l.below_min THEN now() END
  FROM {s}.stock_levels l WHERE l.min_quantity IS NOT NULL;
INSERT INTO {s}.stock_takes (id, number, warehouse_id, status, posted_at, created_at)
  SELECT gen_random_uuid(), 'ST-IDX-' || g, (SELECT id FROM stocked WHERE n = 1 + g % {stocked}),
         CASE WHEN g % 3 = 0 THEN 'posted' ELSE 'draft' END,
         CASE WHEN g % 3 = 0 THEN now() END, now() - g * interval '1 hour'
  FROM generate_series(1, 3000) g;
INSERT INTO {s}.stock_take_lines (id, stock_take_id, product_id, expected, counted, counted_at)
  SELECT gen_random_uuid(), t.id, p.id, 5, CASE WHEN p.rn % 2 = 0 THEN 4 END,
         CASE WHEN p.rn % 2 = 0 THEN now() END
  FROM (SELECT id FROM {s}.stock_takes ORDER BY number LIMIT 3) t,
       (SELECT id, row_number() OVER (ORDER BY code) AS rn FROM {s}.products
        WHERE NOT batch_tracked) p;
"""


@pytest.fixture(scope="module")
async def big(owner, services, api):
    tenant = await make_tenant(owner, services, "stockidx")
    await bulk_products(owner, tenant, PRODUCTS, prefix="IDX", batch_tracked_every=10)
    schema = f'"{tenant.schema}"'
    async with owner.begin() as conn:
        for statement in FILL.format(s=schema, warehouses=WAREHOUSES, stocked=STOCKED).split(";"):
            if statement.strip():
                await conn.execute(text(statement))
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("warehouses", "batches", "stock_levels", "stock_batch_levels",
                      "stock_moves", "reorder_rules", "stock_takes", "stock_take_lines",
                      "products"):  # fmt: skip
            await conn.execute(text(f"VACUUM ANALYZE {schema}.{table}"))
        ids = {}
        for key, query in {
            "w": "SELECT id FROM {s}.warehouses ORDER BY code LIMIT 1",
            "p": "SELECT product_id FROM {s}.stock_levels ORDER BY product_id LIMIT 1 OFFSET 77",
            "b": "SELECT batch_id FROM {s}.stock_batch_levels WHERE on_hand > 0 LIMIT 1",
            "t": "SELECT stock_take_id FROM {s}.stock_take_lines LIMIT 1",
            "source": "SELECT source_id FROM {s}.stock_moves WHERE source_id IS NOT NULL LIMIT 1",
        }.items():
            ids[key] = str(await conn.scalar(text(query.format(s=schema))))
    return tenant, ids


def _nodes(plan: dict) -> list[str]:
    found = [f"{plan['Node Type']} on {plan.get('Relation Name', '?')} "
             f"{plan.get('Index Name', '')}".strip()]  # fmt: skip
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


DAY = {"gte": "2020-01-01T00:00:00Z", "lte": "2099-01-01T00:00:00Z"}
CASES = [
    # (query field, variables, table listed)
    ("warehouses", {}, "warehouses"),
    ("warehouses", {"filter": {"kind": {"eq": "CONSIGNMENT"}}}, "warehouses"),
    ("warehouses", {"filter": {"active": False}}, "warehouses"),
    ("warehouses", {"filter": {"customerId": {"eq": "{w}"}}}, "warehouses"),
    ("warehouses", {"orderBy": [{"field": "NAME", "direction": "DESC"}]}, "warehouses"),
    ("batches", {}, "batches"),
    ("batches", {"filter": {"productId": {"eq": "{p}"}}}, "batches"),
    ("batches", {"filter": {"code": "LOT-2"}}, "batches"),
    ("batches", {"filter": {"expiresOn": {"gte": "2030-02-01", "lte": "2030-02-03"}}}, "batches"),
    ("batches", {"orderBy": [{"field": "CREATED_AT", "direction": "DESC"}]}, "batches"),
    ("stockLevels", {}, "stock_levels"),
    ("stockLevels", {"filter": {"productId": {"eq": "{p}"}}}, "stock_levels"),
    ("stockLevels", {"filter": {"warehouseId": {"eq": "{w}"}}}, "stock_levels"),
    ("stockLevels", {"filter": {"batchId": "{b}"}}, "stock_levels"),
    ("stockLevels", {"filter": {"belowMin": True}}, "stock_levels"),
    ("stockLevels", {"filter": {"belowMin": True, "warehouseId": {"eq": "{w}"}}}, "stock_levels"),
    ("stockLevels", {"orderBy": [{"field": "AVAILABLE"}]}, "stock_levels"),
    ("stockLevels", {"filter": {"warehouseId": {"eq": "{w}"}},
                     "orderBy": [{"field": "AVAILABLE", "direction": "DESC"}]}, "stock_levels"),
    ("stockLevels", {"orderBy": [{"field": "UPDATED_AT", "direction": "DESC"}]}, "stock_levels"),
    ("stockMoves", {}, "stock_moves"),
    ("stockMoves", {"orderBy": [{"direction": "ASC"}]}, "stock_moves"),
    ("stockMoves", {"filter": {"productId": {"eq": "{p}"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"warehouseId": {"eq": "{w}"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"batchId": {"eq": "{b}"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"kind": {"eq": "ISSUE"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"source": {"type": "shipment"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"source": {"type": "shipment", "id": "{source}"}}}, "stock_moves"),
    ("stockMoves", {"filter": {"postingId": "00000000-0000-4000-8000-000000000001"}},
     "stock_moves"),
    ("stockMoves", {"filter": {"createdAt": DAY}}, "stock_moves"),
    ("reorderRules", {}, "reorder_rules"),
    ("reorderRules", {"filter": {"productId": {"eq": "{p}"}}}, "reorder_rules"),
    ("reorderRules", {"filter": {"warehouseId": {"eq": "{w}"}}}, "reorder_rules"),
    ("reorderRules", {"filter": {"alerted": True}}, "reorder_rules"),
    ("lowStock", {}, "stock_levels"),
    ("lowStock", {"warehouseId": "{w}"}, "stock_levels"),
    ("stockTakes", {}, "stock_takes"),
    ("stockTakes", {"filter": {"warehouseId": {"eq": "{w}"}}}, "stock_takes"),
    ("stockTakes", {"filter": {"status": {"eq": "POSTED"}}}, "stock_takes"),
    ("stockTakes", {"filter": {"createdAt": DAY}}, "stock_takes"),
    ("stockTakeLines", {"stockTakeId": "{t}"}, "stock_take_lines"),
    ("stockTakeLines", {"stockTakeId": "{t}", "filter": {"counted": True}}, "stock_take_lines"),
    ("stockTakeLines", {"stockTakeId": "{t}", "filter": {"productId": {"eq": "{p}"}}},
     "stock_take_lines"),
]  # fmt: skip
TYPES = {
    "filter": {"warehouses": "WarehouseFilter", "batches": "BatchFilter",
               "stockLevels": "StockLevelFilter", "stockMoves": "StockMoveFilter",
               "reorderRules": "ReorderRuleFilter", "stockTakes": "StockTakeFilter",
               "stockTakeLines": "StockTakeLineFilter"},
    "orderBy": {"warehouses": "[WarehouseOrder!]", "batches": "[BatchOrder!]",
                "stockLevels": "[StockLevelOrder!]", "stockMoves": "[StockMoveOrder!]"},
    "warehouseId": "ID", "stockTakeId": "ID!",
}  # fmt: skip


def _query(field: str, variables: dict) -> str:
    declared, passed = [], []
    for name in variables:
        kind = TYPES[name][field] if isinstance(TYPES[name], dict) else TYPES[name]
        declared.append(f"${name}: {kind}")
        passed.append(f"{name}: ${name}")
    head = f"query({', '.join(declared)})" if declared else "query"
    args = ", ".join(["first: 20", *passed])
    return f"{head} {{ {field}({args}) {{ edges {{ cursor }} }} }}"


def _fill(value, ids):
    raw = json.dumps(value)
    for key, id_ in ids.items():
        raw = raw.replace("{" + key + "}", id_)
    return json.loads(raw)


@pytest.mark.parametrize(("field", "variables", "table"), CASES,
                         ids=[f"{f}-{json.dumps(v)}" for f, v, _ in CASES])  # fmt: skip
async def test_each_filter_and_sort_uses_an_index(api, services, big, sql_counter, field,
                                                  variables, table):  # fmt: skip
    tenant, ids = big
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    variables = _fill(variables, ids)
    await api.gql(_query(field, variables), variables, token=tenant.tokens["admin"])
    marker = f".{table} "
    statement, parameters = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker in s + " " and "LIMIT" in s
    )
    async with services.engine.begin() as conn:
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = _nodes(plan[0]["Plan"])
    assert not [n for n in nodes if n.startswith(f"Seq Scan on {table}")], nodes
    assert any(table in n and "Index" in n or "Bitmap" in n for n in nodes), nodes
