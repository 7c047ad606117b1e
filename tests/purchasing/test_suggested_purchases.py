"""suggestedPurchases on a constructed case: on hand, reservations, open purchase orders
(sent and partially received, for this warehouse only), the boundary at the minimum,
the usual supplier, and the demand seam forecasting will use."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from purchasing_helpers import CANCEL_PO, RECEIVE_STOCK, dec
from sqlalchemy import Uuid, literal, select

from app.audit.service import SYSTEM
from app.db import tenant_transaction
from app.purchasing.queries import suggested_purchases_query
from app.stock import service as stock
from app.stock.service import ReserveLine, Source

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stock"))

from stock_helpers import tenant_off_utc, today  # noqa: E402


async def _reserve(services, tenant, product: str, warehouse: str, quantity: str) -> None:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await stock.reserve(
            conn, actor=SYSTEM, source=Source("sales_order", uuid.uuid4()),
            lines=[ReserveLine(uuid.uuid4(), product, warehouse, Decimal(quantity))],
            today=dt.date.today(),
        )  # fmt: skip


async def test_suggestions_count_stock_reservations_and_open_orders(api, buy, services, tenant_a):
    admin = tenant_a.tokens["admin"]
    here, there = await buy.warehouse(admin), await buy.warehouse(admin)
    s1, s2, s3 = [(await buy.supplier(admin, code=f"S{i}-{uuid.uuid4().hex[:6]}"))["id"]
                  for i in (1, 2, 3)]  # fmt: skip
    a, b, c, d, e, f = [await buy.product(admin) for _ in range(6)]
    for product, low, high in ((a, "10", "50"), (b, "10", "50"), (c, "5", "20"),
                               (e, "1", "5"), (f, "0", "10")):  # fmt: skip
        await buy.rule(admin, product, here, low, high)
    await buy.rule(admin, d, there, "10", "50")  # another warehouse's rule

    def line(product, quantity, cost="1"):
        return {"productId": product, "quantity": quantity, "unitCost": cost}

    async def sent(supplier, warehouse, *lines):
        return await buy.send(admin, await buy.order(admin, supplier, warehouse, list(lines)))

    # A: 20 in, 15 reserved, 4 of 5 received: available 9 + on order 1 = 10, not below 10.
    await buy.stock_in(admin, here, a, "20")
    await _reserve(services, tenant_a, a, here, "15")
    po_a = await sent(s1, here, line(a, "5"))
    assert (await buy.receive(admin, po_a["id"], [{"orderLineId": po_a["lines"][0]["id"],
                                                   "quantity": "4"}]))["userErrors"] == []  # fmt: skip
    # B: 3 on hand; orders that do not count here: one sent to the other warehouse (its
    # supplier is B's latest), a draft and a cancelled one for this warehouse.
    await buy.stock_in(admin, here, b, "3")
    await sent(s3, there, line(b, "7", "8.5"))
    await buy.order(admin, s2, here, [line(b, "100")])
    cancelled = await sent(s2, here, line(b, "100"))
    await buy.ok(CANCEL_PO, "cancelPurchaseOrder", {"id": cancelled["id"]}, admin)
    # C: 8 of 10 received and all 8 reserved: available 0, on order 2.
    po_c = await sent(s1, here, line(c, "10", "2.25"))
    await buy.receive(admin, po_c["id"], [{"orderLineId": po_c["lines"][0]["id"],
                                           "quantity": "8"}])  # fmt: skip
    await _reserve(services, tenant_a, c, here, "8")
    # E: low, but inactive; F: nothing, but a minimum of 0 is never low.
    await buy.deactivate_product(admin, e)

    found = await buy.suggested(admin, here)
    assert set(found) == {b, c}
    sb, sc = found[b], found[c]
    assert {k: sb[k] for k in ("onHand", "reserved", "available", "onOrder", "expectedDemand",
                               "projected", "minQuantity", "maxQuantity",
                               "suggestedQuantity")} == {
        "onHand": "3.000", "reserved": "0.000", "available": "3.000", "onOrder": "0.000",
        "expectedDemand": "0.000", "projected": "3.000", "minQuantity": "10.000",
        "maxQuantity": "50.000", "suggestedQuantity": "47.000",
    }  # fmt: skip
    assert sb["supplierId"] == s3 and dec(sb["lastUnitCost"]) == dec("8.5")
    assert sb["lastCurrency"] == "CNY" and sb["supplier"]["code"].startswith("S3-")
    assert (dec(sc["onHand"]), dec(sc["reserved"]), dec(sc["available"])) == (8, 8, 0)
    assert (dec(sc["onOrder"]), dec(sc["projected"]), dec(sc["suggestedQuantity"])) == (2, 2, 18)
    assert sc["supplierId"] == s1 and dec(sc["lastUnitCost"]) == dec("2.25")
    assert sc["lastOrderId"] == po_c["id"] and sc["product"]["code"]
    # The list is by product code.
    data = await api.gql(
        """query($w: ID!) { suggestedPurchases(warehouseId: $w) { product { code } } }""",
        {"w": here}, token=admin,
    )  # fmt: skip
    listed = [x["product"]["code"] for x in data["suggestedPurchases"]]
    assert listed == sorted(listed)

    # One more unit reserved of A tips it below its minimum: 10 - 1 = 9 -> order 41.
    await _reserve(services, tenant_a, a, here, "1")
    sa = (await buy.suggested(admin, here))[a]
    assert (dec(sa["available"]), dec(sa["onOrder"]), dec(sa["suggestedQuantity"])) == (8, 1, 41)
    assert sa["supplierId"] == s1
    # The other warehouse: only D (no stock at all there), its supplier unknown.
    other = await buy.suggested(admin, there)
    assert set(other) == {d} and other[d]["supplierId"] is None
    assert dec(other[d]["suggestedQuantity"]) == 50

    # The seam forecasting will use: expected demand lowers the projection.
    demand = select(literal(uuid.UUID(f), Uuid).label("product_id"),
                    literal(Decimal("4")).label("demand"))  # fmt: skip
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        rows = (
            await conn.execute(suggested_purchases_query(uuid.UUID(here), dt.date.today(), demand))
        ).all()
    by_product = {str(r.product_id): r for r in rows}
    assert by_product[f].demand == 4 and by_product[f].projected == -4
    assert by_product[f].suggested_quantity == 14


async def test_unknown_warehouse_is_not_found(api, tenant_a):
    for warehouse in (str(uuid.uuid4()), "nope"):
        errors = await api.errors(
            "query($w: ID!) { suggestedPurchases(warehouseId: $w) { productId } }",
            {"w": warehouse}, token=tenant_a.tokens["admin"],
        )  # fmt: skip
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_expired_stock_does_not_lower_the_suggestion(api, buy, owner, services):
    """Each product holds 5 units expired on the tenant's yesterday and 3 expiring on its
    today (still good), and the tenant's day is not UTC's: by its day, 3 are available,
    so a minimum of 4 asks for 17 more and a minimum of 3 for nothing. By the UTC day one
    of the batches would be misjudged and both answers would change; counting expired
    stock as available would suggest nothing at all."""
    tenant = await tenant_off_utc(owner, services, "suggestexp")
    admin, day = tenant.tokens["admin"], today(tenant.zone)
    here = await buy.warehouse(admin)
    low, enough = [await buy.product(admin, batch_tracked=True) for _ in range(2)]
    for product, minimum in ((low, "4"), (enough, "3")):
        for code, quantity, days in (("OLD", "5", -1), ("TODAY", "3", 0)):
            await buy.ok(RECEIVE_STOCK, "receiveStock", {"warehouseId": here, "lines": [
                {"productId": product, "quantity": quantity, "batchCode": code,
                 "expiresOn": (day + dt.timedelta(days=days)).isoformat()}]}, admin)  # fmt: skip
        await buy.rule(admin, product, here, minimum, "20")

    found = await buy.suggested(admin, here)

    assert set(found) == {low}
    assert {k: dec(found[low][k]) for k in ("onHand", "reserved", "expiredQuantity",
                                            "available", "projected",
                                            "suggestedQuantity")} == {
        "onHand": 8, "reserved": 0, "expiredQuantity": 5, "available": 3, "projected": 3,
        "suggestedQuantity": 17,
    }  # fmt: skip
