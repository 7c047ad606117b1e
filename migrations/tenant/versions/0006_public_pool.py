"""tenant: ownership history, tenant settings for the public pool

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Additive: two new tables. Every tenant (new ones too, since provisioning runs all
migrations) gets its pool settings row: a claim limit of 200 customers per user and
no automatic reclaim until an admin sets a period. Ownership history starts now:
owners set earlier have no history row (the reclaim job falls back to
customers.updated_at for them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pool_settings",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("claim_limit", sa.Integer(), nullable=True),
        sa.Column("reclaim_after_days", sa.Integer(), nullable=True),
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
        sa.CheckConstraint("id", name="ck_pool_settings_singleton"),
        sa.CheckConstraint("claim_limit >= 0", name="ck_pool_settings_claim_limit"),
        sa.CheckConstraint(
            "reclaim_after_days > 0", name="ck_pool_settings_reclaim_after_days"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pool_settings"),
    )  # fmt: skip
    op.execute(
        "INSERT INTO pool_settings (id, claim_limit, reclaim_after_days) VALUES (true, 200, NULL)"
    )
    op.create_table(
        "customer_ownership_changes",
        sa.Column(
            "id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_owner_id", sa.Uuid(), nullable=True),
        sa.Column("to_owner_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind in ('create', 'claim', 'release', 'transfer', 'reclaim', 'update')",
            name="ck_customer_ownership_changes_kind",
        ),
        sa.CheckConstraint(
            "from_owner_id IS DISTINCT FROM to_owner_id",
            name="ck_customer_ownership_changes_changes_owner",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name="fk_customer_ownership_changes_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["from_owner_id"], ["users.id"],
            name="fk_customer_ownership_changes_from_owner_id_users",
        ),
        sa.ForeignKeyConstraint(
            ["to_owner_id"], ["users.id"],
            name="fk_customer_ownership_changes_to_owner_id_users",
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"],
            name="fk_customer_ownership_changes_changed_by_users",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_ownership_changes"),
    )  # fmt: skip
    op.create_index(
        "ix_customer_ownership_changes_customer_id",
        "customer_ownership_changes",
        ["customer_id", "changed_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("customer_ownership_changes")
    op.drop_table("pool_settings")
