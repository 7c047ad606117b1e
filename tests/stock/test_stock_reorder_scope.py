"""Reorder rules and warehouse changes follow the data scope the other stock writes follow: a tenant-defined
role with data scope "assigned" and warehouses:manage sets and removes rules only in
its distributor's consignment warehouse. Any other warehouse (or a rule there) answers
exactly as one that does not exist, even with a stale version, and nothing changes;
the rules listing shows it only its own warehouse's rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from helpers import TenantHandle, make_tenant
from sqlalchemy import select
from stock_helpers import (
    REMOVE_RULE,
    SET_RULE,
    UPDATE_WAREHOUSE,
    Stock,
    add_distributor,
    add_distributor_user,
    add_role,
)

from app.db import tenant_transaction
from app.stock.tables import reorder_rules, stock_levels, warehouses

ROLE = "consignment-planner"
RULES = """{ reorderRules(first: 50) { edges { node { id warehouseId } } } }"""


@dataclass
class Scene:
    tenant: TenantHandle
    product: str
    hq: str  # a standard warehouse
    mine: str  # the planner's distributor's consignment warehouse
    theirs: str  # another distributor's consignment warehouse
    rules: dict[str, dict]  # staff's rules in hq and theirs, by warehouse
    planner: str  # token: the custom assigned-scope role, working for `mine`'s distributor


@pytest.fixture(scope="module")
async def scene(api, owner, services) -> Scene:
    tenant = await make_tenant(owner, services, "rscope")
    stock, admin = Stock(api), tenant.tokens["admin"]
    await add_role(api, admin, ROLE, "ASSIGNED",
                   ["stock:read", "warehouses:manage", "products:read"])  # fmt: skip
    d, e = await add_distributor(api, admin), await add_distributor(api, admin)
    product = await stock.product(admin)
    hq = await stock.warehouse(admin)
    mine = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=d)
    theirs = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=e)
    rules = {}
    for warehouse in (hq, theirs):
        rules[warehouse] = (await stock.ok(SET_RULE, "setReorderRule", {
            "productId": product, "warehouseId": warehouse, "minQuantity": "5",
            "maxQuantity": "20"}, admin))["reorderRule"]  # fmt: skip
    _, planner = await add_distributor_user(api, services, tenant, ROLE, d)
    return Scene(tenant, product, hq, mine, theirs, rules, planner)


def _errors(payload: dict) -> list[tuple]:
    return [(e["field"], e["code"], e["message"]) for e in payload["userErrors"]]


async def _stored(services, s: Scene) -> tuple[set, set]:
    """The product's rules and its levels' minimums, as the database has them."""
    r, lv = reorder_rules.c, stock_levels.c
    async with tenant_transaction(services.engine, s.tenant.schema) as conn:
        rules = await conn.execute(
            select(r.id, r.warehouse_id, r.min_quantity, r.max_quantity, r.version).where(
                r.product_id == uuid.UUID(s.product)
            )
        )
        levels = await conn.execute(
            select(lv.warehouse_id, lv.min_quantity).where(lv.product_id == uuid.UUID(s.product))
        )
        return {tuple(x) for x in rules}, {tuple(x) for x in levels}


async def test_setting_a_rule_outside_its_scope_is_not_found(api, services, scene):
    stock, s = Stock(api), scene
    before = await _stored(services, s)

    def rule(warehouse: str) -> dict:
        return {"productId": s.product, "warehouseId": warehouse, "minQuantity": "1",
                "maxQuantity": "2"}  # fmt: skip

    unknown = _errors(await stock.payload(SET_RULE, "setReorderRule", rule(str(uuid.uuid4())),
                                          s.planner))  # fmt: skip
    assert unknown == [("warehouseId", "NOT_FOUND", "no such warehouse")]
    for hidden in (s.hq, s.theirs):
        refused = await stock.payload(SET_RULE, "setReorderRule", rule(hidden), s.planner)
        assert refused["reorderRule"] is None and _errors(refused) == unknown
        # Naming the existing rule and its version changes nothing either.
        existing = {**rule(hidden), "version": s.rules[hidden]["version"]}
        refused = await stock.payload(SET_RULE, "setReorderRule", existing, s.planner)
        assert _errors(refused) == unknown
    assert await _stored(services, s) == before, "no rule and no level changed"

    # In its own consignment warehouse it works, new rule and change alike.
    made = (await stock.ok(SET_RULE, "setReorderRule", rule(s.mine), s.planner))["reorderRule"]
    assert (made["warehouseId"], made["minQuantity"]) == (s.mine, "1.000")
    changed = await stock.ok(SET_RULE, "setReorderRule", {
        **rule(s.mine), "minQuantity": "2", "version": made["version"]}, s.planner)  # fmt: skip
    assert changed["reorderRule"]["id"] == made["id"]
    rules, levels = await _stored(services, s)
    assert rules - before[0] == {(uuid.UUID(made["id"]), uuid.UUID(s.mine), 2, 2, 2)}
    assert (uuid.UUID(s.mine), 2) in levels


async def test_removing_a_rule_outside_its_scope_is_not_found(api, services, scene):
    stock, s = Stock(api), scene
    own = (await stock.ok(SET_RULE, "setReorderRule", {
        "productId": s.product, "warehouseId": s.mine, "minQuantity": "3",
        "maxQuantity": "9"}, s.tenant.tokens["admin"]))["reorderRule"]  # fmt: skip
    before = await _stored(services, s)
    unknown = _errors(await stock.payload(REMOVE_RULE, "removeReorderRule",
                                          {"id": str(uuid.uuid4())}, s.planner))  # fmt: skip
    assert unknown == [("id", "NOT_FOUND", "no such reorder rule")]
    for hidden in (s.hq, s.theirs):
        rule_id = s.rules[hidden]["id"]
        # A stale version would be CONFLICT on a rule it may see: here, not found.
        for extra in ({}, {"version": 99}):
            refused = await stock.payload(REMOVE_RULE, "removeReorderRule",
                                          {"id": rule_id, **extra}, s.planner)  # fmt: skip
            assert refused["reorderRule"] is None and _errors(refused) == unknown
    assert await _stored(services, s) == before, "the rules and their levels are all there"

    removed = await stock.ok(REMOVE_RULE, "removeReorderRule",
                             {"id": own["id"], "version": own["version"]}, s.planner)  # fmt: skip
    assert removed["reorderRule"]["id"] == own["id"]
    rules, levels = await _stored(services, s)
    assert {r[0] for r in rules} == {uuid.UUID(s.rules[w]["id"]) for w in (s.hq, s.theirs)}
    assert (uuid.UUID(s.mine), None) in levels


async def test_the_rules_it_lists_are_its_warehouses_only(api, scene):
    s = scene
    await Stock(api).ok(SET_RULE, "setReorderRule", {
        "productId": s.product, "warehouseId": s.mine, "minQuantity": "1",
        "maxQuantity": "1"}, s.planner)  # fmt: skip
    mine = await api.gql(RULES, token=s.planner)
    assert {e["node"]["warehouseId"] for e in mine["reorderRules"]["edges"]} == {s.mine}
    staff = await api.gql(RULES, token=s.tenant.tokens["admin"])
    every = {s.hq, s.mine, s.theirs}
    assert {e["node"]["warehouseId"] for e in staff["reorderRules"]["edges"]} == every


async def test_changing_a_warehouse_outside_its_scope_is_not_found(api, services, scene):
    stock, s = Stock(api), scene

    async def names() -> dict:
        async with tenant_transaction(services.engine, s.tenant.schema) as conn:
            rows = await conn.execute(
                select(warehouses.c.id, warehouses.c.name, warehouses.c.version)
            )
            return {str(r.id): (r.name, r.version) for r in rows}

    before = await names()
    unknown = _errors(await stock.payload(UPDATE_WAREHOUSE, "updateWarehouse",
                                          {"id": str(uuid.uuid4()), "name": "x"}, s.planner))  # fmt: skip
    assert unknown == [("id", "NOT_FOUND", "no such warehouse")]
    for hidden in (s.hq, s.theirs):
        for extra in ({}, {"version": before[hidden][1]}, {"version": 99}):
            refused = await stock.payload(UPDATE_WAREHOUSE, "updateWarehouse",
                                          {"id": hidden, "name": "mine now", **extra}, s.planner)  # fmt: skip
            assert refused["warehouse"] is None and _errors(refused) == unknown
    assert await names() == before, "no warehouse changed"
    changed = await stock.ok(UPDATE_WAREHOUSE, "updateWarehouse",
                             {"id": s.mine, "name": "寄售仓 已更名"}, s.planner)  # fmt: skip
    assert changed["warehouse"]["name"] == "寄售仓 已更名"
