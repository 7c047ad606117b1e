"""Tier rules (客户分级规则) and the history of tiers they set.

A rule says "customers meeting these conditions are tier X"; rules run in `priority`
order (lowest first) and the first whose conditions all hold decides. `conditions` is
a small typed language stored as JSON (app/tiers/conditions.py validates it on write
and compiles it to SQL); never free SQL.
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.db import record_columns, tenant_metadata

tier_rules = Table(
    "tier_rules",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("tier", Text, nullable=False),
    # Lowest first. NULL once the rule is removed (removed rules are kept: the history
    # names them), so live rules' priorities are unique; checked at commit, so a
    # rule set can swap two priorities.
    Column("priority", Integer),
    Column("conditions", JSONB, nullable=False, server_default="{}"),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("tier in ('A', 'B', 'C')", name="tier"),
    CheckConstraint("priority >= 0", name="priority"),
    CheckConstraint("(deleted_at IS NULL) = (priority IS NOT NULL)", name="live_priority"),
    CheckConstraint("jsonb_typeof(conditions) = 'object'", name="conditions"),
    UniqueConstraint("priority", name="uq_tier_rules_priority", deferrable=True,
                     initially="DEFERRED"),
)  # fmt: skip

# Append-only by convention: every tier the rules changed. `changed_by` is the user who
# ran the evaluation (evaluateTiers), NULL for the daily job.
customer_tier_changes = Table(
    "customer_tier_changes",
    tenant_metadata,
    Column("id", Uuid, primary_key=True, server_default=func.gen_random_uuid()),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("from_tier", Text),
    Column("to_tier", Text, nullable=False),
    Column("rule_id", Uuid, ForeignKey("tier_rules.id"), nullable=False),
    Column("changed_by", Uuid, ForeignKey("users.id")),
    Column("evaluated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("to_tier in ('A', 'B', 'C')", name="to_tier"),
    CheckConstraint("from_tier IS DISTINCT FROM to_tier", name="changes_tier"),
    # A customer's history, newest first: a backward range scan.
    Index("ix_customer_tier_changes_customer_id", "customer_id", "evaluated_at", "id"),
    Index("ix_customer_tier_changes_rule_id", "rule_id"),
)
