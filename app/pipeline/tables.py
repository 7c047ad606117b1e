"""Pipelines, their stages, opportunities and the stage history.

A pipeline is tenant configuration: ordered stages, each with a win probability and a
kind (open, won, lost); every pipeline has exactly one won and one lost stage (the
service enforces it). An opportunity sits in one stage of one pipeline; its status is
the stage's kind. Every stage an opportunity enters is a row of
`opportunity_stage_history`, which conversion rates and days in stage come from
(through the stays derived from it, at the end of this module).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    cast,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CHAR

from app.db import record_columns, tenant_metadata

STAGE_KINDS = ("open", "won", "lost")
STATUSES = STAGE_KINDS
LIVE = text("deleted_at IS NULL")

pipelines = Table(
    "pipelines",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("is_default", Boolean, nullable=False, server_default="false"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Index("uq_pipelines_name", "name", unique=True, postgresql_where=LIVE),
    # At most one default pipeline (the service keeps exactly one).
    Index(
        "uq_pipelines_default",
        "is_default",
        unique=True,
        postgresql_where=text("is_default AND deleted_at IS NULL"),
    ),
)

pipeline_stages = Table(
    "pipeline_stages",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("pipeline_id", Uuid, ForeignKey("pipelines.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("probability", Numeric(5, 2), nullable=False),
    Column("kind", Text, nullable=False, server_default="open"),
    *record_columns(),
    # Removed stages are kept (history points at them), marked deleted.
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("probability >= 0 AND probability <= 100", name="probability"),
    CheckConstraint("kind in ('open', 'won', 'lost')", name="kind"),
    CheckConstraint("position >= 0", name="position"),
    # Lets opportunities reference (stage, pipeline) together: a stage of its pipeline.
    UniqueConstraint("id", "pipeline_id", name="uq_pipeline_stages_id_pipeline_id"),
    Index(
        "uq_pipeline_stages_position", "pipeline_id", "position", unique=True, postgresql_where=LIVE
    ),
)

opportunities = Table(
    "opportunities",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False, server_default="0"),
    Column("currency", CHAR(3), nullable=False, server_default="CNY"),
    Column("expected_close_date", Date),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("pipeline_id", Uuid, ForeignKey("pipelines.id"), nullable=False),
    Column("stage_id", Uuid, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("lost_reason", Text),
    Column("closed_at", DateTime(timezone=True)),
    Column("competitors", ARRAY(Text), nullable=False, server_default="{}"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column("search_tokens", ARRAY(Text), Computed("search_tokens(name)", persisted=True)),
    ForeignKeyConstraint(
        ["stage_id", "pipeline_id"],
        ["pipeline_stages.id", "pipeline_stages.pipeline_id"],
        name="fk_opportunities_stage_id_pipeline_stages",
    ),
    CheckConstraint("amount >= 0", name="amount"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    CheckConstraint("status in ('open', 'won', 'lost')", name="status"),
    CheckConstraint("status <> 'lost' OR lost_reason IS NOT NULL", name="lost_reason"),
    CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="closed_at"),
    Index("ix_opportunities_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_opportunities_name", "name", "id", postgresql_where=LIVE),
    Index("ix_opportunities_customer_id", "customer_id", postgresql_where=LIVE),
    Index("ix_opportunities_owner_id", "owner_id", postgresql_where=LIVE),
    Index("ix_opportunities_pipeline_id", "pipeline_id", "status", postgresql_where=LIVE),
    Index("ix_opportunities_stage_id", "stage_id", postgresql_where=LIVE),
    Index("ix_opportunities_status", "status", postgresql_where=LIVE),
    Index("ix_opportunities_currency", "currency", postgresql_where=LIVE),
    Index("ix_opportunities_expected_close_date", "expected_close_date", postgresql_where=LIVE),
    Index(
        "ix_opportunities_closed_at",
        "closed_at",
        postgresql_where=text("closed_at IS NOT NULL AND deleted_at IS NULL"),
    ),
    Index("ix_opportunities_search_tokens", "search_tokens", postgresql_using="gin"),
)

# Sort keys as the list selects them. Cursors cannot carry a Decimal, so amounts sort
# by whole cents (exact: numeric(18,2) x 100 fits a bigint); a missing expected close
# date sorts after every real one (they end in 2999, app/pipeline/rules.py; not
# 9999-12-31, which asyncpg sends as infinity). Literals, not parameters, so the
# indexes match the statements.
AMOUNT_CENTS = cast(opportunities.c.amount * literal_column("100"), BigInteger)
CLOSE_DATE_KEY = func.coalesce(
    opportunities.c.expected_close_date, literal_column("'9999-01-01'::date")
)
Index("ix_opportunities_amount", AMOUNT_CENTS, opportunities.c.id, postgresql_where=LIVE)
Index("ix_opportunities_close_date_sort", CLOSE_DATE_KEY, opportunities.c.id, postgresql_where=LIVE)
# pipelineSummary's open amounts and won/lost counts, read from the index alone.
Index(
    "ix_opportunities_open_amounts",
    opportunities.c.pipeline_id,
    opportunities.c.stage_id,
    opportunities.c.currency,
    opportunities.c.owner_id,
    postgresql_include=["amount"],
    postgresql_where=text("status = 'open' AND deleted_at IS NULL"),
)
Index(
    "ix_opportunities_pipeline_closed_at",
    opportunities.c.pipeline_id,
    opportunities.c.closed_at,
    postgresql_include=["status", "owner_id"],
    postgresql_where=text("closed_at IS NOT NULL AND deleted_at IS NULL"),
)

opportunity_stage_history = Table(
    "opportunity_stage_history",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id"), nullable=False),
    Column("from_stage_id", Uuid, ForeignKey("pipeline_stages.id")),
    Column("to_stage_id", Uuid, ForeignKey("pipeline_stages.id"), nullable=False),
    Column("changed_by", Uuid, ForeignKey("users.id")),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_opportunity_stage_history_opportunity_id", "opportunity_id", "changed_at"),
    Index("ix_opportunity_stage_history_to_stage_id", "to_stage_id", "changed_at"),
)

# Derived from the stage history, never written by the app: triggers of migration 0012
# keep them equal to the history as committed (and to each opportunity's owner and
# soft delete), in the transaction that writes it. app/pipeline/analytics.py reads
# them for pipelineSummary.

# Each distinct set of stage ids (sorted) that some stay "reached": a few per pipeline.
stage_sets = Table(
    "stage_sets",
    tenant_metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("stage_ids", ARRAY(Uuid), nullable=False),
    UniqueConstraint("stage_ids", name="uq_stage_sets_stage_ids"),
)

# One stay per history row: entered with that row, left with the opportunity's next
# row (by changed_at, then id; null while it is there); `prior_entry_at` the last time
# before that it entered the same stage; `reached_set` the stages entered from this
# row on (itself and rows at the same instant included).
opportunity_stage_stays = Table(
    "opportunity_stage_stays",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),  # the history row's id
    Column("opportunity_id", Uuid, nullable=False),
    Column("stage_id", Uuid, nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Column("next_stage_id", Uuid),
    Column("prior_entry_at", DateTime(timezone=True)),
    Column("reached_set", Integer, nullable=False),
    Index("ix_opportunity_stage_stays_opportunity_id", "opportunity_id", "entered_at"),
    Index("ix_opportunity_stage_stays_entered_at", "stage_id", "entered_at"),
    Index(
        "ix_opportunity_stage_stays_left_at",
        "stage_id",
        "left_at",
        postgresql_where=text("left_at IS NOT NULL"),
    ),
    Index(
        "ix_opportunity_stage_stays_reentered_at",
        "stage_id",
        "entered_at",
        postgresql_where=text("prior_entry_at IS NOT NULL"),
    ),
)

# Live opportunities' first entries into a stage (prior_entry_at null), per owner, UTC
# day of entering and reached set. Counts are moved by +/- deltas: one that went back
# to 0 may stay as a row, counting for nothing.
stage_entry_days = Table(
    "stage_entry_days",
    tenant_metadata,
    Column("stage_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("reached_set", Integer, primary_key=True),
    Column("entered", Integer, nullable=False),
)

# Live opportunities' stays that ended, per stage, owner and UTC day of leaving, with
# their total length in seconds (exact: sums of extract(epoch ...)).
stage_exit_days = Table(
    "stage_exit_days",
    tenant_metadata,
    Column("stage_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("stays", Integer, nullable=False),
    Column("seconds", Numeric, nullable=False),
)
