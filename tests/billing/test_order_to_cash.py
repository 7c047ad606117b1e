"""One order from shipment to cash: partial shipment -> partial invoice -> partial
payment, the three progress columns checked at each step; money exact (含税 lines);
over-shipment, over-invoicing and over-allocation refused naming the field, leaving
nothing behind; idempotent retries; the credit check counts open receivables."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from billing_helpers import (
    confirmed_order,
    count,
    goods,
    invoice,
    money,
    ok,
    order_view,
    pay,
    progress,
    ship,
)
from helpers import make_tenant
from order_helpers import CREATE_ORDER, UPDATE_CUSTOMER, level, new_price_list, order_action

from app.billing.tables import invoices, payments, shipments


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "bflow")


async def test_partial_ship_invoice_pay_moves_each_progress(api, services, tenant):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=2, stock="100")
    # 含税 prices: 11.30 per unit including 13 % tax.
    await new_price_list(api, admin, [(g.products[0], "11.30"), (g.products[1], "22.60")],
                         tax_inclusive=True, customerId=g.customer, target="CUSTOMER")  # fmt: skip
    order = await confirmed_order(api, tenant, g, ["10", "5"])
    a, b = (line["id"] for line in order["lines"])
    assert progress(order) == ("NONE", "NONE", "NONE")

    shipped = await ship(api, admin, order["id"], [(a, "4")])
    assert shipped["userErrors"] == [], shipped
    assert shipped["shipment"]["number"].startswith("SH-")
    view = await order_view(api, admin, order["id"])
    assert progress(view) == ("PARTIAL", "NONE", "NONE")
    assert money(view["lines"][0]["shippedQuantity"]) == 4
    assert await level(services, tenant, g.products[0], g.warehouse) == (96, 6, 90)

    # Invoice 3 of the 4 shipped: 3 x 11.30 = 33.90 gross, net 30.00, tax 3.90.
    made = await invoice(api, admin, order["id"], [(a, "3")])
    assert made["userErrors"] == [], made
    inv = made["invoice"]
    assert (inv["netTotal"], inv["taxTotal"], inv["grossTotal"]) == ("30.00", "3.90", "33.90")
    assert inv["status"] == "ISSUED" and inv["number"].startswith("INV-")
    assert dt.date.fromisoformat(inv["dueDate"]) - dt.date.fromisoformat(inv["invoiceDate"]) \
        == dt.timedelta(days=30)  # fmt: skip
    view = await order_view(api, admin, order["id"])
    assert progress(view) == ("PARTIAL", "PARTIAL", "NONE")

    paid = await pay(api, admin, g.customer, "50.00", [(inv["id"], "20.00")])
    assert paid["userErrors"] == [], paid
    assert paid["payment"]["status"] == "PARTIALLY_ALLOCATED"
    assert paid["payment"]["unallocatedAmount"] == "30.00"
    view = await order_view(api, admin, order["id"])
    assert progress(view) == ("PARTIAL", "PARTIAL", "PARTIAL")

    # Ship and invoice the rest; pay it off with the payment's rest and a second one.
    assert (await ship(api, admin, order["id"], [(a, "6"), (b, "5")]))["userErrors"] == []
    rest = await invoice(api, admin, order["id"])
    assert rest["userErrors"] == [], rest
    assert rest["invoice"]["grossTotal"] == "192.10"  # 7 x 11.30 + 5 x 22.60
    view = await order_view(api, admin, order["id"])
    assert progress(view) == ("FULL", "FULL", "PARTIAL")
    from billing_helpers import ALLOCATE_PAYMENT

    more = await ok(api, ALLOCATE_PAYMENT, "allocatePayment", {
        "paymentId": paid["payment"]["id"],
        "allocations": [{"invoiceId": inv["id"], "amount": "13.90"},
                        {"invoiceId": rest["invoice"]["id"], "amount": "16.10"}]}, admin)  # fmt: skip
    assert more["payment"]["status"] == "ALLOCATED"
    second = await pay(api, admin, g.customer, "176.00", [(rest["invoice"]["id"], "176.00")])
    assert second["userErrors"] == [], second
    view = await order_view(api, admin, order["id"])
    assert progress(view) == ("FULL", "FULL", "FULL")


async def test_over_shipment_invoicing_and_allocation_are_refused(api, services, tenant):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    order = await confirmed_order(api, tenant, g, ["5"])
    (a,) = (line["id"] for line in order["lines"])
    before = await count(services, tenant, shipments)
    refused = await ship(api, admin, order["id"], [(a, "6")])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("lines[0].quantity", "OVER_SHIPMENT")
    ]
    assert await count(services, tenant, shipments) == before
    assert await level(services, tenant, g.products[0], g.warehouse) == (100, 5, 95)

    assert (await ship(api, admin, order["id"], [(a, "2")]))["userErrors"] == []
    refused = await invoice(api, admin, order["id"], [(a, "3")])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("lines[0].quantity", "OVER_INVOICING")
    ]
    inv = (await invoice(api, admin, order["id"], [(a, "2")]))["invoice"]
    nothing = await invoice(api, admin, order["id"])
    assert [e["code"] for e in nothing["userErrors"]] == ["NOTHING_TO_INVOICE"]

    payments_before = await count(services, tenant, payments)
    over = await pay(
        api, admin, g.customer, "1000.00", [(inv["id"], str(money(inv["grossTotal"]) + 1))]
    )
    assert [(e["field"], e["code"]) for e in over["userErrors"]] == [
        ("allocations[0].amount", "OVER_ALLOCATION")
    ]
    assert await count(services, tenant, payments) == payments_before
    short = await pay(api, admin, g.customer, "1.00", [(inv["id"], "2.00")])
    assert [(e["field"], e["code"]) for e in short["userErrors"]] == [
        ("allocations[0].amount", "OVER_ALLOCATION")
    ]


async def test_retries_with_the_same_id_are_no_ops(api, services, tenant):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    order = await confirmed_order(api, tenant, g, ["5"])
    (a,) = (line["id"] for line in order["lines"])
    sid = str(uuid.uuid4())
    first = await ship(api, admin, order["id"], [(a, "2")], id=sid)
    again = await ship(api, admin, order["id"], [(a, "2")], id=sid)
    assert first["shipment"] == again["shipment"] and again["userErrors"] == []
    assert await count(services, tenant, shipments, order_id=order["id"]) == 1
    assert await level(services, tenant, g.products[0], g.warehouse) == (98, 3, 95)
    other = await ship(api, admin, order["id"], [(a, "1")], id=sid)
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("id", "CONFLICT")]

    iid = str(uuid.uuid4())
    one = await invoice(api, admin, order["id"], id=iid)
    two = await invoice(api, admin, order["id"], id=iid)
    assert one["invoice"]["id"] == two["invoice"]["id"] == iid and two["userErrors"] == []
    assert await count(services, tenant, invoices, order_id=order["id"]) == 1

    pid = str(uuid.uuid4())
    p1 = await pay(api, admin, g.customer, "5.00", [(iid, "5.00")], id=pid)
    p2 = await pay(api, admin, g.customer, "5.00", [(iid, "5.00")], id=pid)
    assert p1["payment"] == p2["payment"] and p2["userErrors"] == []
    view = await api.gql("query($id: ID!) { invoice(id: $id) { paidAmount } }", {"id": iid},
                         token=admin)  # fmt: skip
    assert view["invoice"]["paidAmount"] == "5.00"


async def test_open_receivables_count_against_the_credit_limit(api, services, tenant):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    await new_price_list(api, admin, [(g.products[0], "100")], tax_inclusive=True,
                         customerId=g.customer, target="CUSTOMER")  # fmt: skip
    order = await confirmed_order(api, tenant, g, ["5"])  # 500.00, no limit yet
    (a,) = (line["id"] for line in order["lines"])
    assert (await ship(api, admin, order["id"], [(a, "5")]))["userErrors"] == []
    assert (await invoice(api, admin, order["id"]))["userErrors"] == []
    await order_action(api, admin, "close", order["id"])
    # Open receivable 500.00; a limit of 550 leaves room for 50 only.
    customer = await api.gql("query($id: ID!) { customer(id: $id) { version } }",
                             {"id": g.customer}, token=admin)  # fmt: skip
    await ok(api, UPDATE_CUSTOMER, "updateCustomer", {
        "id": g.customer, "version": customer["customer"]["version"], "creditLimit": "550"},
        admin)  # fmt: skip
    draft = (await ok(api, CREATE_ORDER, "createSalesOrder", {
        "customerId": g.customer, "warehouseId": g.warehouse,
        "lines": [{"productId": g.products[0], "quantity": "1"}]}, admin))["salesOrder"]  # fmt: skip
    refused = await order_action(api, admin, "confirm", draft["id"])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("creditLimit", "CREDIT_LIMIT_EXCEEDED")
    ]
    assert "500.00" in refused["userErrors"][0]["message"]
