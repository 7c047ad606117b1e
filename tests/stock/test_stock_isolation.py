"""Tenant isolation of every stock entity: another tenant cannot read, list, count,
change or infer warehouses, levels, moves, batches, reservations' effects, reorder
rules or stock takes, also not by passing the first tenant's ids to its queries and
mutations (they answer exactly as for ids that never existed), and the first tenant's
stock is unchanged afterwards."""

from __future__ import annotations

import uuid

import pytest
from stock_helpers import (
    CANCEL_TAKE,
    COUNT_TAKE,
    CREATE_TAKE,
    POST_TAKE,
    REMOVE_RULE,
    SET_RULE,
    UPDATE_WAREHOUSE,
    Stock,
)

READS = """query($w: ID!, $p: ID!, $b: ID!, $t: ID!, $posting: ID!) {
  warehouse(id: $w) { id }
  batch(id: $b) { id }
  stockTake(id: $t) { id }
  warehouses(first: 100) { totalCount edges { node { id } } }
  byWarehouse: stockLevels(first: 10, filter: {warehouseId: {eq: $w}}) { totalCount edges { node { productId } } }
  byProduct: stockLevels(first: 10, filter: {productId: {eq: $p}}) { totalCount }
  byBatch: stockLevels(first: 10, filter: {batchId: $b}) { totalCount }
  stockMoves(first: 10, filter: {postingId: $posting}) { totalCount edges { node { id } } }
  moves: stockMoves(first: 10, filter: {productId: {eq: $p}}) { totalCount }
  batches(first: 10, filter: {productId: {eq: $p}}) { totalCount }
  reorderRules(first: 10, filter: {warehouseId: {eq: $w}}) { totalCount }
  lowStock(warehouseId: $w, first: 10) { totalCount }
  stockTakes(first: 10, filter: {warehouseId: {eq: $w}}) { totalCount }
  stockTakeLines(stockTakeId: $t, first: 10) { totalCount }
  stockAvailability(productIds: [$p]) { onHand reserved available levels { warehouseId } }
}"""


@pytest.fixture(scope="module")
async def owned(api, tenant_a):
    """Stock of every kind in tenant A."""
    stock, admin = Stock(api), tenant_a.tokens["admin"]
    product = await stock.product(admin, batch_tracked=True)
    warehouse = await stock.warehouse(admin)
    received = await stock.receive(admin, warehouse, [
        {"productId": product, "quantity": "5", "batchCode": "ISO", "expiresOn": "2030-01-01"}])  # fmt: skip
    rule = await stock.ok(SET_RULE, "setReorderRule", {
        "productId": product, "warehouseId": warehouse, "minQuantity": "10",
        "maxQuantity": "20"}, admin)  # fmt: skip
    take = await stock.ok(CREATE_TAKE, "createStockTake", {"warehouseId": warehouse}, admin)
    return {
        "w": warehouse, "p": product, "b": received["moves"][0]["batchId"],
        "posting": received["postingId"], "rule": rule["reorderRule"]["id"],
        "t": take["stockTake"]["id"],
    }  # fmt: skip


def _empty(data: dict) -> None:
    for single in ("warehouse", "batch", "stockTake"):
        assert data[single] is None, single
    for listing in ("byWarehouse", "byProduct", "byBatch", "stockMoves", "moves", "batches",
                    "reorderRules", "lowStock", "stockTakes", "stockTakeLines"):  # fmt: skip
        assert data[listing]["totalCount"] == 0, listing
    (item,) = data["stockAvailability"]
    assert (item["onHand"], item["reserved"], item["available"], item["levels"]) == (
        "0.000", "0.000", "0.000", [])  # fmt: skip


async def test_another_tenant_reads_nothing(api, tenant_a, tenant_b, owned):
    mine = await api.gql(READS, owned, token=tenant_a.tokens["admin"])
    assert mine["warehouse"] and mine["batch"] and mine["stockTake"]
    assert mine["byWarehouse"]["totalCount"] == 1 and mine["stockMoves"]["totalCount"] == 1
    theirs = await api.gql(READS, owned, token=tenant_b.tokens["admin"])
    _empty(theirs)
    assert owned["w"] not in [e["node"]["id"] for e in theirs["warehouses"]["edges"]]
    # Exactly what ids that never existed get.
    fresh = {k: str(uuid.uuid4()) for k in owned}
    assert await api.gql(READS, fresh, token=tenant_b.tokens["admin"]) == theirs


async def test_foreign_ids_change_nothing(api, tenant_a, tenant_b, owned):
    stock, admin_b = Stock(api), tenant_b.tokens["admin"]
    before = await api.gql(READS, owned, token=tenant_a.tokens["admin"])
    own_product = await stock.product(admin_b)
    own_warehouse = await stock.warehouse(admin_b)

    async def both(call) -> None:
        """The call with tenant A's ids and with unknown ids: the same errors."""
        foreign = await call(owned)
        unknown = await call({k: str(uuid.uuid4()) for k in owned})
        assert foreign["userErrors"], foreign
        assert [(e["field"], e["code"], e["message"]) for e in foreign["userErrors"]] == [
            (e["field"], e["code"], e["message"]) for e in unknown["userErrors"]]  # fmt: skip

    await both(lambda ids: stock.receive(admin_b, ids["w"], [{"productId": own_product,
                                                               "quantity": "1"}]))  # fmt: skip
    await both(lambda ids: stock.receive(admin_b, own_warehouse, [{"productId": ids["p"],
                                                                    "quantity": "1"}]))  # fmt: skip
    await both(lambda ids: stock.issue(admin_b, ids["w"], [{"productId": ids["p"],
                                                             "quantity": "1"}]))  # fmt: skip
    await both(lambda ids: stock.transfer(admin_b, ids["w"], own_warehouse, [
        {"productId": own_product, "quantity": "1"}]))  # fmt: skip
    await both(lambda ids: stock.adjust(admin_b, own_warehouse, [
        {"productId": own_product, "quantity": "1", "batchId": ids["b"]}]))  # fmt: skip
    await both(lambda ids: stock.payload(UPDATE_WAREHOUSE, "updateWarehouse",
                                         {"id": ids["w"], "name": "x"}, admin_b))  # fmt: skip
    await both(lambda ids: stock.payload(SET_RULE, "setReorderRule", {
        "productId": ids["p"], "warehouseId": ids["w"], "minQuantity": "1",
        "maxQuantity": "2"}, admin_b))  # fmt: skip
    await both(lambda ids: stock.payload(REMOVE_RULE, "removeReorderRule", {"id": ids["rule"]},
                                         admin_b))  # fmt: skip
    await both(lambda ids: stock.payload(CREATE_TAKE, "createStockTake", {"warehouseId": ids["w"]},
                                         admin_b))  # fmt: skip
    await both(lambda ids: stock.payload(COUNT_TAKE, "countStockTake", {"id": ids["t"], "lines": [
        {"productId": own_product, "counted": "1"}]}, admin_b))  # fmt: skip
    await both(lambda ids: stock.payload(POST_TAKE, "postStockTake", {"id": ids["t"]}, admin_b))
    await both(lambda ids: stock.payload(CANCEL_TAKE, "cancelStockTake", {"id": ids["t"]},
                                         admin_b))  # fmt: skip
    # Tenant A's posting id is no posting in B: a receipt under it is simply new there.
    reused = await stock.receive(admin_b, own_warehouse, [{"productId": own_product,
                                                           "quantity": "1"}], id=owned["posting"])  # fmt: skip
    assert reused["userErrors"] == [] and reused["replayed"] is False
    assert await api.gql(READS, owned, token=tenant_a.tokens["admin"]) == before
