"""No new document for a deleted customer: a customer with nothing open can be deleted
(app/customers/open_business.py), and a return (with its credit note) against one of its
closed orders would put open business back on a customer nobody sees. Shipments,
invoices and returns hold the customer FOR KEY SHARE before the order, so a delete
racing them cannot be undone either."""

from __future__ import annotations

import asyncio

import pytest
from billing_helpers import (
    confirmed_order,
    count,
    give_back,
    goods,
    invoice,
    money,
    order_action,
    pay,
    ship,
)
from helpers import make_tenant, operation

from app.billing.tables import credit_notes, sales_returns

DELETE = operation("deleteCustomer")
RESTORE = operation("restoreCustomer")
CUSTOMER = "query($id: ID!) { customer(id: $id) { version deletedAt } }"


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "bgone")


async def _settled_order(api, tenant) -> tuple[str, str, str]:
    """A customer whose one order shipped, was invoiced, paid and closed: nothing open.
    (customer id, order id, order line id)."""
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="50")
    order = await confirmed_order(api, tenant, g, ["3"])
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, "3")]))["userErrors"] == []
    made = await invoice(api, admin, order["id"])
    assert made["userErrors"] == [], made
    bill = made["invoice"]
    paid = await pay(api, admin, g.customer, str(money(bill["grossTotal"])),
                     [(bill["id"], str(money(bill["grossTotal"])))])  # fmt: skip
    assert paid["userErrors"] == [], paid
    closed = await order_action(api, admin, "close", order["id"])
    assert closed["userErrors"] == [], closed
    return g.customer, order["id"], line


async def _customer_change(api, token: str, query: str, customer: str) -> dict:
    version = (await api.gql(CUSTOMER, {"id": customer}, token=token))["customer"]["version"]
    data = await api.gql(query, {"input": {"id": customer, "version": version}}, token=token)
    return next(iter(data.values()))


async def test_no_return_for_a_deleted_customer_until_it_is_restored(api, services, tenant):
    admin = tenant.tokens["admin"]
    customer, order, line = await _settled_order(api, tenant)
    deleted = await _customer_change(api, admin, DELETE, customer)
    assert deleted["userErrors"] == [] and deleted["customer"]["deletedAt"], deleted
    before = (
        await count(services, tenant, sales_returns),
        await count(services, tenant, credit_notes),
    )
    refused = await give_back(api, admin, order, [(line, "1")])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("orderId", "CUSTOMER_DELETED")
    ], refused
    after = (
        await count(services, tenant, sales_returns),
        await count(services, tenant, credit_notes),
    )
    assert after == before
    restored = await _customer_change(api, admin, RESTORE, customer)
    assert restored["userErrors"] == [], restored
    accepted = await give_back(api, admin, order, [(line, "1")])
    assert accepted["userErrors"] == [], accepted


async def test_a_return_racing_the_delete_never_leaves_both(api, services, tenant):
    admin = tenant.tokens["admin"]
    for _ in range(6):
        customer, order, line = await _settled_order(api, tenant)
        version = (await api.gql(CUSTOMER, {"id": customer}, token=admin))["customer"]["version"]
        gone, back = await asyncio.gather(
            api.gql(DELETE, {"input": {"id": customer, "version": version}}, token=admin),
            give_back(api, admin, order, [(line, "1")]),
        )
        deleted = gone["deleteCustomer"]["userErrors"] == []
        returned = back["userErrors"] == []
        # The return makes a credit note: open business, so the delete must lose if the
        # return won, and the return must be refused if the delete won.
        assert deleted != returned, (gone, back)
        if deleted:
            assert back["userErrors"][0]["code"] == "CUSTOMER_DELETED", back
        else:
            assert gone["deleteCustomer"]["userErrors"][0]["code"] == "OPEN_BUSINESS", gone
