from sqlalchemy import Boolean, Column, ForeignKey, Index, Table, Text, Uuid, func, text

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
    # The distributor (a customer with is_distributor) a partner user works for: with
    # data scope "assigned" they also see that customer, its orders and quotes, and the
    # stock of its consignment warehouses (app/auth/scope.py, app/stock/queries.py).
    # Customers point at users too, hence use_alter (migration 0019).
    Column("distributor_id", Uuid, ForeignKey("customers.id", use_alter=True)),
    Index("ix_users_team_id", "team_id"),
    Index(
        "ix_users_distributor_id",
        "distributor_id",
        postgresql_where=text("distributor_id IS NOT NULL"),
    ),
)
Index("uq_users_email", func.lower(users.c.email), unique=True)
