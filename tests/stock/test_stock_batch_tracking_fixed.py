"""A product's batch tracking is fixed once its stock has moved: balances are kept
per batch or not at all, and flipping the flag would strand them."""

from __future__ import annotations

UPDATE = """mutation($input: UpdateProductInput!) {
  updateProduct(input: $input) { product { id batchTracked version }
    userErrors { field code message } } }"""
PRODUCT = "query($id: ID!) { product(id: $id) { batchTracked version } }"


async def flip(api, token: str, product: str, to: bool) -> dict:
    current = (await api.gql(PRODUCT, {"id": product}, token=token))["product"]
    return (
        await api.gql(
            UPDATE,
            {"input": {"id": product, "version": current["version"], "batchTracked": to}},
            token=token,
        )
    )["updateProduct"]


async def test_batch_tracking_changes_freely_until_stock_moves(api, stock, tenant_a):
    admin = tenant_a.tokens["admin"]
    product, warehouse = await stock.product(admin), await stock.warehouse(admin)
    assert (await flip(api, admin, product, True))["userErrors"] == []
    assert (await flip(api, admin, product, False))["userErrors"] == []

    received = await stock.receive(admin, warehouse, [{"productId": product, "quantity": "5"}])
    assert received["userErrors"] == []
    refused = await flip(api, admin, product, True)
    assert refused["product"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("batchTracked", "IN_USE")]
    after = (await api.gql(PRODUCT, {"id": product}, token=admin))["product"]
    assert after["batchTracked"] is False, "nothing changed"
    # Other fields still change.
    renamed = await api.gql(
        UPDATE.replace("batchTracked version", "version"),
        {"input": {"id": product, "version": after["version"], "name": "改名"}},
        token=admin,
    )
    assert renamed["updateProduct"]["userErrors"] == []
