"""Concurrent writers on real, separate connections: never oversold, never
over-reserved, never deadlocked, and the ledger still adds up."""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal

import pytest
from stock_helpers import assert_consistent, dec, read_ledger, today

from app.audit.service import Actor
from app.db import bind_tenant, create_engine
from app.stock import service
from app.stock.service import ReserveLine, ShipLine, Source, StockError, StockLine

CALLERS = 50


@pytest.fixture
async def engine(settings, database):
    """Its own pool, big enough that every caller has a connection of its own."""
    engine = create_engine(settings, pool_size=CALLERS // 2)
    yield engine
    await engine.dispose()


async def _race(engine, schema: str, calls) -> list:
    """Run each call in its own transaction on its own connection, all released at
    once; returns each outcome (its result, or the exception it raised)."""
    waiting, all_ready, go = [len(calls)], asyncio.Event(), asyncio.Event()

    async def one(call):
        async with engine.connect() as raw:
            conn = await bind_tenant(raw, schema)
            async with conn.begin():
                waiting[0] -= 1
                if waiting[0] == 0:
                    all_ready.set()
                await go.wait()
                try:
                    return await call(conn)
                except StockError as error:
                    return error

    tasks = [asyncio.create_task(one(c)) for c in calls]
    await asyncio.wait_for(all_ready.wait(), 60)
    go.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def goods(stock, tenant_a):
    admin = tenant_a.tokens["admin"]
    product = await stock.product(admin)
    lot = await stock.product(admin, batch_tracked=True)
    warehouses = [await stock.warehouse(admin) for _ in range(3)]
    return {"admin": admin, "product": uuid.UUID(product), "lot": uuid.UUID(lot),
            "warehouses": [uuid.UUID(w) for w in warehouses]}  # fmt: skip


async def test_fifty_reservations_for_ten_units(stock, services, tenant_a, engine, goods):
    product, warehouse = goods["product"], goods["warehouses"][0]
    await stock.receive(goods["admin"], str(warehouse), [{"productId": str(product),
                                                          "quantity": "10"}])  # fmt: skip
    actor = Actor("user", tenant_a.user_ids["admin"])
    orders = [Source("sales_order", uuid.uuid4()) for _ in range(CALLERS)]

    def reserve(order):
        return lambda conn: service.reserve(
            conn, actor=actor, source=order,
            lines=[ReserveLine(uuid.uuid4(), product, warehouse, "1")], today=today(),
        )  # fmt: skip

    outcomes = await _race(engine, tenant_a.schema, [reserve(o) for o in orders])
    unexpected = [o for o in outcomes if isinstance(o, BaseException) and
                  not isinstance(o, StockError)]  # fmt: skip
    assert unexpected == []
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, StockError)]
    assert (len(won), len(lost)) == (10, 40)
    assert {e.errors[0].code for e in lost} == {"INSUFFICIENT_STOCK"}
    level = await stock.level(goods["admin"], str(product), str(warehouse))
    assert (dec(level["onHand"]), dec(level["reserved"]), dec(level["available"])) == (10, 10, 0)
    assert_consistent(await read_ledger(services, tenant_a))


async def test_uneven_reservations_never_go_past_what_is_there(stock, services, tenant_a,
                                                               engine, goods):  # fmt: skip
    product, warehouse = goods["product"], goods["warehouses"][0]
    await stock.receive(goods["admin"], str(warehouse), [{"productId": str(product),
                                                          "quantity": "10"}])  # fmt: skip
    actor = Actor("user", None)
    rng = random.Random(7)
    sizes = [Decimal(rng.choice(["0.5", "1", "2", "3.25"])) for _ in range(CALLERS)]

    def reserve(q):
        return lambda conn: service.reserve(
            conn, actor=actor, source=Source("sales_order", uuid.uuid4()),
            lines=[ReserveLine(uuid.uuid4(), product, warehouse, q)], today=today(),
        )  # fmt: skip

    outcomes = await _race(engine, tenant_a.schema, [reserve(q) for q in sizes])
    granted = sum((q for q, o in zip(sizes, outcomes, strict=True)
                   if not isinstance(o, BaseException)), Decimal(0))  # fmt: skip
    level = await stock.level(goods["admin"], str(product), str(warehouse))
    assert dec(level["reserved"]) == granted <= 10
    assert dec(level["available"]) >= 0
    # What is left could not serve the smallest refused request.
    refused = [q for q, o in zip(sizes, outcomes, strict=True) if isinstance(o, StockError)]
    assert not refused or min(refused) > 10 - granted


