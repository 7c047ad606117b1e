"""tenant: shipped batches (batch traceability for recalls)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-24

Additive: `shipment_line_batches`, one row per issue move of a batch-tracked product
made by a shipment (app/billing/tables.py says what the columns mean).

Backfill: the ledger already names each shipment's moves (source_type 'shipment',
source_id = the shipment, source_line_id = the order line, and a shipment names an
order line at most once), so every past shipment gets its rows from its moves. What
past returns took back of a batch (sales_return_lines.batch_id) is spread over that
order line's rows of the batch, earliest shipment first, capped at what each shipped.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BACKFILL_SHIPPED = """
INSERT INTO shipment_line_batches (id, shipment_id, shipment_line_id, order_line_id,
                                   product_id, batch_id, move_id, shipment_date, quantity,
                                   created_at)
SELECT gen_random_uuid(), s.id, l.id, l.order_line_id, m.product_id, m.batch_id, m.id,
       s.shipment_date, -m.quantity, m.created_at
FROM stock_moves m
JOIN shipments s ON s.id = m.source_id
JOIN shipment_lines l ON l.shipment_id = s.id AND l.order_line_id = m.source_line_id
WHERE m.source_type = 'shipment' AND m.kind = 'issue' AND m.batch_id IS NOT NULL
"""

BACKFILL_RETURNED = """
WITH back AS (
    SELECT order_line_id, batch_id, sum(quantity) AS returned
    FROM sales_return_lines WHERE batch_id IS NOT NULL
    GROUP BY order_line_id, batch_id
), spread AS (
    SELECT b.id, b.quantity, back.returned,
           coalesce(sum(b.quantity) OVER (
               PARTITION BY b.order_line_id, b.batch_id
               ORDER BY b.shipment_date, b.created_at, b.id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM shipment_line_batches b
    JOIN back ON back.order_line_id = b.order_line_id AND back.batch_id = b.batch_id
)
UPDATE shipment_line_batches t
SET returned_quantity = least(spread.quantity, greatest(spread.returned - spread.before, 0))
FROM spread WHERE t.id = spread.id
"""


def upgrade() -> None:
    op.create_table(
        "shipment_line_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("shipment_line_id", sa.Uuid(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("move_id", sa.Uuid(), nullable=False),
        sa.Column("shipment_date", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column(
            "returned_quantity",
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
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_line_batches_quantity")),
        sa.CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity",
            name=op.f("ck_shipment_line_batches_returned"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id", "product_id"],
            ["batches.id", "batches.product_id"],
            name="fk_shipment_line_batches_batch_id_batches",
        ),
        sa.ForeignKeyConstraint(
            ["move_id"],
            ["stock_moves.id"],
            name=op.f("fk_shipment_line_batches_move_id_stock_moves"),
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_shipment_line_batches_order_line_id_sales_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_line_batches_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_line_id"],
            ["shipment_lines.id"],
            name=op.f("fk_shipment_line_batches_shipment_line_id_shipment_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_line_batches")),
        sa.UniqueConstraint("move_id", name="uq_shipment_line_batches_move_id"),
    )
    op.create_index(
        "ix_shipment_line_batches_batch_id",
        "shipment_line_batches",
        ["batch_id", "shipment_date", "id"],
    )
    op.create_index(
        "ix_shipment_line_batches_shipment_line_id",
        "shipment_line_batches",
        ["shipment_line_id"],
    )
    op.create_index(
        "ix_shipment_line_batches_order_line_id",
        "shipment_line_batches",
        ["order_line_id", "batch_id"],
    )
    op.execute(BACKFILL_SHIPPED)
    op.execute(BACKFILL_RETURNED)


def downgrade() -> None:
    op.drop_table("shipment_line_batches")
