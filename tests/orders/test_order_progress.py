"""refresh_progress (app/orders/progress.py): the fulfilment and invoice measures of an
order derived from its lines' shipped and invoiced quantities, as shipments and
invoices (later work) will call it; payment stays NONE until payments exist."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from order_helpers import GET_ORDER, create_order, goods, order_action
from sqlalchemy import select, update

from app.db import tenant_transaction
from app.orders.progress import refresh_progress
from app.orders.tables import sales_order_lines, sales_orders


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "oprog")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=2, stock="100")


async def _set(services, tenant, order_id: str, values: list[dict]) -> dict:
    """Set each line's quantities (by position), refresh; what refresh returned."""
    oid = uuid.UUID(order_id)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for position, line in enumerate(values):
            if not line:
                continue
            await conn.execute(
                update(sales_order_lines)
                .where(sales_order_lines.c.order_id == oid, sales_order_lines.c.position == position)
                .values(**line)
            )  # fmt: skip
        return await refresh_progress(conn, [oid])


async def _measures(api, tenant, order_id: str) -> tuple:
    order = (await api.gql(GET_ORDER, {"id": order_id}, token=tenant.tokens["admin"]))["salesOrder"]
    return order["fulfilmentStatus"], order["invoiceStatus"], order["paymentStatus"]


async def test_measures_follow_the_lines(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    order = await create_order(api, admin, stocked, [
        {"productId": stocked.products[0], "quantity": "4"},
        {"productId": stocked.products[1], "quantity": "2"},
    ])  # fmt: skip
    await order_action(api, admin, "confirm", order["id"])
    assert await _measures(api, tenant, order["id"]) == ("NONE", "NONE", "NONE")
    steps = [
        ([{"shipped_quantity": 1}, {}], ("PARTIAL", "NONE")),
        ([{"shipped_quantity": 4}, {"shipped_quantity": 2}], ("FULL", "NONE")),
        ([{"invoiced_quantity": 4}, {}], ("FULL", "PARTIAL")),
        ([{}, {"invoiced_quantity": 2}], ("FULL", "FULL")),
        ([{"returned_quantity": 1}, {}], ("FULL", "FULL")),  # returns do not undo shipping
    ]
    version = None
    for values, (fulfilment, invoice) in steps:
        changed = await _set(services, tenant, order["id"], values)
        expected = (fulfilment, invoice, "NONE")
        assert await _measures(api, tenant, order["id"]) == expected
        if changed:
            assert changed[uuid.UUID(order["id"])] == tuple(x.lower() for x in expected)
        async with tenant_transaction(services.engine, tenant.schema) as conn:
            now = await conn.scalar(
                select(sales_orders.c.version).where(sales_orders.c.id == uuid.UUID(order["id"]))
            )
        assert version is None or now == version + (1 if changed else 0)
        version = now


async def test_a_short_closed_order_is_due_what_shipped(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    order = await create_order(api, admin, stocked, [
        {"productId": stocked.products[0], "quantity": "10"},
    ])  # fmt: skip
    await order_action(api, admin, "confirm", order["id"])
    await _set(services, tenant, order["id"], [{"shipped_quantity": 6, "invoiced_quantity": 6}])
    assert await _measures(api, tenant, order["id"]) == ("PARTIAL", "PARTIAL", "NONE")
    closed = await order_action(api, admin, "close", order["id"])
    assert (closed["salesOrder"]["fulfilmentStatus"], closed["salesOrder"]["invoiceStatus"]) == (
        "PARTIAL", "FULL",
    )  # fmt: skip


async def test_nothing_to_refresh(services, tenant):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        assert await refresh_progress(conn, []) == {}
        assert await refresh_progress(conn, [uuid.uuid4()]) == {}
