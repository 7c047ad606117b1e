"""Goods receipts: stock posted into the order's warehouse (checked through the stock
queries), partial and several receipts, no over-receipt, batches for batch-tracked
products, idempotent retries, and a failed receipt that leaves nothing behind."""

from __future__ import annotations

import re
import uuid

from purchasing_helpers import RECEIPT_BY_ID, codes, dec


async def _sent(buy, setup, *lines) -> dict:
    order = await buy.order(setup["admin"], setup["supplier"], setup["warehouse"], list(lines))
    return await buy.send(setup["admin"], order)


async def test_receipts_post_stock_and_move_the_order(api, buy, setup):
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    order = await _sent(
        buy, setup, {"productId": product, "quantity": "10", "unitCost": "2"},
        {"productId": setup["lot"], "quantity": "5", "unitCost": "3"},
    )  # fmt: skip
    plain, lot = order["lines"]
    first = await buy.receive(admin, order["id"], [{"orderLineId": plain["id"], "quantity": "4"}],
                              receivedOn="2027-01-05", note="第一批")  # fmt: skip
    assert first["userErrors"] == [] and not first["replayed"]
    receipt = first["receipt"]
    assert re.fullmatch(r"GR-2027-\d{6}", receipt["number"]), receipt["number"]
    assert receipt["warehouseId"] == warehouse and receipt["postingId"] == receipt["id"]
    assert first["purchaseOrder"]["status"] == "PARTIALLY_RECEIVED"
    assert dec(first["purchaseOrder"]["lines"][0]["receivedQuantity"]) == 4
    assert dec(first["purchaseOrder"]["lines"][0]["openQuantity"]) == 6
    assert await buy.on_hand(admin, product, warehouse) == 4
    moves = await buy.moves(admin, {"source": {"type": "purchase_receipt", "id": receipt["id"]}})
    assert [(m["kind"], m["productId"], dec(m["quantity"]), m["warehouseId"]) for m in moves] == [
        ("RECEIPT", product, dec(4), warehouse)
    ]
    assert moves[0]["postingId"] == receipt["id"]
    assert receipt["lines"][0]["moveId"]

    # A second receipt: the rest of the plain line and the lot line in two batches.
    second = await buy.receive(admin, order["id"], [
        {"orderLineId": plain["id"], "quantity": "6"},
        {"orderLineId": lot["id"], "quantity": "2", "batchCode": "L-A", "expiresOn": "2028-01-01"},
        {"orderLineId": lot["id"], "quantity": "3", "batchCode": "L-B", "expiresOn": "2028-06-01"},
    ])  # fmt: skip
    assert second["userErrors"] == []
    assert second["purchaseOrder"]["status"] == "RECEIVED"
    assert second["purchaseOrder"]["receivedAt"]
    assert [r["number"] for r in second["purchaseOrder"]["receipts"]] == [
        receipt["number"], second["receipt"]["number"],
    ]  # fmt: skip
    assert await buy.on_hand(admin, product, warehouse) == 10
    level = await buy.level(admin, setup["lot"], warehouse)
    assert dec(level["onHand"]) == 5
    assert sorted((b["batch"]["code"], b["batch"]["expiresOn"], dec(b["onHand"]))
                  for b in level["batches"]) == [
        ("L-A", "2028-01-01", dec(2)), ("L-B", "2028-06-01", dec(3)),
    ]  # fmt: skip
    assert [x["batch"]["code"] for x in second["receipt"]["lines"][1:]] == ["L-A", "L-B"]
    # Received in full: no more receipts.
    more = await buy.receive(admin, order["id"], [{"orderLineId": plain["id"], "quantity": "1"}])
    assert codes(more) == [("status", "INVALID_TRANSITION")]
    audit = await api.gql(
        """query($id: ID!) { auditLog(first: 10, filter: {entityType: "purchase_order",
             entityId: {eq: $id}}) { edges { node { action changes } } } }""",
        {"id": order["id"]}, token=admin,
    )  # fmt: skip
    actions = [e["node"]["action"] for e in audit["auditLog"]["edges"]]
    assert actions == ["purchase_order.receive", "purchase_order.receive",
                       "purchase_order.send", "purchase_order.create"]  # fmt: skip
    assert audit["auditLog"]["edges"][0]["node"]["changes"]["status"] == {
        "from": "partially_received", "to": "received",
    }  # fmt: skip
    receipt_audit = await api.gql(
        """query($id: ID!) { auditLog(first: 10, filter: {entityType: "goods_receipt",
             entityId: {eq: $id}}) { edges { node { action } } } }""",
        {"id": receipt["id"]}, token=admin,
    )  # fmt: skip
    assert [e["node"]["action"] for e in receipt_audit["auditLog"]["edges"]] == [
        "goods_receipt.create"
    ]


