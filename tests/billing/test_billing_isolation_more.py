"""Allocations never cross tenants: a payment or credit note of one tenant allocated to
another tenant's invoice (either way round) is NOT_FOUND and changes nothing in either
tenant. And allocateCreditNote on its own: applying a credit later, over-allocation
(naming the field) and a currency mismatch."""

from __future__ import annotations

import uuid

import pytest
from billing_helpers import (
    ALLOCATE_PAYMENT,
    confirmed_order,
    give_back,
    goods,
    invoice,
    money,
    pay,
    payload,
    ship,
)
from helpers import make_tenant
from order_helpers import new_price_list
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.billing.tables import credit_notes, invoices, payment_allocations, payments
from app.db import tenant_transaction

ALLOCATE_CREDIT_NOTE = """mutation($input: AllocateCreditNoteInput!) {
  allocateCreditNote(input: $input) {
    creditNote { id status currency grossTotal appliedAmount openAmount
                 allocations { invoiceId creditNoteId paymentId amount } }
    userErrors { field code message } } }"""
INVOICE = """query($id: ID!) { invoice(id: $id) { status paidAmount openAmount
  allocations { creditNoteId paymentId amount } } }"""


@pytest.fixture(scope="module")
async def tenants(owner, services):
    return (
        await make_tenant(owner, services, "bisoa"),
        await make_tenant(owner, services, "bisob"),
    )


async def open_invoice(api, tenant, g, quantity: str = "4", **order_fields) -> dict:
    admin = tenant.tokens["admin"]
    order = await confirmed_order(api, tenant, g, [quantity], **order_fields)
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, quantity)]))["userErrors"] == []
    made = await invoice(api, admin, order["id"])
    assert made["userErrors"] == [], made
    return made["invoice"] | {"order": order, "line": line}


async def open_credit_note(api, tenant, g) -> dict:
    """Goods back from a paid invoice: the credit note has nothing to apply to yet."""
    admin = tenant.tokens["admin"]
    inv = await open_invoice(api, tenant, g)
    assert (await pay(api, admin, g.customer, inv["grossTotal"],
                      [(inv["id"], inv["grossTotal"])]))["userErrors"] == []  # fmt: skip
    back = await give_back(api, admin, inv["order"]["id"], [(inv["line"], "2")])
    assert back["userErrors"] == [] and back["creditNote"]["status"] == "OPEN", back
    return back["creditNote"]


@pytest.fixture(scope="module")
async def world(api, tenants):
    """In each tenant: a customer with an open invoice, an open credit note and an
    unallocated payment."""
    made = {}
    for tenant in tenants:
        g = await goods(api, tenant, products=1, stock="100")
        inv = await open_invoice(api, tenant, g)
        credit = await open_credit_note(api, tenant, g)
        p = await pay(api, tenant.tokens["admin"], g.customer, "50.00", [])
        assert p["userErrors"] == [], p
        made[tenant.slug] = {"g": g, "invoice": inv, "credit": credit, "payment": p["payment"]}
    return made


