"""Quotes, sales orders and their lines.

A quote (报价) is an offer: priced lines with a validity. It lives in a family of
versions: revising a sent quote makes version n+1 (the same `family_id` and `number`,
`revision` n+1) and marks the previous one superseded. Stored statuses: draft, sent,
accepted, rejected, superseded; a sent quote past its `valid_until` reads as expired
(app/orders/lifecycle.py decides, at read and at accept time; no job writes it).
Accepting a quote makes one draft sales order pointing back at it (`quote_id`,
unique: a quote becomes at most one order).

An order has one lifecycle state and three separate progress measures, because an
order can be partly shipped, partly invoiced and partly paid at once:
- `status`: draft -> confirmed -> closed, or draft/confirmed -> cancelled
  (transitions enforced in app/orders/lifecycle.py, nowhere else);
- `fulfilment_status`, `invoice_status`, `payment_status`: none / partial / full,
  derived from the lines' shipped and invoiced quantities and from payments
  (app/orders/progress.py, `refresh_progress`).
Amounts are per line, rounded per app/catalog/pricing.py; a document's totals are the
sums of its lines. Quantities carry 3 decimals, like the stock ledger. A line's
`price_source` says where its unit price came from: customer / tier / all (a price
list, `price_list_id` names it), list_price, or manual (typed in by someone holding
prices:override).
Quotes and orders are visible to whoever can see their customer (data scope follows
the customer).
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from app.db import one_of, record_columns, tenant_metadata

ORDER_STATUSES = ("draft", "confirmed", "closed", "cancelled")
# Stored quote statuses; "expired" is derived (a sent quote past valid_until).
QUOTE_STATUSES = ("draft", "sent", "accepted", "rejected", "superseded")
PROGRESS = ("none", "partial", "full")
PRICE_SOURCES = ("customer", "tier", "all", "list_price", "manual")

QUANTITY = Numeric(18, 3)
UNIT_PRICE = Numeric(18, 4)
MONEY = Numeric(18, 2)


def _line_columns() -> list:
    """What a quote line and an order line share: the product, the price and how it
    was found, and the rounded amounts."""
    return [
        Column("position", Integer, nullable=False),
        Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
        Column("quantity", QUANTITY, nullable=False),
        Column("unit_price", UNIT_PRICE, nullable=False),
        Column("discount_percent", Numeric(5, 2), nullable=False, server_default="0"),
        Column("tax_rate", Numeric(5, 4), nullable=False),
        Column("price_source", Text, nullable=False),
        Column("price_list_id", Uuid, ForeignKey("price_lists.id")),
        Column("net_amount", MONEY, nullable=False),
        Column("tax_amount", MONEY, nullable=False),
        Column("gross_amount", MONEY, nullable=False),
    ]


def _line_checks() -> list:
    return [
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
        CheckConstraint("discount_percent >= 0 AND discount_percent <= 100", name="discount"),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="tax_rate"),
        CheckConstraint(one_of("price_source", PRICE_SOURCES), name="price_source"),
    ]


quotes = Table(
    "quotes",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # QT-2026-000123, shared by the family
    Column("family_id", Uuid, nullable=False),  # the first version's id
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("prices_include_tax", Boolean, nullable=False, server_default="false"),
    Column("quote_date", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("net_total", MONEY, nullable=False, server_default="0"),
    Column("tax_total", MONEY, nullable=False, server_default="0"),
    Column("gross_total", MONEY, nullable=False, server_default="0"),
    Column("notes", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True)),
    Column("accepted_by", Uuid),
    Column("rejected_at", DateTime(timezone=True)),
    Column("reject_reason", Text),
    Column("superseded_at", DateTime(timezone=True)),
    *record_columns(),
    UniqueConstraint("number", "revision", name="uq_quotes_number_revision"),
    UniqueConstraint("family_id", "revision", name="uq_quotes_family_id_revision"),
    CheckConstraint(one_of("status", QUOTE_STATUSES), name="status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("revision >= 1", name="revision"),
    CheckConstraint("valid_until >= quote_date", name="valid_until"),
    Index("ix_quotes_customer_id", "customer_id", "quote_date", "id"),
    Index("ix_quotes_status", "status", "valid_until", "id"),
    Index("ix_quotes_quote_date", "quote_date", "id"),
    Index("ix_quotes_valid_until", "valid_until", "id"),
    Index("ix_quotes_gross_total", "gross_total", "id"),
)

quote_lines = Table(
    "quote_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("quote_id", Uuid, ForeignKey("quotes.id", ondelete="CASCADE"), nullable=False),
    *_line_columns(),
    *record_columns(),
    UniqueConstraint("quote_id", "position", name="uq_quote_lines_quote_id_position"),
    *_line_checks(),
    Index("ix_quote_lines_product_id", "product_id"),
)

sales_orders = Table(
    "sales_orders",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # SO-2026-000123 (app/numbering)
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("currency", Text, nullable=False),
    # Unit prices on this order include tax (含税) or not; from the price list.
    Column("prices_include_tax", Boolean, nullable=False, server_default="false"),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    # The accepted quote it came from, if any (unique: a quote makes one order).
    Column("quote_id", Uuid, ForeignKey("quotes.id")),
    Column("order_date", Date, nullable=False),
    Column("requested_date", Date),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("fulfilment_status", Text, nullable=False, server_default="none"),
    Column("invoice_status", Text, nullable=False, server_default="none"),
    Column("payment_status", Text, nullable=False, server_default="none"),
    Column("net_total", MONEY, nullable=False, server_default="0"),
    Column("tax_total", MONEY, nullable=False, server_default="0"),
    Column("gross_total", MONEY, nullable=False, server_default="0"),
    Column("notes", Text),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("confirmed_by", Uuid),
    Column("closed_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancel_reason", Text),
    *record_columns(),
    UniqueConstraint("number", name="uq_sales_orders_number"),
    CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
    CheckConstraint(one_of("fulfilment_status", PROGRESS), name="fulfilment_status"),
    CheckConstraint(one_of("invoice_status", PROGRESS), name="invoice_status"),
    CheckConstraint(one_of("payment_status", PROGRESS), name="payment_status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    Index("ix_sales_orders_customer_id", "customer_id", "order_date", "id"),
    # The customer timeline (app/activities/timeline.py): newest created first.
    Index("ix_sales_orders_customer_created", "customer_id", "created_at", "id"),
    Index("ix_sales_orders_status", "status", "order_date", "id"),
    Index("ix_sales_orders_order_date", "order_date", "id"),
    Index("ix_sales_orders_warehouse_id", "warehouse_id"),
    Index("ix_sales_orders_quote_id", "quote_id", unique=True),
    Index("ix_sales_orders_fulfilment_status", "fulfilment_status", "order_date", "id"),
    Index("ix_sales_orders_invoice_status", "invoice_status", "order_date", "id"),
    Index("ix_sales_orders_payment_status", "payment_status", "order_date", "id"),
    Index("ix_sales_orders_gross_total", "gross_total", "id"),
)

sales_order_lines = Table(
    "sales_order_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("sales_orders.id", ondelete="CASCADE"), nullable=False),
    *_line_columns(),
    Column("shipped_quantity", QUANTITY, nullable=False, server_default="0"),
    Column("returned_quantity", QUANTITY, nullable=False, server_default="0"),
    Column("invoiced_quantity", QUANTITY, nullable=False, server_default="0"),
    *record_columns(),
    UniqueConstraint("order_id", "position", name="uq_sales_order_lines_order_id_position"),
    *_line_checks(),
    CheckConstraint("shipped_quantity >= 0 AND shipped_quantity <= quantity", name="shipped"),
    CheckConstraint(
        "returned_quantity >= 0 AND returned_quantity <= shipped_quantity", name="returned"
    ),
    CheckConstraint("invoiced_quantity >= 0", name="invoiced"),
    Index("ix_sales_order_lines_product_id", "product_id"),
)
