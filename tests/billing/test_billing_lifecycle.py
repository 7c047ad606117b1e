"""The invoice, payment and credit note state machines (app/billing/lifecycle.py):
allowed transitions work; forbidden ones are refused (INVALID_TRANSITION on `status`)
and change nothing. Ageing buckets at their boundaries; concurrent allocations."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from billing_helpers import (
    ALLOCATE_PAYMENT,
    RECEIVABLES,
    VOID_INVOICE,
    confirmed_order,
    goods,
    invoice,
    money,
    order_view,
    pay,
    payload,
    progress,
    ship,
)
from helpers import make_tenant
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.billing import lifecycle
from app.billing.tables import invoices
from app.db import tenant_transaction

INVOICE = """query($id: ID!) { invoice(id: $id) { status paidAmount openAmount version
  allocations { amount } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "blife")


async def invoice_row(services, tenant, invoice_id: str):
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (
            await conn.execute(select(invoices).where(invoices.c.id == uuid.UUID(invoice_id)))
        ).one()
        audits = await conn.scalar(select(func.count()).select_from(audit_log)
                                   .where(audit_log.c.entity_id == row.id))  # fmt: skip
    return tuple(row), audits


async def shipped_invoice(api, tenant, quantity: str = "4", **fields) -> tuple[dict, dict, str]:
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    order = await confirmed_order(api, tenant, g, [quantity])
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, quantity)]))["userErrors"] == []
    made = await invoice(api, admin, order["id"], **fields)
    assert made["userErrors"] == [], made
    return order, made["invoice"], g.customer


def test_the_tables_are_what_the_tests_cover():
    assert {(s, a) for s, acts in lifecycle.INVOICE_TRANSITIONS.items() for a in acts} == {
        ("issued", "pay"),
        ("issued", "void"),
        ("partially_paid", "pay"),
    }


@pytest.mark.parametrize("status", ["issued", "partially_paid", "paid", "void"])
@pytest.mark.parametrize("action", ["pay", "void"])
async def test_invoice_transition(api, services, tenant, status, action):
    admin = tenant.tokens["admin"]
    order, inv, customer = await shipped_invoice(api, tenant)
    gross = money(inv["grossTotal"])
    if status == "partially_paid":
        assert (await pay(api, admin, customer, "1.00", [(inv["id"], "1.00")]))["userErrors"] == []
    elif status == "paid":
        assert (await pay(api, admin, customer, str(gross), [(inv["id"], str(gross))]))[
            "userErrors"
        ] == []
    elif status == "void":
        assert (await payload(api, VOID_INVOICE, "voidInvoice", {"id": inv["id"]}, admin))[
            "userErrors"
        ] == []
    before = await invoice_row(services, tenant, inv["id"])
    if action == "pay":
        result = await pay(api, admin, customer, "1.00", [(inv["id"], "1.00")])
    else:
        result = await payload(
            api, VOID_INVOICE, "voidInvoice", {"id": inv["id"], "reason": "开错了"}, admin
        )
    allowed = action in lifecycle.INVOICE_TRANSITIONS[status]
    if allowed:
        assert result["userErrors"] == [], result
        view = (await api.gql(INVOICE, {"id": inv["id"]}, token=admin))["invoice"]
        if action == "void":
            assert view["status"] == "VOID"
            order_now = await order_view(api, admin, order["id"])
            assert order_now["lines"][0]["invoicedQuantity"] == "0.000"
            assert progress(order_now)[1] == "NONE"
            again = await invoice(api, admin, order["id"])  # the quantities are free again
            assert again["userErrors"] == []
        else:
            assert view["status"] in ("PARTIALLY_PAID", "PAID")
    else:
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
            ("status", "INVALID_TRANSITION")
        ], result
        assert await invoice_row(services, tenant, inv["id"]) == before


async def test_two_payments_racing_for_the_last_open_amount(api, services, tenant):
    admin = tenant.tokens["admin"]
    _, inv, customer = await shipped_invoice(api, tenant)
    gross = money(inv["grossTotal"])
    assert (await pay(api, admin, customer, str(gross - 10), [(inv["id"], str(gross - 10))]))[
        "userErrors"
    ] == []
    results = await asyncio.gather(
        *[pay(api, admin, customer, "10.00", [(inv["id"], "10.00")]) for _ in range(6)]
    )
    succeeded = [r for r in results if not r["userErrors"]]
    assert len(succeeded) == 1
    for r in results:
        if r["userErrors"]:
            assert r["userErrors"][0]["code"] in ("OVER_ALLOCATION", "INVALID_TRANSITION")
    view = (await api.gql(INVOICE, {"id": inv["id"]}, token=admin))["invoice"]
    assert money(view["paidAmount"]) == gross and view["status"] == "PAID"


async def test_payment_fully_allocated_cannot_allocate_more(api, tenant):
    admin = tenant.tokens["admin"]
    _, inv, customer = await shipped_invoice(api, tenant)
    p = await pay(api, admin, customer, "1.00", [(inv["id"], "1.00")])
    result = await payload(api, ALLOCATE_PAYMENT, "allocatePayment", {
        "paymentId": p["payment"]["id"], "allocations": [{"invoiceId": inv["id"], "amount": "1.00"}]},
        admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("status", "INVALID_TRANSITION")
    ]


@pytest.mark.parametrize(
    ("late", "bucket"),
    [
        (-1, "current"),
        (0, "current"),
        (1, "days1To30"),
        (30, "days1To30"),
        (31, "days31To60"),
        (60, "days31To60"),
        (61, "days61To90"),
        (90, "days61To90"),
        (91, "over90"),
    ],
)
async def test_ageing_buckets_at_their_boundaries(api, tenant, late, bucket):
    admin = tenant.tokens["admin"]
    due = dt.date(2026, 3, 1)
    _, inv, customer = await shipped_invoice(
        api, tenant, invoiceDate="2026-02-01", dueDate=due.isoformat()
    )
    as_of = due + dt.timedelta(days=late)
    owed = (await api.gql(RECEIVABLES, {"asOf": as_of.isoformat(),
                                        "filter": {"customerId": {"eq": customer}}},
                          token=admin))["receivables"]  # fmt: skip
    (edge,) = owed["edges"]
    row = edge["node"]
    assert row["customer"]["id"] == customer and owed["totalCount"] == 1
    # The grand total of a one-row list is that row.
    (total,) = owed["totals"]
    assert {k: v for k, v in total.items() if k != "customers"} == {
        k: v for k, v in row.items() if k not in ("customerId", "customer")
    } and total["customers"] == 1
    assert row["openAmount"] == inv["grossTotal"] and row["currency"] == "CNY"
    buckets = ("current", "days1To30", "days31To60", "days61To90", "over90")
    assert {b: row[b] for b in buckets} == {
        b: (inv["grossTotal"] if b == bucket else "0") for b in buckets
    } or all(money(row[b]) == (money(inv["grossTotal"]) if b == bucket else 0) for b in buckets)
    # Paid on the due date: nothing is owed afterwards; before it, it was.
    if late == 91:
        await pay(api, admin, customer, inv["grossTotal"], [(inv["id"], inv["grossTotal"])],
                  receivedOn=as_of.isoformat())  # fmt: skip
        after = (await api.gql(RECEIVABLES, {"asOf": as_of.isoformat(),
                                             "filter": {"customerId": {"eq": customer}}},
                               token=admin))["receivables"]  # fmt: skip
        assert (after["edges"], after["totalCount"], after["totals"]) == ([], 0, [])
