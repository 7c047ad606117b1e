from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.db import tenant_metadata

uploads = Table(
    "uploads",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("filename", Text, nullable=False),
    Column("content_type", Text),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The source of truth for long work: arq only carries ids. `state` holds the job's
# resumable cursor, so a retried chunk continues where the last commit left it.
jobs = Table(
    "jobs",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("total", Integer),
    Column("processed", Integer, nullable=False, server_default="0"),
    Column("result", JSONB),
    Column("errors", JSONB, nullable=False, server_default="[]"),
    Column("message", Text),
    Column("state", JSONB, nullable=False, server_default="{}"),
    Column("upload_id", Uuid, ForeignKey("uploads.id")),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
    CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')", name="status"),
    Index("ix_jobs_created_at", "created_at", "id"),
    Index("ix_jobs_created_by", "created_by", "created_at"),
    Index("ix_jobs_status", "status", "kind"),
    Index(
        "ix_jobs_unfinished",
        "heartbeat_at",
        postgresql_where=text("status in ('queued', 'running')"),
    ),
)
