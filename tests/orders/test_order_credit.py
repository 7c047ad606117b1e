"""The credit-limit check of a confirmation (app/orders/credit.py): exposure is open
receivables (none until invoices exist) plus confirmed-but-uninvoiced orders plus this
order, in the base currency; a refusal names creditLimit, reserves nothing and leaves
the order a draft; confirmations of one customer queue, so together they never pass
the limit."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant
from order_helpers import (
    Goods,
    create_order,
    dec,
    goods,
    new_customer,
    new_price_list,
    order_action,
    order_state,
    race,
    today,
)
from sqlalchemy import func, select, update

from app.audit.service import Actor
from app.auth.scope import EVERYTHING
from app.db import bind_tenant, create_engine, tenant_transaction
from app.errors import UserErrors
from app.orders import credit, service
from app.orders.tables import sales_order_lines, sales_orders

CALLERS = 8


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "ocredit")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=1, stock="100000")


@pytest.fixture
async def engine(settings, database):
    engine = create_engine(settings, pool_size=CALLERS)
    yield engine
    await engine.dispose()


async def limited(api, tenant, stocked, limit: str | None) -> Goods:
    fields = {} if limit is None else {"creditLimit": limit}
    customer = await new_customer(api, tenant.tokens["admin"], **fields)
    return Goods(stocked.warehouse, stocked.products, customer)


def one(product: str, quantity: str) -> list[dict]:
    return [{"productId": product, "quantity": quantity}]  # list price 100 + 13 % tax


async def test_over_the_limit_is_refused_and_reserves_nothing(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    g = await limited(api, tenant, stocked, "1000.00")
    order = await create_order(api, admin, g, one(g.products[0], "10"))
    assert dec(order["grossTotal"]) == dec("1130.00")
    before = await order_state(services, tenant, order["id"])
    result = await order_action(api, admin, "confirm", order["id"])
    (error,) = result["userErrors"]
    assert (error["field"], error["code"]) == ("creditLimit", "CREDIT_LIMIT_EXCEEDED")
    assert "1130.00" in error["message"] and "1000.00" in error["message"]
    assert await order_state(services, tenant, order["id"]) == before


async def test_open_orders_count_until_cancelled(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    g = await limited(api, tenant, stocked, "1000.00")
    first = await create_order(api, admin, g, one(g.products[0], "5"))  # 565.00
    second = await create_order(api, admin, g, one(g.products[0], "4"))  # 452.00
    assert (await order_action(api, admin, "confirm", first["id"]))["userErrors"] == []
    refused = await order_action(api, admin, "confirm", second["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["CREDIT_LIMIT_EXCEEDED"]
    assert "565.00" in refused["userErrors"][0]["message"]  # what is already open
    assert (await order_action(api, admin, "cancel", first["id"]))["userErrors"] == []
    assert (await order_action(api, admin, "confirm", second["id"]))["salesOrder"]["status"] == (
        "CONFIRMED"
    )


async def test_exactly_the_limit_passes_and_zero_allows_nothing(api, tenant, stocked):
    admin = tenant.tokens["admin"]
    g = await limited(api, tenant, stocked, "1130.00")
    order = await create_order(api, admin, g, one(g.products[0], "10"))
    assert (await order_action(api, admin, "confirm", order["id"]))["userErrors"] == []
    none = await limited(api, tenant, stocked, "0")
    order = await create_order(api, admin, none, one(g.products[0], "0.001"))
    result = await order_action(api, admin, "confirm", order["id"])
    assert [e["code"] for e in result["userErrors"]] == ["CREDIT_LIMIT_EXCEEDED"]
    unlimited = await limited(api, tenant, stocked, None)
    order = await create_order(api, admin, unlimited, one(g.products[0], "900"))
    assert (await order_action(api, admin, "confirm", order["id"]))["userErrors"] == []


async def test_another_currency_is_refused_only_with_a_limit(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    product = stocked.products[0]
    await new_price_list(api, admin, [(product, "15")], tax_inclusive=False, currency="USD")
    g = await limited(api, tenant, stocked, "1000000.00")
    order = await create_order(api, admin, g, one(product, "1"), currency="USD")
    before = await order_state(services, tenant, order["id"])
    result = await order_action(api, admin, "confirm", order["id"])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("currency", "CREDIT_CURRENCY")
    ]
    assert await order_state(services, tenant, order["id"]) == before
    free = await limited(api, tenant, stocked, None)
    order = await create_order(api, admin, free, one(product, "1"), currency="USD")
    assert (await order_action(api, admin, "confirm", order["id"]))["userErrors"] == []


async def test_exposure_counts_what_is_not_yet_invoiced(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    g = await limited(api, tenant, stocked, None)
    confirmed = await create_order(api, admin, g, one(g.products[0], "4"))  # 452.00
    closed = await create_order(api, admin, g, one(g.products[0], "10"))  # 1130.00
    draft = await create_order(api, admin, g, one(g.products[0], "1"))
    for order in (confirmed, closed):
        assert (await order_action(api, admin, "confirm", order["id"]))["userErrors"] == []
    assert (await order_action(api, admin, "close", closed["id"]))["userErrors"] == []
    customer = uuid.UUID(g.customer)
    async with services.engine.connect() as raw:
        conn = await bind_tenant(raw, tenant.schema)
        transaction = await conn.begin()  # rolled back: the changes are make-believe
        # Nothing of the closed order shipped: it will never be invoiced.
        seen = await credit.exposure(conn, customer)
        assert seen.uninvoiced_orders == {"CNY": dec("452.00")} and seen.receivables == {}
        # As shipments and invoices will: 3 of the closed order shipped, 1 of the
        # confirmed one invoiced.
        await conn.execute(
            update(sales_order_lines)
            .where(sales_order_lines.c.order_id == uuid.UUID(closed["id"]))
            .values(shipped_quantity=3)
        )
        await conn.execute(
            update(sales_order_lines)
            .where(sales_order_lines.c.order_id == uuid.UUID(confirmed["id"]))
            .values(invoiced_quantity=1)
        )
        seen = await credit.exposure(conn, customer)
        assert seen.total("CNY") == dec("339.00") + dec("339.00")
        await transaction.rollback()
    assert draft["status"] == "DRAFT"


async def test_concurrent_confirmations_never_pass_the_limit_together(
    api, services, tenant, stocked, engine
):
    """Eight orders of 226.00 against a limit of 1000.00, confirmed at once on eight
    connections: exactly four pass; the others are drafts holding nothing."""
    admin = tenant.tokens["admin"]
    g = await limited(api, tenant, stocked, "1000.00")
    orders = [await create_order(api, admin, g, one(g.products[0], "2")) for _ in range(CALLERS)]
    actor = Actor("user", tenant.user_ids["admin"])

    def confirm(order_id: str):
        return lambda conn: service.confirm_sales_order(
            conn, actor=actor, who=EVERYTHING, order_id=uuid.UUID(order_id), version=None,
            today=today(),
        )  # fmt: skip

    outcomes = await race(engine, tenant.schema, [confirm(o["id"]) for o in orders])
    assert [o for o in outcomes if isinstance(o, BaseException) and
            not isinstance(o, UserErrors)] == []  # fmt: skip
    refused = [o for o in outcomes if isinstance(o, UserErrors)]
    assert len(refused) == CALLERS - 4
    assert {e.code for r in refused for e in r.errors} == {"CREDIT_LIMIT_EXCEEDED"}
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = (
            await conn.execute(
                select(sales_orders.c.status, func.count(), func.sum(sales_orders.c.gross_total))
                .where(sales_orders.c.customer_id == uuid.UUID(g.customer))
                .group_by(sales_orders.c.status)
            )
        ).all()
        assert {r[0]: (r[1], r[2]) for r in rows} == {
            "confirmed": (4, Decimal("904.00")), "draft": (CALLERS - 4, Decimal("226.00") * 4),
        }  # fmt: skip
    for order in orders:
        state = await order_state(services, tenant, order["id"])
        confirmed = state["order"][list(sales_orders.c.keys()).index("status")] == "confirmed"
        assert len(state["reservations"]) == (1 if confirmed else 0)
