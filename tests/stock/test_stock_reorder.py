"""Reorder rules, `lowStock`, and the low-stock alert job: run through the real arq
worker, one alert per rule and low episode (none on a second run), a new alert after
the stock recovered and fell again, to exactly the people who hold warehouses:manage
or stock:write."""

from __future__ import annotations

import uuid

from helpers import make_tenant
from sqlalchemy import select
from stock_helpers import REMOVE_RULE, SET_RULE, Stock, add_user, dec

from app.activities.tables import notifications
from app.db import tenant_transaction
from workers.scheduled import run_in_tenant

LOW = """query($w: ID) { lowStock(warehouseId: $w, first: 50) { totalCount edges { node {
  productId warehouseId onHand reserved available minQuantity maxQuantity shortfall toMax
  product { code } warehouse { code } rule { id lowSince product { code } } } } } }"""
RULES = """query($filter: ReorderRuleFilter) { reorderRules(first: 50, filter: $filter) {
  totalCount edges { node { id productId warehouseId minQuantity maxQuantity lowSince
  product { code } warehouse { code } } } } }"""
INBOX = """{ notifications(first: 50) { edges { node { kind title body subjectType subjectId
  readAt } } } }"""


async def _alerts(services, tenant) -> list:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        n = notifications.c
        rows = await conn.execute(
            select(n.user_id, n.subject_id, n.due_at, n.title, n.body)
            .where(n.kind == "low_stock")
            .order_by(n.created_at, n.id)
        )
        return rows.all()


async def _run_cron(services, run_worker) -> None:
    """A tick of its own slot: the tick's slot runs once per 10 minutes and tenant."""
    slot = f"test-{uuid.uuid4().hex}"
    await services.queue.enqueue("cron:check_low_stock", {"slot": slot}, key=slot)
    await run_worker(poll_delay=0.05)


async def test_rules_and_low_stock(api, owner, services):
    tenant = await make_tenant(owner, services, "reorder")
    stock, admin = Stock(api), tenant.tokens["admin"]
    product, other = await stock.product(admin), await stock.product(admin)
    w1, w2 = await stock.warehouse(admin), await stock.warehouse(admin)
    await stock.receive(admin, w1, [{"productId": product, "quantity": "5"},
                                    {"productId": other, "quantity": "50"}])  # fmt: skip
    rule = await stock.ok(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w1, "minQuantity": "10", "maxQuantity": "30"}, admin)  # fmt: skip
    rule = rule["reorderRule"]
    # No stock at all in w2 yet: the rule makes a level of zero, which is low.
    await stock.ok(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w2, "minQuantity": "1", "maxQuantity": "2"}, admin)  # fmt: skip
    # Exactly at the minimum is not low; a minimum of 0 never is.
    await stock.ok(SET_RULE, "setReorderRule", {
        "productId": other, "warehouseId": w1, "minQuantity": "50", "maxQuantity": "60"}, admin)  # fmt: skip
    await stock.ok(SET_RULE, "setReorderRule", {
        "productId": other, "warehouseId": w2, "minQuantity": "0", "maxQuantity": "0"}, admin)  # fmt: skip

    low = (await api.gql(LOW, {}, token=tenant.tokens["sales"]))["lowStock"]
    assert low["totalCount"] == 2
    first = low["edges"][0]["node"] if low["edges"][0]["node"]["warehouseId"] == w1 else low[
        "edges"][1]["node"]  # fmt: skip
    assert (dec(first["available"]), dec(first["shortfall"]), dec(first["toMax"])) == (5, 5, 25)
    assert first["product"]["code"] and first["rule"]["product"]["code"]
    only_w2 = (await api.gql(LOW, {"w": w2}, token=admin))["lowStock"]["edges"]
    assert [e["node"]["warehouseId"] for e in only_w2] == [w2]
    below = await stock.levels(admin, {"belowMin": True, "productId": {"eq": product}})
    assert len(below) == 2 and all(x["belowMin"] for x in below)

    # Changing the rule: the same rule, a new version; a stale version conflicts.
    changed = await stock.ok(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w1, "minQuantity": "4", "maxQuantity": "30",
        "version": rule["version"]}, admin)  # fmt: skip
    assert changed["reorderRule"]["id"] == rule["id"]
    stale = await stock.payload(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w1, "minQuantity": "4", "maxQuantity": "30",
        "version": rule["version"]}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [("version", "CONFLICT")]
    assert (await api.gql(LOW, {"w": w1}, token=admin))["lowStock"]["totalCount"] == 0
    bad = await stock.payload(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w1, "minQuantity": "5", "maxQuantity": "4"}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [("maxQuantity", "INVALID")]
    bad = await stock.payload(SET_RULE, "setReorderRule", {
        "productId": str(uuid.uuid4()), "warehouseId": w1, "minQuantity": "-1",
        "maxQuantity": "4"}, admin)  # fmt: skip
    assert {e["field"] for e in bad["userErrors"]} == {"minQuantity", "productId"}
    forbidden = await api.errors(SET_RULE, {"input": {
        "productId": product, "warehouseId": w1, "minQuantity": "1", "maxQuantity": "4"}},
        token=tenant.tokens["manager"])  # fmt: skip
    assert forbidden[0]["extensions"]["code"] == "FORBIDDEN"

    listed = await api.gql(RULES, {"filter": {"warehouseId": {"eq": w1}}}, token=admin)
    assert listed["reorderRules"]["totalCount"] == 2
    removed = await stock.ok(REMOVE_RULE, "removeReorderRule", {"id": rule["id"]}, admin)
    assert removed["reorderRule"]["id"] == rule["id"]
    again = await stock.payload(REMOVE_RULE, "removeReorderRule", {"id": rule["id"]}, admin)
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("id", "NOT_FOUND")]
    level = await stock.level(admin, product, w1)
    assert level["minQuantity"] is None and level["belowMin"] is False


