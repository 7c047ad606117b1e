"""deleteCustomer refuses while the customer has open business (app/customers/
open_business.py): OPEN_BUSINESS on id, a message naming what is open, nothing
changed; closed business does not block; another tenant's never does; a document
created at the same moment as the delete never ends up on a deleted customer."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
from delete_guard_helpers import (
    CANCEL_ORDER,
    CLOSE_ORDER,
    CREATE_CUSTOMER,
    CREATE_ORDER,
    CREATE_PRODUCT,
    CREATE_QUOTE,
    CREATE_USER,
    CREATE_WAREHOUSE,
    DELETE_CUSTOMER,
    INVOICE,
    ISSUE,
    RECEIVE,
    REJECT_QUOTE,
    RETURN,
    REVISE_QUOTE,
    SEND_QUOTE,
    UPDATE_USER,
    VOID_INVOICE,
    World,
    open_part,
    run,
)
from helpers import make_tenant
from sqlalchemy import func, select, text

import app.tables  # noqa: F401  (every tenant table, for the foreign-key check)
from app.billing.tables import invoices
from app.customers.open_business import BLOCKING, NEVER_BLOCKING
from app.customers.tables import customers
from app.db import tenant_metadata, tenant_transaction
from app.orders.tables import quotes, sales_orders


async def _world(api, services, tenant) -> World:
    admin = tenant.tokens["admin"]
    code = f"DG-{uuid.uuid4().hex[:8]}"
    product = (await run(api, CREATE_PRODUCT, "createProduct", admin,
                         {"code": code, "name": "保护测试产品", "unit": "件",
                          "listPrice": "10"}))["product"]["id"]  # fmt: skip
    warehouse = (await run(api, CREATE_WAREHOUSE, "createWarehouse", admin,
                           {"code": code, "name": "总仓"}))["warehouse"]["id"]  # fmt: skip
    await run(api, RECEIVE, "receiveStock", admin,
              {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": "1000"}]})  # fmt: skip
    return World(api, services, tenant, product, warehouse)


@pytest.fixture(scope="module")
async def world(api, owner, services) -> World:
    return await _world(api, services, await make_tenant(owner, services, "dguard"))


@pytest.fixture(scope="module")
async def other(api, owner, services) -> World:
    return await _world(api, services, await make_tenant(owner, services, "dguard2"))


def test_every_reference_to_customers_is_blocking_or_declared_irrelevant():
    """A new table pointing at customers must say whether its rows can be open
    business (app/customers/open_business.py), or a delete would hide them."""
    referring = {
        f"{fk.parent.table.name}.{fk.parent.name}"
        for table in tenant_metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column is customers.c.id
    }
    blocking = {entry.name for entry in BLOCKING}
    assert not blocking & NEVER_BLOCKING
    assert referring == blocking | NEVER_BLOCKING


async def test_a_customer_without_business_is_deleted_and_restored(world):
    customer = await world.customer()
    await world.deleted(customer)


async def test_open_orders_block_until_cancelled_or_closed_and_billed(world):
    customer = await world.customer()
    draft = await world.order(customer)
    assert open_part(await world.refused(customer)) == ["1 open sales order"]
    await run(world.api, CANCEL_ORDER, "cancelSalesOrder", world.admin, {"id": draft})
    await world.deleted(customer)

    order, line = await world.confirmed_order(customer, "3")
    second = await world.order(customer)
    assert open_part(await world.refused(customer)) == ["2 open sales orders"]
    await run(world.api, CANCEL_ORDER, "cancelSalesOrder", world.admin, {"id": second})
    await world.ship(order, line, "2")
    await run(world.api, CLOSE_ORDER, "closeSalesOrder", world.admin, {"id": order})
    # Closed, but two shipped units are not invoiced yet: it can still be billed.
    assert open_part(await world.refused(customer)) == [
        "1 closed sales order with goods shipped but not invoiced"
    ]
    invoice = await world.invoice(order)
    assert open_part(await world.refused(customer)) == ["1 unpaid invoice"]
    await world.pay(customer, "1.00", invoice["id"])  # partially paid
    assert open_part(await world.refused(customer)) == ["1 unpaid invoice"]
    rest = Decimal(invoice["grossTotal"]) - Decimal("1.00")
    await world.pay(customer, str(rest), invoice["id"])
    await world.deleted(customer)


async def test_draft_and_valid_sent_quotes_block_lapsed_and_answered_ones_do_not(world):
    customer = await world.customer()
    quote = await world.quote(customer)
    assert open_part(await world.refused(customer)) == ["1 open quote"]
    await run(world.api, SEND_QUOTE, "sendQuote", world.admin, {"id": quote["id"]})
    assert open_part(await world.refused(customer)) == ["1 open quote"]
    await run(world.api, REJECT_QUOTE, "rejectQuote", world.admin, {"id": quote["id"]})
    await world.deleted(customer)

    revised = await run(world.api, REVISE_QUOTE, "reviseQuote", world.admin, {"id": quote["id"]})
    assert revised["previous"]["status"] == "SUPERSEDED"
    assert open_part(await world.refused(customer)) == ["1 open quote"]  # the new draft
    await run(world.api, SEND_QUOTE, "sendQuote", world.admin, {"id": revised["quote"]["id"]})
    await world.let_quote_lapse(revised["quote"]["id"])
    await world.deleted(customer)  # expired, rejected, superseded: none is open


async def test_void_invoice_and_returned_goods_do_not_block(world):
    customer = await world.customer()
    order, line = await world.confirmed_order(customer)
    await world.ship(order, line, "2")
    invoice = await world.invoice(order)
    await run(world.api, VOID_INVOICE, "voidInvoice", world.admin, {"id": invoice["id"]})
    await run(world.api, RETURN, "createSalesReturn", world.admin,
              {"orderId": order, "lines": [{"orderLineId": line, "quantity": "2"}]})  # fmt: skip
    await run(world.api, CLOSE_ORDER, "closeSalesOrder", world.admin, {"id": order})
    await world.deleted(customer)


async def test_customer_credit_blocks(world):
    """Unallocated payments and unapplied credit notes are money the customer has with us."""
    customer = await world.customer()
    await world.pay(customer, "50.00")
    assert open_part(await world.refused(customer)) == ["1 payment with unallocated credit"]

    paid = await world.customer()
    order, line = await world.confirmed_order(paid)
    await world.ship(order, line, "2")
    invoice = await world.invoice(order)
    await world.pay(paid, invoice["grossTotal"], invoice["id"])
    await run(world.api, RETURN, "createSalesReturn", world.admin,
              {"orderId": order, "lines": [{"orderLineId": line, "quantity": "1"}]})  # fmt: skip
    await run(world.api, CLOSE_ORDER, "closeSalesOrder", world.admin, {"id": order})
    assert open_part(await world.refused(paid)) == ["1 credit note not fully applied"]


async def test_stock_at_a_consignment_warehouse_blocks(world):
    customer = await world.customer(isDistributor=True)
    created = await run(world.api, CREATE_WAREHOUSE, "createWarehouse", world.admin,
                        {"code": f"CS-{uuid.uuid4().hex[:8]}", "name": "寄售仓",
                         "kind": "CONSIGNMENT", "customerId": customer})  # fmt: skip
    consignment = created["warehouse"]["id"]
    await world.deleted(customer)  # an empty consignment warehouse holds nothing
    lines = [{"productId": world.product, "quantity": "4"}]
    await run(world.api, RECEIVE, "receiveStock", world.admin,
              {"warehouseId": consignment, "lines": lines})  # fmt: skip
    assert open_part(await world.refused(customer)) == ["1 consignment warehouse holding stock"]
    await run(world.api, ISSUE, "issueStock", world.admin,
              {"warehouseId": consignment, "lines": lines})  # fmt: skip
    await world.deleted(customer)


async def test_partner_users_working_for_the_distributor_block(world):
    customer = await world.customer(isDistributor=True)
    user = await run(world.api, CREATE_USER, "createUser", world.admin,
                     {"email": f"p-{uuid.uuid4().hex[:8]}@example.com", "role": "partner",
                      "distributorId": customer})  # fmt: skip
    assert open_part(await world.refused(customer)) == [
        "1 user working for it as their distributor"
    ]
    await run(world.api, UPDATE_USER, "updateUser", world.admin,
              {"id": user["user"]["id"], "distributorId": None})  # fmt: skip
    await world.deleted(customer)


async def test_the_message_names_every_kind_in_one_statement(world, sql_counter):
    customer = await world.customer()
    await world.order(customer)
    await world.order(customer)
    await world.quote(customer)
    await world.pay(customer, "5.00")
    message = await world.refused(customer)
    assert open_part(message) == [
        "2 open sales orders", "1 open quote", "1 payment with unallocated credit"
    ]  # fmt: skip
    sql_counter.statements.clear()
    await world.delete(customer)
    counting = [s for s in sql_counter.statements if ".sales_orders" in s]
    assert len(counting) == 1, counting
    assert all(f".{entry.reference.table.name} " in counting[0] for entry in BLOCKING)


async def test_the_open_business_count_uses_indexes(world, sql_counter):
    """With sequential scans disabled, the plan of the statement the delete ran has none."""
    customer = await world.customer()
    await world.order(customer)
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    assert (await world.delete(customer))["userErrors"][0]["code"] == "OPEN_BUSINESS"
    statement, parameters = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if ".sales_orders" in s
    )
    async with world.services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    scans = _scans(plan[0]["Plan"])
    assert not [s for s in scans if s.startswith("Seq Scan")], scans


def _scans(plan: dict) -> list[str]:
    found = [f"{plan['Node Type']} on {plan.get('Relation Name', '?')}"]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def test_another_tenants_business_never_blocks_nor_shows(world, other):
    """The same customer id in two tenants (clients may choose ids): each delete
    counts its own tenant's documents only, and names only those."""
    shared = str(uuid.uuid4())
    for w in (world, other):
        await run(w.api, CREATE_CUSTOMER, "createCustomer", w.admin,
                  {"id": shared, "name": "同号客户"})  # fmt: skip
    await world.order(shared)
    await world.order(shared)
    await other.quote(shared)
    assert open_part(await other.refused(shared)) == ["1 open quote"]
    assert open_part(await world.refused(shared)) == ["2 open sales orders"]

    # A customer of one tenant cannot be deleted (or probed) from the other: NOT_FOUND,
    # whatever is open there.
    mine = await world.customer()
    await world.order(mine)
    result = await other.delete(mine)
    assert result["userErrors"] == [
        {"field": "id", "code": "NOT_FOUND", "message": "no such customer"}
    ]
    clean = await other.customer()
    await other.deleted(clean)  # world's open orders do not block other's customers


