"""Purchase prices are write-protected as they are read-protected: typing a unit cost
(createPurchaseOrder, updatePurchaseOrder's lines) or changing what the stored costs
mean (a draft's currency or pricesIncludeTax) needs purchasing:read_cost, else
FORBIDDEN on the field and nothing is written. A custom role with purchasing:write
alone still changes a draft's other fields and sends it; with read_cost it buys."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from purchasing_helpers import CREATE_PO, UPDATE_PO, custom_role_token
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.purchasing.tables import purchase_order_lines, purchase_orders

WRITER = ["products:read", "stock:read", "purchasing:read", "purchasing:write"]
REFUSED = "setting a unit cost needs the purchasing:read_cost permission"
# What a writer without read_cost selects: no price fields (those are refused).
NO_PRICES = "id status currency pricesIncludeTax notes expectedDate version lines { quantity }"
CLERK_UPDATE = f"""mutation($input: UpdatePurchaseOrderInput!) {{
  updatePurchaseOrder(input: $input) {{ purchaseOrder {{ {NO_PRICES} }}
    userErrors {{ field code message }} }} }}"""
CLERK_SEND = f"""mutation($input: SendPurchaseOrderInput!) {{
  sendPurchaseOrder(input: $input) {{ purchaseOrder {{ {NO_PRICES} }}
    userErrors {{ field code message }} }} }}"""


@pytest.fixture(scope="module")
async def world(api, buy, owner, services):
    tenant = await make_tenant(owner, services, "buycost")
    admin = tenant.tokens["admin"]
    return {
        "tenant": tenant,
        "admin": admin,
        "clerk": await custom_role_token(api, services, tenant, WRITER),
        "buyer": await custom_role_token(api, services, tenant, [*WRITER, "purchasing:read_cost"]),
        "supplier": (await buy.supplier(admin))["id"],
        "warehouse": await buy.warehouse(admin),
        "products": [await buy.product(admin), await buy.product(admin)],
    }


def _errors(payload: dict) -> list[tuple]:
    return [(e["field"], e["code"], e["message"]) for e in payload["userErrors"]]


def _lines(world: dict, *costs: str) -> list[dict]:
    return [{"productId": p, "quantity": "10", "unitCost": c}
            for p, c in zip(world["products"], costs, strict=False)]  # fmt: skip


async def _stored(services, world: dict) -> tuple:
    """Every order of the tenant and its lines, as the database has them."""
    o, ln = purchase_orders.c, purchase_order_lines.c
    async with tenant_transaction(services.engine, world["tenant"].schema) as conn:
        orders = await conn.execute(
            select(o.id, o.version, o.currency, o.prices_include_tax, o.notes, o.gross_total)
        )
        lines = await conn.execute(select(ln.order_id, ln.product_id, ln.quantity, ln.unit_cost))
        count = (await conn.execute(select(func.count()).select_from(purchase_orders))).scalar()
        return count, {tuple(x) for x in orders}, {tuple(x) for x in lines}


async def test_creating_an_order_needs_read_cost(api, buy, services, world):
    before = await _stored(services, world)
    order_id = str(uuid.uuid4())
    refused = await buy.payload(CREATE_PO, "createPurchaseOrder", {
        "id": order_id, "supplierId": world["supplier"], "warehouseId": world["warehouse"],
        "expectedDate": "2027-03-01", "lines": _lines(world, "2.5", "0")}, world["clerk"])  # fmt: skip
    assert refused["purchaseOrder"] is None
    assert _errors(refused) == [("lines[0].unitCost", "FORBIDDEN", REFUSED),
                                ("lines[1].unitCost", "FORBIDDEN", REFUSED)]  # fmt: skip
    assert await _stored(services, world) == before, "no order, no line, no number drawn"
    assert await buy.get(world["admin"], order_id) is None

    made = await buy.order(world["buyer"], world["supplier"], world["warehouse"],
                           _lines(world, "2.5"), id=order_id)  # fmt: skip
    assert made["id"] == order_id
    assert [x["unitCost"] for x in made["lines"]] == ["2.5000"]
    assert made["grossTotal"] == "28.25"


async def test_changing_costs_on_a_draft_needs_read_cost(api, buy, services, world):
    admin, clerk = world["admin"], world["clerk"]
    draft = await buy.order(admin, world["supplier"], world["warehouse"], _lines(world, "3"))
    before = await _stored(services, world)
    at = {"id": draft["id"], "version": draft["version"]}
    for change, expected in (
        ({"lines": _lines(world, "3", "4")},
         [("lines[0].unitCost", "FORBIDDEN", REFUSED),
          ("lines[1].unitCost", "FORBIDDEN", REFUSED)]),
        ({"currency": "USD"},
         [("currency", "FORBIDDEN", "changing currency, which says what costs mean, needs "
                                    "the purchasing:read_cost permission")]),
        ({"pricesIncludeTax": True, "notes": "含税"},
         [("pricesIncludeTax", "FORBIDDEN", "changing pricesIncludeTax, which says what "
                                            "costs mean, needs the purchasing:read_cost "
                                            "permission")]),
    ):  # fmt: skip
        refused = await buy.payload(UPDATE_PO, "updatePurchaseOrder", {**at, **change}, clerk)
        assert refused["purchaseOrder"] is None and _errors(refused) == expected, change
    assert await _stored(services, world) == before, "nothing changed"

    # The rest of a draft is the clerk's, repeating its currency and basis included.
    changed = (await buy.ok(CLERK_UPDATE, "updatePurchaseOrder", {
        **at, "notes": "加急", "expectedDate": "2027-04-01", "currency": draft["currency"],
        "pricesIncludeTax": False}, clerk))["purchaseOrder"]  # fmt: skip
    assert (changed["notes"], changed["expectedDate"]) == ("加急", "2027-04-01")
    sent = await buy.ok(CLERK_SEND, "sendPurchaseOrder", {"id": draft["id"]}, clerk)
    assert sent["purchaseOrder"]["status"] == "SENT"
    assert (await buy.get(admin, draft["id"]))["lines"][0]["unitCost"] == "3.0000"


async def test_a_buyer_with_read_cost_changes_costs(api, buy, world):
    buyer = world["buyer"]
    draft = await buy.order(buyer, world["supplier"], world["warehouse"], _lines(world, "3"))
    changed = await buy.ok(UPDATE_PO, "updatePurchaseOrder", {
        "id": draft["id"], "version": draft["version"], "lines": _lines(world, "4", "1.5"),
        "pricesIncludeTax": True, "currency": "USD"}, buyer)  # fmt: skip
    order = changed["purchaseOrder"]
    assert [x["unitCost"] for x in order["lines"]] == ["4.0000", "1.5000"]
    assert (order["currency"], order["pricesIncludeTax"]) == ("USD", True)
