"""The pool's tables: the tenant's pool settings (one row) and the ownership history."""

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
    Uuid,
    func,
)

from app.db import record_columns, tenant_metadata

OWNERSHIP_KINDS = ("create", "claim", "release", "transfer", "reclaim", "update")

# One row per tenant (the migration inserts it): `id` is always true. NULL means no
# limit / never reclaim.
pool_settings = Table(
    "pool_settings",
    tenant_metadata,
    Column("id", Boolean, primary_key=True, server_default="true"),
    Column("claim_limit", Integer),
    Column("reclaim_after_days", Integer),
    *record_columns(),
    CheckConstraint("id", name="singleton"),
    CheckConstraint("claim_limit >= 0", name="claim_limit"),
    CheckConstraint("reclaim_after_days > 0", name="reclaim_after_days"),
)

# Append-only by convention: every ownership change of a customer, whichever path made
# it. `changed_by` is NULL for the system (the reclaim job).
customer_ownership_changes = Table(
    "customer_ownership_changes",
    tenant_metadata,
    Column("id", Uuid, primary_key=True, server_default=func.gen_random_uuid()),
    Column("customer_id", Uuid, ForeignKey("customers.id"), nullable=False),
    Column("from_owner_id", Uuid, ForeignKey("users.id")),
    Column("to_owner_id", Uuid, ForeignKey("users.id")),
    Column("kind", Text, nullable=False),
    Column("reason", Text),
    Column("changed_by", Uuid, ForeignKey("users.id")),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "kind in ('create', 'claim', 'release', 'transfer', 'reclaim', 'update')", name="kind"
    ),
    CheckConstraint("from_owner_id IS DISTINCT FROM to_owner_id", name="changes_owner"),
    # A customer's history newest first, and "when did the current owner get it"
    # (the reclaim job) are both a backward range scan of this index.
    Index("ix_customer_ownership_changes_customer_id", "customer_id", "changed_at", "id"),
)
