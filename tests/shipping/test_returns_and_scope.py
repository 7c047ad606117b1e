"""Returns put stock back and credit what had been invoiced; goods returned before
invoicing are simply never invoiced. Tenant isolation and data scope of every billing
document; bounded statements for lists with nested lines."""

from __future__ import annotations

import pytest
from billing_helpers import (
    LIST_INVOICES,
    confirmed_order,
    give_back,
    goods,
    invoice,
    money,
    order_view,
    pay,
    ship,
    user_token,
)
from helpers import make_tenant
from order_helpers import level, new_customer, new_price_list

LISTS = {
    "shipments": "shipments(first: 50) { totalCount edges { node { id lines { id quantity } } } }",
    "salesReturns": "salesReturns(first: 50) { totalCount edges { node { id lines { id } } } }",
    "invoices": "invoices(first: 50) { totalCount edges { node { id lines { id } allocations { id } } } }",
    "creditNotes": "creditNotes(first: 50) { totalCount edges { node { id lines { id } allocations { id } } } }",
    "payments": "payments(first: 50) { totalCount edges { node { id allocations { id } } } }",
}
SINGLE = {
    "shipments": "shipment",
    "salesReturns": "salesReturn",
    "invoices": "invoice",
    "creditNotes": "creditNote",
    "payments": "payment",
}


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "sret")


@pytest.fixture(scope="module")
async def documents(api, tenant):
    """One of each document for one customer: ship 5, invoice 3, pay, return 4."""
    admin = tenant.tokens["admin"]
    # Owned by the admin: a sales rep's own scope does not reach it.
    g = await goods(api, tenant, products=1, stock="100", ownerId=str(tenant.user_ids["admin"]))
    await new_price_list(api, admin, [(g.products[0], "11.30")], tax_inclusive=True,
                         customerId=g.customer, target="CUSTOMER")  # fmt: skip
    order = await confirmed_order(api, tenant, g, ["5"])
    line = order["lines"][0]["id"]
    shipment = await ship(api, admin, order["id"], [(line, "5")])
    inv = (await invoice(api, admin, order["id"], [(line, "3")]))["invoice"]
    payment = (await pay(api, admin, g.customer, "10.00", [(inv["id"], "10.00")]))["payment"]
    returned = await give_back(api, admin, order["id"], [(line, "4")], reason="破损")
    assert returned["userErrors"] == [], returned
    return {"g": g, "order": order, "line": line, "invoice": inv, "payment": payment,
            "return": returned, "shipment": shipment["shipment"]}  # fmt: skip


async def test_a_return_puts_stock_back_and_credits_the_invoiced_part(api, services, tenant,
                                                                      documents):  # fmt: skip
    admin = tenant.tokens["admin"]
    g, returned = documents["g"], documents["return"]
    # 5 shipped, 3 invoiced: of the 4 back, 2 were never invoiced, 2 are credited.
    assert returned["salesReturn"]["lines"][0]["creditedQuantity"] == "2.000"
    credit = returned["creditNote"]
    assert (credit["grossTotal"], credit["lines"][0]["netAmount"],
            credit["lines"][0]["taxAmount"]) == ("22.60", "20.00", "2.60")  # fmt: skip
    # Applied at once to the invoice's open amount (33.90 - 10.00 = 23.90 >= 22.60).
    assert credit["status"] == "APPLIED" and credit["appliedAmount"] == "22.60"
    assert await level(services, tenant, g.products[0], g.warehouse) == (99, 0, 99)
    view = await order_view(api, admin, documents["order"]["id"])
    line = view["lines"][0]
    assert (line["shippedQuantity"], line["returnedQuantity"], line["invoicedQuantity"]) == (
        "5.000",
        "4.000",
        "1.000",
    )
    # What is left: 1 kept and invoiced; nothing more can be invoiced.
    nothing = await invoice(api, admin, documents["order"]["id"])
    assert [e["code"] for e in nothing["userErrors"]] == ["NOTHING_TO_INVOICE"]
    over = await give_back(api, admin, documents["order"]["id"], [(documents["line"], "2")])
    assert [(e["field"], e["code"]) for e in over["userErrors"]] == [
        ("lines[0].quantity", "OVER_RETURN")
    ]
    inv = (await api.gql("query($id: ID!) { invoice(id: $id) { paidAmount openAmount status } }",
                         {"id": documents["invoice"]["id"]}, token=admin))["invoice"]  # fmt: skip
    assert (money(inv["paidAmount"]), money(inv["openAmount"])) == (money("32.60"), money("1.30"))