async def test_who_cannot_see_the_customer_learns_nothing_of_its_business(world):
    """A rep with own scope deleting another rep's customer gets NOT_FOUND, not a
    list of that customer's open documents; a viewer may not delete at all."""
    customer = await world.customer(ownerId=str(world.tenant.user_ids["manager"]))
    await world.order(customer)
    result = await world.delete(customer, world.tenant.tokens["sales"])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("id", "NOT_FOUND")]
    errors = await world.api.errors(
        DELETE_CUSTOMER, {"input": {"id": customer}}, token=world.tenant.tokens["viewer"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert open_part(await world.refused(customer)) == ["1 open sales order"]


# -- concurrency ----------------------------------------------------------------------


async def _race(world: World, create, customer: str, delete_first: bool) -> tuple[dict, dict]:
    delete = world.delete(customer)
    if delete_first:
        deleted, created = await asyncio.gather(delete, create)
    else:
        created, deleted = await asyncio.gather(create, delete)
    return created, deleted


async def _documents(world: World, table, customer: str) -> int:
    async with tenant_transaction(world.services.engine, world.tenant.schema) as conn:
        return await conn.scalar(
            select(func.count())
            .select_from(table)
            .where(table.c.customer_id == uuid.UUID(customer))
        )


async def _is_deleted(world: World, customer: str) -> bool:
    async with tenant_transaction(world.services.engine, world.tenant.schema) as conn:
        deleted_at = await conn.scalar(
            select(customers.c.deleted_at).where(customers.c.id == uuid.UUID(customer))
        )
    return deleted_at is not None


@pytest.mark.parametrize("kind", ["order", "quote"])
async def test_a_document_created_during_the_delete_never_lands_on_a_deleted_customer(world, kind):
    """Create and delete at the same moment, over HTTP: exactly one wins. The create
    holds the customer FOR KEY SHARE and re-checks it is live; the delete counts open
    business under FOR UPDATE."""
    operation, name, table = {
        "order": (CREATE_ORDER, "createSalesOrder", sales_orders),
        "quote": (CREATE_QUOTE, "createQuote", quotes),
    }[kind]
    outcomes = set()
    for round_ in range(8):
        customer = await world.customer()
        input = {"customerId": customer, "lines": [{"productId": world.product, "quantity": "1"}]}
        if kind == "order":
            input["warehouseId"] = world.warehouse
        create = world.api.gql(operation, {"input": input}, token=world.admin)
        created, deleted = await _race(world, create, customer, delete_first=round_ % 2 == 0)
        created = created[name]
        made = not created["userErrors"]
        gone = not deleted["userErrors"]
        assert made != gone, (created, deleted)  # one of the two, never both, never neither
        if made:
            assert [e["code"] for e in deleted["userErrors"]] == ["OPEN_BUSINESS"]
        else:
            assert [(e["field"], e["code"]) for e in created["userErrors"]] == [
                ("customerId", "NOT_FOUND")
            ]
        assert await _is_deleted(world, customer) == gone
        assert await _documents(world, table, customer) == (1 if made else 0)
        outcomes.add("created" if made else "deleted")
    assert outcomes  # which side wins each round is up to the scheduler


async def test_an_invoice_created_during_the_delete_keeps_the_customer(world):
    """createInvoice takes no lock on the customer; an invoice can only come out of a
    closed order with goods shipped and not invoiced, which already blocks: whichever
    commits first, the delete is refused and the invoice stands."""
    for round_ in range(4):
        customer = await world.customer()
        order, line = await world.confirmed_order(customer)
        await world.ship(order, line, "2")
        await run(world.api, CLOSE_ORDER, "closeSalesOrder", world.admin, {"id": order})
        create = world.api.gql(INVOICE, {"input": {"orderId": order}}, token=world.admin)
        created, deleted = await _race(world, create, customer, delete_first=round_ % 2 == 0)
        assert created["createInvoice"]["userErrors"] == []
        assert [e["code"] for e in deleted["userErrors"]] == ["OPEN_BUSINESS"]
        assert not await _is_deleted(world, customer)
        assert await _documents(world, invoices, customer) == 1
