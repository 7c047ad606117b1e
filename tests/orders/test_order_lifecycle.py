"""The sales order state machine (app/orders/lifecycle.py): every allowed transition
works and does what it says to stock; every other one is refused with a user error
naming `status`, and changes nothing at all (row, lines, reservations, stock, audit)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant
from order_helpers import (
    create_order,
    dec,
    goods,
    level,
    open_reserved,
    order_action,
    order_state,
    today,
)
from sqlalchemy import update

from app.audit.service import Actor
from app.db import tenant_transaction
from app.orders import service
from app.orders.lifecycle import ORDER_TRANSITIONS
from app.orders.tables import sales_order_lines, sales_orders
from app.stock import service as stock

STATUSES = ("draft", "confirmed", "closed", "cancelled")
ACTIONS = ("confirm", "cancel", "close", "update")
ALLOWED = {
    ("draft", "confirm"): "CONFIRMED",
    ("draft", "cancel"): "CANCELLED",
    ("draft", "update"): "DRAFT",
    ("confirmed", "cancel"): "CANCELLED",
    ("confirmed", "close"): "CLOSED",
}
FIELDS = {"update": {"notes": "改一下"}, "cancel": {"reason": "客户取消"}}
VERSION = list(sales_orders.c.keys()).index("version")


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "olife")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=2, stock="1000")


async def order_in(api, tenant, g, status: str) -> dict:
    admin = tenant.tokens["admin"]
    order = await create_order(api, admin, g, [{"productId": g.products[0], "quantity": "3"},
                                                {"productId": g.products[1], "quantity": "2"}])  # fmt: skip
    steps = {"draft": [], "confirmed": ["confirm"], "closed": ["confirm", "close"],
             "cancelled": ["cancel"]}[status]  # fmt: skip
    for step in steps:
        result = await order_action(api, admin, step, order["id"])
        assert result["userErrors"] == [], result
    return order


def test_the_table_is_what_the_tests_cover():
    table = {(s, a) for s, actions in ORDER_TRANSITIONS.items() for a in actions}
    assert table == {k for k in ALLOWED if k[1] != "update"}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_transition(api, services, tenant, stocked, status, action):
    admin = tenant.tokens["admin"]
    order = await order_in(api, tenant, stocked, status)
    before = await order_state(services, tenant, order["id"])
    reserved_before = await open_reserved(services, tenant, order["id"])
    result = await order_action(api, admin, action, order["id"], **FIELDS.get(action, {}))
    expected = ALLOWED.get((status, action))
    if expected is None:
        code = "NOT_EDITABLE" if action == "update" else "INVALID_TRANSITION"
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("status", code)]
        assert status in result["userErrors"][0]["message"]
        assert result["salesOrder"] is None
        assert await order_state(services, tenant, order["id"]) == before
        return
    assert result["userErrors"] == []
    made = result["salesOrder"]
    assert made["status"] == expected
    assert made["version"] == before["order"][VERSION] + 1
    reserved = await open_reserved(services, tenant, order["id"])
    if expected == "CONFIRMED":
        assert reserved == Decimal(5) and reserved_before == 0
        assert [dec(x["reservedQuantity"]) for x in made["lines"]] == [3, 2]
    elif expected in ("CANCELLED", "CLOSED"):
        assert reserved == 0
        assert all(dec(x["reservedQuantity"]) == 0 for x in made["lines"])
    else:
        assert reserved == 0 and made["notes"] == "改一下"


async def test_confirm_and_cancel_move_stock_both_ways(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    product, warehouse = stocked.products[0], stocked.warehouse
    start = await level(services, tenant, product, warehouse)
    order = await order_in(api, tenant, stocked, "confirmed")
    on_hand, reserved, available = await level(services, tenant, product, warehouse)
    assert (on_hand, reserved, available) == (start[0], start[1] + 3, start[2] - 3)
    result = await order_action(api, admin, "cancel", order["id"])
    assert result["salesOrder"]["status"] == "CANCELLED"
    assert result["salesOrder"]["cancelReason"] is None
    assert await level(services, tenant, product, warehouse) == start


async def test_a_stale_version_conflicts_and_changes_nothing(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    order = await order_in(api, tenant, stocked, "draft")
    await order_action(api, admin, "update", order["id"], notes="v2")
    before = await order_state(services, tenant, order["id"])
    result = await order_action(api, admin, "confirm", order["id"], version=order["version"])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("version", "CONFLICT")]
    assert await order_state(services, tenant, order["id"]) == before


async def _ship(services, tenant, order_id: str, quantity: str) -> None:
    """What a shipment will do: issue part of line 0's reservation, count it shipped on
    the line and refresh the order's progress (shipments are later work)."""
    oid = uuid.UUID(order_id)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        lines = await service.order_lines(conn, oid)
        await stock.issue_reserved(
            conn, actor=Actor("system"), reserved_for=service.order_source(oid),
            lines=[stock.ShipLine(lines[0].id, quantity)], today=today(),
        )  # fmt: skip
        await conn.execute(
            update(sales_order_lines)
            .where(sales_order_lines.c.id == lines[0].id)
            .values(shipped_quantity=sales_order_lines.c.shipped_quantity + dec(quantity))
        )
        await service.refresh_progress(conn, [oid])


async def test_a_shipped_order_cannot_be_cancelled_but_can_be_closed(
    api, services, tenant, stocked
):
    admin = tenant.tokens["admin"]
    order = await order_in(api, tenant, stocked, "confirmed")
    await _ship(services, tenant, order["id"], "1")
    before = await order_state(services, tenant, order["id"])
    result = await order_action(api, admin, "cancel", order["id"])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("status", "INVALID_TRANSITION")
    ]
    assert "shipped" in result["userErrors"][0]["message"]
    assert await order_state(services, tenant, order["id"]) == before
    assert await open_reserved(services, tenant, order["id"]) == Decimal(4)  # 3 - 1 + 2

    closed = await order_action(api, admin, "close", order["id"])
    assert closed["userErrors"] == []
    made = closed["salesOrder"]
    assert made["status"] == "CLOSED"
    assert made["fulfilmentStatus"] == "PARTIAL"
    assert [(dec(x["shippedQuantity"]), dec(x["reservedQuantity"])) for x in made["lines"]] == [
        (1, 0), (0, 0),
    ]  # fmt: skip
    assert await open_reserved(services, tenant, order["id"]) == 0


async def test_transitions_are_audited(api, services, tenant, stocked):
    from sqlalchemy import select

    from app.audit.tables import audit_log

    order = await order_in(api, tenant, stocked, "closed")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        actions = (
            await conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.entity_id == uuid.UUID(order["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert actions == [
        "sales_order.create", "stock.reserve", "sales_order.confirm", "stock.release",
        "sales_order.close",
    ]  # fmt: skip
