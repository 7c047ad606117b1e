"""Expired stock is not available: confirming an order never reserves stock of batches
expired as of the tenant's day (they can never ship), unreserved issues leave the
reserved quantity covered by unexpired stock, and stockLevels / stockAvailability /
lowStock show the expired quantity and an available that leaves it out.

The tenant's day is not UTC's while these tests run (zone chosen from the current UTC
hour, as in test_stock_tenant_day.py), and every product holds a batch that expired on
the tenant's yesterday and one expiring on its today: judged by the UTC day, one of the
two would be misjudged, so the exact quantities below only hold by the tenant's day."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from stock_helpers import SET_RULE, Stock, dec, tenant_off_utc, today

from app.activities.tables import notifications
from app.audit.service import Actor
from app.auth.scope import EVERYTHING
from app.db import create_engine, tenant_transaction
from app.errors import UserErrors
from app.orders import service as orders
from app.orders.tables import sales_orders
from app.stock.tables import reorder_rules, stock_reservations
from workers.scheduled import run_in_tenant

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from order_helpers import (  # noqa: E402
    Goods,
    create_order,
    level,
    new_customer,
    open_reserved,
    order_action,
    race,
)

CALLERS = 30

LEVEL_FIELDS = "productId warehouseId onHand reserved expiredQuantity available belowMin"
LEVELS = f"""query($filter: StockLevelFilter) {{
  stockLevels(filter: $filter, first: 50) {{ edges {{ node {{ {LEVEL_FIELDS} }} }} }} }}"""
AVAILABILITY = f"""query($productIds: [ID!]!, $warehouseIds: [ID!]) {{
  stockAvailability(productIds: $productIds, warehouseIds: $warehouseIds) {{
    productId onHand reserved expiredQuantity available levels {{ {LEVEL_FIELDS} }} }} }}"""
LOW_STOCK = """query($warehouseId: ID) {
  lowStock(warehouseId: $warehouseId, first: 50) { edges { node {
    productId onHand reserved expiredQuantity available minQuantity maxQuantity shortfall
    toMax } } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await tenant_off_utc(owner, services, "expiredav")


@pytest.fixture
async def engine(settings, database):
    """Its own pool: every caller holds a connection of its own."""
    engine = create_engine(settings, pool_size=CALLERS // 2)
    yield engine
    await engine.dispose()


async def _stocked(stock: Stock, tenant, **given: tuple[str, int]) -> tuple[str, str, dict]:
    """A batch-tracked product in a new warehouse holding `given` batches: code =
    (quantity, expiry as days from the tenant's today)."""
    admin, day = tenant.tokens["admin"], today(tenant.zone)
    product = await stock.product(admin, batch_tracked=True)
    warehouse = await stock.warehouse(admin)
    made = {}
    for code, (quantity, days) in given.items():
        expires = (day + dt.timedelta(days=days)).isoformat()
        received = await stock.ok(
            "mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {"
            " moves { batchId } userErrors { field code message } } }", "receiveStock",
            {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": quantity,
                                                  "batchCode": code, "expiresOn": expires}]},
            admin,
        )  # fmt: skip
        made[code] = received["moves"][0]["batchId"]
    return product, warehouse, made


async def _order(api, tenant, product: str, warehouse: str, quantity: str) -> str:
    admin = tenant.tokens["admin"]
    goods = Goods(warehouse, [product], await new_customer(api, admin))
    made = await create_order(api, admin, goods, [{"productId": product, "quantity": quantity}])
    return made["id"]


async def _status(services, tenant, order_id: str) -> str:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(
            select(sales_orders.c.status).where(sales_orders.c.id == uuid.UUID(order_id))
        )


def _errors(payload: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def test_stock_only_in_an_expired_batch_cannot_be_reserved(api, services, tenant, stock):
    product, warehouse, _ = await _stocked(stock, tenant, OLD=("5", -1))
    order = await _order(api, tenant, product, warehouse, "1")

    refused = await order_action(api, tenant.tokens["admin"], "confirm", order)

    assert _errors(refused) == [("lines[0].quantity", "INSUFFICIENT_STOCK")]
    assert "only 0 available; 5 more are in expired batches" in refused["userErrors"][0]["message"]
    assert await _status(services, tenant, order) == "draft"
    assert await open_reserved(services, tenant, order) == 0
    assert await level(services, tenant, product, warehouse) == (dec(5), dec(0), dec(5))


async def test_exactly_the_unexpired_quantity_can_be_reserved(api, services, tenant, stock):
    """5 expired on the tenant's yesterday, 3 expiring on its today (still good), 2 in
    a month: 5 can be reserved, not 6, and then nothing more."""
    product, warehouse, _ = await _stocked(
        stock, tenant, OLD=("5", -1), TODAY=("3", 0), LATER=("2", 30)
    )
    admin = tenant.tokens["admin"]
    too_many = await _order(api, tenant, product, warehouse, "6")
    refused = await order_action(api, admin, "confirm", too_many)
    assert _errors(refused) == [("lines[0].quantity", "INSUFFICIENT_STOCK")]
    message = refused["userErrors"][0]["message"]
    assert "6 needed, only 5 available; 5 more are in expired batches" in message
    assert await open_reserved(services, tenant, too_many) == 0

    fits = await _order(api, tenant, product, warehouse, "5")
    assert (await order_action(api, admin, "confirm", fits))["userErrors"] == []
    assert await open_reserved(services, tenant, fits) == 5

    one_more = await _order(api, tenant, product, warehouse, "1")
    refused = await order_action(api, admin, "confirm", one_more)
    assert _errors(refused) == [("lines[0].quantity", "INSUFFICIENT_STOCK")]
    assert await _status(services, tenant, one_more) == "draft"
    assert await level(services, tenant, product, warehouse) == (dec(10), dec(5), dec(5))


async def test_concurrent_confirmations_reserve_only_unexpired_stock(
    api, services, tenant, stock, engine
):
    """30 orders of one unit each, confirmed at once on their own connections, against
    10 good units and 5 expired ones: exactly 10 are confirmed."""
    product, warehouse, _ = await _stocked(stock, tenant, OLD=("5", -1), TODAY=("10", 0))
    orders_ = [await _order(api, tenant, product, warehouse, "1") for _ in range(CALLERS)]
    actor, day = Actor("user", tenant.user_ids["admin"]), today(tenant.zone)

    def confirm(order_id: str):
        return lambda conn: orders.confirm_sales_order(
            conn, actor=actor, who=EVERYTHING, order_id=uuid.UUID(order_id), version=None,
            today=day,
        )  # fmt: skip

    outcomes = await race(engine, tenant.schema, [confirm(o) for o in orders_])
    assert [o for o in outcomes if isinstance(o, BaseException) and
            not isinstance(o, UserErrors)] == []  # fmt: skip
    refused = [o for o in outcomes if isinstance(o, UserErrors)]
    assert len(refused) == CALLERS - 10
    for error in refused:
        assert [(e.field, e.code) for e in error.errors] == [
            ("lines[0].quantity", "INSUFFICIENT_STOCK")
        ]
        assert "5 more are in expired batches" in error.errors[0].message
    statuses = [await _status(services, tenant, o) for o in orders_]
    assert statuses.count("confirmed") == 10
    assert statuses.count("draft") == CALLERS - 10
    assert await level(services, tenant, product, warehouse) == (dec(15), dec(10), dec(5))
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        held = (
            await conn.execute(
                select(stock_reservations.c.open_quantity).where(
                    stock_reservations.c.product_id == uuid.UUID(product)
                )
            )
        ).scalars().all()  # fmt: skip
    assert sorted(held) == [Decimal(1)] * 10


async def test_availability_queries_show_expired_stock_and_leave_it_out(api, tenant, stock):
    product, warehouse, _ = await _stocked(
        stock, tenant, OLD=("4", -1), TODAY=("3", 0), LATER=("3", 30)
    )
    admin = tenant.tokens["admin"]
    # A minimum of 7: 10 on hand would meet it, the 6 that are not expired do not.
    await stock.ok(SET_RULE, "setReorderRule", {"productId": product, "warehouseId": warehouse,
                                                "minQuantity": "7", "maxQuantity": "20"}, admin)  # fmt: skip
    confirmed = await _order(api, tenant, product, warehouse, "2")
    assert (await order_action(api, admin, "confirm", confirmed))["userErrors"] == []

    expected = {"onHand": dec(10), "reserved": dec(2), "expiredQuantity": dec(4),
                "available": dec(4)}  # fmt: skip
    where = {"productId": {"eq": product}, "warehouseId": {"eq": warehouse}}
    (node,) = [e["node"] for e in (await api.gql(LEVELS, {"filter": where}, token=admin))
               ["stockLevels"]["edges"]]  # fmt: skip
    assert {k: dec(node[k]) for k in expected} == expected
    assert node["belowMin"] is True
    low = await api.gql(LEVELS, {"filter": {**where, "belowMin": True}}, token=admin)
    assert [e["node"]["productId"] for e in low["stockLevels"]["edges"]] == [product]

    found = await api.gql(AVAILABILITY, {"productIds": [product], "warehouseIds": [warehouse]},
                          token=admin)  # fmt: skip
    (item,) = found["stockAvailability"]
    assert {k: dec(item[k]) for k in expected} == expected
    assert {k: dec(item["levels"][0][k]) for k in expected} == expected

    rows = await api.gql(LOW_STOCK, {"warehouseId": warehouse}, token=admin)
    (item,) = [e["node"] for e in rows["lowStock"]["edges"]]
    assert item["productId"] == product
    assert {k: dec(item[k]) for k in (*expected, "shortfall", "toMax")} == {
        **expected, "shortfall": dec(3), "toMax": dec(16)}  # fmt: skip

    # What the queries call available is what a confirmation accepts: 4, not 5.
    more = await _order(api, tenant, product, warehouse, "5")
    assert _errors(await order_action(api, admin, "confirm", more)) == [
        ("lines[0].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    last = await _order(api, tenant, product, warehouse, "4")
    assert (await order_action(api, admin, "confirm", last))["userErrors"] == []
    (node,) = [e["node"] for e in (await api.gql(LEVELS, {"filter": where}, token=admin))
               ["stockLevels"]["edges"]]  # fmt: skip
    assert (dec(node["available"]), dec(node["expiredQuantity"])) == (dec(0), dec(4))


async def test_unreserved_issues_leave_reserved_stock_covered(api, services, tenant, stock):
    product, warehouse, made = await _stocked(stock, tenant, OLD=("5", -1), TODAY=("5", 0))
    admin = tenant.tokens["admin"]
    order = await _order(api, tenant, product, warehouse, "3")
    assert (await order_action(api, admin, "confirm", order))["userErrors"] == []

    # On hand - reserved is 7, but only 2 good units are not promised.
    refused = await stock.issue(admin, warehouse, [{"productId": product, "quantity": "3"}])
    assert _errors(refused) == [("lines[0].quantity", "INSUFFICIENT_STOCK")]
    message = refused["userErrors"][0]["message"]
    assert "only 2 available (3 reserved); 5 more are in expired batches" in message
    assert await level(services, tenant, product, warehouse) == (dec(10), dec(3), dec(7))
    assert (await stock.issue(admin, warehouse, [{"productId": product, "quantity": "2"}]))[
        "userErrors"] == []  # fmt: skip
    # Expired stock named by its batch still leaves (a write-off).
    written_off = await stock.issue(
        admin, warehouse, [{"productId": product, "quantity": "5", "batchId": made["OLD"]}]
    )
    assert written_off["userErrors"] == []
    assert await level(services, tenant, product, warehouse) == (dec(3), dec(3), dec(0))


async def test_products_without_batches_are_unchanged(api, services, tenant, stock):
    admin = tenant.tokens["admin"]
    product, warehouse = await stock.product(admin), await stock.warehouse(admin)
    await stock.ok(
        "mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {"
        " userErrors { field code message } } }", "receiveStock",
        {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "10"}]}, admin,
    )  # fmt: skip
    where = {"productId": {"eq": product}, "warehouseId": {"eq": warehouse}}
    (node,) = [e["node"] for e in (await api.gql(LEVELS, {"filter": where}, token=admin))
               ["stockLevels"]["edges"]]  # fmt: skip
    assert (dec(node["expiredQuantity"]), dec(node["available"])) == (dec(0), dec(10))

    fits = await _order(api, tenant, product, warehouse, "10")
    assert (await order_action(api, admin, "confirm", fits))["userErrors"] == []
    more = await _order(api, tenant, product, warehouse, "1")
    refused = await order_action(api, admin, "confirm", more)
    assert _errors(refused) == [("lines[0].quantity", "INSUFFICIENT_STOCK")]
    message = refused["userErrors"][0]["message"]
    assert "1 needed, 0 available" in message and "expired" not in message
    assert await level(services, tenant, product, warehouse) == (dec(10), dec(10), dec(0))


async def _rule_alerts(services, tenant, rule_id: str) -> list:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        n = notifications.c
        rows = await conn.execute(
            select(n.user_id, n.due_at, n.body)
            .where(n.kind == "low_stock", n.subject_id == uuid.UUID(rule_id))
            .order_by(n.created_at, n.id)
        )
        return rows.all()


async def _low_since(services, tenant, rule_id: str):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(
            select(reorder_rules.c.low_since).where(reorder_rules.c.id == uuid.UUID(rule_id))
        )


async def test_the_alert_job_leaves_expired_stock_out_by_the_tenants_day(
    api, services, tenant, stock, run_worker
):
    """Two products, each with 5 units expired on the tenant's yesterday and 3 expiring
    on its today: with a minimum of 4 one is low (3 available, though 8 on hand
    meet it), with a minimum of 3 the other is not. Judged by the UTC day instead, one
    of the two would come out the other way. The low one alerts once per episode, through
    the worker and the direct run alike, with the figures lowStock shows."""
    admin = tenant.tokens["admin"]
    low, warehouse, _ = await _stocked(stock, tenant, OLD=("5", -1), TODAY=("3", 0))
    fine, other_warehouse, _ = await _stocked(stock, tenant, OLD=("5", -1), TODAY=("3", 0))
    rule = (await stock.ok(SET_RULE, "setReorderRule", {
        "productId": low, "warehouseId": warehouse, "minQuantity": "4", "maxQuantity": "20"},
        admin))["reorderRule"]  # fmt: skip
    kept = (await stock.ok(SET_RULE, "setReorderRule", {
        "productId": fine, "warehouseId": other_warehouse, "minQuantity": "3",
        "maxQuantity": "20"}, admin))["reorderRule"]  # fmt: skip

    slot = f"test-{uuid.uuid4().hex}"
    await services.queue.enqueue("cron:check_low_stock", {"slot": slot}, key=slot)
    await run_worker(poll_delay=0.05)
    alerts = await _rule_alerts(services, tenant, rule["id"])
    assert {a.user_id for a in alerts} == {tenant.user_ids["admin"]}
    assert "Available 3, minimum 4; 17 more brings it to the maximum of 20." in alerts[0].body
    assert await _rule_alerts(services, tenant, kept["id"]) == []
    shown = await api.gql(LOW_STOCK, {"warehouseId": warehouse}, token=admin)
    assert [dec(e["node"]["available"]) for e in shown["lowStock"]["edges"]] == [dec(3)]

    # Still low: the episode goes on, no second alert however often the job runs.
    since = await _low_since(services, tenant, rule["id"])
    for _ in range(2):
        await run_in_tenant(services.engine, "low_stock", tenant.schema)
    assert await _low_since(services, tenant, rule["id"]) == since
    assert len(await _rule_alerts(services, tenant, rule["id"])) == len(alerts)

    # Good stock back at the minimum ends the episode; nothing more is sent.
    await stock.receive(admin, warehouse, [{"productId": low, "quantity": "1",
                                            "batchCode": "FRESH",
                                            "expiresOn": (today(tenant.zone) + dt.timedelta(
                                                days=30)).isoformat()}])  # fmt: skip
    await run_in_tenant(services.engine, "low_stock", tenant.schema)
    assert await _low_since(services, tenant, rule["id"]) is None
    assert len(await _rule_alerts(services, tenant, rule["id"])) == len(alerts)
