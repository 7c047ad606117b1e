"""The catalog: the one schema that knows the tenants, the signing keys and the outbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.db import catalog_metadata

tenants = Table(
    "tenants",
    catalog_metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("schema_name", Text, nullable=False, unique=True),
    Column("time_zone", Text, nullable=False, server_default="Asia/Shanghai"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status in ('active', 'suspended')", name="status"),
)

signing_keys = Table(
    "signing_keys",
    catalog_metadata,
    Column("kid", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    Column("private_jwk", JSONB, nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
    CheckConstraint("status in ('active', 'retired')", name="status"),
    CheckConstraint("(status = 'retired') = (retired_at IS NOT NULL)", name="retired_at"),
    # At most one key signs; rotation retires it and inserts the next in one transaction.
    Index(
        "uq_signing_keys_one_active",
        "status",
        unique=True,
        postgresql_where=text("status = 'active'"),
    ),
)

# Work to enqueue once the transaction that wrote it commits; the relay moves rows
# to the queue, so a rolled-back request never starts a job and a committed one
# never loses it.
outbox = Table(
    "outbox",
    catalog_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # The queue's dedup key: unique forever, unlike ids a restored database may reuse.
    Column("key", Uuid, nullable=False, server_default=func.gen_random_uuid()),
    Column("tenant_id", Uuid, nullable=False),
    Column("task", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("dispatched_at", DateTime(timezone=True)),
    Index("ix_outbox_pending", "id", postgresql_where=text("dispatched_at IS NULL")),
)