async def test_alerts_through_the_worker(api, owner, services, run_worker):
    tenant = await make_tenant(owner, services, "lowstock")
    stock, admin = Stock(api), tenant.tokens["admin"]
    keeper = await add_user(services, tenant, "warehouse")  # holds stock:write
    await add_user(services, tenant, "warehouse", active=False)  # inactive: no alerts
    product = await stock.product(admin)
    w = await stock.warehouse(admin)
    await stock.receive(admin, w, [{"productId": product, "quantity": "20"}])
    rule = (await stock.ok(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": w, "minQuantity": "10", "maxQuantity": "40"},
        admin))["reorderRule"]  # fmt: skip

    await _run_cron(services, run_worker)
    assert await _alerts(services, tenant) == []  # 20 available: not low

    await stock.issue(admin, w, [{"productId": product, "quantity": "15"}])
    await _run_cron(services, run_worker)
    alerts = await _alerts(services, tenant)
    # admin (everything) and the active warehouse keeper; not sales, viewer, manager.
    assert {a.user_id for a in alerts} == {tenant.user_ids["admin"], keeper}
    assert {str(a.subject_id) for a in alerts} == {rule["id"]}
    assert "Available 5, minimum 10; 35 more brings it to the maximum of 40." in alerts[0].body
    inbox = (await api.gql(INBOX, token=admin))["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["subjectType"]) for n in inbox] == [
        ("LOW_STOCK", "reorder_rule")]  # fmt: skip

    # Still low: no second alert, however often it runs (the direct call too).
    await _run_cron(services, run_worker)
    await run_in_tenant(services.engine, "low_stock", tenant.schema)
    assert len(await _alerts(services, tenant)) == 2
    assert (await api.gql(LOW, {}, token=admin))["lowStock"]["edges"][0]["node"]["rule"][
        "lowSince"]  # fmt: skip

    # Back at the minimum ends the episode; falling below again alerts again, once.
    await stock.receive(admin, w, [{"productId": product, "quantity": "5"}])
    await _run_cron(services, run_worker)
    assert len(await _alerts(services, tenant)) == 2
    rules = (await api.gql(RULES, {}, token=admin))["reorderRules"]["edges"]
    assert rules[0]["node"]["lowSince"] is None
    await stock.issue(admin, w, [{"productId": product, "quantity": "0.001"}])
    await _run_cron(services, run_worker)
    await _run_cron(services, run_worker)
    alerts = await _alerts(services, tenant)
    assert len(alerts) == 4 and len({a.due_at for a in alerts}) == 2


async def test_the_job_catches_up_and_alerts_custom_roles(api, owner, services):
    """Stock went low while no worker ran: the next run alerts, once; a custom role
    with warehouses:manage is alerted too."""
    tenant = await make_tenant(owner, services, "catchup")
    stock, admin = Stock(api), tenant.tokens["admin"]
    await api.gql(
        """mutation { createRole(input: {name: "stock-planner", description: "plans",
             permissions: ["warehouses:manage", "stock:read"], dataScope: ALL}) {
             userErrors { code } } }""",
        token=admin,
    )
    planner = await add_user(services, tenant, "stock-planner")
    product = await stock.product(admin)
    warehouses = [await stock.warehouse(admin) for _ in range(3)]
    for w in warehouses:
        await stock.ok(SET_RULE, "setReorderRule", {
            "productId": product, "warehouseId": w, "minQuantity": "1", "maxQuantity": "5"},
            admin)  # fmt: skip
    await run_in_tenant(services.engine, "low_stock", tenant.schema)
    await run_in_tenant(services.engine, "low_stock", tenant.schema)
    alerts = await _alerts(services, tenant)
    assert len(alerts) == 6  # three rules, two people, once each
    assert {a.user_id for a in alerts} == {tenant.user_ids["admin"], planner}