async def test_over_receipt_is_refused_and_writes_nothing(buy, setup):
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    order = await _sent(buy, setup, {"productId": product, "quantity": "5", "unitCost": "1"})
    line = order["lines"][0]["id"]
    assert (await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "3"}]))[
        "userErrors"
    ] == []
    too_many = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "2.001"}])
    assert codes(too_many) == [("lines[0].quantity", "OVER_RECEIPT")]
    assert "2 left to receive (ordered 5, received 3)" in too_many["userErrors"][0]["message"]
    # Two lines of one receipt for the same order line count together.
    split = await buy.receive(admin, order["id"], [
        {"orderLineId": line, "quantity": "1"}, {"orderLineId": line, "quantity": "1.5"},
    ])  # fmt: skip
    assert codes(split) == [("lines[1].quantity", "OVER_RECEIPT")]
    after = await buy.get(admin, order["id"])
    assert dec(after["lines"][0]["receivedQuantity"]) == 3 and len(after["receipts"]) == 1
    assert after["status"] == "PARTIALLY_RECEIVED" and after["version"] == 3
    assert await buy.on_hand(admin, product, warehouse) == 3
    exact = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "2"}])
    assert exact["userErrors"] == [] and exact["purchaseOrder"]["status"] == "RECEIVED"


async def test_bad_lines_are_named(buy, setup):
    admin = setup["admin"]
    order = await _sent(buy, setup, {"productId": setup["product"], "quantity": "5",
                                     "unitCost": "1"})  # fmt: skip
    other = await _sent(buy, setup, {"productId": setup["product"], "quantity": "5",
                                     "unitCost": "1"})  # fmt: skip
    payload = await buy.receive(admin, order["id"], [
        {"orderLineId": other["lines"][0]["id"], "quantity": "1"},
        {"orderLineId": "nope", "quantity": "1"},
        {"orderLineId": order["lines"][0]["id"], "quantity": "0"},
        {"orderLineId": order["lines"][0]["id"], "quantity": "1.0001"},
        {"orderLineId": order["lines"][0]["id"], "quantity": "1", "batchCode": "X"},
    ])  # fmt: skip
    assert codes(payload) == [
        ("lines[0].orderLineId", "NOT_FOUND"),
        ("lines[1].orderLineId", "NOT_FOUND"),
        ("lines[2].quantity", "INVALID"),
        ("lines[3].quantity", "INVALID"),
    ]
    # The stock's own checks come back on the receipt's fields.
    payload = await buy.receive(admin, order["id"], [
        {"orderLineId": order["lines"][0]["id"], "quantity": "1", "batchCode": "X"},
    ])  # fmt: skip
    assert codes(payload) == [("lines[0].batchCode", "BATCH_NOT_TRACKED")]
    empty = await buy.receive(admin, order["id"], [])
    assert codes(empty) == [("lines", "REQUIRED")]
    unknown = await buy.receive(admin, str(uuid.uuid4()), [])
    assert codes(unknown) == [("orderId", "NOT_FOUND")]
    assert (await buy.get(admin, order["id"]))["version"] == 2


