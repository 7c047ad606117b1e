"""tenant: indexes for receivables as a connection (应收账款)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-24

Additive. `ix_invoices_open`: a partial index over the invoices still owed (status
issued / partially paid), so an ageing report reads those and never the paid history.
`ix_payment_allocations_allocated_on`: the invoices paid after a past day, which were
still owed on it (app/billing/receivables.py). Plain CREATE INDEX inside the tenant's
migration transaction: both tables are written only by billing mutations, and the
partial index is as small as the open invoices.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_invoices_open",
        "invoices",
        ["customer_id", "currency"],
        postgresql_where=sa.text("status IN ('issued', 'partially_paid')"),
    )
    op.create_index(
        "ix_payment_allocations_allocated_on",
        "payment_allocations",
        ["allocated_on", "invoice_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_payment_allocations_allocated_on", table_name="payment_allocations")
    op.drop_index("ix_invoices_open", table_name="invoices")
