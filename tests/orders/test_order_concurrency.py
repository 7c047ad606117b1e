"""Fifty simultaneous confirmations competing for ten units: exactly ten orders are
confirmed holding exactly ten units, availability never goes below zero, and every
other order is still a draft holding nothing (also for the lines that were in stock:
a refused confirmation reserves nothing). Once through the service on fifty separate
connections released at once, once through the HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant
from order_helpers import (
    CONFIRM_ORDER,
    Goods,
    create_order,
    new_customer,
    new_product,
    new_warehouse,
    race,
    receive,
    today,
)
from sqlalchemy import func, select

from app.audit.service import Actor
from app.auth.scope import EVERYTHING
from app.db import create_engine, tenant_transaction
from app.errors import UserErrors
from app.orders import service
from app.orders.tables import sales_orders
from app.stock.tables import stock_levels, stock_reservations

CALLERS = 50
UNITS = "10"


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "orace")


@pytest.fixture
async def engine(settings, database):
    """Its own pool: every caller holds a connection of its own."""
    engine = create_engine(settings, pool_size=CALLERS // 2)
    yield engine
    await engine.dispose()


async def _orders(api, tenant, warehouse: str, order_lines: list[dict]) -> list[dict]:
    """One draft per caller, each for another customer (so only stock is contended)."""
    admin = tenant.tokens["admin"]

    async def one(i: int) -> dict:
        customer = await new_customer(api, admin, f"抢购客户{uuid.uuid4().hex[:6]}-{i}")
        return await create_order(api, admin, Goods(warehouse, [], customer), order_lines)

    return list(await asyncio.gather(*(one(i) for i in range(CALLERS))))


async def _outcome(services, tenant, orders: list[dict], products: list[str], warehouse: str):
    ids = [uuid.UUID(o["id"]) for o in orders]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        statuses = dict(
            (
                await conn.execute(
                    select(sales_orders.c.id, sales_orders.c.status).where(
                        sales_orders.c.id.in_(ids)
                    )
                )
            ).all()
        )
        held = dict(
            (
                await conn.execute(
                    select(stock_reservations.c.source_id, func.sum(stock_reservations.c.open_quantity))
                    .where(stock_reservations.c.source_id.in_(ids))
                    .group_by(stock_reservations.c.source_id)
                )
            ).all()
        )  # fmt: skip
        levels = {
            str(r.product_id): (r.on_hand, r.reserved, r.available)
            for r in await conn.execute(
                select(stock_levels).where(
                    stock_levels.c.warehouse_id == uuid.UUID(warehouse),
                    stock_levels.c.product_id.in_([uuid.UUID(p) for p in products]),
                )
            )
        }
    return statuses, held, levels


async def test_fifty_confirmations_for_ten_units_on_separate_connections(
    api, services, tenant, engine
):
    admin = tenant.tokens["admin"]
    warehouse = await new_warehouse(api, admin)
    product = await new_product(api, admin)
    await receive(api, admin, warehouse, product, UNITS)
    orders = await _orders(api, tenant, warehouse, [{"productId": product, "quantity": "1"}])
    actor = Actor("user", tenant.user_ids["admin"])

    def confirm(order_id: str):
        return lambda conn: service.confirm_sales_order(
            conn, actor=actor, who=EVERYTHING, order_id=uuid.UUID(order_id), version=None,
            today=today(),
        )  # fmt: skip

    outcomes = await race(engine, tenant.schema, [confirm(o["id"]) for o in orders])
    unexpected = [o for o in outcomes if isinstance(o, BaseException) and
                  not isinstance(o, UserErrors)]  # fmt: skip
    assert unexpected == []
    refused = [o for o in outcomes if isinstance(o, UserErrors)]
    assert len(refused) == CALLERS - 10
    for error in refused:
        assert [(e.field, e.code) for e in error.errors] == [
            ("lines[0].quantity", "INSUFFICIENT_STOCK")
        ]
        assert "1 needed, 0 available" in error.errors[0].message
    statuses, held, levels = await _outcome(services, tenant, orders, [product], warehouse)
    confirmed = {k for k, v in statuses.items() if v == "confirmed"}
    assert len(confirmed) == 10
    assert set(statuses.values()) == {"confirmed", "draft"}
    assert {k: v for k, v in held.items() if v} == {k: Decimal(1) for k in confirmed}
    assert levels[product] == (Decimal(10), Decimal(10), Decimal(0))


async def test_fifty_confirmations_through_the_api_reserve_nothing_when_refused(
    api, services, tenant
):
    """Each order wants one of a plentiful product and one of a scarce one: the
    refused ones hold none of the plentiful product either."""
    admin = tenant.tokens["admin"]
    warehouse = await new_warehouse(api, admin)
    plenty, scarce = await new_product(api, admin), await new_product(api, admin)
    await receive(api, admin, warehouse, plenty, "1000")
    await receive(api, admin, warehouse, scarce, UNITS)
    orders = await _orders(api, tenant, warehouse, [{"productId": plenty, "quantity": "1"},
                                                    {"productId": scarce, "quantity": "1"}])  # fmt: skip
    results = await asyncio.gather(*(
        api.gql(CONFIRM_ORDER, {"input": {"id": o["id"]}}, token=admin) for o in orders
    ))  # fmt: skip
    payloads = [r["confirmSalesOrder"] for r in results]
    made = [p for p in payloads if not p["userErrors"]]
    refused = [p for p in payloads if p["userErrors"]]
    assert len(made) == 10 and len(refused) == CALLERS - 10
    assert {(e["field"], e["code"]) for p in refused for e in p["userErrors"]} == {
        ("lines[1].quantity", "INSUFFICIENT_STOCK")
    }
    assert all(p["salesOrder"]["status"] == "CONFIRMED" for p in made)
    statuses, held, levels = await _outcome(services, tenant, orders, [plenty, scarce], warehouse)
    assert sorted(statuses.values()).count("confirmed") == 10
    assert sum(held.values()) == 20
    assert levels[scarce] == (Decimal(10), Decimal(10), Decimal(0))
    assert levels[plenty] == (Decimal(1000), Decimal(10), Decimal(990))
