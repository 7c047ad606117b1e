"""Every filter and sort of `purchaseOrders`, `goodsReceipts` and `suppliers`, the
nested lines and receipts, and `suggestedPurchases` are answered from indexes at tens
of thousands of orders: with sequential scans disabled, the plan of each statement the
API really ran has none; counting a selective filter goes through that filter's own
index; each sort reads its index in order, by the planner's own choice."""

from __future__ import annotations

import json

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.db import tenant_transaction

FILL = """
INSERT INTO warehouses (id, code, name)
SELECT md5('wh' || i)::uuid, 'W' || i, '仓' || i FROM generate_series(1, 10) AS i;
INSERT INTO products (id, code, name, unit, list_price)
SELECT md5('p' || i)::uuid, 'P' || lpad(i::text, 5, '0'), '物料' || i, '件', 1
FROM generate_series(1, 2000) AS i;
INSERT INTO suppliers (id, code, name, currency, active)
SELECT md5('s' || i)::uuid, 'V' || lpad(i::text, 5, '0'),
       '供应商' || i || CASE WHEN i % 100 = 0 THEN '五金' ELSE '' END, 'CNY', i % 50 <> 0
FROM generate_series(1, 2000) AS i;
INSERT INTO purchase_orders (id, number, supplier_id, currency, warehouse_id, order_date,
                             expected_date, status, sent_at, received_at, cancelled_at,
                             created_at)
SELECT md5('po' || i)::uuid, 'PO-2026-' || lpad(i::text, 6, '0'),
       md5('s' || (i % 2000 + 1))::uuid, 'CNY', md5('wh' || (i % 10 + 1))::uuid,
       DATE '2026-01-01' + (i % 365), DATE '2026-01-01' + (i % 700), s.status,
       CASE WHEN s.status IN ('draft', 'cancelled') THEN NULL ELSE now() END,
       CASE WHEN s.status = 'received' THEN now() END,
       CASE WHEN s.status = 'cancelled' THEN now() END,
       now() - i * interval '1 minute'
FROM generate_series(1, 20000) AS i,
LATERAL (SELECT CASE WHEN i % 50 = 0 THEN 'cancelled' WHEN i % 10 = 1 THEN 'sent'
                     WHEN i % 10 = 2 THEN 'partially_received' WHEN i % 10 = 3 THEN 'draft'
                     ELSE 'received' END AS status) AS s;
INSERT INTO purchase_order_lines (id, order_id, position, product_id, quantity, unit_cost,
                                  tax_rate, net_amount, tax_amount, gross_amount,
                                  received_quantity)
SELECT md5('pol' || i || '-' || k)::uuid, md5('po' || i)::uuid, k,
       md5('p' || ((i * 3 + k) % 2000 + 1))::uuid, 10, 1, 0.13, 10, 1.3, 11.3,
       CASE WHEN i % 50 = 0 OR i % 10 IN (1, 3) THEN 0 WHEN i % 10 = 2 THEN 4 ELSE 10 END
FROM generate_series(1, 20000) AS i, generate_series(0, 2) AS k;
INSERT INTO stock_levels (product_id, warehouse_id, on_hand)
SELECT md5('p' || i)::uuid, md5('wh' || w)::uuid, i % 30
FROM generate_series(1, 2000) AS i, generate_series(1, 10) AS w;
INSERT INTO reorder_rules (id, product_id, warehouse_id, min_quantity, max_quantity)
SELECT gen_random_uuid(), md5('p' || i)::uuid, md5('wh' || w)::uuid, 20, 50
FROM generate_series(1, 2000) AS i, generate_series(1, 10) AS w;
INSERT INTO stock_postings (id, kind, fingerprint)
SELECT md5('gr' || i)::uuid, 'receipt', 'fill' FROM generate_series(1, 3000) AS i;
INSERT INTO stock_moves (id, posting_id, line, kind, product_id, warehouse_id, quantity,
                         source_type, source_id)
SELECT md5('mv' || i)::uuid, md5('gr' || i)::uuid, 1, 'receipt',
       md5('p' || ((i * 3) % 2000 + 1))::uuid, md5('wh' || (i % 10 + 1))::uuid, 4,
       'purchase_receipt', md5('gr' || i)::uuid
FROM generate_series(1, 3000) AS i;
INSERT INTO goods_receipts (id, number, order_id, warehouse_id, received_on, posting_id,
                            fingerprint)
SELECT md5('gr' || i)::uuid, 'GR-2026-' || lpad(i::text, 6, '0'), md5('po' || i)::uuid,
       md5('wh' || (i % 10 + 1))::uuid, DATE '2026-02-01' + (i % 300), md5('gr' || i)::uuid,
       'fill'
FROM generate_series(1, 3000) AS i WHERE i % 10 NOT IN (1, 3) AND i % 50 <> 0;
INSERT INTO goods_receipt_lines (id, receipt_id, position, order_line_id, product_id,
                                 quantity, move_id)
SELECT md5('grl' || i)::uuid, md5('gr' || i)::uuid, 0, md5('pol' || i || '-0')::uuid,
       md5('p' || ((i * 3) % 2000 + 1))::uuid, 4, md5('mv' || i)::uuid
FROM generate_series(1, 3000) AS i WHERE i % 10 NOT IN (1, 3) AND i % 50 <> 0;
"""
TABLES = (
    "warehouses", "products", "suppliers", "purchase_orders", "purchase_order_lines",
    "stock_levels", "reorder_rules", "stock_postings", "stock_moves", "goods_receipts",
    "goods_receipt_lines",
)  # fmt: skip


