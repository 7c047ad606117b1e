"""tenant: warehouses, batches, the stock ledger, reservations, stock takes, reorder rules

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

Additive: new tables only, plus one more notification kind (`low_stock`, the
low-stock alert job's). Tenants start without warehouses, so without stock.
Balances (`stock_levels`, `stock_batch_levels`) change only with the moves that
explain them, in the same transaction; CHECK constraints keep them from going
negative or reserving more than is on hand.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Q = sa.Numeric(18, 3)
NOW = sa.text("now()")


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


MOVE_KINDS = "kind in ('receipt', 'issue', 'transfer', 'adjustment', 'stock_take', 'return')"


def _level_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["product_id", "warehouse_id"], ["stock_levels.product_id", "stock_levels.warehouse_id"],
        name=f"fk_{table}_product_id_stock_levels",
    )  # fmt: skip


def _batch_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["batch_id", "product_id"], ["batches.id", "batches.product_id"],
        name=f"fk_{table}_batch_id_batches",
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("kind", sa.Text(), server_default="standard", nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_record_columns(),
        sa.CheckConstraint("kind in ('standard', 'consignment')", name="ck_warehouses_kind"),
        sa.CheckConstraint(
            "(kind = 'consignment') = (customer_id IS NOT NULL)", name="ck_warehouses_customer"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_warehouses_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_warehouses"),
        sa.UniqueConstraint("code", name="uq_warehouses_code"),
    )
    op.create_index("ix_warehouses_name", "warehouses", ["name", "id"])
    op.create_index("ix_warehouses_kind", "warehouses", ["kind", "code"])
    op.create_index("ix_warehouses_active", "warehouses", ["active", "code"])
    op.create_index("ix_warehouses_customer_id", "warehouses", ["customer_id"])

    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("produced_on", sa.Date(), nullable=True),
        sa.Column(
            "expiry_key",
            sa.Date(),
            sa.Computed("COALESCE(expires_on, 'infinity'::date)", persisted=True),
        ),  # fmt: skip
        *_record_columns(),
        sa.CheckConstraint("produced_on <= expires_on", name="ck_batches_dates"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_batches_product_id_products"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
        sa.UniqueConstraint("product_id", "code", name="uq_batches_product_id_code"),
        sa.UniqueConstraint("id", "product_id", name="uq_batches_id_product_id"),
    )
    op.create_index("ix_batches_expiry_key", "batches", ["expiry_key", "id"])
    op.create_index("ix_batches_product_expiry", "batches", ["product_id", "expiry_key", "id"])
    op.create_index("ix_batches_created_at", "batches", ["created_at", "id"])
    op.create_index("ix_batches_code", "batches", ["code"])

    op.create_table(
        "stock_postings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(MOVE_KINDS, name="ck_stock_postings_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_postings"),
    )

    op.create_table(
        "stock_moves",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", Q, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_type", sa.Text(), nullable=True),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("source_line_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(MOVE_KINDS, name="ck_stock_moves_kind"),
        sa.CheckConstraint("quantity <> 0", name="ck_stock_moves_quantity"),
        sa.CheckConstraint(
            "kind NOT IN ('receipt', 'return') OR quantity > 0", name="ck_stock_moves_inbound"
        ),
        sa.CheckConstraint("kind <> 'issue' OR quantity < 0", name="ck_stock_moves_outbound"),
        sa.CheckConstraint(
            "kind <> 'adjustment' OR reason IS NOT NULL", name="ck_stock_moves_adjustment_reason"
        ),
        sa.CheckConstraint(
            "(source_type IS NULL) = (source_id IS NULL)", name="ck_stock_moves_source"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["stock_postings.id"], name="fk_stock_moves_posting_id_stock_postings"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_stock_moves_product_id_products"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name="fk_stock_moves_warehouse_id_warehouses"
        ),
        _batch_fk("stock_moves"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_moves"),
        sa.UniqueConstraint("posting_id", "line", name="uq_stock_moves_posting_id_line"),
    )
    op.create_index("ix_stock_moves_created_at", "stock_moves", ["created_at", "id"])
    op.create_index("ix_stock_moves_product_id", "stock_moves", ["product_id", "created_at", "id"])
    op.create_index(
        "ix_stock_moves_warehouse_id", "stock_moves", ["warehouse_id", "created_at", "id"]
    )
    op.create_index(
        "ix_stock_moves_batch_id", "stock_moves", ["batch_id", "created_at", "id"],
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )  # fmt: skip
    op.create_index("ix_stock_moves_kind", "stock_moves", ["kind", "created_at", "id"])
    op.create_index(
        "ix_stock_moves_source", "stock_moves", ["source_type", "source_id", "created_at", "id"],
        postgresql_where=sa.text("source_id IS NOT NULL"),
    )  # fmt: skip

    op.create_table(
        "stock_levels",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", Q, server_default="0", nullable=False),
        sa.Column("reserved", Q, server_default="0", nullable=False),
        sa.Column("available", Q, sa.Computed("on_hand - reserved", persisted=True)),
        sa.Column("min_quantity", Q, nullable=True),
        sa.Column(
            "below_min",
            sa.Boolean(),
            sa.Computed("on_hand - reserved < min_quantity", persisted=True),
        ),  # fmt: skip
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_levels_on_hand"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_levels_reserved"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_levels_reserved_on_hand"),
        sa.CheckConstraint("min_quantity >= 0", name="ck_stock_levels_min_quantity"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_stock_levels_product_id_products"
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name="fk_stock_levels_warehouse_id_warehouses"
        ),
        sa.PrimaryKeyConstraint("product_id", "warehouse_id", name="pk_stock_levels"),
    )
    op.create_index("ix_stock_levels_warehouse_id", "stock_levels", ["warehouse_id", "product_id"])
    op.create_index(
        "ix_stock_levels_available", "stock_levels", ["available", "product_id", "warehouse_id"]
    )
    op.create_index(
        "ix_stock_levels_warehouse_available", "stock_levels",
        ["warehouse_id", "available", "product_id"],
    )  # fmt: skip
    op.create_index(
        "ix_stock_levels_updated_at", "stock_levels", ["updated_at", "product_id", "warehouse_id"]
    )
    op.create_index(
        "ix_stock_levels_below_min", "stock_levels", ["warehouse_id", "product_id"],
        postgresql_where=sa.text("below_min"),
    )  # fmt: skip

    op.create_table(
        "stock_batch_levels",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", Q, server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_batch_levels_on_hand"),
        _level_fk("stock_batch_levels"),
        _batch_fk("stock_batch_levels"),
        sa.PrimaryKeyConstraint(
            "product_id", "warehouse_id", "batch_id", name="pk_stock_batch_levels"
        ),
    )
    op.create_index(
        "ix_stock_batch_levels_batch_id", "stock_batch_levels", ["batch_id", "warehouse_id"]
    )
    op.create_index(
        "ix_stock_batch_levels_warehouse_id", "stock_batch_levels",
        ["warehouse_id", "product_id", "batch_id"],
    )  # fmt: skip

    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("source_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", Q, nullable=False),
        sa.Column("consumed", Q, server_default="0", nullable=False),
        sa.Column("released", Q, server_default="0", nullable=False),
        sa.Column(
            "open_quantity", Q, sa.Computed("quantity - consumed - released", persisted=True)
        ),
        *_record_columns(),
        sa.CheckConstraint("quantity > 0", name="ck_stock_reservations_quantity"),
        sa.CheckConstraint("consumed >= 0", name="ck_stock_reservations_consumed"),
        sa.CheckConstraint("released >= 0", name="ck_stock_reservations_released"),
        sa.CheckConstraint(
            "consumed + released <= quantity", name="ck_stock_reservations_open_quantity"
        ),
        _level_fk("stock_reservations"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservations"),
        sa.UniqueConstraint(
            "source_type", "source_id", "source_line_id", name="uq_stock_reservations_source"
        ),
    )
    op.create_index(
        "ix_stock_reservations_open", "stock_reservations", ["product_id", "warehouse_id"],
        postgresql_where=sa.text("quantity - consumed - released > 0"),
    )  # fmt: skip

    op.create_table(
        "reorder_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("min_quantity", Q, nullable=False),
        sa.Column("max_quantity", Q, nullable=False),
        sa.Column("low_since", sa.DateTime(timezone=True), nullable=True),
        *_record_columns(),
        sa.CheckConstraint("min_quantity >= 0", name="ck_reorder_rules_min_quantity"),
        sa.CheckConstraint("max_quantity >= min_quantity", name="ck_reorder_rules_max_quantity"),
        _level_fk("reorder_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_reorder_rules"),
        sa.UniqueConstraint(
            "product_id", "warehouse_id", name="uq_reorder_rules_product_id_warehouse_id"
        ),
    )
    op.create_index(
        "ix_reorder_rules_warehouse_id", "reorder_rules", ["warehouse_id", "product_id"]
    )
    op.create_index(
        "ix_reorder_rules_low_since", "reorder_rules", ["low_since"],
        postgresql_where=sa.text("low_since IS NOT NULL"),
    )  # fmt: skip

    op.create_table(
        "stock_takes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("partial", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_by", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posting_id", sa.Uuid(), nullable=True),
        *_record_columns(),
        sa.CheckConstraint(
            "status in ('draft', 'posted', 'cancelled')", name="ck_stock_takes_status"
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (posted_at IS NOT NULL)", name="ck_stock_takes_posted_at"
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name="ck_stock_takes_cancelled_at",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name="fk_stock_takes_warehouse_id_warehouses"
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["stock_postings.id"], name="fk_stock_takes_posting_id_stock_postings"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stock_takes"),
        sa.UniqueConstraint("number", name="uq_stock_takes_number"),
    )
    op.create_index("ix_stock_takes_created_at", "stock_takes", ["created_at", "id"])
    op.create_index(
        "ix_stock_takes_warehouse_id", "stock_takes", ["warehouse_id", "created_at", "id"]
    )
    op.create_index("ix_stock_takes_status", "stock_takes", ["status", "created_at", "id"])

    op.create_table(
        "stock_take_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stock_take_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("expected", Q, nullable=False),
        sa.Column("counted", Q, nullable=True),
        sa.Column("difference", Q, sa.Computed("counted - expected", persisted=True)),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counted_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("expected >= 0", name="ck_stock_take_lines_expected"),
        sa.CheckConstraint("counted >= 0", name="ck_stock_take_lines_counted"),
        sa.CheckConstraint(
            "(counted IS NULL) = (counted_at IS NULL)", name="ck_stock_take_lines_counted_at"
        ),
        sa.ForeignKeyConstraint(
            ["stock_take_id"],
            ["stock_takes.id"],
            name="fk_stock_take_lines_stock_take_id_stock_takes",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_stock_take_lines_product_id_products"
        ),
        _batch_fk("stock_take_lines"),
        sa.PrimaryKeyConstraint("id", name="pk_stock_take_lines"),
        sa.UniqueConstraint(
            "stock_take_id",
            "product_id",
            "batch_id",
            name="uq_stock_take_lines_item",
            postgresql_nulls_not_distinct=True,
        ),  # fmt: skip
    )
    op.create_index(
        "ix_stock_take_lines_stock_take_id", "stock_take_lines",
        ["stock_take_id", "product_id", "id"],
    )  # fmt: skip

    # The low-stock alert job writes notifications of its own kind.
    op.drop_constraint("ck_notifications_kind", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_kind", "notifications",
        "kind in ('task_due', 'appointment_soon', 'low_stock')",
    )  # fmt: skip


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'low_stock'")
    op.drop_constraint("ck_notifications_kind", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_kind", "notifications", "kind in ('task_due', 'appointment_soon')"
    )
    for table in (
        "stock_take_lines", "stock_takes", "reorder_rules", "stock_reservations",
        "stock_batch_levels", "stock_levels", "stock_moves", "stock_postings", "batches",
        "warehouses",
    ):  # fmt: skip
        op.drop_table(table)
