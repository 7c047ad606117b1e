"""Every (status x action) pair of the credit note and payment state machines
(app/billing/lifecycle.py), through the API: allowed pairs work and move the status by
the amounts; forbidden ones are refused with INVALID_TRANSITION on `status` and change
nothing (the document, the invoice, the allocations and the audit log are as before)."""

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
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.billing import lifecycle
from app.billing.tables import credit_notes, invoices, payment_allocations, payments
from app.db import tenant_transaction

ALLOCATE_CREDIT_NOTE = """mutation($input: AllocateCreditNoteInput!) {
  allocateCreditNote(input: $input) {
    creditNote { id status appliedAmount openAmount grossTotal allocations { invoiceId amount } }
    userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "cnlife")


def test_the_tables_are_what_the_tests_cover():
    pairs = {(s, a) for s, acts in lifecycle.CREDIT_NOTE_TRANSITIONS.items() for a in acts}
    assert pairs == {("open", "apply"), ("partially_applied", "apply")}
    assert set(lifecycle.CREDIT_NOTE_TRANSITIONS) == {"open", "partially_applied", "applied"}
    pairs = {(s, a) for s, acts in lifecycle.PAYMENT_TRANSITIONS.items() for a in acts}
    assert pairs == {("unallocated", "allocate"), ("partially_allocated", "allocate")}
    assert set(lifecycle.PAYMENT_TRANSITIONS) == {
        "unallocated",
        "partially_allocated",
        "allocated",
    }


async def open_invoice(api, tenant, g, quantity: str = "4") -> dict:
    """A shipped, fully invoiced, unpaid order of `quantity` of g's product."""
    admin = tenant.tokens["admin"]
    order = await confirmed_order(api, tenant, g, [quantity])
    line = order["lines"][0]["id"]
    assert (await ship(api, admin, order["id"], [(line, quantity)]))["userErrors"] == []
    made = await invoice(api, admin, order["id"])
    assert made["userErrors"] == [], made
    return made["invoice"] | {"order": order, "line": line}


async def open_credit_note(api, tenant, g) -> dict:
    """An open credit note: goods back from an order whose invoice is already paid, so
    nothing is open to apply it to at once."""
    admin = tenant.tokens["admin"]
    inv = await open_invoice(api, tenant, g)
    paid = await pay(api, admin, g.customer, inv["grossTotal"], [(inv["id"], inv["grossTotal"])])
    assert paid["userErrors"] == [], paid
    back = await give_back(api, admin, inv["order"]["id"], [(inv["line"], "2")])
    assert back["userErrors"] == [], back
    credit = back["creditNote"]
    assert credit["status"] == "OPEN" and money(credit["appliedAmount"]) == 0, credit
    return credit


async def allocate_credit(api, token: str, credit_id: str, invoice_id: str, amount: str) -> dict:
    return await payload(api, ALLOCATE_CREDIT_NOTE, "allocateCreditNote", {
        "creditNoteId": credit_id, "allocations": [{"invoiceId": invoice_id, "amount": amount}],
    }, token)  # fmt: skip


async def allocate_payment(api, token: str, payment_id: str, invoice_id: str, amount: str) -> dict:
    return await payload(api, ALLOCATE_PAYMENT, "allocatePayment", {
        "paymentId": payment_id, "allocations": [{"invoiceId": invoice_id, "amount": amount}],
    }, token)  # fmt: skip


