"""tenant: suppliers, purchase orders and goods receipts

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23

Additive: new tables only (app/purchasing/tables.py says what the columns mean). The
PO and GR number sequences exist since 0015.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Q = sa.Numeric(18, 3)
COST = sa.Numeric(18, 4)
MONEY = sa.Numeric(18, 2)
NOW = sa.text("now()")


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("payment_terms_days", sa.Integer(), server_default="30", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_record_columns(),
        sa.Column(
            "search_tokens", postgresql.ARRAY(sa.Text()),
            sa.Computed("search_tokens(code || chr(10) || name)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_suppliers_currency"),
        sa.CheckConstraint(
            "payment_terms_days >= 0 AND payment_terms_days <= 365", name="ck_suppliers_terms"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_suppliers"),
        sa.UniqueConstraint("code", name="uq_suppliers_code"),
    )  # fmt: skip
    op.create_index("ix_suppliers_name", "suppliers", ["name", "id"])
    op.create_index("ix_suppliers_created_at", "suppliers", ["created_at", "id"])
    op.create_index("ix_suppliers_active", "suppliers", ["active", "code"])
    op.create_index(
        "ix_suppliers_search_tokens", "suppliers", ["search_tokens"], postgresql_using="gin"
    )

    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("supplier_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("net_total", MONEY, server_default="0", nullable=False),
        sa.Column("tax_total", MONEY, server_default="0", nullable=False),
        sa.Column("gross_total", MONEY, server_default="0", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        *_record_columns(),
        sa.CheckConstraint(
            "status in ('draft', 'sent', 'partially_received', 'received', 'cancelled')",
            name="ck_purchase_orders_status",
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_purchase_orders_currency"),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name="ck_purchase_orders_cancelled_at",
        ),
        sa.CheckConstraint(
            "(status = 'received') = (received_at IS NOT NULL)",
            name="ck_purchase_orders_received_at",
        ),
        sa.CheckConstraint(
            "(status IN ('draft', 'cancelled')) OR sent_at IS NOT NULL",
            name="ck_purchase_orders_sent_at",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name="fk_purchase_orders_supplier_id_suppliers"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"],
            name="fk_purchase_orders_warehouse_id_warehouses",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_purchase_orders"),
        sa.UniqueConstraint("number", name="uq_purchase_orders_number"),
    )  # fmt: skip
    op.create_index("ix_purchase_orders_created_at", "purchase_orders", ["created_at", "id"])
    op.create_index("ix_purchase_orders_expected_date", "purchase_orders", ["expected_date", "id"])
    op.create_index(
        "ix_purchase_orders_supplier_id", "purchase_orders", ["supplier_id", "created_at", "id"]
    )
    op.create_index(
        "ix_purchase_orders_warehouse_id", "purchase_orders",
        ["warehouse_id", "created_at", "id"],
    )  # fmt: skip
    op.create_index("ix_purchase_orders_status", "purchase_orders", ["status", "created_at", "id"])
    op.create_index(
        "ix_purchase_orders_open", "purchase_orders", ["warehouse_id", "id"],
        postgresql_where=sa.text("status IN ('sent', 'partially_received')"),
    )  # fmt: skip

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", Q, nullable=False),
        sa.Column("unit_cost", COST, nullable=False),
        sa.Column("tax_rate", sa.Numeric(5, 4), nullable=False),
        sa.Column("net_amount", MONEY, nullable=False),
        sa.Column("tax_amount", MONEY, nullable=False),
        sa.Column("gross_amount", MONEY, nullable=False),
        sa.Column("received_quantity", Q, server_default="0", nullable=False),
        *_record_columns(),
        sa.CheckConstraint("quantity > 0", name="ck_purchase_order_lines_quantity"),
        sa.CheckConstraint("unit_cost >= 0", name="ck_purchase_order_lines_unit_cost"),
        sa.CheckConstraint(
            "tax_rate >= 0 AND tax_rate < 1", name="ck_purchase_order_lines_tax_rate"
        ),
        sa.CheckConstraint(
            "received_quantity >= 0 AND received_quantity <= quantity",
            name="ck_purchase_order_lines_received_quantity",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["purchase_orders.id"],
            name="fk_purchase_order_lines_order_id_purchase_orders",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_purchase_order_lines_product_id_products"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_purchase_order_lines"),
        sa.UniqueConstraint(
            "order_id", "position", name="uq_purchase_order_lines_order_id_position"
        ),
    )  # fmt: skip
    op.create_index(
        "ix_purchase_order_lines_product_id", "purchase_order_lines",
        ["product_id", "created_at", "id"],
    )  # fmt: skip

    op.create_table(
        "goods_receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["order_id"], ["purchase_orders.id"],
            name="fk_goods_receipts_order_id_purchase_orders",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name="fk_goods_receipts_warehouse_id_warehouses"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["stock_postings.id"],
            name="fk_goods_receipts_posting_id_stock_postings",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_goods_receipts"),
        sa.UniqueConstraint("number", name="uq_goods_receipts_number"),
        sa.UniqueConstraint("posting_id", name="uq_goods_receipts_posting_id"),
    )  # fmt: skip
    op.create_index(
        "ix_goods_receipts_order_id", "goods_receipts", ["order_id", "created_at", "id"]
    )
    op.create_index("ix_goods_receipts_created_at", "goods_receipts", ["created_at", "id"])

    op.create_table(
        "goods_receipt_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("receipt_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", Q, nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("move_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_goods_receipt_lines_quantity"),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["goods_receipts.id"],
            name="fk_goods_receipt_lines_receipt_id_goods_receipts",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["purchase_order_lines.id"],
            name="fk_goods_receipt_lines_order_line_id_purchase_order_lines",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_goods_receipt_lines_product_id_products"
        ),
        sa.ForeignKeyConstraint(
            ["move_id"], ["stock_moves.id"], name="fk_goods_receipt_lines_move_id_stock_moves"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id", "product_id"], ["batches.id", "batches.product_id"],
            name="fk_goods_receipt_lines_batch_id_batches",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_goods_receipt_lines"),
        sa.UniqueConstraint(
            "receipt_id", "position", name="uq_goods_receipt_lines_receipt_id_position"
        ),
    )  # fmt: skip
    op.create_index(
        "ix_goods_receipt_lines_order_line_id", "goods_receipt_lines", ["order_line_id"]
    )


def downgrade() -> None:
    op.drop_table("goods_receipt_lines")
    op.drop_table("goods_receipts")
    op.drop_table("purchase_order_lines")
    op.drop_table("purchase_orders")
    op.drop_table("suppliers")
