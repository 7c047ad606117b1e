from sqlalchemy import CheckConstraint, Column, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import record_columns, tenant_metadata

# Roles a tenant defines itself, from the permission list; built-in roles live in code.
roles = Table(
    "roles",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("permissions", ARRAY(Text), nullable=False, server_default="{}"),
    Column("data_scope", Text, nullable=False),
    *record_columns(),
    CheckConstraint("data_scope in ('assigned', 'own', 'team', 'all')", name="data_scope"),
)
