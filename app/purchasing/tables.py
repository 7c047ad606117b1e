"""The purchasing capability's tables: suppliers, purchase orders with their lines, and
goods receipts (入库单) with theirs.

- A purchase order (PO-2026-000001) buys from one supplier, in one currency, into one
  warehouse; its status changes only through app/purchasing/lifecycle.py. Its lines
  carry the amounts (app/catalog/pricing.py) and how much has been received;
  `received_quantity <= quantity` is a CHECK, so over-receipt is impossible whatever
  the code does.
- A goods receipt (GR-2026-000001) receives quantities against lines of one order and
  posts them as stock moves (kind `receipt`, source `purchase_receipt`, the posting
  id is the receipt's id) in the same transaction. Receipts are immutable; a receipt's
  id is the client's idempotency key (`fingerprint`: what was asked).

Quantities are numeric(18,3) like the stock ledger's; unit costs numeric(18,4) like
catalogue prices; amounts numeric(18,2), rounded per line.
Nothing here is deleted: suppliers are deactivated, orders cancelled.
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import one_of, record_columns, tenant_metadata

QUANTITY = Numeric(18, 3)
UNIT_COST = Numeric(18, 4)
AMOUNT = Numeric(18, 2)
RATE = Numeric(5, 4)

PO_STATUSES = ("draft", "sent", "partially_received", "received", "cancelled", "closed")
# Orders whose unreceived quantities are still coming (suggestedPurchases counts them).
OPEN_STATUSES = ("sent", "partially_received")


suppliers = Table(
    "suppliers",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", Text, nullable=False),  # unique per tenant
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("contact_name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("address", Text),
    # Days after the invoice the supplier expects payment (0: cash).
    Column("payment_terms_days", Integer, nullable=False, server_default="30"),
    # The currency new purchase orders to this supplier default to.
    Column("currency", Text, nullable=False),
    Column("notes", Text),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    # Unigrams and bigrams of code and name (app/customers/queries.text_search).
    Column(
        "search_tokens",
        ARRAY(Text),
        Computed("search_tokens(code || chr(10) || name)", persisted=True),
    ),
    UniqueConstraint("code", name="uq_suppliers_code"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("payment_terms_days >= 0 AND payment_terms_days <= 365", name="terms"),
    Index("ix_suppliers_name", "name", "id"),
    Index("ix_suppliers_created_at", "created_at", "id"),
    Index("ix_suppliers_active", "active", "code"),
    Index("ix_suppliers_search_tokens", "search_tokens", postgresql_using="gin"),
)

purchase_orders = Table(
    "purchase_orders",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # PO-2026-000001
    Column("supplier_id", Uuid, ForeignKey("suppliers.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("order_date", Date, nullable=False),
    Column("expected_date", Date, nullable=False),
    # Unit costs include tax (含税) or not; amounts follow app/catalog/pricing.py.
    Column("prices_include_tax", Boolean, nullable=False, server_default="false"),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("net_total", AMOUNT, nullable=False, server_default="0"),
    Column("tax_total", AMOUNT, nullable=False, server_default="0"),
    Column("gross_total", AMOUNT, nullable=False, server_default="0"),
    Column("notes", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("sent_by", Uuid),
    Column("received_at", DateTime(timezone=True)),  # when the last quantity came in
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancel_reason", Text),
    # A short-close (结案): the remainder of a partially received order will not come.
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", Uuid),
    Column("close_reason", Text),
    *record_columns(),
    UniqueConstraint("number", name="uq_purchase_orders_number"),
    CheckConstraint(one_of("status", PO_STATUSES), name="status"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at"),
    CheckConstraint("(status = 'received') = (received_at IS NOT NULL)", name="received_at"),
    CheckConstraint("(status IN ('draft', 'cancelled')) OR sent_at IS NOT NULL", name="sent_at"),
    CheckConstraint(
        "(status = 'closed') = (closed_at IS NOT NULL AND close_reason IS NOT NULL)",
        name="closed_at",
    ),
    Index("ix_purchase_orders_created_at", "created_at", "id"),
    Index("ix_purchase_orders_expected_date", "expected_date", "id"),
    Index("ix_purchase_orders_supplier_id", "supplier_id", "created_at", "id"),
    Index("ix_purchase_orders_warehouse_id", "warehouse_id", "created_at", "id"),
    Index("ix_purchase_orders_status", "status", "created_at", "id"),
    # What suggestedPurchases reads: the open orders of a warehouse.
    Index(
        "ix_purchase_orders_open",
        "warehouse_id",
        "id",
        postgresql_where=text("status IN ('sent', 'partially_received')"),
    ),  # fmt: skip
)

purchase_order_lines = Table(
    "purchase_order_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("purchase_orders.id"), nullable=False),
    Column("position", Integer, nullable=False),  # 0, 1, ... in the order given
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("quantity", QUANTITY, nullable=False),
    Column("unit_cost", UNIT_COST, nullable=False),
    Column("tax_rate", RATE, nullable=False),
    Column("net_amount", AMOUNT, nullable=False),
    Column("tax_amount", AMOUNT, nullable=False),
    Column("gross_amount", AMOUNT, nullable=False),
    Column("received_quantity", QUANTITY, nullable=False, server_default="0"),
    *record_columns(),
    UniqueConstraint("order_id", "position", name="uq_purchase_order_lines_order_id_position"),
    CheckConstraint("quantity > 0", name="quantity"),
    CheckConstraint("unit_cost >= 0", name="unit_cost"),
    CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="tax_rate"),
    # No over-receipt: a line never takes in more than was ordered.
    CheckConstraint(
        "received_quantity >= 0 AND received_quantity <= quantity", name="received_quantity"
    ),
    # A product's purchase history, newest first (its usual supplier).
    Index("ix_purchase_order_lines_product_id", "product_id", "created_at", "id"),
)

goods_receipts = Table(
    "goods_receipts",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),  # also the id of its stock posting
    Column("number", Text, nullable=False),  # GR-2026-000001
    Column("order_id", Uuid, ForeignKey("purchase_orders.id"), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("note", Text),
    Column("posting_id", Uuid, ForeignKey("stock_postings.id"), nullable=False),
    # A digest of the request: a retry with the same id and request is answered with
    # this receipt; the same id with another request conflicts.
    Column("fingerprint", Text, nullable=False),
    *record_columns(),
    UniqueConstraint("number", name="uq_goods_receipts_number"),
    UniqueConstraint("posting_id", name="uq_goods_receipts_posting_id"),
    Index("ix_goods_receipts_order_id", "order_id", "created_at", "id"),
    Index("ix_goods_receipts_created_at", "created_at", "id"),
    # goodsReceipts: by receipt date, alone or within one warehouse.
    Index("ix_goods_receipts_received_on", "received_on", "id"),
    Index("ix_goods_receipts_warehouse_id", "warehouse_id", "received_on", "id"),
)

goods_receipt_lines = Table(
    "goods_receipt_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("receipt_id", Uuid, ForeignKey("goods_receipts.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("order_line_id", Uuid, ForeignKey("purchase_order_lines.id"), nullable=False),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("quantity", QUANTITY, nullable=False),
    Column("batch_id", Uuid),
    Column("move_id", Uuid, ForeignKey("stock_moves.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    ForeignKeyConstraint(
        ["batch_id", "product_id"],
        ["batches.id", "batches.product_id"],
        name="fk_goods_receipt_lines_batch_id_batches",
    ),  # fmt: skip
    UniqueConstraint("receipt_id", "position", name="uq_goods_receipt_lines_receipt_id_position"),
    CheckConstraint("quantity > 0", name="quantity"),
    Index("ix_goods_receipt_lines_order_line_id", "order_line_id"),
)
