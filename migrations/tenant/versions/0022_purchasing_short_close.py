"""tenant: short-closing purchase orders, and the goods receipt list

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-24

- `purchase_orders`: a `closed` status (结案: a partially received order whose
  remainder will never come, app/purchasing/lifecycle.py) with who closed it, when
  and why (`closed_at`, `closed_by`, `close_reason`, nullable), and a check that a
  closed order, and only a closed one, has them.
- `goods_receipts`: the indexes of `goodsReceipts` (by receipt date, and by receipt
  date within a warehouse).

No rewrite: nullable columns without a default change only the catalog, and both
checks are swapped in the same ALTER TABLE (one lock, one sequential read to check
the existing rows, which hold: none is closed yet). NOT VALID followed by VALIDATE
would buy nothing here, since the runner holds the lock until the tenant's migration
commits anyway.
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BEFORE = ("draft", "sent", "partially_received", "received", "cancelled")
AFTER = (*BEFORE, "closed")


def _status_check(statuses: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{s}'" for s in statuses)
    return f"ADD CONSTRAINT ck_purchase_orders_status CHECK (status in ({listed}))"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE purchase_orders"
        " ADD COLUMN closed_at timestamptz,"
        " ADD COLUMN closed_by uuid,"
        " ADD COLUMN close_reason text,"
        " DROP CONSTRAINT ck_purchase_orders_status,"
        f" {_status_check(AFTER)},"
        " ADD CONSTRAINT ck_purchase_orders_closed_at"
        " CHECK ((status = 'closed') = (closed_at IS NOT NULL AND close_reason IS NOT NULL))"
    )
    op.create_index("ix_goods_receipts_received_on", "goods_receipts", ["received_on", "id"])
    op.create_index(
        "ix_goods_receipts_warehouse_id", "goods_receipts", ["warehouse_id", "received_on", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_goods_receipts_warehouse_id", table_name="goods_receipts")
    op.drop_index("ix_goods_receipts_received_on", table_name="goods_receipts")
    # A closed order can only have been partially received before (the lifecycle's one
    # way in): it goes back to that, its remainder on order again. Who closed it and why
    # stay in the audit trail.
    op.execute(
        "ALTER TABLE purchase_orders DROP CONSTRAINT ck_purchase_orders_closed_at,"
        " DROP CONSTRAINT ck_purchase_orders_status"
    )
    op.execute("UPDATE purchase_orders SET status = 'partially_received' WHERE status = 'closed'")
    op.execute(
        f"ALTER TABLE purchase_orders {_status_check(BEFORE)},"
        " DROP COLUMN closed_at, DROP COLUMN closed_by, DROP COLUMN close_reason"
    )