async def test_crossing_writers_never_deadlock(stock, services, tenant_a, engine, goods):
    """Transfers both ways, multi-line issues in both line orders, reservations and
    shipments on the same levels at once: every call either succeeds or gets a clean
    StockError, and the ledger adds up."""
    admin, (a, b, c) = goods["admin"], goods["warehouses"]
    products = [goods["product"], goods["lot"]]
    for warehouse in (a, b, c):
        await stock.receive(admin, str(warehouse), [
            {"productId": str(goods["product"]), "quantity": "40"},
            {"productId": str(goods["lot"]), "quantity": "20", "batchCode": "X1",
             "expiresOn": "2040-01-01"},
            {"productId": str(goods["lot"]), "quantity": "20", "batchCode": "X2",
             "expiresOn": "2041-01-01"},
        ])  # fmt: skip
    actor = Actor("user", None)
    shipped_order = Source("sales_order", uuid.uuid4())
    ship_lines = [uuid.uuid4() for _ in range(3)]
    setup = await _race(engine, tenant_a.schema, [lambda conn: service.reserve(
        conn, actor=actor, source=shipped_order,
        lines=[ReserveLine(ship_lines[i], products[i % 2], (a, b, c)[i], "5") for i in range(3)],
        today=today(),
    )])  # fmt: skip
    assert not isinstance(setup[0], BaseException), setup
    rng = random.Random(11)
    calls = []
    for i in range(CALLERS):
        x, y = rng.sample([a, b, c], 2)
        lines = [StockLine(p, "1") for p in rng.sample(products, 2)]
        kind = i % 5
        if kind == 0:
            calls.append(lambda conn, x=x, y=y, lines=lines: service.transfer(
                conn, actor=actor, from_warehouse_id=x, to_warehouse_id=y, lines=lines,
                today=today()))  # fmt: skip
        elif kind == 1:
            calls.append(lambda conn, x=x, lines=lines: service.issue(
                conn, actor=actor, warehouse_id=x, lines=lines, today=today()))  # fmt: skip
        elif kind == 2:
            calls.append(lambda conn, x=x, y=y: service.reserve(
                conn, actor=actor, source=Source("sales_order", uuid.uuid4()),
                lines=[ReserveLine(uuid.uuid4(), products[0], x, "2"),
                       ReserveLine(uuid.uuid4(), products[1], y, "2")], today=today()))  # fmt: skip
        elif kind == 3:
            calls.append(lambda conn, i=i: service.issue_reserved(
                conn, actor=actor, reserved_for=shipped_order,
                lines=[ShipLine(ship_lines[i % 3], "0.5")], today=today()))  # fmt: skip
        else:
            calls.append(lambda conn, y=y, lines=lines: service.receive(
                conn, actor=actor, warehouse_id=y,
                lines=[StockLine(line.product_id, "1", batch_code="X1")
                       if line.product_id == goods["lot"] else line for line in lines]))  # fmt: skip
    outcomes = await _race(engine, tenant_a.schema, calls)
    unexpected = [o for o in outcomes if isinstance(o, BaseException) and
                  not isinstance(o, StockError)]  # fmt: skip
    assert unexpected == []
    assert sum(not isinstance(o, BaseException) for o in outcomes) > CALLERS // 2
    assert_consistent(await read_ledger(services, tenant_a))
