"""Leads (线索): unqualified prospects, and the tenant's rules for assigning them.

A lead is a person (name, title, phone, email) at a company, from a source, with a
status and a score. Converting it (app/leads/convert.py) creates or links a customer,
creates a contact and optionally an opportunity; the lead keeps the links to what it
became (`converted_*`).

Every filter and sort the API offers has an index; list indexes are partial on live
rows, because every read path filters `deleted_at IS NULL`. Search uses the tenant's
`search_tokens()` bigram function, as customers do (app/customers/tables.py).
"""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import record_columns, tenant_metadata

SOURCES = ("campaign", "trade_show", "web_form", "import", "referral", "other")
STATUSES = ("new", "working", "qualified", "disqualified")
RULE_KINDS = ("round_robin", "region")

LIVE = text("deleted_at IS NULL")

leads = Table(
    "leads",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text(collation="zh-x-icu"), nullable=False),  # the person
    Column("company", Text(collation="zh-x-icu")),
    Column("title", Text),
    Column("phone", Text),
    Column("email", Text),
    Column("region", Text),
    Column("source", Text, nullable=False, server_default="other"),
    Column("status", Text, nullable=False, server_default="new"),
    Column("disqualified_reason", Text),
    Column("score", Integer, nullable=False, server_default="0"),
    # NULL: unassigned (the leads' pool, which own and team scopes see).
    Column("owner_id", Uuid, ForeignKey("users.id")),
    Column("notes", Text),
    Column("converted_at", DateTime(timezone=True)),
    Column("converted_customer_id", Uuid, ForeignKey("customers.id")),
    Column("converted_contact_id", Uuid, ForeignKey("contacts.id")),
    Column("converted_opportunity_id", Uuid, ForeignKey("opportunities.id")),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column(
        "search_tokens",
        ARRAY(Text),
        Computed(
            "search_tokens(coalesce(name, '') || chr(10) || coalesce(company, '') || chr(10) "
            "|| coalesce(email, '') || chr(10) || coalesce(phone, ''))",
            persisted=True,
        ),
    ),
    CheckConstraint(
        "source in ('campaign', 'trade_show', 'web_form', 'import', 'referral', 'other')",
        name="source",
    ),
    CheckConstraint("status in ('new', 'working', 'qualified', 'disqualified')", name="status"),
    CheckConstraint("score >= 0 AND score <= 100", name="score"),
    CheckConstraint(
        "status <> 'disqualified' OR disqualified_reason IS NOT NULL", name="disqualified_reason"
    ),
    # Converted means qualified, with a time and the customer and contact it became.
    CheckConstraint(
        "converted_at IS NULL OR (status = 'qualified' AND converted_customer_id IS NOT NULL "
        "AND converted_contact_id IS NOT NULL)",
        name="converted",
    ),
    Index("ix_leads_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_leads_updated_at", "updated_at", "id", postgresql_where=LIVE),
    Index("ix_leads_name", "name", "id", postgresql_where=LIVE),
    Index("ix_leads_score", "score", "id", postgresql_where=LIVE),
    Index("ix_leads_status", "status", postgresql_where=LIVE),
    Index("ix_leads_source", "source", postgresql_where=LIVE),
    Index("ix_leads_owner_id", "owner_id", postgresql_where=LIVE),
    Index("ix_leads_region", "region", postgresql_where=LIVE),
    Index("ix_leads_phone", "phone", postgresql_where=LIVE),
    Index("ix_leads_search_tokens", "search_tokens", postgresql_using="gin"),
    Index("ix_leads_deleted_at", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")),
    Index(
        "ix_leads_converted_customer_id",
        "converted_customer_id",
        postgresql_where=text("converted_customer_id IS NOT NULL"),
    ),
)
# Import matching by email, case-insensitively.
Index("ix_leads_email", func.lower(leads.c.email), postgresql_where=LIVE)

# The tenant's assignment rules, tried in `position` order for every lead created
# without an owner (by hand or by import). Each rule is also its round-robin cursor:
# `last_user_id` is the member it gave the last lead to, advanced by one
# UPDATE ... RETURNING in the transaction that creates the lead (app/leads/assignment.py).
lead_assignment_rules = Table(
    "lead_assignment_rules",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("team_id", Uuid, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    Column("region", Text),
    Column("position", Integer, nullable=False),
    Column("last_user_id", Uuid, ForeignKey("users.id", ondelete="SET NULL")),
    Column("assigned_count", Integer, nullable=False, server_default="0"),
    *record_columns(),
    CheckConstraint("kind in ('round_robin', 'region')", name="kind"),
    CheckConstraint("(kind = 'region') = (region IS NOT NULL)", name="region"),
    CheckConstraint("position >= 0", name="position"),
    Index("uq_lead_assignment_rules_position", "position", unique=True),
    Index("ix_lead_assignment_rules_team_id", "team_id"),
)
