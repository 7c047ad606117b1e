"""tenant: the discount a rep may give without prices:override (折扣权限)

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-24

`company_settings.discount_limit_percent`: line discounts above it need the
`prices:override` permission, like a unit price typed by hand (app/orders/lines.py).
Without a limit, a sales rep or a distributor's partner user could put a line at
100 % off with the price list still named as its price source.

ADD COLUMN with a constant default is a catalogue change (no rewrite) on PostgreSQL 11+,
and the table has one row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "company_settings",
        sa.Column("discount_limit_percent", sa.Numeric(5, 2), nullable=False, server_default="10"),
    )
    op.create_check_constraint(
        "ck_company_settings_discount_limit_percent",
        "company_settings",
        "discount_limit_percent >= 0 AND discount_limit_percent <= 100",
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_company_settings_discount_limit_percent", "company_settings", type_="check"
    )
    op.drop_column("company_settings", "discount_limit_percent")
