"""Payments (回款) and their allocation to invoices; credit notes applied the same way.

    record_payment(conn, *, actor, who, payment_id, customer_id, currency, amount,
                   received_on, method=None, reference=None, allocations=()) -> Row
        Money received from a customer in one currency, optionally allocated at once.
        What is not allocated stays on the payment as the customer's credit
        (`amount - allocatedAmount`), to allocate later.
    allocate(conn, *, actor, who, source, allocations, on) -> Row
        Spread a payment or a credit note (`Source`) over open invoices of the same
        customer and currency: each allocation at most the invoice's open amount
        (gross - paid; OVER_ALLOCATION on `allocations[i].amount`) and all of them at
        most what is left of the payment or credit note (OVER_ALLOCATION too).

Concurrency: the payment (or credit note) row is locked, then the invoices' orders and
then the invoices, each in id order, so two payments racing for the last open amount of
one invoice queue on the invoice: the second sees the first's allocation (READ
COMMITTED re-reads a row it waited for) and is refused; a check constraint
(paid_amount <= gross_total) backs that up. Void invoices and paid ones refuse
allocations (INVALID_TRANSITION on `status`, app/billing/lifecycle.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.billing import common, lifecycle
from app.billing.tables import credit_notes, invoices, payment_allocations, payments
from app.company.currencies import normalise_currency
from app.customers.queries import customer_visible
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders.progress import refresh_progress
from app.orders.service import require_customer
from app.orders.tables import sales_orders
from app.records import fingerprint, new_id
from app.validation import check_length, clean

MAX_ALLOCATIONS = 100


@dataclass(frozen=True)
class AllocationInput:
    invoice_id: uuid.UUID | None
    amount: Any


@dataclass(frozen=True)
class Source:
    kind: str  # "payment" or "credit_note"
    id: uuid.UUID


async def record_payment(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, payment_id: uuid.UUID | None,
    customer_id: uuid.UUID, currency: str, amount: Any, received_on: dt.date,
    method: str | None = None, reference: str | None = None,
    allocations: Sequence[AllocationInput] = (),
) -> Row:  # fmt: skip
    method, reference = clean(method), clean(reference)
    digest = fingerprint({
        "customer": customer_id, "currency": currency, "amount": str(amount),
        "on": received_on, "method": method, "reference": reference,
        "allocations": [(a.invoice_id, str(a.amount)) for a in allocations],
    })  # fmt: skip
    await require_customer(conn, who, customer_id)
    if payment_id is not None:
        # Serialise retries of one id: the same id waits for the first to commit.
        await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(str(payment_id)))))
        if found := await common.replay(conn, who, payments, payment_id, digest, "payment"):
            return found
    code, problem = normalise_currency(currency)
    errors = [problem] if problem else []
    value, problem = common.parse_money("amount", amount)
    errors += [problem] if problem else []
    errors += common.check_date("receivedOn", received_on)
    for name, text in (("method", method), ("reference", reference)):
        if (problem := check_length(name, text, max_length=200)) is not None:
            errors.append(problem)
    if errors:
        raise UserErrors(errors)
    pid = payment_id or new_id()
    number = await next_number(conn, DocumentType.PAYMENT, received_on)
    row = (
        await conn.execute(
            insert(payments).values(
                id=pid, number=number, customer_id=customer_id, currency=code, amount=value,
                received_on=received_on, method=method, reference=reference,
                fingerprint=digest, created_by=actor.id,
            ).returning(payments)
        )
    ).one()  # fmt: skip
    await common.audit(conn, actor, "payment", "create", pid, {
        "number": {"from": None, "to": number}, "amount": {"from": None, "to": str(value)},
        "currency": {"from": None, "to": code},
    })  # fmt: skip
    if allocations:
        row = await allocate(conn, actor=actor, who=who, source=Source("payment", pid),
                             allocations=allocations, on=received_on)  # fmt: skip
    return row


async def allocate(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, source: Source,
    allocations: Sequence[AllocationInput], on: dt.date,
) -> Row:  # fmt: skip
    """Allocate a payment or a credit note to invoices (see the module's docstring);
    the payment or credit note row after it."""
    table = payments if source.kind == "payment" else credit_notes
    entity = "payment" if source.kind == "payment" else "credit note"
    current = (
        await conn.execute(
            select(table).where(table.c.id == source.id,
                                customer_visible(table.c.customer_id, who))
            .with_for_update()
        )
    ).first()  # fmt: skip
    if current is None:  # named like the input field (as a malformed id is)
        field = "paymentId" if source.kind == "payment" else "creditNoteId"
        raise fail(field, "NOT_FOUND", f"no such {entity}")
    if not allocations:
        raise fail("allocations", "REQUIRED", "allocate to at least one invoice")
    if len(allocations) > MAX_ALLOCATIONS:
        raise fail("allocations", "TOO_MANY", f"at most {MAX_ALLOCATIONS} allocations at once")
    if source.kind == "payment":
        total_, used = current.amount, current.allocated_amount
        lifecycle.payment_transition(current.status, used, total_)
    else:
        total_, used = current.gross_total, current.applied_amount
        lifecycle.credit_note_transition(current.status, used, total_)
    errors: list[UserError] = []
    amounts: list[Decimal | None] = []
    seen: set = set()
    for i, a in enumerate(allocations):
        value, problem = common.parse_money(f"allocations[{i}].amount", a.amount)
        amounts.append(value)
        errors += [problem] if problem else []
        if a.invoice_id is None:
            errors.append(UserError(f"allocations[{i}].invoiceId", "NOT_FOUND", "no such invoice"))
        elif a.invoice_id in seen:
            errors.append(UserError(f"allocations[{i}].invoiceId", "DUPLICATE",
                                    "name each invoice once"))  # fmt: skip
        seen.add(a.invoice_id)
    wanted = sorted({a.invoice_id for a in allocations if a.invoice_id is not None})
    visible = customer_visible(invoices.c.customer_id, who)
    order_ids = sorted(set((await conn.scalars(
        select(invoices.c.order_id).where(invoices.c.id.in_(wanted), visible))).all()))  # fmt: skip
    if order_ids:  # orders before invoices, in id order: the lock order of every writer
        await conn.execute(select(sales_orders.c.id).where(sales_orders.c.id.in_(order_ids))
                           .order_by(sales_orders.c.id).with_for_update())  # fmt: skip
    locked = {
        r.id: r for r in await conn.execute(
            select(invoices).where(invoices.c.id.in_(wanted), visible)
            .order_by(invoices.c.id).with_for_update()
        )
    }  # fmt: skip
    remaining = total_ - used
    after: dict[uuid.UUID, tuple[Decimal, str]] = {}
    for i, (a, value) in enumerate(zip(allocations, amounts, strict=True)):
        inv = locked.get(a.invoice_id) if a.invoice_id is not None else None
        if a.invoice_id is not None and inv is None:
            errors.append(UserError(f"allocations[{i}].invoiceId", "NOT_FOUND", "no such invoice"))
            continue
        if inv is None:
            continue
        if inv.customer_id != current.customer_id:
            errors.append(UserError(f"allocations[{i}].invoiceId", "OTHER_CUSTOMER",
                                    f"invoice {inv.number} is another customer's"))  # fmt: skip
            continue
        if inv.currency != current.currency:
            errors.append(UserError(f"allocations[{i}].invoiceId", "CURRENCY_MISMATCH",
                                    f"invoice {inv.number} is in {inv.currency}, the {entity} "
                                    f"in {current.currency}"))  # fmt: skip
            continue
        if value is None:
            continue
        paid = inv.paid_amount + value
        try:
            status = lifecycle.invoice_transition(inv.status, "pay", paid=paid,
                                                  gross=inv.gross_total)  # fmt: skip
        except UserErrors as exc:
            error = exc.errors[0]
            errors.append(UserError("status", error.code, f"invoice {inv.number}: {error.message}"))
            continue
        open_ = inv.gross_total - inv.paid_amount
        if value > open_:
            errors.append(UserError(f"allocations[{i}].amount", "OVER_ALLOCATION",
                                    f"invoice {inv.number} has {open_} {inv.currency} open"))  # fmt: skip
            continue
        if value > remaining:
            errors.append(UserError(f"allocations[{i}].amount", "OVER_ALLOCATION",
                                    f"only {remaining} {current.currency} of this {entity} is "
                                    "left to allocate"))  # fmt: skip
            continue
        remaining -= value
        after[inv.id] = (paid, status)
    if errors:
        raise UserErrors(errors)
    rows = []
    for a, value in zip(allocations, amounts, strict=True):
        rows.append({"id": new_id(), "invoice_id": a.invoice_id, "amount": value,
                     "allocated_on": on, "created_by": actor.id,
                     "payment_id": source.id if source.kind == "payment" else None,
                     "credit_note_id": source.id if source.kind != "payment" else None})  # fmt: skip
        paid, status = after[a.invoice_id]
        await conn.execute(
            update(invoices).where(invoices.c.id == a.invoice_id)
            .values(paid_amount=paid, status=status, version=invoices.c.version + 1,
                    updated_at=func.now())
        )  # fmt: skip
    await conn.execute(insert(payment_allocations), rows)
    used_after = total_ - remaining
    if source.kind == "payment":
        values = {"allocated_amount": used_after,
                  "status": lifecycle.payment_status(used_after, total_)}  # fmt: skip
    else:
        values = {"applied_amount": used_after,
                  "status": lifecycle.credit_note_status(used_after, total_)}  # fmt: skip
    row = (
        await conn.execute(
            update(table).where(table.c.id == source.id)
            .values(**values, version=table.c.version + 1, updated_at=func.now())
            .returning(table)
        )
    ).one()  # fmt: skip
    await refresh_progress(conn, [locked[a.invoice_id].order_id for a in allocations])
    await common.audit(conn, actor, source.kind, "allocate", source.id, {
        "allocated": {"from": str(used), "to": str(used_after)},
        "invoices": {"from": None, "to": [str(a.invoice_id) for a in allocations]},
    })  # fmt: skip
    return row
