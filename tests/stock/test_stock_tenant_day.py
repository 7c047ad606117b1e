"""First expiring first goes by the tenant's calendar day, not UTC's (nor the
database's): in a tenant whose day differs from UTC's right now, a batch that expired
yesterday (the tenant's yesterday) is never picked, one expiring today still is; for
issueStock, transferStock and createShipment (app/billing, through issue_reserved)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from stock_helpers import Stock, dec, tenant_off_utc, today

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))

from billing_helpers import CREATE_SHIPMENT, Goods, confirmed_order, payload  # noqa: E402
from order_helpers import create_order, new_customer, order_action  # noqa: E402


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await tenant_off_utc(owner, services, "tzfefo")


async def _stocked(stock: Stock, tenant) -> tuple[str, str, dict[str, str]]:
    """A batch-tracked product in a new warehouse: 5 of a batch that expired on the
    tenant's yesterday, 5 of one expiring on its today."""
    admin, day = tenant.tokens["admin"], today(tenant.zone)
    product, warehouse = (
        await stock.product(admin, batch_tracked=True),
        await stock.warehouse(admin),
    )
    made = {}
    for code, expires in (("OLD", day - dt.timedelta(days=1)), ("TODAY", day)):
        received = await stock.ok(
            "mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {"
            " moves { batchId } userErrors { field code message } } }", "receiveStock",
            {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "5",
                                                  "batchCode": code,
                                                  "expiresOn": expires.isoformat()}]},
            admin,
        )  # fmt: skip
        made[code] = received["moves"][0]["batchId"]
    return product, warehouse, made


async def _batches(stock: Stock, token: str, product: str, warehouse: str) -> dict[str, object]:
    level = await stock.level(token, product, warehouse)
    return {b["batch"]["code"]: dec(b["onHand"]) for b in level["batches"]} if level else {}


async def test_issue_and_transfer_pick_by_the_tenants_day(api, tenant):
    stock, admin = Stock(api), tenant.tokens["admin"]
    product, warehouse, made = await _stocked(stock, tenant)
    other = await stock.warehouse(admin)

    issued = await stock.issue(admin, warehouse, [{"productId": product, "quantity": "2"}])
    assert issued["userErrors"] == [], issued
    assert [m["batchId"] for m in issued["moves"]] == [made["TODAY"]]
    moved = await stock.transfer(admin, warehouse, other, [{"productId": product, "quantity": "2"}])
    assert moved["userErrors"] == [], moved
    assert {m["batchId"] for m in moved["moves"]} == {made["TODAY"]}
    assert await _batches(stock, admin, product, other) == {"TODAY": dec(2)}

    # One good unit left: asking for two is refused whole, the expired batch untouched.
    refused = await stock.issue(admin, warehouse, [{"productId": product, "quantity": "2"}])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("lines[0].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    assert "1 in unexpired batches" in refused["userErrors"][0]["message"]
    assert await _batches(stock, admin, product, warehouse) == {"OLD": dec(5), "TODAY": dec(1)}
    # Expired stock still leaves when named (a write-off, a return to the supplier).
    named = await stock.issue(
        admin, warehouse, [{"productId": product, "quantity": "1", "batchId": made["OLD"]}]
    )
    assert named["userErrors"] == [], named


async def test_a_shipment_picks_by_the_tenants_day(api, tenant):
    stock, admin = Stock(api), tenant.tokens["admin"]
    product, warehouse, _ = await _stocked(stock, tenant)
    goods = Goods(warehouse, [product], await new_customer(api, admin))
    order = await confirmed_order(api, tenant, goods, ["3"])
    line = order["lines"][0]["id"]
    sent = await payload(api, CREATE_SHIPMENT, "createShipment",
                         {"orderId": order["id"], "lines": [{"orderLineId": line,
                                                             "quantity": "3"}]}, admin)  # fmt: skip
    assert sent["userErrors"] == [], sent
    (shipped,) = sent["shipment"]["lines"]
    assert [(b["code"], dec(b["quantity"])) for b in shipped["batches"]] == [("TODAY", dec(3))]
    # Only 2 good units are left: another order of 3 is not even confirmed (expired
    # stock is not available to reserve, tests/stock/test_stock_expired_unavailable.py);
    # one of 2 is, and ships from the batch that is still good.
    second = await create_order(api, admin, goods, [{"productId": product, "quantity": "3"}])
    refused = await order_action(api, admin, "confirm", second["id"])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("lines[0].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    level = await stock.level(admin, product, warehouse)
    assert (dec(level["onHand"]), dec(level["reserved"])) == (dec(7), dec(0))
    third = await confirmed_order(api, tenant, goods, ["2"])
    sent = await payload(api, CREATE_SHIPMENT, "createShipment", {
        "orderId": third["id"],
        "lines": [{"orderLineId": third["lines"][0]["id"], "quantity": "2"}]}, admin)  # fmt: skip
    assert sent["userErrors"] == [], sent
    assert await _batches(stock, admin, product, warehouse) == {"OLD": dec(5)}