@pytest.mark.parametrize("kind", list(LISTS))
async def test_another_tenant_cannot_read_list_or_count(api, owner, services, tenant, tenant_b,
                                                        documents, kind):  # fmt: skip
    ids = {"shipments": documents["shipment"]["id"], "invoices": documents["invoice"]["id"],
           "payments": documents["payment"]["id"],
           "salesReturns": documents["return"]["salesReturn"]["id"],
           "creditNotes": documents["return"]["creditNote"]["id"]}  # fmt: skip
    mine = await api.gql("{ " + LISTS[kind] + " }", token=tenant.tokens["admin"])
    assert mine[kind]["totalCount"] >= 1
    theirs = await api.gql("{ " + LISTS[kind] + " }", token=tenant_b.tokens["admin"])
    assert theirs[kind] == {"totalCount": 0, "edges": []}
    one = await api.gql(f"query($id: ID!) {{ {SINGLE[kind]}(id: $id) {{ id }} }}",
                        {"id": ids[kind]}, token=tenant_b.tokens["admin"])  # fmt: skip
    assert one[SINGLE[kind]] is None


async def test_another_tenant_cannot_change_anything(api, tenant_b, documents):
    other = tenant_b.tokens["admin"]
    shipped = await ship(api, other, documents["order"]["id"], [(documents["line"], "1")])
    assert [(e["field"], e["code"]) for e in shipped["userErrors"]] == [("orderId", "NOT_FOUND")]
    invoiced = await invoice(api, other, documents["order"]["id"])
    assert [(e["field"], e["code"]) for e in invoiced["userErrors"]] == [("orderId", "NOT_FOUND")]
    returned = await give_back(api, other, documents["order"]["id"], [(documents["line"], "1")])
    assert [(e["field"], e["code"]) for e in returned["userErrors"]] == [("orderId", "NOT_FOUND")]
    customer = await new_customer(api, other)
    paid = await pay(api, other, customer, "1.00", [(documents["invoice"]["id"], "1.00")])
    assert [(e["field"], e["code"]) for e in paid["userErrors"]] == [
        ("allocations[0].invoiceId", "NOT_FOUND")
    ]


async def test_data_scope_follows_the_customer(api, services, tenant, documents):
    _, token = await user_token(api, services, tenant, "sales")  # owns no customer here
    listed = await api.gql("{ invoices(first: 10) { totalCount } }", token=token)
    assert listed["invoices"]["totalCount"] == 0
    one = await api.gql("query($id: ID!) { invoice(id: $id) { id } }",
                        {"id": documents["invoice"]["id"]}, token=token)  # fmt: skip
    assert one["invoice"] is None
    receivables = await api.gql("{ receivables { edges { node { customerId } } } }", token=token)
    edges = receivables["receivables"]["edges"]
    assert all(e["node"]["customerId"] != documents["g"].customer for e in edges)


async def test_warehouse_ships_but_cannot_invoice(api, services, tenant):
    _, token = await user_token(api, services, tenant, "warehouse")
    errors = await api.errors("{ invoices(first: 1) { totalCount } }", token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert "shipments" in await api.gql("{ shipments(first: 1) { totalCount } }", token=token)


@pytest.mark.parametrize("kind", list(LISTS))
async def test_lists_cost_a_fixed_number_of_statements(api, tenant, documents, sql_counter, kind):
    await api.gql("{ " + LISTS[kind] + " }", token=tenant.tokens["admin"])
    children = LISTS[kind].count("{ id") - 1  # nested lists selected
    sql_counter.statements.clear()
    await api.gql("{ " + LISTS[kind] + " }", token=tenant.tokens["admin"])
    # page + totalCount + one per kind of child (+ transaction bookkeeping, at most 2)
    assert sql_counter.count <= 2 + children + 2, sql_counter.statements


async def test_invoices_example_operation(api, tenant, documents):
    data = await api.gql(LIST_INVOICES, {"first": 5, "filter": {
        "customerId": {"eq": documents["g"].customer}, "status": {"in": ["PARTIALLY_PAID", "PAID"]}},
        "orderBy": [{"field": "DUE_DATE", "direction": "DESC"}]}, token=tenant.tokens["admin"])  # fmt: skip
    assert data["invoices"]["totalCount"] == 1
