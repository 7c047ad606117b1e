"""Shipments (发货), sales returns (退货), invoices (开票), credit notes, payments
(回款) and their allocations: the back half of order to cash, in one capability
because a return ties the stock side (goods back) to the money side (a credit note)
in one transaction, and every document here has one lifecycle table
(app/billing/lifecycle.py).

- A shipment ships part or all of a confirmed order's reserved quantities; its lines
  name the order lines (`order_line_id`). Shipped is final (`status` shipped). The
  batches the ledger issued for each line are kept in `shipment_line_batches` (批次追溯:
  what left in which batch, who received batch X, what came back of it).
- A sales return takes goods back against shipped lines into a warehouse; when any of
  the returned quantity had been invoiced, it makes a credit note for that part
  (`credit_note_id`); goods returned before they were invoiced simply reduce what can
  still be invoiced (nothing was billed, so nothing is credited).
- An invoice bills shipped, not yet invoiced quantities of one order, priced from the
  order lines (app/catalog/pricing.py). Status issued -> partially_paid -> paid, or
  issued -> void; `paid_amount` is what payments and credit notes allocated to it.
- A credit note (CN) is money owed back to the customer for returned invoiced goods;
  it is applied to invoices like a payment (`applied_amount`).
- A payment is money received in one currency; allocations spread it (and credit
  notes) over the customer's open invoices; the unallocated rest stays on the
  payment as customer credit (status unallocated / partially_allocated / allocated).
Every document belongs to one customer (`customer_id`), follows it on merge, and is
visible exactly when the customer is. Money is numeric(18, 2), quantities (18, 3).
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from app.db import one_of, record_columns, tenant_metadata

QUANTITY = Numeric(18, 3)
UNIT_PRICE = Numeric(18, 4)
MONEY = Numeric(18, 2)

INVOICE_STATUSES = ("issued", "partially_paid", "paid", "void")
# Money is still owed on them (app/billing/receivables.py reads these first).
OPEN_INVOICE_STATUSES = ("issued", "partially_paid")
CREDIT_NOTE_STATUSES = ("open", "partially_applied", "applied")
PAYMENT_STATUSES = ("unallocated", "partially_allocated", "allocated")


def _doc_line_columns() -> list:
    return [
        Column("position", Integer, nullable=False),
        Column("order_line_id", Uuid, ForeignKey("sales_order_lines.id"), nullable=False),
        Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
        Column("quantity", QUANTITY, nullable=False),
    ]


def _priced_columns() -> list:
    return [
        Column("unit_price", UNIT_PRICE, nullable=False),
        Column("discount_percent", Numeric(5, 2), nullable=False, server_default="0"),
        Column("tax_rate", Numeric(5, 4), nullable=False),
        Column("net_amount", MONEY, nullable=False),
        Column("tax_amount", MONEY, nullable=False),
        Column("gross_amount", MONEY, nullable=False),
    ]


def _totals() -> list:
    return [
        Column("net_total", MONEY, nullable=False, server_default="0"),
        Column("tax_total", MONEY, nullable=False, server_default="0"),
        Column("gross_total", MONEY, nullable=False, server_default="0"),
    ]


shipments = Table(
    "shipments",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # SH-2026-000123
    Column("order_id", Uuid, ForeignKey("sales_orders.id"), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("shipment_date", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="shipped"),
    Column("fingerprint", Text, nullable=False),  # the request, for idempotent retries
    Column("notes", Text),
    *record_columns(),
    UniqueConstraint("number", name="uq_shipments_number"),
    CheckConstraint("status in ('shipped')", name="status"),
    Index("ix_shipments_customer_id", "customer_id", "shipment_date", "id"),
    Index("ix_shipments_order_id", "order_id", "shipment_date", "id"),
    Index("ix_shipments_shipment_date", "shipment_date", "id"),
)

shipment_lines = Table(
    "shipment_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipment_id", Uuid, ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
    *_doc_line_columns(),
    Column("batch_id", Uuid, ForeignKey("batches.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("shipment_id", "position", name="uq_shipment_lines_shipment_id_position"),
    CheckConstraint("quantity > 0", name="quantity"),
    Index("ix_shipment_lines_order_line_id", "order_line_id"),
)

# What the ledger actually issued for a shipment line: one row per issue move of a
# batch-tracked product (a first-expiring-first pick may split a line over batches),
# written with the moves. `returned_quantity` is what came back of it, so a return
# can go back only into a batch its line shipped. `shipment_date` is copied (a
# shipment never changes) so a recall pages by (batch, date) from one index.
shipment_line_batches = Table(
    "shipment_line_batches",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipment_id", Uuid, ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False),
    Column(
        "shipment_line_id",
        Uuid,
        ForeignKey("shipment_lines.id", ondelete="CASCADE"),
        nullable=False,
    ),  # fmt: skip
    Column("order_line_id", Uuid, ForeignKey("sales_order_lines.id"), nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("batch_id", Uuid, nullable=False),
    Column("move_id", Uuid, ForeignKey("stock_moves.id"), nullable=False),
    Column("shipment_date", Date, nullable=False),
    Column("quantity", QUANTITY, nullable=False),
    Column("returned_quantity", QUANTITY, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(
        ["batch_id", "product_id"],
        ["batches.id", "batches.product_id"],
        name="fk_shipment_line_batches_batch_id_batches",
    ),  # fmt: skip
    UniqueConstraint("move_id", name="uq_shipment_line_batches_move_id"),
    CheckConstraint("quantity > 0", name="quantity"),
    CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity", name="returned"),
    Index("ix_shipment_line_batches_batch_id", "batch_id", "shipment_date", "id"),
    Index("ix_shipment_line_batches_shipment_line_id", "shipment_line_id"),
    Index("ix_shipment_line_batches_order_line_id", "order_line_id", "batch_id"),
)

sales_returns = Table(
    "sales_returns",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # RT-2026-000123
    Column("order_id", Uuid, ForeignKey("sales_orders.id"), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("return_date", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="received"),
    Column("reason", Text),
    Column("credit_note_id", Uuid),  # the credit for the invoiced part, if any
    Column("fingerprint", Text, nullable=False),
    *record_columns(),
    UniqueConstraint("number", name="uq_sales_returns_number"),
    CheckConstraint("status in ('received')", name="status"),
    Index("ix_sales_returns_customer_id", "customer_id", "return_date", "id"),
    Index("ix_sales_returns_order_id", "order_id", "return_date", "id"),
    Index("ix_sales_returns_return_date", "return_date", "id"),
)

sales_return_lines = Table(
    "sales_return_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("return_id", Uuid, ForeignKey("sales_returns.id", ondelete="CASCADE"), nullable=False),
    *_doc_line_columns(),
    Column("batch_id", Uuid, ForeignKey("batches.id")),
    Column("credited_quantity", QUANTITY, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("return_id", "position", name="uq_sales_return_lines_return_id_position"),
    CheckConstraint("quantity > 0", name="quantity"),
    CheckConstraint("credited_quantity >= 0 AND credited_quantity <= quantity", name="credited"),
    Index("ix_sales_return_lines_order_line_id", "order_line_id"),
)

invoices = Table(
    "invoices",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # INV-2026-000123
    Column("order_id", Uuid, ForeignKey("sales_orders.id"), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("prices_include_tax", Boolean, nullable=False, server_default="false"),
    Column("invoice_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="issued"),
    *_totals(),
    Column("paid_amount", MONEY, nullable=False, server_default="0"),
    Column("fingerprint", Text, nullable=False),
    Column("notes", Text),
    Column("voided_at", DateTime(timezone=True)),
    Column("void_reason", Text),
    *record_columns(),
    UniqueConstraint("number", name="uq_invoices_number"),
    CheckConstraint(one_of("status", INVOICE_STATUSES), name="status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("paid_amount >= 0 AND paid_amount <= gross_total", name="paid_amount"),
    CheckConstraint("due_date >= invoice_date", name="due_date"),
    Index("ix_invoices_customer_id", "customer_id", "invoice_date", "id"),
    Index("ix_invoices_order_id", "order_id", "invoice_date", "id"),
    Index("ix_invoices_status", "status", "invoice_date", "id"),
    Index("ix_invoices_invoice_date", "invoice_date", "id"),
    Index("ix_invoices_due_date", "due_date", "id"),
    Index("ix_invoices_gross_total", "gross_total", "id"),
    # Receivables read only what is still owed: a small slice of all invoices ever issued.
    Index(
        "ix_invoices_open",
        "customer_id",
        "currency",
        postgresql_where=text("status IN ('issued', 'partially_paid')"),
    ),
)

invoice_lines = Table(
    "invoice_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    *_doc_line_columns(),
    *_priced_columns(),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_id_position"),
    CheckConstraint("quantity > 0", name="quantity"),
    Index("ix_invoice_lines_order_line_id", "order_line_id"),
)

credit_notes = Table(
    "credit_notes",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # CN-2026-000123
    Column("order_id", Uuid, ForeignKey("sales_orders.id"), nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("return_id", Uuid, ForeignKey("sales_returns.id")),
    Column("currency", Text, nullable=False),
    Column("credit_date", Date, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    *_totals(),
    Column("applied_amount", MONEY, nullable=False, server_default="0"),
    *record_columns(),
    UniqueConstraint("number", name="uq_credit_notes_number"),
    CheckConstraint(one_of("status", CREDIT_NOTE_STATUSES), name="status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("applied_amount >= 0 AND applied_amount <= gross_total", name="applied_amount"),
    Index("ix_credit_notes_customer_id", "customer_id", "credit_date", "id"),
    Index("ix_credit_notes_order_id", "order_id", "credit_date", "id"),
    Index("ix_credit_notes_status", "status", "credit_date", "id"),
    Index("ix_credit_notes_credit_date", "credit_date", "id"),
    Index("ix_credit_notes_return_id", "return_id"),
)

credit_note_lines = Table(
    "credit_note_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "credit_note_id", Uuid, ForeignKey("credit_notes.id", ondelete="CASCADE"), nullable=False
    ),
    *_doc_line_columns(),
    *_priced_columns(),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint(
        "credit_note_id", "position", name="uq_credit_note_lines_credit_note_id_position"
    ),
    CheckConstraint("quantity > 0", name="quantity"),
    Index("ix_credit_note_lines_order_line_id", "order_line_id"),
)

payments = Table(
    "payments",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # PAY-2026-000123
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("allocated_amount", MONEY, nullable=False, server_default="0"),
    Column("received_on", Date, nullable=False),
    Column("method", Text),
    Column("reference", Text),
    Column("status", Text, nullable=False, server_default="unallocated"),
    Column("fingerprint", Text, nullable=False),
    *record_columns(),
    UniqueConstraint("number", name="uq_payments_number"),
    CheckConstraint(one_of("status", PAYMENT_STATUSES), name="status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("allocated_amount >= 0 AND allocated_amount <= amount", name="allocated"),
    Index("ix_payments_customer_id", "customer_id", "received_on", "id"),
    Index("ix_payments_status", "status", "received_on", "id"),
    Index("ix_payments_received_on", "received_on", "id"),
    Index("ix_payments_amount", "amount", "id"),
)

# One row per (payment or credit note) x invoice application; exactly one source.
payment_allocations = Table(
    "payment_allocations",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id"), nullable=False),
    Column("payment_id", Uuid, ForeignKey("payments.id")),
    Column("credit_note_id", Uuid, ForeignKey("credit_notes.id")),
    Column("amount", MONEY, nullable=False),
    Column("allocated_on", Date, nullable=False),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="amount"),
    CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="one_source"),
    Index("ix_payment_allocations_invoice_id", "invoice_id"),
    Index("ix_payment_allocations_payment_id", "payment_id"),
    Index("ix_payment_allocations_credit_note_id", "credit_note_id"),
    # Invoices paid after a past day were still owed on it (receivables as of that day).
    Index("ix_payment_allocations_allocated_on", "allocated_on", "invoice_id"),
)
