"""Open business (未结业务): what still ties a customer to money or goods, so that
deleting it would hide documents that are still moving.

`BLOCKING` is the registry: per reference to customers.id, the rows that count as
open, as a SQL condition over that row's table. It imports table modules only, so
every capability's states are stated here in its own columns without pulling in its
services (and without import cycles). `NEVER_BLOCKING` names the references that
never block, with the reason. tests/customers/test_customer_delete_guard.py fails
when a foreign key to customers is in neither, so a new capability (service tickets,
contracts) has to decide.

`open_business(conn, customer_id, today)` evaluates every entry in one statement,
each a count on its table's customer index.

Why each state blocks, or does not:
- sales orders: draft and confirmed are open (a confirmed order stays open until it
  is closed or cancelled, even when fully shipped); a closed one still blocks while
  goods it shipped are neither returned nor invoiced, because it can still be
  invoiced. That also makes delete safe against a concurrent createInvoice, which
  takes no lock on the customer: an invoice can only come out of a blocking state.
- quotes: draft, and sent while still valid (app/orders/lifecycle.quote_status);
  expired, rejected, superseded and accepted ones do not (accepted made an order).
- invoices: issued or partially paid (open receivables); paid and void do not.
- payments: any amount not allocated is the customer's credit.
- credit notes: any amount not applied is money owed back to the customer.
- consignment warehouses: goods on hand at the customer are still ours.
- users: partner users working for the customer as their distributor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.billing.tables import credit_notes, invoices, payments
from app.orders.tables import quotes, sales_order_lines, sales_orders
from app.stock.tables import stock_levels, warehouses
from app.users.tables import users


@dataclass(frozen=True)
class OpenBusiness:
    reference: Column  # the column pointing at customers.id
    one: str  # "open sales order"
    many: str  # "open sales orders"
    condition: Callable[[dt.date], ColumnElement[bool]]  # today (tenant calendar) -> open

    @property
    def name(self) -> str:
        return f"{self.reference.table.name}.{self.reference.name}"

    def describe(self, count: int) -> str:
        return f"{count} {self.one if count == 1 else self.many}"


def _uninvoiced_shipped() -> ColumnElement[bool]:
    line = sales_order_lines.c
    return exists().where(
        line.order_id == sales_orders.c.id,
        line.shipped_quantity - line.returned_quantity - line.invoiced_quantity > 0,
    )


def _stock_on_hand() -> ColumnElement[bool]:
    return exists().where(
        stock_levels.c.warehouse_id == warehouses.c.id, stock_levels.c.on_hand > 0
    )


BLOCKING: tuple[OpenBusiness, ...] = (
    OpenBusiness(
        sales_orders.c.customer_id, "open sales order", "open sales orders",
        lambda today: sales_orders.c.status.in_(("draft", "confirmed")),
    ),
    OpenBusiness(
        sales_orders.c.customer_id,
        "closed sales order with goods shipped but not invoiced",
        "closed sales orders with goods shipped but not invoiced",
        lambda today: and_(sales_orders.c.status == "closed", _uninvoiced_shipped()),
    ),
    OpenBusiness(
        quotes.c.customer_id, "open quote", "open quotes",
        lambda today: or_(
            quotes.c.status == "draft",
            and_(quotes.c.status == "sent", quotes.c.valid_until >= today),
        ),
    ),
    OpenBusiness(
        invoices.c.customer_id, "unpaid invoice", "unpaid invoices",
        lambda today: invoices.c.status.in_(("issued", "partially_paid")),
    ),
    OpenBusiness(
        payments.c.customer_id, "payment with unallocated credit",
        "payments with unallocated credit",
        lambda today: payments.c.allocated_amount < payments.c.amount,
    ),
    OpenBusiness(
        credit_notes.c.customer_id, "credit note not fully applied",
        "credit notes not fully applied",
        lambda today: credit_notes.c.applied_amount < credit_notes.c.gross_total,
    ),
    OpenBusiness(
        warehouses.c.customer_id, "consignment warehouse holding stock",
        "consignment warehouses holding stock",
        lambda today: _stock_on_hand(),
    ),
    OpenBusiness(
        users.c.distributor_id, "user working for it as their distributor",
        "users working for it as their distributor",
        lambda today: true(),
    ),
)  # fmt: skip

# References to customers.id that never block a delete ("table.column"):
# - contacts, activities, tasks, appointments, opportunities, leads' converted customer:
#   the customer's own file and follow-up, hidden and restored with it; no money or
#   goods move through them;
# - customer_ownership_changes, customer_tier_changes: history;
# - shipments, sales_returns: final once made; what they leave open is on the order
#   (shipped, not invoiced) or on a credit note;
# - price_lists.customer_id: an agreement, not a transaction (it stops applying);
# - customers.merged_into_id: the merge link itself.
NEVER_BLOCKING = frozenset(
    {"contacts.customer_id", "activities.customer_id", "tasks.customer_id",
     "appointments.customer_id", "opportunities.customer_id", "leads.converted_customer_id",
     "customer_ownership_changes.customer_id", "customer_tier_changes.customer_id",
     "shipments.customer_id", "sales_returns.customer_id", "price_lists.customer_id",
     "customers.merged_into_id"}
)  # fmt: skip


def open_business_query(customer_id: uuid.UUID, today: dt.date):
    """One row, one count per BLOCKING entry (in its order)."""
    counts = [
        select(func.count())
        .select_from(entry.reference.table)
        .where(entry.reference == customer_id, entry.condition(today))
        .scalar_subquery()
        .label(f"open_{i}")
        for i, entry in enumerate(BLOCKING)
    ]
    return select(*counts)


async def open_business(conn: AsyncConnection, customer_id: uuid.UUID, today: dt.date) -> list[str]:
    """What is open for this customer, in words ("2 open sales orders"); empty when
    nothing is."""
    row = (await conn.execute(open_business_query(customer_id, today))).one()
    return [entry.describe(count) for entry, count in zip(BLOCKING, row, strict=True) if count]
