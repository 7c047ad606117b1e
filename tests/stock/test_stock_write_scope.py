"""Stock writes follow the data scope reads follow: a tenant-defined role with data
scope "assigned" and stock:write posts moves and stock takes only in its distributor's
consignment warehouse; any other warehouse (or another warehouse's count sheet) answers
exactly as one that does not exist, and nothing changes there. Low-stock alerts reach
only people who may see the warehouse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from helpers import TenantHandle, make_tenant
from sqlalchemy import select
from stock_helpers import (
    CANCEL_TAKE,
    COUNT_TAKE,
    CREATE_TAKE,
    POST_TAKE,
    SET_RULE,
    Stock,
    add_distributor,
    add_distributor_user,
    add_role,
    add_user,
    dec,
)

from app.activities.tables import notifications
from app.db import tenant_transaction
from workers.scheduled import run_in_tenant

ROLE = "consignment-clerk"


@dataclass
class Scene:
    tenant: TenantHandle
    product: str
    hq: str  # a standard warehouse
    mine: str  # the clerk's distributor's consignment warehouse
    theirs: str  # another distributor's consignment warehouse
    clerk: str  # token: the custom assigned-scope role, working for `mine`'s distributor


@pytest.fixture(scope="module")
async def scene(api, owner, services) -> Scene:
    tenant = await make_tenant(owner, services, "wscope")
    stock, admin = Stock(api), tenant.tokens["admin"]
    await add_role(api, admin, ROLE, "ASSIGNED", ["stock:read", "stock:write", "products:read"])
    d, e = await add_distributor(api, admin), await add_distributor(api, admin)
    product = await stock.product(admin)
    hq = await stock.warehouse(admin)
    mine = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=d)
    theirs = await stock.warehouse(admin, kind="CONSIGNMENT", customerId=e)
    for warehouse in (hq, mine, theirs):
        await stock.ok(
            "mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {"
            " postingId userErrors { field code message } } }", "receiveStock",
            {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "10"}]},
            admin,
        )  # fmt: skip
    _, clerk = await add_distributor_user(api, services, tenant, ROLE, d)
    return Scene(tenant, product, hq, mine, theirs, clerk)


def _errors(payload: dict) -> list[tuple]:
    return [(e["field"], e["code"], e["message"]) for e in payload["userErrors"]]


async def _on_hand(stock: Stock, s: Scene) -> dict[str, object]:
    admin = s.tenant.tokens["admin"]
    return {w: dec((await stock.level(admin, s.product, w))["onHand"])
            for w in (s.hq, s.mine, s.theirs)}  # fmt: skip


async def test_moves_only_in_the_consignment_warehouse_it_may_see(api, scene):
    stock, s = Stock(api), scene
    line = [{"productId": s.product, "quantity": "1"}]
    before = await _on_hand(stock, s)
    calls = [
        lambda w: stock.receive(s.clerk, w, line),
        lambda w: stock.issue(s.clerk, w, line),
        lambda w: stock.adjust(s.clerk, w, line),
        lambda w: stock.transfer(s.clerk, w, s.mine, line),
        lambda w: stock.transfer(s.clerk, s.mine, w, line),
        lambda w: stock.payload(CREATE_TAKE, "createStockTake", {"warehouseId": w}, s.clerk),
    ]
    for call in calls:
        unknown = _errors(await call(str(uuid.uuid4())))
        assert unknown and unknown[0][1] == "NOT_FOUND", unknown
        for hidden in (s.hq, s.theirs):
            assert _errors(await call(hidden)) == unknown
    assert await _on_hand(stock, s) == before, "nothing moved anywhere"

    # In its own consignment warehouse it works.
    assert (await stock.receive(s.clerk, s.mine, line))["userErrors"] == []
    assert (await stock.issue(s.clerk, s.mine, line))["userErrors"] == []
    assert (await stock.adjust(s.clerk, s.mine, line, reason="找到"))["userErrors"] == []
    take = await stock.ok(CREATE_TAKE, "createStockTake", {"warehouseId": s.mine}, s.clerk)
    assert take["stockTake"]["lineCount"] == 1
    assert await _on_hand(stock, s) == {**before, s.mine: before[s.mine] + 1}


async def test_other_warehouses_count_sheets_do_not_exist_for_it(api, scene):
    stock, s = Stock(api), scene
    admin = s.tenant.tokens["admin"]
    hidden = (await stock.ok(CREATE_TAKE, "createStockTake", {"warehouseId": s.hq},
                             admin))["stockTake"]  # fmt: skip
    own = (await stock.ok(CREATE_TAKE, "createStockTake", {"warehouseId": s.mine},
                          admin))["stockTake"]  # fmt: skip
    count = [{"productId": s.product, "counted": "3"}]
    for query, name, extra in ((COUNT_TAKE, "countStockTake", {"lines": count}),
                               (POST_TAKE, "postStockTake", {}),
                               (CANCEL_TAKE, "cancelStockTake", {})):  # fmt: skip
        unknown = _errors(await stock.payload(query, name, {"id": str(uuid.uuid4()), **extra},
                                              s.clerk))  # fmt: skip
        assert unknown == [("id", "NOT_FOUND", "no such stock take")]
        assert _errors(await stock.payload(query, name, {"id": hidden["id"], **extra},
                                           s.clerk)) == unknown  # fmt: skip
    after = await api.gql("query($id: ID!) { stockTake(id: $id) { status version countedCount } }",
                          {"id": hidden["id"]}, token=admin)  # fmt: skip
    assert after["stockTake"] == {"status": "DRAFT", "version": hidden["version"],
                                  "countedCount": 0}  # fmt: skip
    # Its own warehouse's sheet, made by staff, it counts and posts.
    counted = await stock.ok(COUNT_TAKE, "countStockTake", {"id": own["id"], "lines": count},
                             s.clerk)  # fmt: skip
    posted = await stock.ok(POST_TAKE, "postStockTake", {"id": own["id"]}, s.clerk)
    assert counted["stockTake"]["countedCount"] == 1
    assert posted["stockTake"]["status"] == "POSTED"


async def _alerts(services, tenant) -> set[tuple[uuid.UUID, str]]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        n = notifications.c
        rows = await conn.execute(select(n.user_id, n.title).where(n.kind == "low_stock"))
        return {(r.user_id, r.title.rsplit(" in ", 1)[1]) for r in rows}


async def test_alerts_reach_only_people_who_see_the_warehouse(api, owner, services):
    tenant = await make_tenant(owner, services, "wscopealert")
    stock, admin = Stock(api), tenant.tokens["admin"]
    await add_role(api, admin, ROLE, "ASSIGNED", ["stock:write"])
    d, e = await add_distributor(api, admin), await add_distributor(api, admin)
    product = await stock.product(admin)
    codes = {"hq": f"HQ-{uuid.uuid4().hex[:6]}", "d": f"D-{uuid.uuid4().hex[:6]}"}
    hq = await stock.warehouse(admin, code=codes["hq"])
    mine = await stock.warehouse(admin, code=codes["d"], kind="CONSIGNMENT", customerId=d)
    keeper = await add_user(services, tenant, "warehouse")
    clerk_d, _ = await add_distributor_user(api, services, tenant, ROLE, d)
    clerk_e, _ = await add_distributor_user(api, services, tenant, ROLE, e)
    for warehouse in (hq, mine):
        await stock.ok(SET_RULE, "setReorderRule", {
            "productId": product, "warehouseId": warehouse, "minQuantity": "1",
            "maxQuantity": "5"}, admin)  # fmt: skip
    await run_in_tenant(services.engine, "low_stock", tenant.schema)
    staff = {tenant.user_ids["admin"], keeper}
    assert await _alerts(services, tenant) == {
        *((u, codes["hq"]) for u in staff),
        *((u, codes["d"]) for u in staff | {uuid.UUID(clerk_d)}),
    }
    assert uuid.UUID(clerk_e) not in {u for u, _ in await _alerts(services, tenant)}
