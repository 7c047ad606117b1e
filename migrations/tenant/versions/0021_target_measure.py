"""tenant: sales targets of order value (订单额) besides amount won

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-24

The measure of a target already has its column: `sales_targets.metric` (text NOT NULL
DEFAULT 'won_amount', since 0009), and it is already part of the unique key
`uq_sales_targets_subject` (period, scope, team_id, user_id, metric, currency), so a
subject may have a won-amount and an order-value target for the same month. Existing
targets keep 'won_amount' and mean what they meant. All that changes is the CHECK
listing the metrics, which now also allows 'order_value': a catalogue change plus one
check of the existing rows of `sales_targets` (a few rows per subject and month; no
other table is touched, nothing is rewritten).

No index: the order-value aggregate reads the counted orders of a month through
`ix_sales_orders_status` (status, order_date, id) and each one's customer by primary
key (tests/targets/test_order_value_plan.py checks the plan).

Downgrade deletes the order-value targets (the old CHECK cannot hold them).
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("ck_sales_targets_metric", "sales_targets", type_="check")
    op.create_check_constraint(
        "ck_sales_targets_metric", "sales_targets", "metric in ('won_amount', 'order_value')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM sales_targets WHERE metric <> 'won_amount'")
    op.drop_constraint("ck_sales_targets_metric", "sales_targets", type_="check")
    op.create_check_constraint(
        "ck_sales_targets_metric", "sales_targets", "metric in ('won_amount')"
    )
