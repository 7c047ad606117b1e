from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from app.db import tenant_metadata

# Append-only: a trigger in the tenant migration refuses UPDATE and DELETE.
audit_log = Table(
    "audit_log",
    tenant_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_id", Uuid),
    Column("actor_kind", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", Uuid),
    Column("changes", JSONB, nullable=False, server_default="{}"),
    Index("ix_audit_log_entity", "entity_type", "entity_id", "at"),
    Index("ix_audit_log_actor", "actor_id", "at"),
    Index("ix_audit_log_at", "at"),
    # text_pattern_ops: the C.UTF-8 collation cannot serve LIKE 'prefix%' from a plain btree.
    Index("ix_audit_log_action", "action", "at", postgresql_ops={"action": "text_pattern_ops"}),
)