def _walk(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _walk(child)
    return nodes


def _scans(plan: dict) -> list[str]:
    return [f"{n['Node Type']} on {n.get('Relation Name', '?')}" for n in _walk(plan)]


def _index_names(plan: dict) -> set[str]:
    return {n["Index Name"] for n in _walk(plan) if "Index Name" in n}


def _seq(plan: dict) -> list[str]:
    return [s for s in _scans(plan) if s.startswith("Seq Scan")]


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "buycrowd")
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}", public'))
        for statement in FILL.split(";"):
            if statement.strip():
                await conn.execute(text(statement))
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


async def _statements(api, sql_counter, token, query, variables, marker) -> list[tuple]:
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, variables, token=token)
    found = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker(s)
    ]
    assert found, sql_counter.statements
    return found


def _orders_page(s: str) -> bool:
    return ".purchase_orders" in s and "count(" not in s


def _orders_count(s: str) -> bool:
    return ".purchase_orders" in s and "count(" in s


ORDERS = """query($filter: PurchaseOrderFilter, $orderBy: [PurchaseOrderOrder!]) {
  purchaseOrders(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } } }"""
COUNT_ORDERS = """query($filter: PurchaseOrderFilter) {
  purchaseOrders(first: 1, filter: $filter) { totalCount } }"""
ORDER_FILTERS = [
    ({"supplierId": {"eq": "00000000-0000-0000-0000-000000000001"}},
     "ix_purchase_orders_supplier_id"),
    ({"status": {"eq": "CANCELLED"}}, "ix_purchase_orders_status"),
    ({"status": {"in": ["DRAFT", "CANCELLED"]}}, "ix_purchase_orders_status"),
    ({"warehouseId": {"eq": "00000000-0000-0000-0000-000000000002"}},
     "ix_purchase_orders_warehouse_id"),
    ({"expectedDate": {"gte": "2026-03-01", "lte": "2026-03-03"}},
     "ix_purchase_orders_expected_date"),
    ({"number": {"eq": "PO-2026-000042"}}, "uq_purchase_orders_number"),
    ({"number": {"in": ["PO-2026-000042", "PO-2026-000043"]}}, "uq_purchase_orders_number"),
]  # fmt: skip
ORDER_SORTS = [
    (None, None, "ix_purchase_orders_created_at"),
    ([{"field": "EXPECTED_DATE"}], None, "ix_purchase_orders_expected_date"),
    ([{"field": "EXPECTED_DATE", "direction": "DESC"}], None, "ix_purchase_orders_expected_date"),
    ([{"field": "NUMBER"}], None, "uq_purchase_orders_number"),
    ([{"field": "CREATED_AT"}], None, "ix_purchase_orders_created_at"),
    # (A supplier's ten orders: the planner may well fetch them by the index, then sort.)
    (None, {"supplierId": {"eq": "SUPPLIER"}}, "ix_purchase_orders_supplier_id"),
    (None, {"warehouseId": {"eq": "WAREHOUSE"}}, "ix_purchase_orders_warehouse_id"),
    (None, {"status": {"eq": "SENT"}}, "ix_purchase_orders_status"),
]  # fmt: skip


