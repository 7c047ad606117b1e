"""tenant: pipelines, stages, opportunities and their stage history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Additive: four new tables, and every tenant (new ones too, since provisioning runs all
migrations) gets a default pipeline with the stages the sources name.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")

DEFAULT_PIPELINE = r"""
WITH pipeline AS (
    INSERT INTO pipelines (id, name, description, is_default)
    VALUES (gen_random_uuid(), '销售漏斗', '默认销售流程', true)
    RETURNING id
)
INSERT INTO pipeline_stages (id, pipeline_id, name, position, probability, kind)
SELECT gen_random_uuid(), pipeline.id, stage.name, stage.position, stage.probability, stage.kind
FROM pipeline, (VALUES
    ('初步接洽', 0, 10, 'open'),
    ('需求确认', 1, 30, 'open'),
    ('方案报价', 2, 50, 'open'),
    ('商务谈判', 3, 70, 'open'),
    ('赢单', 4, 100, 'won'),
    ('输单', 5, 0, 'lost')
) AS stage (name, position, probability, kind)
"""


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
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]  # fmt: skip


def _live_index(name: str, table: str, columns: list) -> None:
    op.create_index(name, table, columns, unique=False, postgresql_where=LIVE)


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="false", nullable=False),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
    )
    op.create_index("uq_pipelines_name", "pipelines", ["name"], unique=True, postgresql_where=LIVE)
    op.create_index(
        "uq_pipelines_default",
        "pipelines",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default AND deleted_at IS NULL"),
    )
    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Numeric(5, 2), nullable=False),
        sa.Column("kind", sa.Text(), server_default="open", nullable=False),
        *_record_columns(),
        sa.CheckConstraint(
            "probability >= 0 AND probability <= 100", name="ck_pipeline_stages_probability"
        ),
        sa.CheckConstraint("kind in ('open', 'won', 'lost')", name="ck_pipeline_stages_kind"),
        sa.CheckConstraint("position >= 0", name="ck_pipeline_stages_position"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name="fk_pipeline_stages_pipeline_id_pipelines"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_stages"),
        sa.UniqueConstraint("id", "pipeline_id", name="uq_pipeline_stages_id_pipeline_id"),
    )
    op.create_index(
        "uq_pipeline_stages_position",
        "pipeline_stages",
        ["pipeline_id", "position"],
        unique=True,
        postgresql_where=LIVE,
    )
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(collation="zh-x-icu"), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("currency", postgresql.CHAR(3), server_default="CNY", nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("competitors", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        *_record_columns(),
        sa.Column(
            "search_tokens",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("search_tokens(name)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint("amount >= 0", name="ck_opportunities_amount"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_opportunities_currency"),
        sa.CheckConstraint("status in ('open', 'won', 'lost')", name="ck_opportunities_status"),
        sa.CheckConstraint(
            "status <> 'lost' OR lost_reason IS NOT NULL", name="ck_opportunities_lost_reason"
        ),
        sa.CheckConstraint(
            "(status = 'open') = (closed_at IS NULL)", name="ck_opportunities_closed_at"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_opportunities_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_opportunities_owner_id_users"),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name="fk_opportunities_pipeline_id_pipelines"
        ),
        sa.ForeignKeyConstraint(
            ["stage_id", "pipeline_id"],
            ["pipeline_stages.id", "pipeline_stages.pipeline_id"],
            name="fk_opportunities_stage_id_pipeline_stages",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
    )
    _live_index("ix_opportunities_created_at", "opportunities", ["created_at", "id"])
    _live_index("ix_opportunities_name", "opportunities", ["name", "id"])
    _live_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])
    _live_index("ix_opportunities_owner_id", "opportunities", ["owner_id"])
    _live_index("ix_opportunities_pipeline_id", "opportunities", ["pipeline_id", "status"])
    _live_index("ix_opportunities_stage_id", "opportunities", ["stage_id"])
    _live_index("ix_opportunities_status", "opportunities", ["status"])
    _live_index("ix_opportunities_currency", "opportunities", ["currency"])
    _live_index("ix_opportunities_expected_close_date", "opportunities", ["expected_close_date"])
    _live_index(
        "ix_opportunities_amount",
        "opportunities",
        [sa.literal_column("CAST(amount * 100 AS BIGINT)"), "id"],
    )
    _live_index(
        "ix_opportunities_close_date_sort",
        "opportunities",
        [sa.literal_column("coalesce(expected_close_date, '9999-01-01'::date)"), "id"],
    )
    op.create_index(
        "ix_opportunities_closed_at",
        "opportunities",
        ["closed_at"],
        unique=False,
        postgresql_where=sa.text("closed_at IS NOT NULL AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_opportunities_search_tokens",
        "opportunities",
        ["search_tokens"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "opportunity_stage_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage_id", sa.Uuid(), nullable=True),
        sa.Column("to_stage_id", sa.Uuid(), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"],
            name="fk_opportunity_stage_history_opportunity_id_opportunities",
        ),
        sa.ForeignKeyConstraint(
            ["from_stage_id"], ["pipeline_stages.id"],
            name="fk_opportunity_stage_history_from_stage_id_pipeline_stages",
        ),
        sa.ForeignKeyConstraint(
            ["to_stage_id"], ["pipeline_stages.id"],
            name="fk_opportunity_stage_history_to_stage_id_pipeline_stages",
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name="fk_opportunity_stage_history_changed_by_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_opportunity_stage_history"),
    )  # fmt: skip
    op.create_index(
        "ix_opportunity_stage_history_opportunity_id",
        "opportunity_stage_history",
        ["opportunity_id", "changed_at"],
    )
    op.create_index(
        "ix_opportunity_stage_history_to_stage_id",
        "opportunity_stage_history",
        ["to_stage_id", "changed_at"],
    )
    op.execute(DEFAULT_PIPELINE)


def downgrade() -> None:
    for table in ("opportunity_stage_history", "opportunities", "pipeline_stages", "pipelines"):
        op.drop_table(table)
