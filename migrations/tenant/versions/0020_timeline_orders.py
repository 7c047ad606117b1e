"""tenant: sales orders in the customer timeline

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24

Additive: one index. The customer timeline (app/activities/timeline.py) shows each
sales order once, at its `created_at`, and pages by keyset on (created_at, id)
within the customer, newest first. `ix_sales_orders_customer_id` is on
(customer_id, order_date, id): a date, so it cannot give the order of instants, and
a branch reading it would sort every order of the customer for each page. The new
index answers a page, however deep, and the feed's count as an index-only range.
Built in the migration's transaction like the other indexes (sales_orders grows by
orders a day, not by events).
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sales_orders_customer_created", "sales_orders", ["customer_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_sales_orders_customer_created", "sales_orders")