def _ids(value) -> str:
    return json.dumps(value)


@pytest.mark.parametrize(("filter_", "index"), ORDER_FILTERS, ids=_ids)
async def test_order_filters_use_their_index(api, services, crowded, sql_counter, filter_, index):
    token = crowded.tokens["admin"]
    for statement, parameters in await _statements(
        api, sql_counter, token, ORDERS, {"filter": filter_}, _orders_page
    ):
        plan = await _plan(services, statement, parameters)
        assert not _seq(plan), _scans(plan)
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, COUNT_ORDERS, {"filter": filter_}, _orders_count
    )
    plan = await _plan(services, statement, parameters)
    assert index in _index_names(plan), plan


async def _real_ids(api, token) -> dict:
    data = await api.gql(
        """{ suppliers(first: 1) { edges { node { id } } }
             warehouses(first: 1) { edges { node { id } } } }""",
        token=token,
    )
    return {
        "SUPPLIER": data["suppliers"]["edges"][0]["node"]["id"],
        "WAREHOUSE": data["warehouses"]["edges"][0]["node"]["id"],
    }


@pytest.mark.parametrize(("order", "filter_", "index"), ORDER_SORTS, ids=_ids)
async def test_order_sorts_read_their_index(
    api, services, crowded, sql_counter, order, filter_, index
):
    token = crowded.tokens["admin"]
    if filter_:
        ids = await _real_ids(api, token)
        filter_ = json.loads(json.dumps(filter_).replace('"SUPPLIER"', f'"{ids["SUPPLIER"]}"')
                             .replace('"WAREHOUSE"', f'"{ids["WAREHOUSE"]}"'))  # fmt: skip
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, ORDERS, {"orderBy": order, "filter": filter_}, _orders_page
    )
    plan = await _plan(services, statement, parameters, seqscan=True)  # the planner's choice
    assert index in _index_names(plan), plan
    refused = ("Seq Scan",) if filter_ and "supplierId" in filter_ else ("Seq Scan", "Sort")
    assert not [s for s in _scans(plan) if s.startswith(refused)], _scans(plan)


async def test_pages_after_a_cursor_use_the_index(api, services, crowded, sql_counter):
    token = crowded.tokens["admin"]
    for order in (None, [{"field": "EXPECTED_DATE"}], [{"field": "NUMBER", "direction": "DESC"}]):
        first = await api.gql(
            """query($orderBy: [PurchaseOrderOrder!]) { purchaseOrders(first: 5,
                 orderBy: $orderBy) { pageInfo { endCursor } } }""",
            {"orderBy": order}, token=token,
        )  # fmt: skip
        cursor = first["purchaseOrders"]["pageInfo"]["endCursor"]
        ((statement, parameters),) = await _statements(
            api, sql_counter, token,
            """query($orderBy: [PurchaseOrderOrder!], $after: String) {
                 purchaseOrders(first: 20, after: $after, orderBy: $orderBy) {
                   edges { node { id } } } }""",
            {"orderBy": order, "after": cursor}, _orders_page,
        )  # fmt: skip
        plan = await _plan(services, statement, parameters)
        assert not _seq(plan), _scans(plan)


NESTED = """query { purchaseOrders(first: 50) { edges { node { id
  supplier { code } warehouse { code } lines { quantity product { code } }
  receipts { number lines { quantity product { code } batch { code } } } } } } }"""


