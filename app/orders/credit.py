"""A customer's credit exposure and the credit-limit check of a confirmation.

Exposure (in the tenant's base currency, gross: what the customer will owe) is

    open receivables                       (invoices issued and not yet paid)
  + confirmed-but-uninvoiced orders        (what is ordered and not invoiced yet)

and a confirmation passes if exposure + the order being confirmed <= the customer's
`credit_limit` (NULL: no limit, nothing is checked; 0: nothing on credit).

The uninvoiced part of an order, per line: for a confirmed order its quantity minus
what was invoiced; for a closed (short-closed) order what shipped minus what was
invoiced (the rest will never be invoiced); drafts and cancelled orders count nothing.
Each line counts `gross_amount x uninvoiced / quantity`, rounded to 2 places.

Receivables (app/billing, migration 0018): the open amounts (gross - paid) of the
customer's invoices that are not void, per currency. Invoicing raises
`sales_order_lines.invoiced_quantity` in the same transaction, so an amount moves from
the orders' part to the receivables' part and is never counted twice; returned
quantities are never due (a credited return lowers `invoiced_quantity` and its credit
note pays the invoice down). Unallocated payments and credit notes are not netted
against the exposure: money not yet applied to an invoice does not lower it.

Currencies: the limit is in the base currency and no exchange rates exist. So when
the customer has a limit, an order in another currency cannot be checked and its
confirmation is refused (CREDIT_CURRENCY on `currency`); likewise, if open exposure in
another currency exists (confirmed while the customer had no limit) the check refuses
rather than ignore it. Customers without a limit are not checked at all.

Concurrency: `check_credit` runs after the confirmation has locked the customer row
(`lock_customer_for_credit`, FOR NO KEY UPDATE), so confirmations of one customer
queue and each sees the ones before it (READ COMMITTED: each statement after the lock
reads what the one before committed); a credit-limit change (FOR UPDATE) queues too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Numeric, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from app.catalog.pricing import round_money
from app.company.service import base_currency as company_base_currency
from app.customers.tables import customers
from app.errors import fail
from app.orders.tables import sales_order_lines, sales_orders

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Exposure:
    """Per currency, what the customer owes or will owe."""

    receivables: dict[str, Decimal]
    uninvoiced_orders: dict[str, Decimal]

    def total(self, currency: str) -> Decimal:
        return self.receivables.get(currency, ZERO) + self.uninvoiced_orders.get(currency, ZERO)

    def currencies(self) -> set[str]:
        return {c for part in (self.receivables, self.uninvoiced_orders)
                for c, amount in part.items() if amount != 0}  # fmt: skip


def _uninvoiced_quantity():
    line, order = sales_order_lines.c, sales_orders.c
    due = case(
        (order.status == "confirmed", line.quantity - line.returned_quantity),
        (order.status == "closed", line.shipped_quantity - line.returned_quantity),
        else_=0,
    )
    return func.greatest(due - line.invoiced_quantity, 0)


async def exposure(
    conn: AsyncConnection, customer_id: uuid.UUID, *, excluding_order: uuid.UUID | None = None
) -> Exposure:
    """The customer's exposure per currency (see the module's docstring).

    One statement, so both parts come from one snapshot: invoicing or voiding another
    order of this customer locks that order and its invoice, not the customer, and
    between two statements an amount could move from one part to the other and be
    counted twice or not at all."""
    from app.billing.tables import invoices  # billing builds on orders, not the reverse

    line, order, inv = sales_order_lines.c, sales_orders.c, invoices.c
    amount = func.round(
        line.gross_amount * cast(_uninvoiced_quantity(), Numeric) / line.quantity, 2
    )
    orders = (
        select(literal("orders").label("part"), order.currency, func.sum(amount).label("amount"))
        .select_from(sales_orders.join(sales_order_lines, line.order_id == order.id))
        .where(order.customer_id == customer_id, order.status.in_(("confirmed", "closed")))
        .group_by(order.currency)
    )
    if excluding_order is not None:
        orders = orders.where(order.id != excluding_order)
    receivables = (
        select(
            literal("receivables").label("part"),
            inv.currency,
            func.sum(inv.gross_total - inv.paid_amount).label("amount"),
        )
        .where(inv.customer_id == customer_id, inv.status.in_(("issued", "partially_paid")))
        .group_by(inv.currency)
    )
    parts: dict[str, dict[str, Decimal]] = {"orders": {}, "receivables": {}}
    for row in await conn.execute(union_all(orders, receivables)):
        parts[row.part][row.currency] = round_money(Decimal(row.amount))
    return Exposure(receivables=parts["receivables"], uninvoiced_orders=parts["orders"])


async def lock_customer_for_credit(conn: AsyncConnection, customer_id: uuid.UUID):
    """The customer row (its credit limit), locked FOR NO KEY UPDATE until commit."""
    c = customers.c
    return (
        await conn.execute(
            select(c.id, c.credit_limit, c.deleted_at)
            .where(c.id == customer_id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        )
    ).first()


async def check_credit(
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID,
    credit_limit: Decimal | None,
    order_id: uuid.UUID,
    order_currency: str,
    order_amount: Decimal,
) -> Exposure | None:
    """Refuse (UserErrors) a confirmation that would take the customer over their
    limit; the exposure it checked (None: no limit, nothing checked). The caller holds
    the customer's lock."""
    if credit_limit is None:
        return None
    base_currency = await company_base_currency(conn)
    if order_currency != base_currency:
        raise fail(
            "currency",
            "CREDIT_CURRENCY",
            f"this customer has a credit limit in {base_currency} and the order is in "
            f"{order_currency}; without exchange rates it cannot be checked, so it cannot be "
            "confirmed (remove the limit, or order in the base currency)",
        )
    current = await exposure(conn, customer_id, excluding_order=order_id)
    foreign = sorted(current.currencies() - {base_currency})
    if foreign:
        raise fail(
            "currency",
            "CREDIT_CURRENCY",
            f"this customer has open orders in {', '.join(foreign)}, which cannot be counted "
            f"against a credit limit in {base_currency}",
        )
    used = current.total(base_currency)
    if used + order_amount > credit_limit:
        raise fail(
            "creditLimit",
            "CREDIT_LIMIT_EXCEEDED",
            f"confirming this order ({order_amount} {base_currency}) would bring the "
            f"customer's exposure to {used + order_amount} {base_currency}, over their credit "
            f"limit of {credit_limit} {base_currency} (open: {used})",
        )
    return current
