"""Every state of the billing documents, decided in one place.

Shipments and sales returns are posted documents: made in one transaction with their
stock moves, they have one state (shipped / received) and no transitions; a mistake
is corrected by another document (a return, a new shipment), never by editing one.

Invoices (`status`):

    issued          --pay-->   partially_paid | paid   (an allocation; by the amount)
    partially_paid  --pay-->   partially_paid | paid
    issued          --void-->  void                     (only while nothing is allocated
                                                         to it: releases its quantities)
    paid, void: final.

Credit notes: open --apply--> partially_applied | applied; applied is final.
Payments: unallocated --allocate--> partially_allocated | allocated; allocated is final.
The paid / applied / allocated statuses follow from the amounts (`invoice_status`,
`credit_note_status`, `payment_status`); an action that is not in a table is refused
with INVALID_TRANSITION on `status`, before anything is written.
"""

from __future__ import annotations

from decimal import Decimal

from app.errors import fail

INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    "issued": frozenset({"pay", "void"}),
    "partially_paid": frozenset({"pay"}),
    "paid": frozenset(),
    "void": frozenset(),
}
CREDIT_NOTE_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"apply"}),
    "partially_applied": frozenset({"apply"}),
    "applied": frozenset(),
}
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "unallocated": frozenset({"allocate"}),
    "partially_allocated": frozenset({"allocate"}),
    "allocated": frozenset(),
}
_PAST = {"pay": "paid", "void": "voided", "apply": "applied", "allocate": "allocated"}
_WHY = {
    ("invoice", "partially_paid", "void"): "; payments or credits are allocated to it",
    ("invoice", "paid", "void"): "; payments or credits are allocated to it",
    ("payment", "allocated", "allocate"): "; nothing of it is left to allocate",
    ("credit note", "applied", "apply"): "; nothing of it is left to apply",
}


def _check(table: dict[str, frozenset[str]], entity: str, current: str, action: str) -> None:
    if action in table[current]:
        return
    allowed = [s for s, actions in table.items() if action in actions]
    message = (f"a {current.replace('_', ' ')} {entity} cannot be {_PAST[action]} "
               f"(only {' or '.join(a.replace('_', ' ') for a in allowed) or 'none'})")  # fmt: skip
    raise fail("status", "INVALID_TRANSITION", message + _WHY.get((entity, current, action), ""))


def invoice_transition(current: str, action: str, *, paid: Decimal = Decimal(0),
                       gross: Decimal = Decimal(0)) -> str:  # fmt: skip
    """The status an invoice gets by `action` (`pay`: with `paid` of `gross` paid after
    it), or INVALID_TRANSITION."""
    _check(INVOICE_TRANSITIONS, "invoice", current, action)
    if action == "void":
        return "void"
    return invoice_status(paid, gross)


def invoice_status(paid: Decimal, gross: Decimal) -> str:
    if paid >= gross:
        return "paid"
    return "partially_paid" if paid > 0 else "issued"


def credit_note_transition(current: str, applied: Decimal, gross: Decimal) -> str:
    _check(CREDIT_NOTE_TRANSITIONS, "credit note", current, "apply")
    return credit_note_status(applied, gross)


def credit_note_status(applied: Decimal, gross: Decimal) -> str:
    if applied >= gross:
        return "applied"
    return "partially_applied" if applied > 0 else "open"


def payment_transition(current: str, allocated: Decimal, amount: Decimal) -> str:
    _check(PAYMENT_TRANSITIONS, "payment", current, "allocate")
    return payment_status(allocated, amount)


def payment_status(allocated: Decimal, amount: Decimal) -> str:
    if allocated >= amount:
        return "allocated"
    return "partially_allocated" if allocated > 0 else "unallocated"
