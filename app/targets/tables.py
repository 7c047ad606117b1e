"""Sales targets (销售目标 / 指标分配): an amount per calendar month, for the company,
a team (its whole subtree) or a user, of one metric (the measure, 考核口径):
- `won_amount`: the amount of opportunities won in the month (the default);
- `order_value`: the value of sales orders booked in the month (confirmed or closed,
  by order date, gross of tax; app/targets/attainment.py says exactly what counts).
A subject may have one target per metric (and currency) for the same month: the
metric is part of the unique key. Quarters and years are ranges of months: their
target is the sum of the months'."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import CHAR

from app.db import one_of, record_columns, tenant_metadata

SCOPES = ("company", "team", "user")
METRICS = ("won_amount", "order_value")

sales_targets = Table(
    "sales_targets",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    # The first day of the month.
    Column("period", Date, nullable=False),
    Column("scope", Text, nullable=False),
    # A team's targets go with the team (teams are deleted only when empty).
    Column("team_id", Uuid, ForeignKey("teams.id", ondelete="CASCADE")),
    Column("user_id", Uuid, ForeignKey("users.id")),
    Column("metric", Text, nullable=False, server_default="won_amount"),
    Column("currency", CHAR(3), nullable=False, server_default="CNY"),
    Column("amount", Numeric(18, 2), nullable=False),
    *record_columns(),
    CheckConstraint("date_trunc('month', period) = period", name="period_month"),
    CheckConstraint("scope in ('company', 'team', 'user')", name="scope"),
    CheckConstraint(
        "(scope = 'company' AND team_id IS NULL AND user_id IS NULL)"
        " OR (scope = 'team' AND team_id IS NOT NULL AND user_id IS NULL)"
        " OR (scope = 'user' AND user_id IS NOT NULL AND team_id IS NULL)",
        name="subject",
    ),
    CheckConstraint(one_of("metric", METRICS), name="metric"),
    CheckConstraint("amount >= 0", name="amount"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    # One target per month, subject, metric and currency (the company's subject is
    # NULL, NULL: equal to itself here). Its leading column serves period ranges.
    UniqueConstraint(
        "period",
        "scope",
        "team_id",
        "user_id",
        "metric",
        "currency",
        name="uq_sales_targets_subject",
        postgresql_nulls_not_distinct=True,
    ),  # fmt: skip
    Index("ix_sales_targets_team_id", "team_id", "period"),
    Index("ix_sales_targets_user_id", "user_id", "period"),
)
