"""tenant: customers assigned to a partner (distributor) user

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Additive: a nullable column, its foreign key and a partial index (the column is empty
when the index is built).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("partner_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_customers_partner_id_users", "customers", "users", ["partner_id"], ["id"]
    )
    # Data scope "assigned" and the partnerId filter look customers up by partner.
    op.create_index(
        "ix_customers_partner_id",
        "customers",
        ["partner_id"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_customers_partner_id", "customers")
    op.drop_constraint("fk_customers_partner_id_users", "customers", type_="foreignkey")
    op.drop_column("customers", "partner_id")
