"""tenant: leads, lead assignment rules, lead links to what they became

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Additive: two new tables (app/leads/tables.py). No tenant has rules until an admin
sets them, so leads stay unassigned until then.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")
SEARCH = (
    "search_tokens(coalesce(name, '') || chr(10) || coalesce(company, '') || chr(10) "
    "|| coalesce(email, '') || chr(10) || coalesce(phone, ''))"
)


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


def _live_index(name: str, columns: list) -> None:
    op.create_index(name, "leads", columns, unique=False, postgresql_where=LIVE)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("company", sa.Text(collation="zh-x-icu"), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), server_default="other", nullable=False),
        sa.Column("status", sa.Text(), server_default="new", nullable=False),
        sa.Column("disqualified_reason", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_customer_id", sa.Uuid(), nullable=True),
        sa.Column("converted_contact_id", sa.Uuid(), nullable=True),
        sa.Column("converted_opportunity_id", sa.Uuid(), nullable=True),
        *_record_columns(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_tokens", postgresql.ARRAY(sa.Text()), sa.Computed(SEARCH, persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "source in ('campaign', 'trade_show', 'web_form', 'import', 'referral', 'other')",
            name="ck_leads_source",
        ),
        sa.CheckConstraint(
            "status in ('new', 'working', 'qualified', 'disqualified')", name="ck_leads_status"
        ),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="ck_leads_score"),
        sa.CheckConstraint(
            "status <> 'disqualified' OR disqualified_reason IS NOT NULL",
            name="ck_leads_disqualified_reason",
        ),
        sa.CheckConstraint(
            "converted_at IS NULL OR (status = 'qualified' AND converted_customer_id IS NOT NULL "
            "AND converted_contact_id IS NOT NULL)",
            name="ck_leads_converted",
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_leads_owner_id_users"),
        sa.ForeignKeyConstraint(
            ["converted_customer_id"], ["customers.id"],
            name="fk_leads_converted_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["converted_contact_id"], ["contacts.id"],
            name="fk_leads_converted_contact_id_contacts",
        ),
        sa.ForeignKeyConstraint(
            ["converted_opportunity_id"], ["opportunities.id"],
            name="fk_leads_converted_opportunity_id_opportunities",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
    )  # fmt: skip
    _live_index("ix_leads_created_at", ["created_at", "id"])
    _live_index("ix_leads_updated_at", ["updated_at", "id"])
    _live_index("ix_leads_name", ["name", "id"])
    _live_index("ix_leads_score", ["score", "id"])
    _live_index("ix_leads_status", ["status"])
    _live_index("ix_leads_source", ["source"])
    _live_index("ix_leads_owner_id", ["owner_id"])
    _live_index("ix_leads_region", ["region"])
    _live_index("ix_leads_phone", ["phone"])
    _live_index("ix_leads_email", [sa.literal_column("lower(email)")])
    op.create_index(
        "ix_leads_search_tokens", "leads", ["search_tokens"], unique=False,
        postgresql_using="gin",
    )  # fmt: skip
    op.create_index(
        "ix_leads_deleted_at", "leads", ["deleted_at"], unique=False,
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )  # fmt: skip
    op.create_index(
        "ix_leads_converted_customer_id", "leads", ["converted_customer_id"], unique=False,
        postgresql_where=sa.text("converted_customer_id IS NOT NULL"),
    )  # fmt: skip

    op.create_table(
        "lead_assignment_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("last_user_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_count", sa.Integer(), server_default="0", nullable=False),
        *_record_columns(),
        sa.CheckConstraint(
            "kind in ('round_robin', 'region')", name="ck_lead_assignment_rules_kind"
        ),
        sa.CheckConstraint(
            "(kind = 'region') = (region IS NOT NULL)", name="ck_lead_assignment_rules_region"
        ),
        sa.CheckConstraint("position >= 0", name="ck_lead_assignment_rules_position"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_lead_assignment_rules_team_id_teams",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["last_user_id"], ["users.id"], name="fk_lead_assignment_rules_last_user_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lead_assignment_rules"),
    )  # fmt: skip
    op.create_index(
        "uq_lead_assignment_rules_position", "lead_assignment_rules", ["position"], unique=True
    )
    op.create_index("ix_lead_assignment_rules_team_id", "lead_assignment_rules", ["team_id"])


def downgrade() -> None:
    op.drop_table("lead_assignment_rules")
    op.drop_table("leads")
