from sqlalchemy import Boolean, CheckConstraint, Column, Index, Table, Text, Uuid, func

from app.db import record_columns, tenant_metadata

ROLES = ("admin", "manager", "sales", "service", "viewer")

users = Table(
    "users",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("role", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    *record_columns(),
    CheckConstraint("role in ('admin', 'manager', 'sales', 'service', 'viewer')", name="role"),
)
Index("uq_users_email", func.lower(users.c.email), unique=True)
