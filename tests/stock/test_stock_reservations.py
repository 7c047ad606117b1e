"""The service API the order-to-cash work calls: reserve, release, issue_reserved (and
availability), each all or nothing in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from stock_helpers import assert_consistent, dec, read_ledger, today

from app.audit.service import Actor
from app.db import tenant_transaction
from app.stock import service
from app.stock.service import ReleaseLine, ReserveLine, ShipLine, Source, StockError, StockLine
from app.stock.tables import stock_moves, stock_reservations


@pytest.fixture
async def shop(stock, services, tenant_a):
    admin = tenant_a.tokens["admin"]
    plain, lot = await stock.product(admin), await stock.product(admin, batch_tracked=True)
    w1, w2 = await stock.warehouse(admin), await stock.warehouse(admin)
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    later = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    received = await stock.receive(admin, w1, [
        {"productId": plain, "quantity": "10"},
        {"productId": lot, "quantity": "4", "batchCode": "LATER", "expiresOn": later},
        {"productId": lot, "quantity": "4", "batchCode": "SOON", "expiresOn": soon},
    ])  # fmt: skip
    assert received["userErrors"] == []
    return {
        "plain": uuid.UUID(plain), "lot": uuid.UUID(lot), "w1": uuid.UUID(w1),
        "w2": uuid.UUID(w2), "later": uuid.UUID(received["moves"][1]["batchId"]),
        "soon": uuid.UUID(received["moves"][2]["batchId"]),
        "actor": Actor("user", tenant_a.user_ids["admin"]),
    }  # fmt: skip


async def call(services, tenant, fn, **kwargs):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await fn(conn, **kwargs)


async def level(services, tenant, product, warehouse):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        found = await service.availability(conn, [product], [warehouse], today=today())
    item = found[product]
    return item.on_hand, item.reserved, item.available


async def reserve(conn, **kwargs):
    """service.reserve on the tenant's day (these tests hold no expired stock)."""
    return await service.reserve(conn, today=today(), **kwargs)


def order() -> Source:
    return Source("sales_order", uuid.uuid4())


async def test_reserve_release_and_ship(services, tenant_a, shop):
    s, actor, so = shop, shop["actor"], order()
    l1, l2 = uuid.uuid4(), uuid.uuid4()
    rows = await call(services, tenant_a, reserve, actor=actor, source=so, lines=[
        ReserveLine(l1, s["plain"], s["w1"], "6"), ReserveLine(l2, s["lot"], s["w1"], "5")])  # fmt: skip
    assert [(r.source_line_id, r.open_quantity) for r in rows] == [(l1, dec(6)), (l2, dec(5))]
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(10), dec(6), dec(4))

    # A partial shipment: 4 of line 1, 5 of line 2 first expiring first.
    shipment = Source("shipment", uuid.uuid4())
    posting = await call(services, tenant_a, service.issue_reserved, actor=actor,
                         reserved_for=so, source=shipment, today=today(),
                         lines=[ShipLine(l1, "4"), ShipLine(l2, "5")])  # fmt: skip
    moves = [(m.product_id, m.batch_id, m.quantity, m.source_type, m.source_line_id)
             for m in posting.moves]  # fmt: skip
    assert moves == [
        (s["plain"], None, dec(-4), "shipment", l1),
        (s["lot"], s["soon"], dec(-4), "shipment", l2),
        (s["lot"], s["later"], dec(-1), "shipment", l2),
    ]
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(6), dec(2), dec(4))
    assert await level(services, tenant_a, s["lot"], s["w1"]) == (dec(3), dec(0), dec(3))

    # Shipping more than is still reserved is refused, naming the line.
    with pytest.raises(StockError) as raised:
        await call(services, tenant_a, service.issue_reserved, actor=actor, reserved_for=so,
                   lines=[ShipLine(l1, "3")], today=today())  # fmt: skip
    assert [(e.field, e.code) for e in raised.value.errors] == [
        ("lines[0].quantity", "INSUFFICIENT_RESERVATION")]  # fmt: skip

    # Cancelling releases what is still open; doing it again changes nothing.
    released = await call(services, tenant_a, service.release, actor=actor, source=so)
    assert {(r.source_line_id, r.consumed, r.released, r.open_quantity) for r in released} == {
        (l1, dec(4), dec(2), dec(0)), (l2, dec(5), dec(0), dec(0))}  # fmt: skip
    await call(services, tenant_a, service.release, actor=actor, source=so)
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(6), dec(0), dec(6))
    assert_consistent(await read_ledger(services, tenant_a))