async def state(services, tenant) -> tuple:
    """Every billing money row of the tenant, and its audit log size."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = []
        for table in (invoices, payments, credit_notes, payment_allocations):
            rows.append([tuple(r) for r in await conn.execute(select(table).order_by(table.c.id))])
        rows.append(await conn.scalar(select(func.count()).select_from(audit_log)))
    return tuple(map(str, rows))


def codes(result: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["userErrors"]]


async def allocate(api, token: str, kind: str, source_id: str, invoice_id: str,
                   amount: str = "1.00") -> dict:  # fmt: skip
    allocations = [{"invoiceId": invoice_id, "amount": amount}]
    if kind == "payment":
        return await payload(api, ALLOCATE_PAYMENT, "allocatePayment",
                             {"paymentId": source_id, "allocations": allocations}, token)  # fmt: skip
    return await payload(api, ALLOCATE_CREDIT_NOTE, "allocateCreditNote",
                         {"creditNoteId": source_id, "allocations": allocations}, token)  # fmt: skip


@pytest.mark.parametrize("kind", ["payment", "credit"])
@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
async def test_a_source_of_one_tenant_never_reaches_an_invoice_of_another(
    api, services, tenants, world, kind, direction
):
    home, away = tenants if direction == "a_to_b" else tenants[::-1]
    source = world[home.slug][kind]
    foreign = world[away.slug]["invoice"]
    before = (await state(services, home), await state(services, away))
    # The home tenant's own payment / credit note, named with the other's invoice.
    result = await allocate(api, home.tokens["admin"], kind, source["id"], foreign["id"])
    assert codes(result) == [("allocations[0].invoiceId", "NOT_FOUND")], result
    # The other tenant cannot even see the home tenant's payment / credit note.
    result = await allocate(api, away.tokens["admin"], kind, source["id"], foreign["id"])
    field = "paymentId" if kind == "payment" else "creditNoteId"
    assert codes(result) == [(field, "NOT_FOUND")], result
    assert (await state(services, home), await state(services, away)) == before
    # And the foreign invoice, seen from its own tenant, has no allocation from it.
    view = (await api.gql(INVOICE, {"id": foreign["id"]}, token=away.tokens["admin"]))["invoice"]
    assert all(source["id"] not in (a["creditNoteId"], a["paymentId"])
               for a in view["allocations"])  # fmt: skip


async def test_allocate_credit_note_applies_it_later(api, services, tenants):
    tenant = tenants[0]
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    credit = await open_credit_note(api, tenant, g)
    target = await open_invoice(api, tenant, g)
    gross = money(credit["grossTotal"])
    result = await allocate(api, admin, "credit", credit["id"], target["id"], str(gross - 1))
    assert result["userErrors"] == [], result
    node = result["creditNote"]
    assert (node["status"], money(node["appliedAmount"]), money(node["openAmount"])) == (
        "PARTIALLY_APPLIED", gross - 1, money("1"))  # fmt: skip
    assert [(a["invoiceId"], a["creditNoteId"], a["paymentId"], money(a["amount"]))
            for a in node["allocations"]] == [(target["id"], credit["id"], None, gross - 1)]  # fmt: skip
    view = (await api.gql(INVOICE, {"id": target["id"]}, token=admin))["invoice"]
    assert view["status"] == "PARTIALLY_PAID" and money(view["paidAmount"]) == gross - 1
    # The last of it.
    result = await allocate(api, admin, "credit", credit["id"], target["id"], "1.00")
    assert result["userErrors"] == [] and result["creditNote"]["status"] == "APPLIED", result
    assert money(result["creditNote"]["openAmount"]) == 0


async def test_allocate_credit_note_over_what_is_left_or_open(api, services, tenants):
    tenant = tenants[0]
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    credit = await open_credit_note(api, tenant, g)
    target = await open_invoice(api, tenant, g)
    gross = money(credit["grossTotal"])
    before = await state(services, tenant)
    # More than the credit note has.
    result = await allocate(api, admin, "credit", credit["id"], target["id"], str(gross + 1))
    assert codes(result) == [("allocations[0].amount", "OVER_ALLOCATION")], result
    assert str(gross) in result["userErrors"][0]["message"]
    assert await state(services, tenant) == before
    # More than the invoice has open (a small invoice, fully covered by the credit).
    small = await open_invoice(api, tenant, g, quantity="1")
    assert money(small["grossTotal"]) < gross
    before = await state(services, tenant)
    result = await allocate(api, admin, "credit", credit["id"], small["id"],
                            str(money(small["grossTotal"]) + 1))  # fmt: skip
    assert codes(result) == [("allocations[0].amount", "OVER_ALLOCATION")], result
    assert await state(services, tenant) == before
    # Zero or negative amounts are invalid, not over-allocated.
    result = await allocate(api, admin, "credit", credit["id"], small["id"], "0")
    assert codes(result) == [("allocations[0].amount", "INVALID")], result
    assert await state(services, tenant) == before


async def test_allocate_credit_note_in_another_currency_is_refused(api, services, tenants):
    tenant = tenants[0]
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    credit = await open_credit_note(api, tenant, g)  # CNY
    await new_price_list(api, admin, [(g.products[0], "15")], tax_inclusive=False,
                         currency="USD", customerId=g.customer, target="CUSTOMER")  # fmt: skip
    usd = await open_invoice(api, tenant, g, quantity="1", currency="USD")
    before = await state(services, tenant)
    result = await allocate(api, admin, "credit", credit["id"], usd["id"], "1.00")
    assert codes(result) == [("allocations[0].invoiceId", "CURRENCY_MISMATCH")], result
    assert await state(services, tenant) == before
    # A payment in USD cannot pay a CNY invoice either.
    cny = await open_invoice(api, tenant, g)
    p = await pay(api, admin, g.customer, "5.00", [], currency="USD")
    before = await state(services, tenant)
    result = await allocate(api, admin, "payment", p["payment"]["id"], cny["id"])
    assert codes(result) == [("allocations[0].invoiceId", "CURRENCY_MISMATCH")], result
    assert await state(services, tenant) == before


async def test_another_customers_invoice_is_refused(api, services, tenants):
    tenant = tenants[1]
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    other = await goods(api, tenant, products=1, stock="100")
    credit = await open_credit_note(api, tenant, g)
    theirs = await open_invoice(api, tenant, other)
    before = await state(services, tenant)
    result = await allocate(api, admin, "credit", credit["id"], theirs["id"])
    assert codes(result) == [("allocations[0].invoiceId", "OTHER_CUSTOMER")], result
    assert await state(services, tenant) == before


async def test_a_malformed_or_unknown_id_is_not_found(api, services, tenants):
    tenant = tenants[0]
    admin = tenant.tokens["admin"]
    before = await state(services, tenant)
    for kind, field in (("payment", "paymentId"), ("credit", "creditNoteId")):
        for wrong in ("nope", str(uuid.uuid4())):
            result = await allocate(api, admin, kind, wrong, str(uuid.uuid4()))
            assert codes(result) == [(field, "NOT_FOUND")], result
    assert await state(services, tenant) == before
