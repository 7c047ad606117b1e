"""Purchase prices are protected like products' cost prices: without
purchasing:read_cost every unit cost, line amount, order total and last purchase price
is refused (FORBIDDEN at its path, null), never silently returned, while quantities
stay readable. Admin and a buyer role holding it see them; an API client sees them only
when its scopes include it, whatever its run-as user may do."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from purchasing_helpers import client_token, custom_role_token, role_token

from app.auth.permissions import BUILTIN_ROLES, PERMISSIONS

ORDER = """netTotal taxTotal grossTotal lines { quantity receivedQuantity openQuantity
  unitCost netAmount taxAmount grossAmount } receipts { lines { quantity } }"""
ONE = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ number {ORDER} }} }}"
LIST = f"{{ purchaseOrders(first: 10) {{ totalCount edges {{ node {{ number {ORDER} }} }} }} }}"
SUGGESTED = """query($w: ID!) { suggestedPurchases(warehouseId: $w) {
  productId onOrder suggestedQuantity lastUnitCost lastCurrency } }"""
RECEIPTS = "{ goodsReceipts(first: 10) { edges { node { number lines { quantity } } } } }"
LINE_PRICES = ("unitCost", "netAmount", "taxAmount", "grossAmount")
ORDER_PRICES = ("netTotal", "taxTotal", "grossTotal")


def test_the_permission_and_who_holds_it():
    assert PERMISSIONS["purchasing:read_cost"] == (
        "See purchase prices on purchase orders and receipts"
    )
    holders = {n for n, r in BUILTIN_ROLES.items() if "purchasing:read_cost" in r.permissions}
    # Like products:read_cost: admin alone among the built-ins (the only one that buys).
    assert holders == {"admin"}
    buyers = {n for n, r in BUILTIN_ROLES.items() if "purchasing:write" in r.permissions}
    assert buyers <= holders


@pytest.fixture(scope="module")
async def world(api, buy, client, owner, services):
    tenant = await make_tenant(owner, services, "buyprice")
    admin = tenant.tokens["admin"]
    supplier = (await buy.supplier(admin))["id"]
    warehouse = await buy.warehouse(admin)
    product = await buy.product(admin)
    await buy.rule(admin, product, warehouse, "50", "100")
    order = await buy.send(admin, await buy.order(
        admin, supplier, warehouse,
        [{"productId": product, "quantity": "10", "unitCost": "2.5", "taxRate": "0.13"}],
    ))  # fmt: skip
    line = order["lines"][0]["id"]
    received = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "4"}])
    assert received["userErrors"] == []
    tokens = {
        "admin": admin,
        "manager": tenant.tokens["manager"],
        "warehouse": await role_token(services, tenant, "warehouse"),
        "buyer": await custom_role_token(
            api,
            services,
            tenant,
            [
                "products:read",
                "stock:read",
                "purchasing:read",
                "purchasing:write",
                "purchasing:read_cost",
            ],
        ),  # fmt: skip
        "client": await client_token(client, owner, tenant, ["purchasing:read"]),
        "costed client": await client_token(
            client, owner, tenant, ["purchasing:read", "purchasing:read_cost"]
        ),
        "manager's client": await client_token(
            client, owner, tenant, ["purchasing:read", "purchasing:read_cost"], run_as="manager"
        ),
    }
    return {"tokens": tokens, "order": order["id"], "warehouse": warehouse}


SEES_PRICES = {"admin": True, "buyer": True, "costed client": True, "manager": False,
               "warehouse": False, "client": False, "manager's client": False}  # fmt: skip


def _refused_paths(body: dict) -> set[tuple]:
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in body.get("errors", [])), body
    return {tuple(e["path"][-1:]) for e in body.get("errors", [])}


@pytest.mark.parametrize("who", list(SEES_PRICES))
async def test_prices_need_purchasing_read_cost(api, world, who):
    token, sees = world["tokens"][who], SEES_PRICES[who]
    body = (await api.post(ONE, {"id": world["order"]}, token=token)).json()
    order = body["data"]["purchaseOrder"]
    (line,) = order["lines"]
    # Quantities: everyone who reads purchase orders.
    assert (line["quantity"], line["receivedQuantity"], line["openQuantity"]) == (
        "10.000", "4.000", "6.000",
    )  # fmt: skip
    assert order["receipts"][0]["lines"][0]["quantity"] == "4.000"
    if sees:
        assert "errors" not in body, body
        assert [line[k] for k in LINE_PRICES] == ["2.5000", "25.00", "3.25", "28.25"]
        assert [order[k] for k in ORDER_PRICES] == ["25.00", "3.25", "28.25"]
    else:
        assert all(line[k] is None for k in LINE_PRICES)
        assert all(order[k] is None for k in ORDER_PRICES)
        assert _refused_paths(body) == {(k,) for k in LINE_PRICES + ORDER_PRICES}

    listed = (await api.post(LIST, token=token)).json()
    node = listed["data"]["purchaseOrders"]["edges"][0]["node"]
    assert node["lines"][0]["quantity"] == "10.000"
    assert (node["grossTotal"] is not None) == sees
    assert (node["lines"][0]["unitCost"] is not None) == sees
    assert bool(listed.get("errors")) != sees

    suggested = (await api.post(SUGGESTED, {"w": world["warehouse"]}, token=token)).json()
    (suggestion,) = suggested["data"]["suggestedPurchases"]
    assert suggestion["onOrder"] == "6.000" and suggestion["lastCurrency"] == "CNY"
    assert suggestion["lastUnitCost"] == ("2.5000" if sees else None)
    assert _refused_paths(suggested) == (set() if sees else {("lastUnitCost",)})

    # Receipts carry quantities only: readable without the permission, no error.
    receipts = await api.gql(RECEIPTS, token=token)
    assert receipts["goodsReceipts"]["edges"][0]["node"]["lines"][0]["quantity"] == "4.000"