async def test_nested_lines_and_receipts_use_indexes(api, services, crowded, sql_counter):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(NESTED, token=crowded.tokens["admin"])
    checked = 0
    for statement, parameters in zip(sql_counter.statements, sql_counter.parameters, strict=True):
        if not statement.lstrip().upper().startswith("SELECT") or "FROM" not in statement:
            continue
        plan = await _plan(services, statement, parameters)
        assert not _seq(plan), (statement, _scans(plan))
        checked += 1
    assert checked >= 6  # page, suppliers, warehouses, lines, products, receipts, ...


SUPPLIERS = """query($filter: SupplierFilter, $orderBy: [SupplierOrder!]) {
  suppliers(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } } }"""
COUNT_SUPPLIERS = """query($filter: SupplierFilter) {
  suppliers(first: 1, filter: $filter) { totalCount } }"""


@pytest.mark.parametrize(
    ("filter_", "index"),
    [
        ({"code": "V00042"}, "uq_suppliers_code"),
        ({"search": "五金"}, "ix_suppliers_search_tokens"),
        ({"search": "V0004"}, "ix_suppliers_search_tokens"),
        ({"active": False}, "ix_suppliers_active"),
    ],
    ids=_ids,
)
async def test_supplier_filters_use_their_index(
    api, services, crowded, sql_counter, filter_, index
):
    token = crowded.tokens["manager"]
    marker = lambda s: ".suppliers" in s and "count(" not in s  # noqa: E731
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, SUPPLIERS, {"filter": filter_}, marker
    )
    assert not _seq(await _plan(services, statement, parameters))
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, COUNT_SUPPLIERS, {"filter": filter_},
        lambda s: ".suppliers" in s and "count(" in s,
    )  # fmt: skip
    assert index in _index_names(await _plan(services, statement, parameters))


@pytest.mark.parametrize(
    ("order", "index"),
    [
        (None, "uq_suppliers_code"),
        ([{"field": "CODE", "direction": "DESC"}], "uq_suppliers_code"),
        ([{"field": "NAME"}], "ix_suppliers_name"),
        ([{"field": "CREATED_AT", "direction": "DESC"}], "ix_suppliers_created_at"),
    ],
    ids=_ids,
)
async def test_supplier_sorts_read_their_index(api, services, crowded, sql_counter, order, index):
    ((statement, parameters),) = await _statements(
        api, sql_counter, crowded.tokens["manager"], SUPPLIERS, {"orderBy": order},
        lambda s: ".suppliers" in s and "count(" not in s,
    )  # fmt: skip
    plan = await _plan(services, statement, parameters, seqscan=True)
    assert index in _index_names(plan), plan
    assert not [s for s in _scans(plan) if s.startswith(("Seq Scan", "Sort"))], _scans(plan)


async def test_suggested_purchases_use_indexes(api, services, crowded, sql_counter):
    token = crowded.tokens["admin"]
    warehouse = (await _real_ids(api, token))["WAREHOUSE"]
    ((statement, parameters),) = await _statements(
        api, sql_counter, token,
        """query($w: ID!) { suggestedPurchases(warehouseId: $w) { productId suggestedQuantity
             product { code } supplier { code } } }""",
        {"w": warehouse}, lambda s: ".reorder_rules" in s,
    )  # fmt: skip
    plan = await _plan(services, statement, parameters)
    assert not _seq(plan), _scans(plan)
    names = _index_names(plan)
    assert "ix_reorder_rules_warehouse_id" in names, names
    assert "ix_purchase_orders_open" in names, names
    assert "ix_purchase_order_lines_product_id" in names, names


RECEIPTS = """query($filter: GoodsReceiptFilter, $orderBy: GoodsReceiptOrder) {
  goodsReceipts(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } } }"""
COUNT_RECEIPTS = """query($filter: GoodsReceiptFilter) {
  goodsReceipts(first: 1, filter: $filter) { totalCount } }"""
RECEIPT_FILTERS = [
    ({"supplierId": {"eq": "SUPPLIER"}}, "ix_purchase_orders_supplier_id"),
    ({"purchaseOrderId": {"eq": "ORDER"}}, "ix_goods_receipts_order_id"),
    ({"warehouseId": {"eq": "WAREHOUSE"}}, "ix_goods_receipts_warehouse_id"),
    ({"receivedOn": {"gte": "2026-03-01", "lte": "2026-03-02"}}, "ix_goods_receipts_received_on"),
    ({"number": {"eq": "GR-2026-000042"}}, "uq_goods_receipts_number"),
    ({"number": {"in": ["GR-2026-000042", "GR-2026-000044"]}}, "uq_goods_receipts_number"),
]  # fmt: skip


