"""Receivables (应收账款): what customers owe on invoices, aged by days past due.

One row per customer and currency with the open amount and its ageing buckets. As of
a day: invoices dated on or before it and not void, each open by its gross total less
what was allocated to it (payments and credit notes) on or before that day. Days past
due = as_of - due_date: `current` (not yet past due: 0 or less), 1-30, 31-60, 61-90,
over 90. Currencies are never added together (no exchange rates).

Only invoices that can be open at `as_of` are read, never the paid history: those
open now (status issued / partially paid: the partial index `ix_invoices_open`), and
paid ones that were still open then because money was allocated to them after that
day (`ix_payment_allocations_allocated_on`; none when as_of is today). A paid invoice
whose every allocation is on or before as_of owes nothing then, so skipping it changes
no sum.

`receivables_query` is the rows (customer name, customer id, currency: the order a
page walks, unique per row); `totals_query` the same filtered set summed per currency.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    func,
    literal_column,
    select,
    true,
    union_all,
)

from app.auth.principal import Scoped
from app.billing.tables import OPEN_INVOICE_STATUSES, invoices, payment_allocations
from app.customers.queries import customer_visible
from app.customers.tables import customers

BUCKETS = (("current", None, 0), ("days_1_30", 1, 30), ("days_31_60", 31, 60),
           ("days_61_90", 61, 90), ("over_90", 91, None))  # fmt: skip


def open_now() -> ColumnElement[bool]:
    """The partial index's own predicate, with its values inline: a bound parameter
    would keep a generic prepared plan from proving the index applies."""
    return invoices.c.status.in_([literal_column(f"'{s}'") for s in OPEN_INVOICE_STATUSES])


def _open_at(who: Scoped, as_of: dt.date, condition: ColumnElement[bool]):
    """Invoices that can be open at `as_of` (see the module's docstring), two disjoint
    branches so each reads its own index."""
    inv = invoices.c
    columns = (inv.id, inv.customer_id, inv.currency, inv.gross_total, inv.due_date)
    common = (inv.invoice_date <= as_of, customer_visible(inv.customer_id, who), condition)
    return union_all(
        select(*columns).where(open_now(), *common),
        select(*columns).where(
            inv.status == "paid", inv.id == func.any(_paid_after(as_of)), *common
        ),
    ).subquery("open_invoices")


def _paid_after(as_of: dt.date):
    """The invoices that received money after as_of, as an array: `id = ANY(ARRAY(...))`
    looks each one up by primary key, where `id IN (...)` lets the planner hash-join
    them against every paid invoice dated up to as_of (the history this avoids)."""
    a = payment_allocations.c
    return func.array(select(a.invoice_id).where(a.allocated_on > as_of).scalar_subquery())


def _per_invoice(who: Scoped, as_of: dt.date, condition: ColumnElement[bool]):
    found = _open_at(who, as_of, condition)
    a = payment_allocations.c
    allocated = (
        select(func.coalesce(func.sum(a.amount), 0))
        .where(a.invoice_id == found.c.id, a.allocated_on <= as_of)
        .scalar_subquery()
    )
    return select(
        found.c.customer_id,
        found.c.currency,
        (found.c.gross_total - allocated).label("open"),
        (as_of - found.c.due_date).label("late"),
    ).subquery("owed")


def _ageing(sub, *group: ColumnElement) -> list[ColumnElement]:
    columns = [func.sum(sub.c.open).label("open_amount"),
               func.count().filter(sub.c.open > 0).label("open_invoices")]  # fmt: skip
    for name, low, high in BUCKETS:
        conditions = []
        if low is not None:
            conditions.append(sub.c.late >= low)
        if high is not None:
            conditions.append(sub.c.late <= high)
        columns.append(func.coalesce(func.sum(sub.c.open).filter(and_(*conditions)), 0).label(name))
    return [*group, *columns]


def _groups(who: Scoped, as_of: dt.date, condition: ColumnElement[bool] | None):
    sub = _per_invoice(who, as_of, true() if condition is None else condition)
    return (
        select(*_ageing(sub, sub.c.customer_id, sub.c.currency))
        .group_by(sub.c.customer_id, sub.c.currency)
        .having(func.sum(sub.c.open) != 0)
        .subquery("receivables")
    )


def receivables_query(who: Scoped, as_of: dt.date,
                      condition: ColumnElement[bool] | None = None) -> Select:  # fmt: skip
    """Every row, unordered; `condition` on the invoices (customer, currency). The name
    is joined after grouping: one customer row per receivable, by primary key."""
    groups = _groups(who, as_of, condition)
    return select(groups, customers.c.name).join(customers, customers.c.id == groups.c.customer_id)


def sort_keys(query: Select) -> list:
    """Customer name, then id (names repeat), then currency: unique per row."""
    return [query.selected_columns.name, query.selected_columns.customer_id,
            query.selected_columns.currency]  # fmt: skip


def totals_query(who: Scoped, as_of: dt.date,
                 condition: ColumnElement[bool] | None = None) -> Select:  # fmt: skip
    """Per currency, the sums of every row (not of one page), and how many rows."""
    groups = _groups(who, as_of, condition)
    columns = [func.sum(groups.c[name]).label(name) for name in
               ("open_amount", *(b[0] for b in BUCKETS))]  # fmt: skip
    invoices_owed = func.sum(groups.c.open_invoices).cast(BigInteger).label("open_invoices")
    return (
        select(groups.c.currency, *columns, invoices_owed, func.count().label("customers"))
        .group_by(groups.c.currency)
        .order_by(groups.c.currency)
    )
