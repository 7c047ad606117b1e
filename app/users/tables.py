from sqlalchemy import Boolean, Column, ForeignKey, Index, Table, Text, Uuid, func

from app.db import record_columns, tenant_metadata

users = Table(
    "users",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    # A built-in role's name or a custom role's (app/auth/roles.py tells which).
    Column("role", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    Column("team_id", Uuid, ForeignKey("teams.id")),
    Index("ix_users_team_id", "team_id"),
)
Index("uq_users_email", func.lower(users.c.email), unique=True)