async def test_batch_tracked_receipts_need_a_batch_and_a_failed_receipt_writes_nothing(
    api, buy, setup
):
    admin, warehouse, product, lot = (
        setup["admin"], setup["warehouse"], setup["product"], setup["lot"],
    )  # fmt: skip
    order = await _sent(
        buy, setup, {"productId": product, "quantity": "5", "unitCost": "1"},
        {"productId": lot, "quantity": "5", "unitCost": "1"},
    )  # fmt: skip
    plain, tracked = order["lines"]
    receipt_id = str(uuid.uuid4())
    # The plain line is fine; the tracked one names no batch: nothing at all is written.
    failed = await buy.receive(admin, order["id"], [
        {"orderLineId": plain["id"], "quantity": "5"},
        {"orderLineId": tracked["id"], "quantity": "2", "batchCode": "NEW-1",
         "expiresOn": "2028-01-01"},
        {"orderLineId": tracked["id"], "quantity": "1"},
    ], id=receipt_id)  # fmt: skip
    assert codes(failed) == [("lines[2].batchCode", "BATCH_REQUIRED")]
    after = await buy.get(admin, order["id"])
    assert after == order  # status, version, received quantities, receipts: all unchanged
    assert await buy.level(admin, product, warehouse) is None
    assert await buy.level(admin, lot, warehouse) is None
    assert await buy.moves(admin, {"source": {"type": "purchase_receipt", "id": receipt_id}}) == []
    batches = await api.gql(
        """query($p: ID!) { batches(filter: {productId: {eq: $p}}) { totalCount } }""",
        {"p": lot}, token=admin,
    )  # fmt: skip
    assert batches["batches"]["totalCount"] == 0  # the new batch was not made either
    assert (await api.gql(RECEIPT_BY_ID, {"id": receipt_id}, token=admin))["goodsReceipt"] is None
    # Fixed, the same receipt id goes through.
    done = await buy.receive(admin, order["id"], [
        {"orderLineId": plain["id"], "quantity": "5"},
        {"orderLineId": tracked["id"], "quantity": "2", "batchCode": "NEW-1",
         "expiresOn": "2028-01-01"},
    ], id=receipt_id)  # fmt: skip
    assert done["userErrors"] == [] and done["receipt"]["id"] == receipt_id


async def test_a_retried_receipt_posts_once(api, buy, setup):
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    order = await _sent(buy, setup, {"productId": product, "quantity": "9", "unitCost": "1"})
    line = order["lines"][0]["id"]
    receipt_id = str(uuid.uuid4())
    lines = [{"orderLineId": line, "quantity": "4"}]
    first = await buy.receive(admin, order["id"], lines, id=receipt_id)
    again = await buy.receive(admin, order["id"], lines, id=receipt_id)
    assert first["userErrors"] == [] and again["userErrors"] == []
    assert not first["replayed"] and again["replayed"]
    assert again["receipt"]["number"] == first["receipt"]["number"]
    assert again["purchaseOrder"]["version"] == first["purchaseOrder"]["version"]
    assert await buy.on_hand(admin, product, warehouse) == 4
    assert dec((await buy.get(admin, order["id"]))["lines"][0]["receivedQuantity"]) == 4
    moves = await buy.moves(admin, {"source": {"type": "purchase_receipt", "id": receipt_id}})
    assert len(moves) == 1
    # The same id with another request is a conflict, and changes nothing.
    other = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "5"}],
                              id=receipt_id)  # fmt: skip
    assert codes(other) == [("id", "CONFLICT")]
    assert await buy.on_hand(admin, product, warehouse) == 4
    # A receipt id that is another stock posting's is refused too.
    posting = await api.gql(
        """mutation($input: ReceiveStockInput!) { receiveStock(input: $input) { postingId } }""",
        {"input": {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "1"}]}},
        token=admin,
    )  # fmt: skip
    taken = posting["receiveStock"]["postingId"]
    clash = await buy.receive(admin, order["id"], lines, id=taken)
    assert codes(clash) == [("id", "CONFLICT")]
    assert await buy.on_hand(admin, product, warehouse) == 5


async def test_inactive_warehouse_refuses_receipts(api, buy, setup):
    admin = setup["admin"]
    warehouse = await buy.warehouse(admin)
    order = await buy.order(admin, setup["supplier"], warehouse,
                            [{"productId": setup["product"], "quantity": "1", "unitCost": "1"}])  # fmt: skip
    await buy.send(admin, order)
    await api.gql(
        """mutation($id: ID!) { updateWarehouse(input: {id: $id, version: 1, active: false}) {
             userErrors { code } } }""",
        {"id": warehouse}, token=admin,
    )  # fmt: skip
    payload = await buy.receive(admin, order["id"],
                                [{"orderLineId": order["lines"][0]["id"], "quantity": "1"}])  # fmt: skip
    assert codes(payload) == [("orderId", "WAREHOUSE_INACTIVE")]
