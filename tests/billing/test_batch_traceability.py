"""Batch traceability (批次追溯): a shipment line shows the batches the ledger actually
issued for it, returns go back only into batches their line shipped, and a recall
(batchDeliveries) lists exactly who received a batch and what came back, within the
reader's data scope and tenant."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest
from billing_helpers import (
    CREATE_SHIPMENT,
    Goods,
    confirmed_order,
    invoice,
    payload,
    ship,
    user_token,
)
from helpers import make_tenant
from order_helpers import new_customer, operation, receive
from sqlalchemy import func, select, text

from app.billing.tables import sales_returns, shipment_line_batches, shipments
from app.db import tenant_transaction
from app.stock.tables import stock_moves

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stock"))

from stock_helpers import Stock, dec  # noqa: E402

SHIPMENTS = operation("shipments")
DELIVERIES = operation("batchDeliveries")
RETURN_CREDITED = """mutation($input: CreateSalesReturnInput!) {
  createSalesReturn(input: $input) {
    salesReturn { lines { quantity creditedQuantity batchId } } creditNote { lines { quantity } }
    userErrors { field code message } } }"""
RETURN = """mutation($input: CreateSalesReturnInput!) {
  createSalesReturn(input: $input) {
    salesReturn { id lines { orderLineId quantity batchId } }
    userErrors { field code message } } }"""


def _migration():
    path = (
        Path(__file__).resolve().parents[2] / "migrations/tenant/versions/0023_shipped_batches.py"
    )
    spec = importlib.util.spec_from_file_location("shipped_batches_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MIGRATION = _migration()


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "btrace")


async def lots(api, tenant, warehouse: str, given: dict[str, tuple[str, str]]) -> tuple:
    """A batch-tracked product received into `warehouse` in batches {code: (qty, expiry)}:
    (product, {code: batch id})."""
    admin, stock = tenant.tokens["admin"], Stock(api)
    product = await stock.product(admin, batch_tracked=True)
    made = {}
    for code, (quantity, expires) in given.items():
        moves = (await stock.receive(admin, warehouse, [{
            "productId": product, "quantity": quantity, "batchCode": code,
            "expiresOn": expires}]))["moves"]  # fmt: skip
        made[code] = moves[0]["batchId"]
    return product, made


def errors(result: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["userErrors"]]


async def shipment_lines_of(api, token: str, order_id: str) -> list[dict]:
    data = await api.gql(SHIPMENTS, {"first": 10, "filter": {"orderId": {"eq": order_id}}},
                         token=token)  # fmt: skip
    return [line for e in data["shipments"]["edges"] for line in e["node"]["lines"]]


def taken(line: dict) -> list[tuple[str, object, object]]:
    return [(b["code"], dec(b["quantity"]), dec(b["returnedQuantity"])) for b in line["batches"]]


async def deliveries(api, token: str, batch_id: str, **window) -> dict:
    return (await api.gql(DELIVERIES, {"batchId": batch_id, **window}, token=token))[
        "batchDeliveries"
    ]


def received(connection: dict) -> dict[str, tuple]:
    """{customer: (shipped, returned, outstanding)} of a page of deliveries."""
    out = {}
    for edge in connection["edges"]:
        n = edge["node"]
        out[n["customerId"]] = (dec(n["quantity"]), dec(n["returnedQuantity"]),
                                dec(n["outstandingQuantity"]))  # fmt: skip
    return out


async def give_back(api, token: str, order_id: str, line: str, quantity: str,
                    batch: str | None = None) -> dict:  # fmt: skip
    return await give_back_lines(api, token, order_id, [(line, quantity, batch)])


async def give_back_lines(api, token: str, order_id: str, lines: list[tuple]) -> dict:
    """A return of (order line, quantity, batch or None) lines."""
    values = [{"orderLineId": line, "quantity": quantity}
              | ({"batchId": batch} if batch is not None else {})
              for line, quantity, batch in lines]  # fmt: skip
    data = await api.gql(RETURN, {"input": {"orderId": order_id, "lines": values}}, token=token)
    return data["createSalesReturn"]


@pytest.fixture(scope="module")
async def recall(api, services, tenant):
    """LOT-A (5, expiring first) and LOT-B (5) of one product, and a plain product.
    c1 (a rep's own) gets 4 of A and 2 plain, gives 1 back; c2 (assigned to a partner-like
    user) gets 3 (A1 + B2, first expiring first); c3 gets 1 of B, named."""
    admin = tenant.tokens["admin"]
    warehouse = await Stock(api).warehouse(admin)
    product, batches = await lots(api, tenant, warehouse, {
        "LOT-A": ("5", "2030-01-01"), "LOT-B": ("5", "2031-01-01")})  # fmt: skip
    plain = await Stock(api).product(admin)
    await receive(api, admin, warehouse, plain, "10")
    rep_id, rep = await user_token(api, services, tenant, "sales")
    role = await api.gql(
        """mutation { createRole(input: {name: "recaller", dataScope: ASSIGNED,
           permissions: ["customers:read", "shipments:read"]}) { userErrors { code } } }""",
        token=admin,
    )
    assert role["createRole"]["userErrors"] == [], role
    assigned_id, assigned = await user_token(api, services, tenant, "recaller")
    c1 = await new_customer(api, admin, ownerId=rep_id)
    # Owned by the admin (not left in the pool, which every rep sees).
    admin_id = str(tenant.user_ids["admin"])
    c2 = await new_customer(api, admin, partnerId=assigned_id, ownerId=admin_id)
    c3 = await new_customer(api, admin, ownerId=admin_id)
    o1 = await confirmed_order(api, tenant, Goods(warehouse, [product, plain], c1), ["4", "2"])
    o2 = await confirmed_order(api, tenant, Goods(warehouse, [product], c2), ["3"])
    o3 = await confirmed_order(api, tenant, Goods(warehouse, [product], c3), ["1"])
    lines1 = [(x["id"], x["quantity"]) for x in o1["lines"]]
    assert (await ship(api, admin, o1["id"], lines1))["userErrors"] == []
    assert (await ship(api, admin, o2["id"], [(o2["lines"][0]["id"], "3")]))["userErrors"] == []
    named = await payload(api, CREATE_SHIPMENT, "createShipment", {"orderId": o3["id"], "lines": [
        {"orderLineId": o3["lines"][0]["id"], "quantity": "1", "batchId": batches["LOT-B"]}]},
        admin)  # fmt: skip
    assert named["userErrors"] == [], named
    assert [(b["code"], dec(b["quantity"])) for b in named["shipment"]["lines"][0]["batches"]] == [
        ("LOT-B", dec(1))]  # fmt: skip
    back = await give_back(api, admin, o1["id"], o1["lines"][0]["id"], "1")
    assert back["userErrors"] == [], back
    return {"batches": batches, "orders": (o1, o2, o3), "customers": (c1, c2, c3), "rep": rep,
            "assigned": assigned, "product": product, "warehouse": warehouse}  # fmt: skip


async def test_a_first_expiring_first_split_shows_both_batches_on_the_line(api, services, tenant,
                                                                         recall):  # fmt: skip
    admin = tenant.tokens["admin"]
    o1, o2, o3 = recall["orders"]
    (line,) = await shipment_lines_of(api, admin, o2["id"])
    assert taken(line) == [("LOT-A", dec(1), dec(0)), ("LOT-B", dec(2), dec(0))]
    assert [b["batchId"] for b in line["batches"]] == [recall["batches"]["LOT-A"],
                                                       recall["batches"]["LOT-B"]]  # fmt: skip
    assert [b["expiresOn"] for b in line["batches"]] == ["2030-01-01", "2031-01-01"]
    # What the ledger issued for that shipment, batch by batch, is exactly that.
    shipment_id = uuid.UUID(
        (await api.gql(SHIPMENTS, {"filter": {"orderId": {"eq": o2["id"]}}}, token=admin))[
            "shipments"]["edges"][0]["node"]["id"])  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        moves = await conn.execute(select(stock_moves.c.batch_id, stock_moves.c.quantity).where(
            stock_moves.c.source_id == shipment_id, stock_moves.c.kind == "issue"))  # fmt: skip
        assert {(str(b), -q) for b, q in moves} == {
            (recall["batches"]["LOT-A"], dec(1)), (recall["batches"]["LOT-B"], dec(2))}  # fmt: skip
    # A returned one shows on the line it left with; a plain product's line has none.
    tracked, plain = await shipment_lines_of(api, admin, o1["id"])
    assert taken(tracked) == [("LOT-A", dec(4), dec(1))]
    assert plain["batches"] == []
    (named,) = await shipment_lines_of(api, admin, o3["id"])
    assert taken(named) == [("LOT-B", dec(1), dec(0))]


async def test_the_recall_lists_exactly_who_received_the_batch(api, tenant, recall):
    admin = tenant.tokens["admin"]
    c1, c2, c3 = recall["customers"]
    a = await deliveries(api, admin, recall["batches"]["LOT-A"])
    assert a["totalCount"] == 2
    assert received(a) == {c1: (dec(4), dec(1), dec(3)), c2: (dec(1), dec(0), dec(1))}
    b = await deliveries(api, admin, recall["batches"]["LOT-B"])
    assert received(b) == {c2: (dec(2), dec(0), dec(2)), c3: (dec(1), dec(0), dec(1))}
    o1 = recall["orders"][0]
    node = next(e["node"] for e in a["edges"] if e["node"]["customerId"] == c1)
    number = (await api.gql("query($id: ID!) { salesOrder(id: $id) { number } }",
                            {"id": o1["id"]}, token=admin))["salesOrder"]["number"]  # fmt: skip
    shipped = (await api.gql(SHIPMENTS, {"filter": {"orderId": {"eq": o1["id"]}}}, token=admin))[
        "shipments"]["edges"][0]["node"]  # fmt: skip
    assert (node["orderNumber"], node["shipmentNumber"], node["shipmentId"],
            node["shipmentDate"]) == (number, shipped["number"], shipped["id"],
                                      shipped["shipmentDate"])  # fmt: skip
    assert node["customerName"]
    assert node["orderLineId"] == o1["lines"][0]["id"]
    assert node["productId"] == recall["product"] and node["batchId"] == recall["batches"]["LOT-A"]


async def test_the_recall_pages_by_keyset(api, tenant, recall):
    admin, batch = tenant.tokens["admin"], recall["batches"]["LOT-B"]
    everything = await deliveries(api, admin, batch, first=10)
    first = await deliveries(api, admin, batch, first=1)
    assert first["pageInfo"]["hasNextPage"] is True and first["totalCount"] == 2
    rest = await deliveries(api, admin, batch, first=1, after=first["pageInfo"]["endCursor"])
    assert rest["pageInfo"]["hasNextPage"] is False
    paged = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert paged == [e["node"]["id"] for e in everything["edges"]] and len(set(paged)) == 2
    dates = [e["node"]["shipmentDate"] for e in everything["edges"]]
    assert dates == sorted(dates, reverse=True)


async def test_data_scope_limits_the_recall(api, services, tenant, recall):
    c1, c2, _ = recall["customers"]
    a, b = recall["batches"]["LOT-A"], recall["batches"]["LOT-B"]
    # A rep sees deliveries to their own customer only; an assigned (partner) scope only
    # the customers assigned to it; counts follow.
    assert received(await deliveries(api, recall["rep"], a)).keys() == {c1}
    assert (await deliveries(api, recall["rep"], b)) == {
        "totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}  # fmt: skip
    assert received(await deliveries(api, recall["assigned"], a)).keys() == {c2}
    assert (await deliveries(api, recall["assigned"], b))["totalCount"] == 1
    # The warehouse ships to anyone: it sees every delivery.
    _, warehouse = await user_token(api, services, tenant, "warehouse")
    assert (await deliveries(api, warehouse, a))["totalCount"] == 2
    # Without shipments:read the recall is refused, not emptied.
    _, partner = await user_token(api, services, tenant, "partner")
    found = await api.errors(DELIVERIES, {"batchId": a}, token=partner)
    assert found[0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenant_learns_nothing_of_a_batch(api, tenant_b, recall):
    other = tenant_b.tokens["admin"]
    theirs = await deliveries(api, other, recall["batches"]["LOT-A"])
    unknown = await deliveries(api, other, str(uuid.uuid4()))
    assert theirs == unknown == {
        "totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}  # fmt: skip
    assert (await deliveries(api, other, "not-a-uuid"))["totalCount"] == 0
    listed = await api.gql(SHIPMENTS, {"first": 50}, token=other)
    assert all(b["batchId"] not in recall["batches"].values()
               for e in listed["shipments"]["edges"] for line in e["node"]["lines"]
               for b in line["batches"])  # fmt: skip


async def return_state(services, tenant, order_id: str) -> tuple:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        returns = await conn.scalar(select(func.count()).select_from(sales_returns).where(
            sales_returns.c.order_id == uuid.UUID(order_id)))  # fmt: skip
        back = await conn.scalar(select(func.sum(shipment_line_batches.c.returned_quantity)))
        moves = await conn.scalar(select(func.count()).select_from(stock_moves))
    return returns, back, moves


async def test_returns_go_back_only_into_batches_the_line_shipped(api, services, tenant):
    admin = tenant.tokens["admin"]
    warehouse = await Stock(api).warehouse(admin)
    product, batches = await lots(api, tenant, warehouse, {
        "LOT-X": ("5", "2030-01-01"), "LOT-Y": ("5", "2031-01-01"),
        "LOT-Z": ("5", "2032-01-01")})  # fmt: skip
    order = await confirmed_order(api, tenant, Goods(warehouse, [product],
                                                     await new_customer(api, admin)), ["6"])  # fmt: skip
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, "6")]))["userErrors"] == []  # X5 + Y1
    before = await return_state(services, tenant, order["id"])
    # In stock, of the right product, but this line never shipped it: refused, not put
    # silently into the wrong batch.
    result = await give_back(api, admin, order["id"], line, "1", batches["LOT-Z"])
    assert errors(result) == [("lines[0].batchId", "BATCH_NOT_SHIPPED")], result
    assert "LOT-X (5), LOT-Y (1)" in result["userErrors"][0]["message"]
    result = await give_back(api, admin, order["id"], line, "2", batches["LOT-Y"])
    assert errors(result) == [("lines[0].quantity", "OVER_RETURN")], result
    result = await give_back(api, admin, order["id"], line, "1")
    assert errors(result) == [("lines[0].batchId", "BATCH_REQUIRED")], result
    assert await return_state(services, tenant, order["id"]) == before  # nothing written
    # One return, a line per batch: once its first line has LOT-Y back, only LOT-X is
    # out, so the second line (naming none) goes back into LOT-X.
    result = await give_back_lines(api, admin, order["id"], [
        (line, "1", batches["LOT-Y"]), (line, "1", None)])  # fmt: skip
    assert result["userErrors"] == [], result
    assert [x["batchId"] for x in result["salesReturn"]["lines"]] == [
        batches["LOT-Y"], batches["LOT-X"]]  # fmt: skip
    result = await give_back_lines(api, admin, order["id"], [
        (line, "1", batches["LOT-X"]), (line, "1", batches["LOT-X"])])  # fmt: skip
    assert errors(result) == [("lines[1].orderLineId", "DUPLICATE")], result
    result = await give_back(api, admin, order["id"], line, "1")
    assert result["userErrors"] == [], result
    assert result["salesReturn"]["lines"][0]["batchId"] == batches["LOT-X"]
    (shipped,) = await shipment_lines_of(api, admin, order["id"])
    assert taken(shipped) == [("LOT-X", dec(5), dec(2)), ("LOT-Y", dec(1), dec(1))]
    view = await api.gql("query($id: ID!) { salesOrder(id: $id) { lines { returnedQuantity } } }",
                         {"id": order["id"]}, token=admin)  # fmt: skip
    assert dec(view["salesOrder"]["lines"][0]["returnedQuantity"]) == dec(3)
    result = await give_back(api, admin, order["id"], line, "1", batches["LOT-Y"])
    assert errors(result) == [("lines[0].quantity", "OVER_RETURN")], result
    level = await Stock(api).level(admin, product, warehouse)
    assert {b["batch"]["code"]: dec(b["onHand"]) for b in level["batches"]} == {
        "LOT-X": dec(2), "LOT-Y": dec(5), "LOT-Z": dec(5)}  # fmt: skip


async def test_a_return_split_over_batches_credits_only_what_was_invoiced(api, tenant):
    admin = tenant.tokens["admin"]
    warehouse = await Stock(api).warehouse(admin)
    product, batches = await lots(api, tenant, warehouse, {
        "LOT-P": ("5", "2030-01-01"), "LOT-Q": ("5", "2031-01-01")})  # fmt: skip
    order = await confirmed_order(api, tenant, Goods(warehouse, [product],
                                                     await new_customer(api, admin)), ["6"])  # fmt: skip
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, "6")]))["userErrors"] == []  # P5 + Q1
    assert (await invoice(api, admin, order["id"], [(line, "4")]))["userErrors"] == []
    # 2 of the 6 were never invoiced: the first line back is that, the second is 1 more
    # of it and 1 invoiced (credited).
    data = await api.gql(RETURN_CREDITED, {"input": {"orderId": order["id"], "lines": [
        {"orderLineId": line, "quantity": "1", "batchId": batches["LOT-Q"]},
        {"orderLineId": line, "quantity": "2", "batchId": batches["LOT-P"]}]}}, token=admin)  # fmt: skip
    result = data["createSalesReturn"]
    assert result["userErrors"] == [], result
    assert [(dec(x["quantity"]), dec(x["creditedQuantity"]))
            for x in result["salesReturn"]["lines"]] == [(dec(1), dec(0)), (dec(2), dec(1))]  # fmt: skip
    assert [dec(x["quantity"]) for x in result["creditNote"]["lines"]] == [dec(1)]
    view = await api.gql("query($id: ID!) { salesOrder(id: $id) { lines { returnedQuantity "
                         "invoicedQuantity } } }", {"id": order["id"]}, token=admin)  # fmt: skip
    assert view["salesOrder"]["lines"][0] == {"returnedQuantity": "3.000",
                                              "invoicedQuantity": "3.000"}  # fmt: skip


async def test_a_failed_shipment_records_no_batches(api, services, tenant):
    admin = tenant.tokens["admin"]
    warehouse = await Stock(api).warehouse(admin)
    first, _ = await lots(api, tenant, warehouse, {"LOT-F": ("5", "2030-01-01")})
    second, named = await lots(api, tenant, warehouse, {
        "LOT-S1": ("1", "2030-01-01"), "LOT-S2": ("5", "2031-01-01")})  # fmt: skip
    order = await confirmed_order(api, tenant, Goods(warehouse, [first, second],
                                                     await new_customer(api, admin)), ["2", "2"])  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows_before = await conn.scalar(select(func.count()).select_from(shipment_line_batches))
    # Line 0 would ship from LOT-F; line 1 names LOT-S1, which holds only 1.
    result = await payload(api, CREATE_SHIPMENT, "createShipment", {"orderId": order["id"],
        "lines": [{"orderLineId": order["lines"][0]["id"], "quantity": "2"},
                  {"orderLineId": order["lines"][1]["id"], "quantity": "2",
                   "batchId": named["LOT-S1"]}]}, admin)  # fmt: skip
    assert errors(result) == [("lines[1].quantity", "INSUFFICIENT_STOCK")], result
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        assert await conn.scalar(select(func.count()).select_from(shipment_line_batches)) == (
            rows_before
        )
        assert await conn.scalar(select(func.count()).select_from(shipments).where(
            shipments.c.order_id == uuid.UUID(order["id"]))) == 0  # fmt: skip


async def test_lists_with_batches_cost_a_fixed_number_of_statements(api, tenant, recall,
                                                                     sql_counter):  # fmt: skip
    admin = tenant.tokens["admin"]
    counts = []
    for first in (1, 50):
        await api.gql(SHIPMENTS, {"first": first}, token=admin)
        sql_counter.statements.clear()
        data = await api.gql(SHIPMENTS, {"first": first}, token=admin)
        counts.append(sql_counter.count)
    assert len(data["shipments"]["edges"]) >= 4
    # page + totalCount + lines + batches (+ transaction bookkeeping, at most 2)
    assert counts[0] == counts[1] <= 4 + 2, sql_counter.statements
    sql_counter.statements.clear()
    await deliveries(api, admin, recall["batches"]["LOT-A"], first=50)
    assert sql_counter.count <= 2 + 2, sql_counter.statements  # page + totalCount


async def test_the_migration_backfill_rebuilds_what_shipments_recorded(owner, tenant, recall):
    """Run last: it rebuilds this tenant's rows from the ledger and the returns, as
    migration 0023 does for shipments made before it, and must get the same rows."""
    columns = ("shipment_id, shipment_line_id, order_line_id, product_id, batch_id, move_id, "
               "shipment_date, quantity, returned_quantity")  # fmt: skip
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        recorded = set(await conn.execute(text(f"SELECT {columns} FROM shipment_line_batches")))
        assert len(recorded) >= 6
        await conn.execute(text("DELETE FROM shipment_line_batches"))
        await conn.execute(text(MIGRATION.BACKFILL_SHIPPED))
        await conn.execute(text(MIGRATION.BACKFILL_RETURNED))
        rebuilt = set(await conn.execute(text(f"SELECT {columns} FROM shipment_line_batches")))
    assert rebuilt == recorded