def _receipts_page(s: str) -> bool:
    return ".goods_receipts" in s and "count(" not in s


async def _with_real_ids(api, token, filter_) -> dict | None:
    if filter_ is None:
        return None
    data = await api.gql(
        """{ goodsReceipts(first: 1) { edges { node { orderId warehouseId
               purchaseOrder { supplierId } } } } }""",
        token=token,
    )
    node = data["goodsReceipts"]["edges"][0]["node"]
    real = {"SUPPLIER": node["purchaseOrder"]["supplierId"], "ORDER": node["orderId"],
            "WAREHOUSE": node["warehouseId"]}  # fmt: skip
    text_ = json.dumps(filter_)
    for placeholder, value in real.items():
        text_ = text_.replace(f'"{placeholder}"', f'"{value}"')
    return json.loads(text_)


@pytest.mark.parametrize(("filter_", "index"), RECEIPT_FILTERS, ids=_ids)
async def test_receipt_filters_use_their_index(api, services, crowded, sql_counter, filter_, index):
    token = crowded.tokens["admin"]
    filter_ = await _with_real_ids(api, token, filter_)
    for statement, parameters in await _statements(
        api, sql_counter, token, RECEIPTS, {"filter": filter_}, _receipts_page
    ):
        assert not _seq(await _plan(services, statement, parameters))
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, COUNT_RECEIPTS, {"filter": filter_},
        lambda s: ".goods_receipts" in s and "count(" in s,
    )  # fmt: skip
    plan = await _plan(services, statement, parameters)
    assert index in _index_names(plan), plan


@pytest.mark.parametrize(
    ("order", "filter_", "index"),
    [
        (None, None, "ix_goods_receipts_received_on"),
        ({"direction": "ASC"}, None, "ix_goods_receipts_received_on"),
        (None, {"warehouseId": {"eq": "WAREHOUSE"}}, "ix_goods_receipts_warehouse_id"),
        ({"direction": "ASC"}, {"warehouseId": {"eq": "WAREHOUSE"}},
         "ix_goods_receipts_warehouse_id"),
    ],
    ids=_ids,
)  # fmt: skip
async def test_receipt_sorts_read_their_index(
    api, services, crowded, sql_counter, order, filter_, index
):
    token = crowded.tokens["admin"]
    filter_ = await _with_real_ids(api, token, filter_)
    ((statement, parameters),) = await _statements(
        api, sql_counter, token, RECEIPTS, {"orderBy": order, "filter": filter_}, _receipts_page
    )
    plan = await _plan(services, statement, parameters, seqscan=True)  # the planner's choice
    assert index in _index_names(plan), plan
    assert not [s for s in _scans(plan) if s.startswith(("Seq Scan", "Sort"))], _scans(plan)


async def test_receipt_pages_after_a_cursor_and_their_lines_use_indexes(
    api, services, crowded, sql_counter
):
    token = crowded.tokens["admin"]
    first = await api.gql("{ goodsReceipts(first: 5) { pageInfo { endCursor } } }", token=token)
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(
        """query($after: String) { goodsReceipts(first: 20, after: $after) { edges { node {
             number warehouse { code } purchaseOrder { number supplier { code } }
             lines { quantity product { code } batch { code } } } } } }""",
        {"after": first["goodsReceipts"]["pageInfo"]["endCursor"]}, token=token,
    )  # fmt: skip
    checked = 0
    for statement, parameters in zip(sql_counter.statements, sql_counter.parameters, strict=True):
        if not statement.lstrip().upper().startswith("SELECT") or "FROM" not in statement:
            continue
        plan = await _plan(services, statement, parameters)
        assert not _seq(plan), (statement, _scans(plan))
        checked += 1
    assert checked >= 6  # page, warehouses, orders, suppliers, lines, products