async def test_reserving_is_all_or_nothing(services, tenant_a, shop):
    s, actor, so = shop, shop["actor"], order()
    with pytest.raises(StockError) as raised:
        await call(services, tenant_a, reserve, actor=actor, source=so, lines=[
            ReserveLine(uuid.uuid4(), s["plain"], s["w1"], "8"),
            ReserveLine(uuid.uuid4(), s["lot"], s["w1"], "9"),
            ReserveLine(uuid.uuid4(), s["plain"], s["w2"], "1"),
        ])  # fmt: skip
    assert [(e.field, e.code) for e in raised.value.errors] == [
        ("lines[1].quantity", "INSUFFICIENT_STOCK"), ("lines[2].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(10), dec(0), dec(10))
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        r = stock_reservations.c
        held = await conn.scalar(
            select(func.count()).select_from(stock_reservations).where(r.source_id == so.id)
        )
    assert held == 0


async def test_a_failed_call_leaves_nothing_even_if_the_caller_carries_on(services, tenant_a, shop):
    s, actor = shop, shop["actor"]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        with pytest.raises(StockError):
            await service.transfer(
                conn, actor=actor, from_warehouse_id=s["w1"], to_warehouse_id=s["w2"],
                lines=[StockLine(s["plain"], "3"), StockLine(s["lot"], "50")], today=today(),
            )  # fmt: skip
        # The caller's transaction goes on, and commits what it did itself.
        await service.receive(conn, actor=actor, warehouse_id=s["w2"],
                              lines=[StockLine(s["plain"], "1")])  # fmt: skip
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(10), dec(0), dec(10))
    assert await level(services, tenant_a, s["plain"], s["w2"]) == (dec(1), dec(0), dec(1))
    assert_consistent(await read_ledger(services, tenant_a))


async def test_reserved_stock_is_not_available_to_others(services, tenant_a, shop):
    s, actor = shop, shop["actor"]
    line = uuid.uuid4()
    so = order()
    await call(services, tenant_a, reserve, actor=actor, source=so,
               lines=[ReserveLine(line, s["plain"], s["w1"], "7")])  # fmt: skip
    with pytest.raises(StockError) as raised:
        await call(services, tenant_a, service.issue, actor=actor, warehouse_id=s["w1"],
                   lines=[StockLine(s["plain"], "4")], today=today())  # fmt: skip
    assert "3 available (10 on hand, 7 reserved)" in raised.value.errors[0].message
    with pytest.raises(StockError):
        await call(services, tenant_a, service.adjust, actor=actor, warehouse_id=s["w1"],
                   lines=[StockLine(s["plain"], "-4")], reason="丢失")  # fmt: skip
    with pytest.raises(StockError):
        await call(services, tenant_a, reserve, actor=actor, source=order(),
                   lines=[ReserveLine(uuid.uuid4(), s["plain"], s["w1"], "3.001")])  # fmt: skip
    # Reserving the same line again adds to it; a partial release gives some back.
    await call(services, tenant_a, reserve, actor=actor, source=so,
               lines=[ReserveLine(line, s["plain"], s["w1"], "3")])  # fmt: skip
    assert await level(services, tenant_a, s["plain"], s["w1"]) == (dec(10), dec(10), dec(0))
    (row,) = await call(services, tenant_a, service.release, actor=actor, source=so,
                        lines=[ReleaseLine(line, "2.5")])  # fmt: skip
    assert (row.quantity, row.released, row.open_quantity) == (dec(10), dec("2.5"), dec("7.5"))
    with pytest.raises(StockError) as raised:
        await call(services, tenant_a, service.release, actor=actor, source=so,
                   lines=[ReleaseLine(line, "8"), ReleaseLine(uuid.uuid4())])  # fmt: skip
    assert [(e.field, e.code) for e in raised.value.errors] == [
        ("lines[0].quantity", "INSUFFICIENT_RESERVATION"), ("lines[1].lineId", "NOT_FOUND")]  # fmt: skip
    # The line is for this product here; another product under it is refused.
    with pytest.raises(StockError) as raised:
        await call(services, tenant_a, reserve, actor=actor, source=so,
                   lines=[ReserveLine(line, s["lot"], s["w1"], "1")])  # fmt: skip
    assert raised.value.errors[0].code == "CONFLICT"
    assert_consistent(await read_ledger(services, tenant_a))


async def test_service_errors_name_the_field(services, tenant_a, shop):
    s, actor, so = shop, shop["actor"], order()
    cases = [
        (reserve, dict(source=so, lines=[]), ("lines", "REQUIRED")),
        (
            reserve,
            dict(
                source=Source("Bad Type", uuid.uuid4()),
                lines=[ReserveLine(uuid.uuid4(), s["plain"], s["w1"], "1")],
            ),
            ("source.type", "INVALID"),
        ),  # fmt: skip
        (
            reserve,
            dict(source=so, lines=[ReserveLine("x", s["plain"], s["w1"], "1")]),
            ("lines[0].lineId", "INVALID"),
        ),  # fmt: skip
        (
            reserve,
            dict(source=so, lines=[ReserveLine(uuid.uuid4(), s["plain"], uuid.uuid4(), "1")]),
            ("lines[0].warehouseId", "NOT_FOUND"),
        ),  # fmt: skip
        (
            reserve,
            dict(source=so, lines=[ReserveLine(uuid.uuid4(), s["plain"], s["w1"], 1.5)]),
            ("lines[0].quantity", "INVALID"),
        ),  # fmt: skip
        (
            service.issue_reserved,
            dict(reserved_for=so, lines=[ShipLine(uuid.uuid4(), "1")], today=today()),
            ("lines[0].lineId", "NOT_RESERVED"),
        ),  # fmt: skip
        (
            service.issue,
            dict(warehouse_id=s["w1"], lines=[StockLine(s["plain"], "1")] * 501, today=today()),
            ("lines", "TOO_MANY"),
        ),  # fmt: skip
    ]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        before = await conn.scalar(select(func.count()).select_from(stock_moves))
    for fn, kwargs, expected in cases:
        with pytest.raises(StockError) as raised:
            await call(services, tenant_a, fn, actor=actor, **kwargs)
        assert (raised.value.errors[0].field, raised.value.errors[0].code) == expected
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        assert await conn.scalar(select(func.count()).select_from(stock_moves)) == before


async def test_availability_sums_warehouses(services, tenant_a, shop, stock):
    s, actor = shop, shop["actor"]
    await call(services, tenant_a, service.transfer, actor=actor, from_warehouse_id=s["w1"],
               to_warehouse_id=s["w2"], lines=[StockLine(s["plain"], "4")],
               today=today())  # fmt: skip
    await call(services, tenant_a, reserve, actor=actor, source=order(),
               lines=[ReserveLine(uuid.uuid4(), s["plain"], s["w2"], "1")])  # fmt: skip
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        found = await service.availability(
            conn, [s["plain"], s["lot"], uuid.uuid4(), "bad"], today=today()
        )
    assert len(found) == 3
    plain = found[s["plain"]]
    assert (plain.on_hand, plain.reserved, plain.available, len(plain.levels)) == (
        dec(10), dec(1), dec(9), 2)  # fmt: skip
    data = await stock.api.gql(
        """query($ids: [ID!]!) { stockAvailability(productIds: $ids) {
             productId onHand reserved available product { code }
             levels { warehouseId available warehouse { code } } } }""",
        {"ids": [str(s["plain"])]}, token=shop_token(tenant_a),
    )  # fmt: skip
    (item,) = data["stockAvailability"]
    assert (dec(item["available"]), len(item["levels"])) == (dec(9), 2)
    assert item["product"]["code"] and item["levels"][0]["warehouse"]["code"]


def shop_token(tenant) -> str:
    return tenant.tokens["sales"]
