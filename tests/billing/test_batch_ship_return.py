"""A batch-tracked product through ship -> return: the goods go back into the batch they
left from, whether the return names the batch or leaves it to be inferred from what the
order line shipped; checked through the stock API (stockLevels' batches)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from billing_helpers import CREATE_SHIPMENT, Goods, confirmed_order, give_back, payload, ship
from helpers import make_tenant
from order_helpers import new_customer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stock"))

from stock_helpers import Stock, dec  # noqa: E402

RETURN_LINES = """mutation($input: CreateSalesReturnInput!) {
  createSalesReturn(input: $input) {
    salesReturn { id lines { orderLineId quantity batchId } }
    userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "bret")


async def batch_goods(api, tenant) -> tuple[Goods, dict[str, str]]:
    """A batch-tracked product with 5 each in LOT-A (expiring first) and LOT-B."""
    admin = tenant.tokens["admin"]
    stock = Stock(api)
    product = await stock.product(admin, batch_tracked=True)
    warehouse = await stock.warehouse(admin)
    batches = {}
    for code, expires in (("LOT-A", "2030-01-01"), ("LOT-B", "2031-01-01")):
        made = await stock.ok(
            "mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {"
            " moves { batchId } userErrors { field code message } } }", "receiveStock",
            {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "5",
                                                  "batchCode": code, "expiresOn": expires}]},
            admin,
        )  # fmt: skip
        batches[code] = made["moves"][0]["batchId"]
    customer = await new_customer(api, admin)
    return Goods(warehouse, [product], customer), batches


async def by_batch(api, tenant, g: Goods) -> dict[str, tuple]:
    """(on hand, reserved) of the product, and on hand per batch (0 when not listed)."""
    level = await Stock(api).level(tenant.tokens["admin"], g.products[0], g.warehouse)
    found = {b["batch"]["code"]: dec(b["onHand"]) for b in level["batches"]}
    return {"total": (dec(level["onHand"]), dec(level["reserved"]))} | {
        code: found.get(code, dec(0)) for code in ("LOT-A", "LOT-B")
    }


def codes(result: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["userErrors"]]


async def returned(api, tenant, order_id: str, line: str, quantity: str, batch: str | None):
    value = {"orderLineId": line, "quantity": quantity}
    if batch is not None:
        value["batchId"] = batch
    data = await api.gql(RETURN_LINES, {"input": {"orderId": order_id, "lines": [value]}},
                         token=tenant.tokens["admin"])  # fmt: skip
    return data["createSalesReturn"]


@pytest.mark.parametrize("shipped_from", ["LOT-A", "LOT-B"])
@pytest.mark.parametrize("named", [True, False], ids=["named", "inferred"])
async def test_returned_goods_go_back_into_their_batch(api, tenant, shipped_from, named):
    admin = tenant.tokens["admin"]
    g, batches = await batch_goods(api, tenant)
    order = await confirmed_order(api, tenant, g, ["3"])
    line = order["lines"][0]["id"]
    # LOT-A expires first: it is what ships unless the shipment names LOT-B.
    lines = [{"orderLineId": line, "quantity": "3"}]
    if shipped_from == "LOT-B":
        lines[0]["batchId"] = batches["LOT-B"]
    sent = await payload(api, CREATE_SHIPMENT, "createShipment",
                         {"orderId": order["id"], "lines": lines}, admin)  # fmt: skip
    assert sent["userErrors"] == [], sent
    other = "LOT-B" if shipped_from == "LOT-A" else "LOT-A"
    assert await by_batch(api, tenant, g) == {
        "total": (dec(7), dec(0)), shipped_from: dec(2), other: dec(5)}  # fmt: skip
    result = await returned(api, tenant, order["id"], line, "2",
                            batches[shipped_from] if named else None)  # fmt: skip
    assert result["userErrors"] == [], result
    assert result["salesReturn"]["lines"][0]["batchId"] == batches[shipped_from]
    assert await by_batch(api, tenant, g) == {
        "total": (dec(9), dec(0)), shipped_from: dec(4), other: dec(5)}  # fmt: skip
    # The last one back too; then nothing is left to return.
    result = await returned(api, tenant, order["id"], line, "1", None)
    assert result["userErrors"] == [], result
    assert await by_batch(api, tenant, g) == {
        "total": (dec(10), dec(0)), shipped_from: dec(5), other: dec(5)}  # fmt: skip
    result = await give_back(api, admin, order["id"], [(line, "1")])
    assert codes(result) == [("lines[0].quantity", "OVER_RETURN")], result


async def test_a_line_shipped_from_two_batches_must_name_one(api, tenant):
    admin = tenant.tokens["admin"]
    g, batches = await batch_goods(api, tenant)
    order = await confirmed_order(api, tenant, g, ["6"])
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, "6")]))["userErrors"] == []  # A5 + B1
    assert await by_batch(api, tenant, g) == {
        "total": (dec(4), dec(0)), "LOT-A": dec(0), "LOT-B": dec(4)}  # fmt: skip
    result = await returned(api, tenant, order["id"], line, "1", None)
    assert [c for _, c in codes(result)] == ["BATCH_REQUIRED"], result
    assert result["userErrors"][0]["field"] == "lines[0].batchId", result
    result = await returned(api, tenant, order["id"], line, "2", batches["LOT-A"])
    assert result["userErrors"] == [], result
    assert await by_batch(api, tenant, g) == {
        "total": (dec(6), dec(0)), "LOT-A": dec(2), "LOT-B": dec(4)}  # fmt: skip
    # LOT-B's one back (named): only LOT-A is still out, so the rest is inferred to it.
    result = await returned(api, tenant, order["id"], line, "1", batches["LOT-B"])
    assert result["userErrors"] == [], result
    result = await returned(api, tenant, order["id"], line, "3", None)
    assert result["userErrors"] == [], result
    assert result["salesReturn"]["lines"][0]["batchId"] == batches["LOT-A"]
    assert await by_batch(api, tenant, g) == {
        "total": (dec(10), dec(0)), "LOT-A": dec(5), "LOT-B": dec(5)}  # fmt: skip