async def snapshot(services, tenant, table, row_id: str, invoice_id: str) -> tuple:
    """The document's row, the invoice's row, every allocation and the audit entries of
    both: what a refused action must leave as it was."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        doc = (await conn.execute(select(table).where(table.c.id == uuid.UUID(row_id)))).one()
        inv = (
            await conn.execute(select(invoices).where(invoices.c.id == uuid.UUID(invoice_id)))
        ).one()
        allocations = (
            await conn.execute(select(payment_allocations).order_by(payment_allocations.c.id))
        ).all()
        audits = await conn.scalar(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.entity_id.in_([doc.id, inv.id]))
        )
        everything = await conn.scalar(select(func.count()).select_from(audit_log))
    return tuple(doc), tuple(inv), [tuple(a) for a in allocations], audits, everything


def refused(result: dict) -> None:
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("status", "INVALID_TRANSITION")
    ], result


@pytest.mark.parametrize("status", ["open", "partially_applied", "applied"])
@pytest.mark.parametrize("action", ["apply"])
async def test_credit_note_transition(api, services, tenant, status, action):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    credit = await open_credit_note(api, tenant, g)
    target = await open_invoice(api, tenant, g)  # same customer and currency, open
    gross = money(credit["grossTotal"])
    assert money(target["grossTotal"]) > gross
    if status == "partially_applied":
        done = await allocate_credit(api, admin, credit["id"], target["id"], "1.00")
        assert done["userErrors"] == [] and done["creditNote"]["status"] == "PARTIALLY_APPLIED"
    elif status == "applied":
        done = await allocate_credit(api, admin, credit["id"], target["id"], str(gross))
        assert done["userErrors"] == [] and done["creditNote"]["status"] == "APPLIED"
    before = await snapshot(services, tenant, credit_notes, credit["id"], target["id"])
    assert before[0][credit_notes.c.keys().index("status")] == status
    result = await allocate_credit(api, admin, credit["id"], target["id"], "1.00")
    if action in lifecycle.CREDIT_NOTE_TRANSITIONS[status]:
        assert result["userErrors"] == [], result
        node = result["creditNote"]
        applied = money(before[0][credit_notes.c.keys().index("applied_amount")]) + 1
        assert money(node["appliedAmount"]) == applied
        assert node["status"] == lifecycle.credit_note_status(applied, gross).upper()
        after = await snapshot(services, tenant, credit_notes, credit["id"], target["id"])
        assert len(after[2]) == len(before[2]) + 1
        assert after[3] > before[3]  # the allocation is audited
        inv_paid = money(after[1][invoices.c.keys().index("paid_amount")])
        assert inv_paid == money(before[1][invoices.c.keys().index("paid_amount")]) + 1
    else:
        refused(result)
        assert await snapshot(services, tenant, credit_notes, credit["id"], target["id"]) == before


@pytest.mark.parametrize("status", ["unallocated", "partially_allocated", "allocated"])
@pytest.mark.parametrize("action", ["allocate"])
async def test_payment_transition(api, services, tenant, status, action):
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    target = await open_invoice(api, tenant, g)
    made = await pay(api, admin, g.customer, "10.00", [])
    assert made["userErrors"] == [] and made["payment"]["status"] == "UNALLOCATED", made
    payment = made["payment"]
    if status == "partially_allocated":
        done = await allocate_payment(api, admin, payment["id"], target["id"], "4.00")
        assert done["userErrors"] == [] and done["payment"]["status"] == "PARTIALLY_ALLOCATED"
    elif status == "allocated":
        done = await allocate_payment(api, admin, payment["id"], target["id"], "10.00")
        assert done["userErrors"] == [] and done["payment"]["status"] == "ALLOCATED"
    before = await snapshot(services, tenant, payments, payment["id"], target["id"])
    assert before[0][payments.c.keys().index("status")] == status
    result = await allocate_payment(api, admin, payment["id"], target["id"], "1.00")
    if action in lifecycle.PAYMENT_TRANSITIONS[status]:
        assert result["userErrors"] == [], result
        allocated = money(before[0][payments.c.keys().index("allocated_amount")]) + 1
        node = result["payment"]
        assert money(node["allocatedAmount"]) == allocated
        assert money(node["unallocatedAmount"]) == 10 - allocated
        assert node["status"] == lifecycle.payment_status(allocated, money("10")).upper()
        after = await snapshot(services, tenant, payments, payment["id"], target["id"])
        assert len(after[2]) == len(before[2]) + 1
        assert after[3] > before[3]
    else:
        refused(result)
        assert await snapshot(services, tenant, payments, payment["id"], target["id"]) == before


async def test_a_refused_allocation_of_several_changes_none_of_them(api, services, tenant):
    """One of two allocations over the open amount: neither is made."""
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1, stock="100")
    first, second = await open_invoice(api, tenant, g), await open_invoice(api, tenant, g)
    credit = await open_credit_note(api, tenant, g)
    before = await snapshot(services, tenant, credit_notes, credit["id"], first["id"])
    result = await payload(api, ALLOCATE_CREDIT_NOTE, "allocateCreditNote", {
        "creditNoteId": credit["id"],
        "allocations": [{"invoiceId": first["id"], "amount": "1.00"},
                        {"invoiceId": second["id"], "amount": str(money(credit["grossTotal"]))}],
    }, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("allocations[1].amount", "OVER_ALLOCATION")
    ], result
    assert await snapshot(services, tenant, credit_notes, credit["id"], first["id"]) == before
