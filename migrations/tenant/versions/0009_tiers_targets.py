"""tenant: tier rules, tier changes, sales targets

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

Additive: three new tables, no change to existing ones. Tenants start without tier
rules (tiers stay as people set them until an admin defines rules) and without
targets. The live rules' priorities are unique, checked at commit (deferred), so a
rule set may swap two priorities in one transaction; a removed rule's priority is
NULL.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _record_columns() -> list[sa.Column]:
    return [
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
    ]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "tier_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column(
            "conditions", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        *_record_columns(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("tier in ('A', 'B', 'C')", name="ck_tier_rules_tier"),
        sa.CheckConstraint("priority >= 0", name="ck_tier_rules_priority"),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (priority IS NOT NULL)", name="ck_tier_rules_live_priority"
        ),
        sa.CheckConstraint(
            "jsonb_typeof(conditions) = 'object'", name="ck_tier_rules_conditions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tier_rules"),
        sa.UniqueConstraint(
            "priority", name="uq_tier_rules_priority", deferrable=True, initially="DEFERRED"
        ),
    )  # fmt: skip
    op.create_table(
        "customer_tier_changes",
        sa.Column(
            "id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_tier", sa.Text(), nullable=True),
        sa.Column("to_tier", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "evaluated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "to_tier in ('A', 'B', 'C')", name="ck_customer_tier_changes_to_tier"
        ),
        sa.CheckConstraint(
            "from_tier IS DISTINCT FROM to_tier", name="ck_customer_tier_changes_changes_tier"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name="fk_customer_tier_changes_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["tier_rules.id"], name="fk_customer_tier_changes_rule_id_tier_rules"
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name="fk_customer_tier_changes_changed_by_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_tier_changes"),
    )  # fmt: skip
    op.create_index(
        "ix_customer_tier_changes_customer_id",
        "customer_tier_changes",
        ["customer_id", "evaluated_at", "id"],
    )
    op.create_index("ix_customer_tier_changes_rule_id", "customer_tier_changes", ["rule_id"])
    op.create_table(
        "sales_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("metric", sa.Text(), server_default="won_amount", nullable=False),
        sa.Column("currency", postgresql.CHAR(3), server_default="CNY", nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        *_record_columns(),
        sa.CheckConstraint(
            "date_trunc('month', period) = period", name="ck_sales_targets_period_month"
        ),
        sa.CheckConstraint(
            "scope in ('company', 'team', 'user')", name="ck_sales_targets_scope"
        ),
        sa.CheckConstraint(
            "(scope = 'company' AND team_id IS NULL AND user_id IS NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL AND user_id IS NULL)"
            " OR (scope = 'user' AND user_id IS NOT NULL AND team_id IS NULL)",
            name="ck_sales_targets_subject",
        ),
        sa.CheckConstraint("metric in ('won_amount')", name="ck_sales_targets_metric"),
        sa.CheckConstraint("amount >= 0", name="ck_sales_targets_amount"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_sales_targets_currency"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_sales_targets_team_id_teams",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sales_targets_user_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sales_targets"),
        sa.UniqueConstraint(
            "period", "scope", "team_id", "user_id", "metric", "currency",
            name="uq_sales_targets_subject", postgresql_nulls_not_distinct=True,
        ),
    )  # fmt: skip
    op.create_index("ix_sales_targets_team_id", "sales_targets", ["team_id", "period"])
    op.create_index("ix_sales_targets_user_id", "sales_targets", ["user_id", "period"])


def downgrade() -> None:
    op.drop_table("sales_targets")
    op.drop_table("customer_tier_changes")
    op.drop_table("tier_rules")
