"""tenant: quotes, sales orders and their lines

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23

Additive: new tables only (app/orders/tables.py says what the columns mean).
Every column the quotes and orders lists filter or sort on is indexed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]  # fmt: skip


def _line_columns() -> list[sa.Column]:
    return [
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(18, 3), nullable=False),
        sa.Column("unit_price", sa.Numeric(18, 4), nullable=False),
        sa.Column("discount_percent", sa.Numeric(5, 2), server_default="0", nullable=False),
        sa.Column("tax_rate", sa.Numeric(5, 4), nullable=False),
        sa.Column("price_source", sa.Text(), nullable=False),
        sa.Column("price_list_id", sa.Uuid(), nullable=True),
        sa.Column("net_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("tax_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("gross_amount", sa.Numeric(18, 2), nullable=False),
    ]


def _line_constraints(table: str) -> list:
    return [
        sa.CheckConstraint("quantity > 0", name=f"ck_{table}_quantity"),
        sa.CheckConstraint("unit_price >= 0", name=f"ck_{table}_unit_price"),
        sa.CheckConstraint(
            "discount_percent >= 0 AND discount_percent <= 100", name=f"ck_{table}_discount"
        ),
        sa.CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name=f"ck_{table}_tax_rate"),
        sa.CheckConstraint(
            "price_source in ('customer', 'tier', 'all', 'list_price', 'manual')",
            name=f"ck_{table}_price_source",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=f"fk_{table}_product_id_products"
        ),
        sa.ForeignKeyConstraint(
            ["price_list_id"], ["price_lists.id"], name=f"fk_{table}_price_list_id_price_lists"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "quotes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("quote_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("net_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("tax_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("gross_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        *_record_columns(),
        sa.CheckConstraint(
            "status in ('draft', 'sent', 'accepted', 'rejected', 'superseded')",
            name="ck_quotes_status",
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_quotes_currency"),
        sa.CheckConstraint("revision >= 1", name="ck_quotes_revision"),
        sa.CheckConstraint("valid_until >= quote_date", name="ck_quotes_valid_until"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_quotes_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
        sa.UniqueConstraint("number", "revision", name="uq_quotes_number_revision"),
        sa.UniqueConstraint("family_id", "revision", name="uq_quotes_family_id_revision"),
    )  # fmt: skip
    op.create_index("ix_quotes_customer_id", "quotes", ["customer_id", "quote_date", "id"])
    op.create_index("ix_quotes_status", "quotes", ["status", "valid_until", "id"])
    op.create_index("ix_quotes_quote_date", "quotes", ["quote_date", "id"])
    op.create_index("ix_quotes_valid_until", "quotes", ["valid_until", "id"])
    op.create_index("ix_quotes_gross_total", "quotes", ["gross_total", "id"])
    op.create_table(
        "quote_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        *_line_columns(),
        *_record_columns(),
        *_line_constraints("quote_lines"),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], ondelete="CASCADE",
            name="fk_quote_lines_quote_id_quotes",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quote_lines"),
        sa.UniqueConstraint("quote_id", "position", name="uq_quote_lines_quote_id_position"),
    )  # fmt: skip
    op.create_index("ix_quote_lines_product_id", "quote_lines", ["product_id"])
    op.create_table(
        "sales_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=True),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("requested_date", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("fulfilment_status", sa.Text(), server_default="none", nullable=False),
        sa.Column("invoice_status", sa.Text(), server_default="none", nullable=False),
        sa.Column("payment_status", sa.Text(), server_default="none", nullable=False),
        sa.Column("net_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("tax_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("gross_total", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        *_record_columns(),
        sa.CheckConstraint(
            "status in ('draft', 'confirmed', 'closed', 'cancelled')",
            name="ck_sales_orders_status",
        ),
        sa.CheckConstraint(
            "fulfilment_status in ('none', 'partial', 'full')",
            name="ck_sales_orders_fulfilment_status",
        ),
        sa.CheckConstraint(
            "invoice_status in ('none', 'partial', 'full')", name="ck_sales_orders_invoice_status"
        ),
        sa.CheckConstraint(
            "payment_status in ('none', 'partial', 'full')", name="ck_sales_orders_payment_status"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_sales_orders_currency"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_sales_orders_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name="fk_sales_orders_warehouse_id_warehouses"
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name="fk_sales_orders_quote_id_quotes"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sales_orders"),
        sa.UniqueConstraint("number", name="uq_sales_orders_number"),
    )  # fmt: skip
    op.create_index(
        "ix_sales_orders_customer_id", "sales_orders", ["customer_id", "order_date", "id"]
    )
    op.create_index("ix_sales_orders_status", "sales_orders", ["status", "order_date", "id"])
    op.create_index("ix_sales_orders_order_date", "sales_orders", ["order_date", "id"])
    op.create_index("ix_sales_orders_warehouse_id", "sales_orders", ["warehouse_id"])
    op.create_index("ix_sales_orders_quote_id", "sales_orders", ["quote_id"], unique=True)
    for column in ("fulfilment_status", "invoice_status", "payment_status"):
        op.create_index(f"ix_sales_orders_{column}", "sales_orders", [column, "order_date", "id"])
    op.create_index("ix_sales_orders_gross_total", "sales_orders", ["gross_total", "id"])
    op.create_table(
        "sales_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        *_line_columns(),
        sa.Column("shipped_quantity", sa.Numeric(18, 3), server_default="0", nullable=False),
        sa.Column("returned_quantity", sa.Numeric(18, 3), server_default="0", nullable=False),
        sa.Column("invoiced_quantity", sa.Numeric(18, 3), server_default="0", nullable=False),
        *_record_columns(),
        *_line_constraints("sales_order_lines"),
        sa.CheckConstraint(
            "shipped_quantity >= 0 AND shipped_quantity <= quantity",
            name="ck_sales_order_lines_shipped",
        ),
        sa.CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= shipped_quantity",
            name="ck_sales_order_lines_returned",
        ),
        sa.CheckConstraint("invoiced_quantity >= 0", name="ck_sales_order_lines_invoiced"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], ondelete="CASCADE",
            name="fk_sales_order_lines_order_id_sales_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sales_order_lines"),
        sa.UniqueConstraint(
            "order_id", "position", name="uq_sales_order_lines_order_id_position"
        ),
    )  # fmt: skip
    op.create_index("ix_sales_order_lines_product_id", "sales_order_lines", ["product_id"])


def downgrade() -> None:
    op.drop_table("sales_order_lines")
    op.drop_table("sales_orders")
    op.drop_table("quote_lines")
    op.drop_table("quotes")
