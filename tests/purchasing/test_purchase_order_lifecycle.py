"""The purchase order state machine through the API: every (status, action) pair.
Each allowed transition works; each forbidden one is refused with INVALID_TRANSITION
on `status`, a message saying why, and no change at all (order and stock)."""

from __future__ import annotations

import itertools

import pytest
from purchasing_helpers import CANCEL_PO, CLOSE_PO, SEND_PO, UPDATE_PO, codes, dec

from app.errors import UserErrors
from app.purchasing import lifecycle
from app.purchasing.lifecycle import Action, Status

STATUSES = ["DRAFT", "SENT", "PARTIALLY_RECEIVED", "RECEIVED", "CANCELLED", "CLOSED"]
ACTIONS = ["edit", "send", "cancel", "receive", "receive_all", "close"]
# What the issue asks, written out independently of the table in lifecycle.py.
ALLOWED = {
    ("DRAFT", "edit"): "DRAFT",
    ("DRAFT", "send"): "SENT",
    ("DRAFT", "cancel"): "CANCELLED",
    ("SENT", "cancel"): "CANCELLED",
    ("SENT", "receive"): "PARTIALLY_RECEIVED",
    ("SENT", "receive_all"): "RECEIVED",
    ("PARTIALLY_RECEIVED", "receive"): "PARTIALLY_RECEIVED",
    ("PARTIALLY_RECEIVED", "receive_all"): "RECEIVED",
    # A short-close (结案) only once something came; a sent order with nothing received
    # is cancelled instead.
    ("PARTIALLY_RECEIVED", "close"): "CLOSED",
}


def test_the_table_is_the_issue_s_state_machine():
    table = {
        (status.name, action.value): {t.name for t in targets}
        for (status, action), targets in lifecycle.TRANSITIONS.items()
    }
    expected: dict = {}
    for (status, action), target in ALLOWED.items():
        expected.setdefault((status, action.removesuffix("_all")), set()).add(target)
    assert table == expected
    for status, action in itertools.product(Status, Action):
        if (status, action) in lifecycle.TRANSITIONS:
            continue
        with pytest.raises(UserErrors) as raised:
            lifecycle.transition(status.value, action.value)
        (error,) = raised.value.errors
        assert (error.field, error.code) == ("status", "INVALID_TRANSITION")
    assert lifecycle.receive_target([(3, 3), (2, 1)]) is Status.PARTIALLY_RECEIVED
    assert lifecycle.receive_target([(3, 3), (2, 2)]) is Status.RECEIVED


async def _in_status(buy, setup, status: str) -> dict:
    admin = setup["admin"]
    order = await buy.order(
        admin, setup["supplier"], setup["warehouse"],
        [{"productId": setup["product"], "quantity": "3", "unitCost": "2"}],
    )  # fmt: skip
    line = order["lines"][0]["id"]
    if status == "CANCELLED":
        await buy.ok(CANCEL_PO, "cancelPurchaseOrder", {"id": order["id"]}, admin)
    if status in ("SENT", "PARTIALLY_RECEIVED", "RECEIVED", "CLOSED"):
        await buy.send(admin, order)
    if status in ("PARTIALLY_RECEIVED", "CLOSED"):
        payload = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "1"}])
        assert payload["userErrors"] == []
    if status == "RECEIVED":
        payload = await buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "3"}])
        assert payload["userErrors"] == []
    if status == "CLOSED":
        await buy.ok(CLOSE_PO, "closePurchaseOrder", {"id": order["id"], "reason": "缺货"}, admin)
    found = await buy.get(admin, order["id"])
    assert found["status"] == status
    return found


async def _act(buy, admin: str, order: dict, action: str) -> dict:
    line = order["lines"][0]
    if action == "edit":
        return await buy.payload(
            UPDATE_PO, "updatePurchaseOrder",
            {"id": order["id"], "version": order["version"], "notes": "改一下",
             "lines": [{"productId": line["productId"], "quantity": "3", "unitCost": "2.5"}]},
            admin,
        )  # fmt: skip
    if action == "send":
        return await buy.payload(
            SEND_PO, "sendPurchaseOrder", {"id": order["id"], "version": order["version"]}, admin
        )
    if action == "cancel":
        return await buy.payload(
            CANCEL_PO, "cancelPurchaseOrder",
            {"id": order["id"], "version": order["version"], "reason": "供应商停产"}, admin,
        )  # fmt: skip
    if action == "close":
        return await buy.payload(
            CLOSE_PO, "closePurchaseOrder",
            {"id": order["id"], "version": order["version"], "reason": "余量不再到货"}, admin,
        )  # fmt: skip
    # receive: 1 of what is left (partial); receive_all: all that is left (at least 1).
    left = dec(line["quantity"]) - dec(line["receivedQuantity"])
    quantity = f"{max(left, 1):f}" if action == "receive_all" else "1"
    return await buy.receive(
        admin, order["id"], [{"orderLineId": line["id"], "quantity": quantity}]
    )


@pytest.mark.parametrize(("status", "action"), list(itertools.product(STATUSES, ACTIONS)))
async def test_every_transition(buy, setup, status, action):
    admin, product, warehouse = setup["admin"], setup["product"], setup["warehouse"]
    order = await _in_status(buy, setup, status)
    stock_before = await buy.on_hand(admin, product, warehouse)
    payload = await _act(buy, admin, order, action)
    after = await buy.get(admin, order["id"])
    target = ALLOWED.get((status, action))
    if target is None:
        assert codes(payload) == [("status", "INVALID_TRANSITION")], payload
        message = payload["userErrors"][0]["message"]
        assert status.lower().replace("_", " ") in message, message
        assert after == order  # nothing changed: status, version, lines, receipts
        assert await buy.on_hand(admin, product, warehouse) == stock_before
        return
    assert payload["userErrors"] == [], payload["userErrors"]
    assert after["status"] == target
    assert after["version"] == order["version"] + 1
    if action == "edit":
        assert after["notes"] == "改一下" and after["lines"][0]["unitCost"] == "2.5000"
    if action == "send":
        assert after["sentAt"]
    if action == "cancel":
        assert after["cancelledAt"] and after["cancelReason"] == "供应商停产"
        (line,) = after["lines"]  # nothing more will come, and nothing was written off
        assert (dec(line["openQuantity"]), dec(line["shortClosedQuantity"])) == (0, 0)
    if action == "close":
        assert after["closedAt"] and after["closeReason"] == "余量不再到货"
        assert after["closedById"]
        (line,) = after["lines"]
        assert (dec(line["quantity"]), dec(line["receivedQuantity"])) == (3, 1)
        assert (dec(line["openQuantity"]), dec(line["shortClosedQuantity"])) == (0, 2)
        assert await buy.on_hand(admin, product, warehouse) == stock_before
    if action.startswith("receive"):
        assert len(after["receipts"]) == len(order["receipts"]) + 1
        assert await buy.on_hand(admin, product, warehouse) > stock_before
        assert (after["receivedAt"] is not None) == (target == "RECEIVED")
