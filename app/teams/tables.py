from sqlalchemy import Column, ForeignKey, Index, Table, Text, UniqueConstraint, Uuid

from app.db import record_columns, tenant_metadata

# Departments form a tree. `path` is the chain of ids from the root ("/<root>/.../<id>/"),
# so "the subtree of X" is one indexed prefix match instead of a recursive query.
teams = Table(
    "teams",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("parent_id", Uuid, ForeignKey("teams.id")),
    Column("path", Text, nullable=False),
    *record_columns(),
    UniqueConstraint("parent_id", "name", name="uq_teams_parent_id_name"),
    Index("ix_teams_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
)
