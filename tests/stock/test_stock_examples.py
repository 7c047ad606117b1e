"""The published stock operations (graphql/operations/) run, in the order a warehouse
clerk would use them."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from stock_helpers import dec

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


async def test_the_examples_in_order(api, stock, tenant_a):
    admin = tenant_a.tokens["admin"]

    async def run(name: str, variables: dict) -> dict:
        return await api.gql((OPERATIONS / f"{name}.graphql").read_text(), variables, token=admin)

    made = await run("createWarehouse", {"input": {"code": f"EX-{uuid.uuid4().hex[:6]}",
                                                   "name": "示例仓"}})  # fmt: skip
    warehouse = made["createWarehouse"]["warehouse"]["id"]
    product = await stock.product(admin, batch_tracked=True)
    expiry = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    received = await run("receiveStock", {"input": {
        "id": str(uuid.uuid4()), "warehouseId": warehouse,
        "lines": [{"productId": product, "quantity": "12", "batchCode": "EX-1",
                   "expiresOn": expiry}]}})  # fmt: skip
    assert received["receiveStock"]["userErrors"] == []
    issued = await run("issueStock", {"input": {"warehouseId": warehouse, "lines": [
        {"productId": product, "quantity": "9"}]}})  # fmt: skip
    assert issued["issueStock"]["moves"][0]["batch"]["code"] == "EX-1"
    rule = await run("setReorderRule", {"input": {"productId": product, "warehouseId": warehouse,
                                                  "minQuantity": "5", "maxQuantity": "20"}})  # fmt: skip
    assert rule["setReorderRule"]["userErrors"] == []
    levels = await run("stockLevels", {"filter": {"warehouseId": {"eq": warehouse}}, "first": 10})
    (level,) = [e["node"] for e in levels["stockLevels"]["edges"]]
    assert (dec(level["onHand"]), level["belowMin"], level["batches"][0]["batch"]["code"]) == (
        3, True, "EX-1")  # fmt: skip
    available = await run("stockAvailability", {"productIds": [product]})
    assert dec(available["stockAvailability"][0]["available"]) == 3
    moves = await run("stockMoves", {"filter": {"productId": {"eq": product}}, "first": 10})
    assert [e["node"]["kind"] for e in moves["stockMoves"]["edges"]] == ["ISSUE", "RECEIPT"]
    low = await run("lowStock", {"warehouseId": warehouse, "first": 10})
    assert dec(low["lowStock"]["edges"][0]["node"]["toMax"]) == 17
