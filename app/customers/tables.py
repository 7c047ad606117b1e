from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import record_columns, tenant_metadata

CATEGORIES = ("prospect", "target", "active", "partner", "blacklisted", "competitor")
TIERS = ("A", "B", "C")

LIVE = text("deleted_at IS NULL")

# search_tokens(): unigrams and bigrams of the lower-cased text (a function the tenant
# migration creates). Two-character Chinese queries such as 电子 match one bigram, which
# a trigram index cannot do; the GIN index on the array makes every query length
# indexed, and the ILIKE recheck keeps results exact.
customers = Table(
    "customers",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("category", Text, nullable=False, server_default="prospect"),
    Column("tier", Text),
    Column("industry", Text),
    Column("region", Text),
    Column("source", Text),
    Column("phone", Text),
    Column("email", Text),
    Column("address", Text),
    Column("owner_id", Uuid, ForeignKey("users.id")),
    # The partner (distributor) user serving the customer; the owner stays responsible.
    # Data scope "assigned" sees customers by this column, never by owner.
    Column("partner_id", Uuid, ForeignKey("users.id")),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("notes", Text),
    Column("external_ref", Text),
    # In the tenant's base currency; a protected field (customers:read_credit).
    Column("credit_limit", Numeric(18, 2)),
    # A distributor (经销商): partner users may work for it (users.distributor_id).
    Column("is_distributor", Boolean, nullable=False, server_default="false"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column(
        "name_key",
        Text,
        Computed("lower(regexp_replace(normalize(name, NFKC), '\\s+', '', 'g'))", persisted=True),
    ),
    Column(
        "search_tokens",
        ARRAY(Text),
        Computed(
            "search_tokens(coalesce(name, '') || chr(10) || coalesce(email, '') || chr(10) || coalesce(phone, ''))",
            persisted=True,
        ),
    ),
    CheckConstraint(
        "category in ('prospect', 'target', 'active', 'partner', 'blacklisted', 'competitor')",
        name="category",
    ),
    CheckConstraint("tier in ('A', 'B', 'C')", name="tier"),
    Index("ix_customers_name", "name", "id", postgresql_where=LIVE),
    Index("ix_customers_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_customers_updated_at", "updated_at", "id", postgresql_where=LIVE),
    Index("ix_customers_category", "category", postgresql_where=LIVE),
    Index("ix_customers_tier", "tier", postgresql_where=LIVE),
    Index("ix_customers_owner_id", "owner_id", postgresql_where=LIVE),
    Index("ix_customers_partner_id", "partner_id", postgresql_where=LIVE),
    Index(
        "ix_customers_distributors",
        "id",
        postgresql_where=text("is_distributor AND deleted_at IS NULL"),
    ),
    Index("ix_customers_tags", "tags", postgresql_using="gin"),
    Index("ix_customers_search_tokens", "search_tokens", postgresql_using="gin"),
    Index("ix_customers_deleted_at", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")),
    Index("uq_customers_external_ref", "external_ref", unique=True, postgresql_where=LIVE),
    Index("ix_customers_name_key", "name_key", postgresql_where=LIVE),
)

contacts = Table(
    "contacts",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("name", Text(collation="zh-x-icu"), nullable=False),
    Column("title", Text),
    Column("phone", Text),
    Column("email", Text),
    Column("birthday", Date),
    Column("is_primary", Boolean, nullable=False, server_default="false"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column(
        "search_tokens",
        ARRAY(Text),
        Computed(
            "search_tokens(coalesce(name, '') || chr(10) || coalesce(email, '') || chr(10) || coalesce(phone, ''))",
            persisted=True,
        ),
    ),
    Index("ix_contacts_customer_id", "customer_id", "is_primary", postgresql_where=LIVE),
    Index("ix_contacts_name", "name", "id", postgresql_where=LIVE),
    Index("ix_contacts_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_contacts_search_tokens", "search_tokens", postgresql_using="gin"),
    Index(
        "uq_contacts_primary",
        "customer_id",
        unique=True,
        postgresql_where=text("is_primary AND deleted_at IS NULL"),
    ),
)

Index("ix_customers_email", func.lower(customers.c.email), postgresql_where=LIVE)
