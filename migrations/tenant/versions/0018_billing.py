"""tenant: shipments, returns, invoices, credit notes and payments

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23

Additive: new tables only (app/billing/tables.py says what the columns mean).
Every column the billing lists filter or sort on is indexed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "allocated_amount",
            sa.Numeric(precision=18, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="unallocated", nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_payments_currency")),
        sa.CheckConstraint(
            "status in ('unallocated', 'partially_allocated', 'allocated')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint(
            "allocated_amount >= 0 AND allocated_amount <= amount",
            name=op.f("ck_payments_allocated"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("number", name="uq_payments_number"),
    )
    op.create_index("ix_payments_amount", "payments", ["amount", "id"], unique=False)
    op.create_index(
        "ix_payments_customer_id", "payments", ["customer_id", "received_on", "id"], unique=False
    )
    op.create_index("ix_payments_received_on", "payments", ["received_on", "id"], unique=False)
    op.create_index("ix_payments_status", "payments", ["status", "received_on", "id"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="issued", nullable=False),
        sa.Column(
            "net_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "tax_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "gross_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "paid_amount", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_invoices_currency")),
        sa.CheckConstraint(
            "status in ('issued', 'partially_paid', 'paid', 'void')",
            name=op.f("ck_invoices_status"),
        ),
        sa.CheckConstraint("due_date >= invoice_date", name=op.f("ck_invoices_due_date")),
        sa.CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= gross_total", name=op.f("ck_invoices_paid_amount")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], name=op.f("fk_invoices_order_id_sales_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
    )
    op.create_index(
        "ix_invoices_customer_id", "invoices", ["customer_id", "invoice_date", "id"], unique=False
    )
    op.create_index("ix_invoices_due_date", "invoices", ["due_date", "id"], unique=False)
    op.create_index("ix_invoices_gross_total", "invoices", ["gross_total", "id"], unique=False)
    op.create_index("ix_invoices_invoice_date", "invoices", ["invoice_date", "id"], unique=False)
    op.create_index(
        "ix_invoices_order_id", "invoices", ["order_id", "invoice_date", "id"], unique=False
    )
    op.create_index(
        "ix_invoices_status", "invoices", ["status", "invoice_date", "id"], unique=False
    )
    op.create_table(
        "sales_returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("return_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="received", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("credit_note_id", sa.Uuid(), nullable=True),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("status in ('received')", name=op.f("ck_sales_returns_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_returns_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], name=op.f("fk_sales_returns_order_id_sales_orders")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_sales_returns_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_returns")),
        sa.UniqueConstraint("number", name="uq_sales_returns_number"),
    )
    op.create_index(
        "ix_sales_returns_customer_id",
        "sales_returns",
        ["customer_id", "return_date", "id"],
        unique=False,
    )
    op.create_index(
        "ix_sales_returns_order_id",
        "sales_returns",
        ["order_id", "return_date", "id"],
        unique=False,
    )
    op.create_index(
        "ix_sales_returns_return_date", "sales_returns", ["return_date", "id"], unique=False
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("shipment_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="shipped", nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("status in ('shipped')", name=op.f("ck_shipments_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_shipments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], name=op.f("fk_shipments_order_id_sales_orders")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_shipments_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("number", name="uq_shipments_number"),
    )
    op.create_index(
        "ix_shipments_customer_id",
        "shipments",
        ["customer_id", "shipment_date", "id"],
        unique=False,
    )
    op.create_index(
        "ix_shipments_order_id", "shipments", ["order_id", "shipment_date", "id"], unique=False
    )
    op.create_index(
        "ix_shipments_shipment_date", "shipments", ["shipment_date", "id"], unique=False
    )
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("credit_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column(
            "net_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "tax_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "gross_total", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "applied_amount", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_credit_notes_currency")),
        sa.CheckConstraint(
            "status in ('open', 'partially_applied', 'applied')",
            name=op.f("ck_credit_notes_status"),
        ),
        sa.CheckConstraint(
            "applied_amount >= 0 AND applied_amount <= gross_total",
            name=op.f("ck_credit_notes_applied_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credit_notes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_orders.id"], name=op.f("fk_credit_notes_order_id_sales_orders")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["sales_returns.id"],
            name=op.f("fk_credit_notes_return_id_sales_returns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
    )
    op.create_index(
        "ix_credit_notes_credit_date", "credit_notes", ["credit_date", "id"], unique=False
    )
    op.create_index(
        "ix_credit_notes_customer_id",
        "credit_notes",
        ["customer_id", "credit_date", "id"],
        unique=False,
    )
    op.create_index(
        "ix_credit_notes_order_id", "credit_notes", ["order_id", "credit_date", "id"], unique=False
    )
    op.create_index("ix_credit_notes_return_id", "credit_notes", ["return_id"], unique=False)
    op.create_index(
        "ix_credit_notes_status", "credit_notes", ["status", "credit_date", "id"], unique=False
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "discount_percent", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False
        ),
        sa.Column("tax_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("net_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tax_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("gross_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_invoice_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_invoice_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_invoice_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint("invoice_id", "position", name="uq_invoice_lines_invoice_id_position"),
    )
    op.create_index(
        "ix_invoice_lines_order_line_id", "invoice_lines", ["order_line_id"], unique=False
    )
    op.create_table(
        "sales_return_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column(
            "credited_quantity",
            sa.Numeric(precision=18, scale=3),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "credited_quantity >= 0 AND credited_quantity <= quantity",
            name=op.f("ck_sales_return_lines_credited"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sales_return_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_sales_return_lines_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_sales_return_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sales_return_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["sales_returns.id"],
            name=op.f("fk_sales_return_lines_return_id_sales_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_return_lines")),
        sa.UniqueConstraint(
            "return_id", "position", name="uq_sales_return_lines_return_id_position"
        ),
    )
    op.create_index(
        "ix_sales_return_lines_order_line_id", "sales_return_lines", ["order_line_id"], unique=False
    )
    op.create_table(
        "shipment_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_shipment_lines_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_shipment_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_shipment_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_lines_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_lines")),
        sa.UniqueConstraint(
            "shipment_id", "position", name="uq_shipment_lines_shipment_id_position"
        ),
    )
    op.create_index(
        "ix_shipment_lines_order_line_id", "shipment_lines", ["order_line_id"], unique=False
    )
    op.create_table(
        "credit_note_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "discount_percent", sa.Numeric(precision=5, scale=2), server_default="0", nullable=False
        ),
        sa.Column("tax_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("net_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tax_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("gross_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_credit_note_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_credit_note_lines_credit_note_id_credit_notes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_credit_note_lines_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_credit_note_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_lines")),
        sa.UniqueConstraint(
            "credit_note_id", "position", name="uq_credit_note_lines_credit_note_id_position"
        ),
    )
    op.create_index(
        "ix_credit_note_lines_order_line_id", "credit_note_lines", ["order_line_id"], unique=False
    )
    op.create_table(
        "payment_allocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("credit_note_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("allocated_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(payment_id IS NULL) <> (credit_note_id IS NULL)",
            name=op.f("ck_payment_allocations_one_source"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_allocations_amount")),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_payment_allocations_credit_note_id_credit_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_allocations_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_allocations_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
    )
    op.create_index(
        "ix_payment_allocations_credit_note_id",
        "payment_allocations",
        ["credit_note_id"],
        unique=False,
    )
    op.create_index(
        "ix_payment_allocations_invoice_id", "payment_allocations", ["invoice_id"], unique=False
    )
    op.create_index(
        "ix_payment_allocations_payment_id", "payment_allocations", ["payment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("payment_allocations")
    op.drop_table("payments")
    op.drop_table("credit_note_lines")
    op.drop_table("credit_notes")
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    op.drop_table("sales_return_lines")
    op.drop_table("sales_returns")
    op.drop_table("shipment_lines")
    op.drop_table("shipments")
