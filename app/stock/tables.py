"""The stock capability's tables: warehouses, batches, the ledger and its balances,
reservations, stock takes and reorder rules.

The ledger (ARCHITECTURE.md: stock is a ledger):
- `stock_moves` is append-only: every change of on-hand stock is a signed move of one
  product in one warehouse (and one batch for batch-tracked products). Moves of one
  operation share a `stock_postings` row (a transfer's pair, a receipt's lines, a
  stock take's differences); the posting's id is the operation's idempotency key.
- `stock_levels` (product x warehouse: on hand, reserved, available) and
  `stock_batch_levels` (product x warehouse x batch: on hand) are the balances, changed
  only in the transaction that writes the moves, by conditional UPDATEs on rows locked
  in key order; CHECK constraints make a negative or over-reserved balance impossible
  whatever the code does.
- `stock_reservations`: one row per reserving document line (a sales order line); its
  open quantity (reserved - consumed - released) is what it holds, and a level's
  `reserved` is always the sum of its open reservations.

Quantities are numeric(18,3) (Decimal in Python, a decimal string in GraphQL).
Warehouses and batches are never deleted (moves point at them); warehouses are
deactivated instead.
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
    func,
    text,
)

from app.db import one_of, record_columns, tenant_metadata

QUANTITY = Numeric(18, 3)

WAREHOUSE_KINDS = ("standard", "consignment")
# receipt 入库, issue 出库, transfer 调拨 (a pair: out of one warehouse, into another),
# adjustment (with a reason), stock_take 盘点 (a count's difference), return 退货入库.
MOVE_KINDS = ("receipt", "issue", "transfer", "adjustment", "stock_take", "return")
STOCK_TAKE_STATUSES = ("draft", "posted", "cancelled")


warehouses = Table(
    "warehouses",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", Text, nullable=False),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    # standard: our own; consignment: a transit warehouse at a customer holding goods
    # sent but not yet settled (中转仓, 视同本公司仓库), which names that customer.
    Column("kind", Text, nullable=False, server_default="standard"),
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    UniqueConstraint("code", name="uq_warehouses_code"),
    CheckConstraint(one_of("kind", WAREHOUSE_KINDS), name="kind"),
    CheckConstraint("(kind = 'consignment') = (customer_id IS NOT NULL)", name="customer"),
    Index("ix_warehouses_name", "name", "id"),
    Index("ix_warehouses_kind", "kind", "code"),
    Index("ix_warehouses_active", "active", "code"),
    Index("ix_warehouses_customer_id", "customer_id"),
)

batches = Table(
    "batches",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("code", Text, nullable=False),
    Column("expires_on", Date),
    Column("produced_on", Date),
    # The sort and range key: a batch without an expiry date never expires.
    Column("expiry_key", Date, Computed("COALESCE(expires_on, 'infinity'::date)", persisted=True)),
    *record_columns(),
    UniqueConstraint("product_id", "code", name="uq_batches_product_id_code"),
    # The target of (batch_id, product_id) foreign keys: a move's batch is a batch of
    # the move's product.
    UniqueConstraint("id", "product_id", name="uq_batches_id_product_id"),
    CheckConstraint("produced_on <= expires_on", name="dates"),
    Index("ix_batches_expiry_key", "expiry_key", "id"),
    Index("ix_batches_product_expiry", "product_id", "expiry_key", "id"),
    Index("ix_batches_created_at", "created_at", "id"),
    Index("ix_batches_code", "code"),  # a lot number across products (recalls)
)

stock_postings = Table(
    "stock_postings",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    # A digest of the request: a repeated call with the same id and the same request
    # is answered with the moves it made; the same id with another request conflicts.
    Column("fingerprint", Text, nullable=False),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(one_of("kind", MOVE_KINDS), name="kind"),
)

stock_moves = Table(
    "stock_moves",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("posting_id", Uuid, ForeignKey("stock_postings.id"), nullable=False),
    Column("line", Integer, nullable=False),  # its place in the posting
    Column("kind", Text, nullable=False),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("batch_id", Uuid),
    Column("quantity", QUANTITY, nullable=False),
    Column("reason", Text),
    # The document that caused it (a shipment, a purchase receipt, a stock take), and
    # the document line (the order line a shipment fulfils), when there is one.
    Column("source_type", Text),
    Column("source_id", Uuid),
    Column("source_line_id", Uuid),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(
        ["batch_id", "product_id"],
        ["batches.id", "batches.product_id"],
        name="fk_stock_moves_batch_id_batches",
    ),  # fmt: skip
    UniqueConstraint("posting_id", "line", name="uq_stock_moves_posting_id_line"),
    CheckConstraint(one_of("kind", MOVE_KINDS), name="kind"),
    CheckConstraint("quantity <> 0", name="quantity"),
    CheckConstraint("kind NOT IN ('receipt', 'return') OR quantity > 0", name="inbound"),
    CheckConstraint("kind <> 'issue' OR quantity < 0", name="outbound"),
    CheckConstraint("kind <> 'adjustment' OR reason IS NOT NULL", name="adjustment_reason"),
    CheckConstraint("(source_type IS NULL) = (source_id IS NULL)", name="source"),
    Index("ix_stock_moves_created_at", "created_at", "id"),
    Index("ix_stock_moves_product_id", "product_id", "created_at", "id"),
    Index("ix_stock_moves_warehouse_id", "warehouse_id", "created_at", "id"),
    Index(
        "ix_stock_moves_batch_id",
        "batch_id",
        "created_at",
        "id",
        postgresql_where=text("batch_id IS NOT NULL"),
    ),  # fmt: skip
    Index("ix_stock_moves_kind", "kind", "created_at", "id"),
    Index(
        "ix_stock_moves_source",
        "source_type",
        "source_id",
        "created_at",
        "id",
        postgresql_where=text("source_id IS NOT NULL"),
    ),  # fmt: skip
)

stock_levels = Table(
    "stock_levels",
    tenant_metadata,
    Column("product_id", Uuid, ForeignKey("products.id"), primary_key=True),
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), primary_key=True),
    Column("on_hand", QUANTITY, nullable=False, server_default="0"),
    Column("reserved", QUANTITY, nullable=False, server_default="0"),
    Column("available", QUANTITY, Computed("on_hand - reserved", persisted=True)),
    # The reorder rule's minimum (reorder_rules keeps it here in the same transaction),
    # so "below its minimum" is a stored flag with a partial index: lowStock and the
    # alert job read only the rows that are low.
    Column("min_quantity", QUANTITY),
    Column("below_min", Boolean, Computed("on_hand - reserved < min_quantity", persisted=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("on_hand >= 0", name="on_hand"),
    CheckConstraint("reserved >= 0", name="reserved"),
    CheckConstraint("reserved <= on_hand", name="reserved_on_hand"),
    CheckConstraint("min_quantity >= 0", name="min_quantity"),
    Index("ix_stock_levels_warehouse_id", "warehouse_id", "product_id"),
    Index("ix_stock_levels_available", "available", "product_id", "warehouse_id"),
    Index("ix_stock_levels_warehouse_available", "warehouse_id", "available", "product_id"),
    Index("ix_stock_levels_updated_at", "updated_at", "product_id", "warehouse_id"),
    Index(
        "ix_stock_levels_below_min",
        "warehouse_id",
        "product_id",
        postgresql_where=text("below_min"),
    ),  # fmt: skip
)

stock_batch_levels = Table(
    "stock_batch_levels",
    tenant_metadata,
    Column("product_id", Uuid, primary_key=True),
    Column("warehouse_id", Uuid, primary_key=True),
    Column("batch_id", Uuid, primary_key=True),
    Column("on_hand", QUANTITY, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(
        ["product_id", "warehouse_id"],
        ["stock_levels.product_id", "stock_levels.warehouse_id"],
        name="fk_stock_batch_levels_product_id_stock_levels",
    ),  # fmt: skip
    ForeignKeyConstraint(
        ["batch_id", "product_id"],
        ["batches.id", "batches.product_id"],
        name="fk_stock_batch_levels_batch_id_batches",
    ),  # fmt: skip
    CheckConstraint("on_hand >= 0", name="on_hand"),
    Index("ix_stock_batch_levels_batch_id", "batch_id", "warehouse_id"),
    Index("ix_stock_batch_levels_warehouse_id", "warehouse_id", "product_id", "batch_id"),
)

stock_reservations = Table(
    "stock_reservations",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("source_type", Text, nullable=False),
    Column("source_id", Uuid, nullable=False),
    Column("source_line_id", Uuid, nullable=False),
    Column("product_id", Uuid, nullable=False),
    Column("warehouse_id", Uuid, nullable=False),
    Column("quantity", QUANTITY, nullable=False),  # reserved over its life
    Column("consumed", QUANTITY, nullable=False, server_default="0"),  # issued
    Column("released", QUANTITY, nullable=False, server_default="0"),  # let go
    Column("open_quantity", QUANTITY, Computed("quantity - consumed - released", persisted=True)),
    *record_columns(),
    ForeignKeyConstraint(
        ["product_id", "warehouse_id"],
        ["stock_levels.product_id", "stock_levels.warehouse_id"],
        name="fk_stock_reservations_product_id_stock_levels",
    ),  # fmt: skip
    UniqueConstraint(
        "source_type", "source_id", "source_line_id", name="uq_stock_reservations_source"
    ),
    CheckConstraint("quantity > 0", name="quantity"),
    CheckConstraint("consumed >= 0", name="consumed"),
    CheckConstraint("released >= 0", name="released"),
    CheckConstraint("consumed + released <= quantity", name="open_quantity"),
    Index(
        "ix_stock_reservations_open",
        "product_id",
        "warehouse_id",
        postgresql_where=text("quantity - consumed - released > 0"),
    ),  # fmt: skip
)

reorder_rules = Table(
    "reorder_rules",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("product_id", Uuid, nullable=False),
    Column("warehouse_id", Uuid, nullable=False),
    Column("min_quantity", QUANTITY, nullable=False),
    Column("max_quantity", QUANTITY, nullable=False),
    # When the current low-stock episode began (the alert job sets it and alerts once;
    # it clears it when available is back at or above the minimum).
    Column("low_since", DateTime(timezone=True)),
    *record_columns(),
    ForeignKeyConstraint(
        ["product_id", "warehouse_id"],
        ["stock_levels.product_id", "stock_levels.warehouse_id"],
        name="fk_reorder_rules_product_id_stock_levels",
    ),  # fmt: skip
    UniqueConstraint("product_id", "warehouse_id", name="uq_reorder_rules_product_id_warehouse_id"),
    CheckConstraint("min_quantity >= 0", name="min_quantity"),
    CheckConstraint("max_quantity >= min_quantity", name="max_quantity"),
    Index("ix_reorder_rules_warehouse_id", "warehouse_id", "product_id"),
    Index(
        "ix_reorder_rules_low_since", "low_since", postgresql_where=text("low_since IS NOT NULL")
    ),
)

stock_takes = Table(
    "stock_takes",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # ST-2026-000001
    Column("warehouse_id", Uuid, ForeignKey("warehouses.id"), nullable=False),
    Column("status", Text, nullable=False, server_default="draft"),
    # True when the sheet covers only some products (a cycle count); else the whole
    # warehouse.
    Column("partial", Boolean, nullable=False, server_default="false"),
    Column("note", Text),
    Column("snapshot_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("posted_at", DateTime(timezone=True)),
    Column("posted_by", Uuid),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("posting_id", Uuid, ForeignKey("stock_postings.id")),
    *record_columns(),
    UniqueConstraint("number", name="uq_stock_takes_number"),
    CheckConstraint(one_of("status", STOCK_TAKE_STATUSES), name="status"),
    CheckConstraint("(status = 'posted') = (posted_at IS NOT NULL)", name="posted_at"),
    CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at"),
    Index("ix_stock_takes_created_at", "created_at", "id"),
    Index("ix_stock_takes_warehouse_id", "warehouse_id", "created_at", "id"),
    Index("ix_stock_takes_status", "status", "created_at", "id"),
)

stock_take_lines = Table(
    "stock_take_lines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("stock_take_id", Uuid, ForeignKey("stock_takes.id"), nullable=False),
    Column("product_id", Uuid, ForeignKey("products.id"), nullable=False),
    Column("batch_id", Uuid),
    # On hand when the sheet was made (0 for a line added while counting).
    Column("expected", QUANTITY, nullable=False),
    Column("counted", QUANTITY),
    Column("difference", QUANTITY, Computed("counted - expected", persisted=True)),
    Column("counted_at", DateTime(timezone=True)),
    Column("counted_by", Uuid),
    ForeignKeyConstraint(
        ["batch_id", "product_id"],
        ["batches.id", "batches.product_id"],
        name="fk_stock_take_lines_batch_id_batches",
    ),  # fmt: skip
    UniqueConstraint(
        "stock_take_id",
        "product_id",
        "batch_id",
        name="uq_stock_take_lines_item",
        postgresql_nulls_not_distinct=True,
    ),  # fmt: skip
    CheckConstraint("expected >= 0", name="expected"),
    CheckConstraint("counted >= 0", name="counted"),
    CheckConstraint("(counted IS NULL) = (counted_at IS NULL)", name="counted_at"),
    Index("ix_stock_take_lines_stock_take_id", "stock_take_id", "product_id", "id"),
)
